-- AlterTable
ALTER TABLE "api_tokens" ADD COLUMN     "tenant_permissions" TEXT[] DEFAULT ARRAY[]::TEXT[];


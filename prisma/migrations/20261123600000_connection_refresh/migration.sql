-- AlterTable
ALTER TABLE "connections" ADD COLUMN     "refresh_generation" INTEGER NOT NULL DEFAULT 0;


-- AlterTable
ALTER TABLE "connections" ADD COLUMN     "state_lease_id" UUID,
ADD COLUMN     "state_lease_until" TIMESTAMPTZ(3);

-- Store kinds are the keys of lib/vault/registry.ts, which validates them: adding a kind needs no
-- migration. Converted in place (Prisma's diff would drop and re-add the column, losing every kind).
ALTER TABLE "credential_stores" ALTER COLUMN "kind" SET DATA TYPE VARCHAR(32) USING "kind"::text;

-- DropEnum
DROP TYPE "StoreKind";

-- CreateEnum
CREATE TYPE "StoreKind" AS ENUM ('latch', 'hashicorp', 'azure', 'aws', 'cyberark');

-- CreateEnum
CREATE TYPE "StoreMode" AS ENUM ('READ_ONLY', 'READ_WRITE');

-- CreateTable
CREATE TABLE "data_keys" (
    "id" UUID NOT NULL,
    "wrapped_key" BYTEA NOT NULL,
    "master_key_id" VARCHAR(32) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "retired_at" TIMESTAMPTZ(3),

    CONSTRAINT "data_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "credential_stores" (
    "id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "kind" "StoreKind" NOT NULL,
    "folder_id" UUID,
    "mode" "StoreMode" NOT NULL DEFAULT 'READ_ONLY',
    "is_built_in" BOOLEAN NOT NULL DEFAULT false,
    "config" JSONB NOT NULL DEFAULT '{}',
    "secret_ciphertext" BYTEA,
    "secret_data_key_id" UUID,
    "ca_bundle" TEXT,
    "probe_secret" VARCHAR(500),
    "timeout_ms" INTEGER NOT NULL DEFAULT 10000,
    "last_test_at" TIMESTAMPTZ(3),
    "last_test_ok" BOOLEAN,
    "last_test_message" VARCHAR(500),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "credential_stores_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "latch_secrets" (
    "id" UUID NOT NULL,
    "store_id" UUID NOT NULL,
    "name" VARCHAR(500) NOT NULL,
    "version" INTEGER NOT NULL,
    "ciphertext" BYTEA NOT NULL,
    "data_key_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(3),

    CONSTRAINT "latch_secrets_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "data_keys_master_key_id_idx" ON "data_keys"("master_key_id");

-- CreateIndex
CREATE INDEX "credential_stores_folder_id_idx" ON "credential_stores"("folder_id");

-- CreateIndex
CREATE UNIQUE INDEX "latch_secrets_store_id_name_version_key" ON "latch_secrets"("store_id", "name", "version");

-- AddForeignKey
ALTER TABLE "credential_stores" ADD CONSTRAINT "credential_stores_folder_id_fkey" FOREIGN KEY ("folder_id") REFERENCES "folders"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "credential_stores" ADD CONSTRAINT "credential_stores_secret_data_key_id_fkey" FOREIGN KEY ("secret_data_key_id") REFERENCES "data_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "latch_secrets" ADD CONSTRAINT "latch_secrets_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "credential_stores"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "latch_secrets" ADD CONSTRAINT "latch_secrets_data_key_id_fkey" FOREIGN KEY ("data_key_id") REFERENCES "data_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- Store names are unique regardless of case; exactly one built-in Latch Database store.
CREATE UNIQUE INDEX "credential_stores_name_key" ON "credential_stores" (lower("name"));
CREATE UNIQUE INDEX "credential_stores_built_in_key" ON "credential_stores" ("is_built_in") WHERE "is_built_in";
-- Latest version of a Latch secret by name, the hot path of every read.
CREATE INDEX "latch_secrets_store_name_version_idx" ON "latch_secrets" ("store_id", "name", "version" DESC);

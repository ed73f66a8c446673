-- CreateEnum
CREATE TYPE "ConnectionStatus" AS ENUM ('CONNECTED', 'FAILED', 'PENDING_AUTHORIZATION');

-- CreateEnum
CREATE TYPE "ConnectionSecretPart" AS ENUM ('VALUE', 'USERNAME');

-- CreateTable
CREATE TABLE "connections" (
    "id" UUID NOT NULL,
    "folder_id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "connector_kind" VARCHAR(32) NOT NULL,
    "config" JSONB NOT NULL DEFAULT '{}',
    "status" "ConnectionStatus" NOT NULL,
    "owner_id" UUID NOT NULL,
    "last_connected_at" TIMESTAMPTZ(3),
    "last_check_at" TIMESTAMPTZ(3),
    "last_message" VARCHAR(500),
    "last_error_kind" VARCHAR(32),
    "state_ciphertext" BYTEA,
    "state_data_key_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "connections_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "connection_secrets" (
    "connection_id" UUID NOT NULL,
    "field" VARCHAR(64) NOT NULL,
    "part" "ConnectionSecretPart" NOT NULL DEFAULT 'VALUE',
    "asset_id" UUID,
    "ciphertext" BYTEA,
    "data_key_id" UUID,

    CONSTRAINT "connection_secrets_pkey" PRIMARY KEY ("connection_id","field")
);

-- CreateIndex
CREATE INDEX "connections_folder_id_idx" ON "connections"("folder_id");

-- CreateIndex
CREATE INDEX "connection_secrets_asset_id_idx" ON "connection_secrets"("asset_id");

-- AddForeignKey
ALTER TABLE "connections" ADD CONSTRAINT "connections_folder_id_fkey" FOREIGN KEY ("folder_id") REFERENCES "folders"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "connections" ADD CONSTRAINT "connections_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "connections" ADD CONSTRAINT "connections_state_data_key_id_fkey" FOREIGN KEY ("state_data_key_id") REFERENCES "data_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "connection_secrets" ADD CONSTRAINT "connection_secrets_connection_id_fkey" FOREIGN KEY ("connection_id") REFERENCES "connections"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "connection_secrets" ADD CONSTRAINT "connection_secrets_asset_id_fkey" FOREIGN KEY ("asset_id") REFERENCES "credential_assets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "connection_secrets" ADD CONSTRAINT "connection_secrets_data_key_id_fkey" FOREIGN KEY ("data_key_id") REFERENCES "data_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- Connection names are unique within a folder regardless of case.
CREATE UNIQUE INDEX "connections_folder_name_key" ON "connections" ("folder_id", lower("name"));
-- A field holds an asset reference or a sealed typed value, never both, never neither.
ALTER TABLE "connection_secrets" ADD CONSTRAINT "connection_secrets_one_source" CHECK (
  ("asset_id" IS NOT NULL) <> ("ciphertext" IS NOT NULL AND "data_key_id" IS NOT NULL)
);
-- Usernames come only from assets (typed usernames are ordinary config).
ALTER TABLE "connection_secrets" ADD CONSTRAINT "connection_secrets_username_from_asset" CHECK (
  "part" = 'VALUE' OR "asset_id" IS NOT NULL
);
-- The asset picker pages through every usable folder's assets in name order (keyset on name, id).
CREATE INDEX "credential_assets_picker_idx" ON "credential_assets" (lower("name"), "id");

-- CreateEnum
CREATE TYPE "AssetType" AS ENUM ('CREDENTIAL', 'SECRET', 'TEXT', 'INTEGER', 'BOOLEAN');

-- CreateTable
CREATE TABLE "credential_assets" (
    "id" UUID NOT NULL,
    "folder_id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "description" VARCHAR(500) NOT NULL DEFAULT '',
    "type" "AssetType" NOT NULL,
    "store_id" UUID,
    "secret_name" VARCHAR(500),
    "secret_version" VARCHAR(200),
    "username_key" VARCHAR(200),
    "value_key" VARCHAR(200),
    "username" VARCHAR(300),
    "owns_secret" BOOLEAN NOT NULL DEFAULT false,
    "plain_value" VARCHAR(4000),
    "created_by_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "last_resolve_at" TIMESTAMPTZ(3),
    "last_resolve_ok" BOOLEAN,

    CONSTRAINT "credential_assets_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "credential_assets_folder_id_type_idx" ON "credential_assets"("folder_id", "type");

-- CreateIndex
CREATE INDEX "credential_assets_store_id_idx" ON "credential_assets"("store_id");

-- AddForeignKey
ALTER TABLE "credential_assets" ADD CONSTRAINT "credential_assets_folder_id_fkey" FOREIGN KEY ("folder_id") REFERENCES "folders"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "credential_assets" ADD CONSTRAINT "credential_assets_store_id_fkey" FOREIGN KEY ("store_id") REFERENCES "credential_stores"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- Asset names are unique within a folder regardless of case; the index also serves name search and ordering.
CREATE UNIQUE INDEX "credential_assets_folder_name_key" ON "credential_assets" ("folder_id", lower("name"));
-- Only Credential/Secret assets point at a store, and they always do; settings never do.
ALTER TABLE "credential_assets" ADD CONSTRAINT "credential_assets_store_matches_type" CHECK (
  ("type" IN ('CREDENTIAL', 'SECRET')) = ("store_id" IS NOT NULL AND "secret_name" IS NOT NULL)
);

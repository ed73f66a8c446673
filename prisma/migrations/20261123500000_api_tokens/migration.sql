-- CreateTable
CREATE TABLE "service_accounts" (
    "id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "description" VARCHAR(500) NOT NULL DEFAULT '',
    "created_by_id" UUID,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "service_accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_tokens" (
    "id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "prefix" VARCHAR(16) NOT NULL,
    "hash" BYTEA NOT NULL,
    "user_id" UUID,
    "service_account_id" UUID,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "last_used_at" TIMESTAMPTZ(3),
    "last_used_ip" VARCHAR(64),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_token_scopes" (
    "token_id" UUID NOT NULL,
    "folder_id" UUID NOT NULL,
    "permissions" TEXT[],

    CONSTRAINT "api_token_scopes_pkey" PRIMARY KEY ("token_id","folder_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_prefix_key" ON "api_tokens"("prefix");

-- CreateIndex
CREATE INDEX "api_tokens_user_id_idx" ON "api_tokens"("user_id");

-- CreateIndex
CREATE INDEX "api_tokens_service_account_id_idx" ON "api_tokens"("service_account_id");

-- CreateIndex
CREATE INDEX "api_token_scopes_folder_id_idx" ON "api_token_scopes"("folder_id");

-- AddForeignKey
ALTER TABLE "service_accounts" ADD CONSTRAINT "service_accounts_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_service_account_id_fkey" FOREIGN KEY ("service_account_id") REFERENCES "service_accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_token_scopes" ADD CONSTRAINT "api_token_scopes_token_id_fkey" FOREIGN KEY ("token_id") REFERENCES "api_tokens"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_token_scopes" ADD CONSTRAINT "api_token_scopes_folder_id_fkey" FOREIGN KEY ("folder_id") REFERENCES "folders"("id") ON DELETE CASCADE ON UPDATE CASCADE;



-- Service account names are unique regardless of case.
CREATE UNIQUE INDEX "service_accounts_name_key" ON "service_accounts" (lower("name"));
-- A token belongs to exactly one principal: a person (personal token) or a service account.
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_one_owner" CHECK (
  ("user_id" IS NULL) <> ("service_account_id" IS NULL)
);
-- A scope row without permissions would grant nothing and only confuse the lists.
ALTER TABLE "api_token_scopes" ALTER COLUMN "permissions" SET NOT NULL;
ALTER TABLE "api_token_scopes" ADD CONSTRAINT "api_token_scopes_permissions_present" CHECK (cardinality("permissions") > 0);

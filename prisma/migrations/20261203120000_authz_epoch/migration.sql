-- The authorisation epoch: one number that goes up, in the same transaction, whenever a row that a
-- run-time access decision reads changes (tokens and their scopes, users, service accounts, folders
-- and their members, connections and their secret fields, assets, stores, refresh events).
-- Instances keep what the invoke path read in memory, stamped with the epoch read in the same
-- statement, and use it only while the epoch they know is still that one (lib/authz/epoch.ts).
-- Every bump is NOTIFYed on latch_authz_epoch, and instances also poll it.
CREATE TABLE "authz_epoch" (
    "singleton" BOOLEAN NOT NULL DEFAULT true,
    "epoch" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "authz_epoch_pkey" PRIMARY KEY ("singleton"),
    CONSTRAINT "authz_epoch_singleton" CHECK ("singleton")
);
INSERT INTO "authz_epoch" DEFAULT VALUES;

CREATE FUNCTION "bump_authz_epoch"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bumped BIGINT;
BEGIN
  UPDATE "authz_epoch" SET "epoch" = "epoch" + 1 RETURNING "epoch" INTO bumped;
  PERFORM pg_notify('latch_authz_epoch', bumped::text);
  RETURN NULL;
END
$$;

-- Deferred to commit: the epoch row is locked only for the last moment of a transaction, so two
-- transactions never wait on it in opposite orders, and a statement's own changes all count.
DO $$
DECLARE
  t TEXT;
BEGIN
  FOREACH t IN ARRAY ARRAY['api_token_scopes', 'users', 'service_accounts', 'folders', 'folder_members',
    'connections', 'connection_secrets', 'credential_assets', 'credential_stores', 'refresh_events']
  LOOP
    EXECUTE format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "bump_authz_epoch"()', t || '_authz_epoch', t);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION "bump_authz_epoch"()', t || '_authz_epoch_truncate', t);
  END LOOP;
END
$$;

-- A token's last use is recorded once a minute per token and decides nothing: it does not count.
CREATE CONSTRAINT TRIGGER "api_tokens_authz_epoch" AFTER INSERT OR DELETE ON "api_tokens"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "bump_authz_epoch"();
CREATE CONSTRAINT TRIGGER "api_tokens_authz_epoch_update" AFTER UPDATE ON "api_tokens"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN ((to_jsonb(OLD) - 'last_used_at' - 'last_used_ip') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at' - 'last_used_ip'))
  EXECUTE FUNCTION "bump_authz_epoch"();
CREATE TRIGGER "api_tokens_authz_epoch_truncate" AFTER TRUNCATE ON "api_tokens" FOR EACH STATEMENT EXECUTE FUNCTION "bump_authz_epoch"();

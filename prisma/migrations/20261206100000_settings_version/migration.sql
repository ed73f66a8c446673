-- What an edit form loaded, compared when it is saved: moved by edits of the settings and nothing else.
-- updated_at also moves for tests, status writes, OAuth renewals and refreshes, which are no conflict.
-- AlterTable
ALTER TABLE "credential_stores" ADD COLUMN     "settings_version" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "connections" ADD COLUMN     "settings_version" INTEGER NOT NULL DEFAULT 0;

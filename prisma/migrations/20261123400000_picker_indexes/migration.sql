-- The asset picker (lib/assets/picker.ts) picks a page of ids in (lower(name), id) order, filtered by
-- folder and search text, then reads only those rows. With folder_id and name in the index that is an
-- index-only scan: names it skips cost no visit to the table. (name is included because PostgreSQL
-- considers an index-only scan for lower(name) only when the index also holds name itself.)
-- It has the same key as credential_assets_picker_idx, which it can replace.
CREATE INDEX "credential_assets_picker_cover_idx" ON "credential_assets" (lower("name"), "id") INCLUDE ("folder_id", "name");

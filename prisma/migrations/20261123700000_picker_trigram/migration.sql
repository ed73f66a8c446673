-- Substring search in the asset picker (lower(name) LIKE '%term%') cannot use a b-tree; with pg_trgm a
-- GIN trigram index serves it (bench/asset-picker.bench.ts: rare and no-match searches over 100,000
-- assets 32-36 ms -> 15-17 ms p95). Some managed PostgreSQL services allow extensions only from an
-- allow-list: without pg_trgm search still works, by scanning, and this migration does not fail.
DO $$
BEGIN
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  CREATE INDEX IF NOT EXISTS "credential_assets_name_trgm_idx" ON "credential_assets" USING gin (lower("name") gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'pg_trgm is not available (%); the asset picker searches without a trigram index', SQLERRM;
END $$;

-- Superseded by credential_assets_picker_cover_idx (same key, with the columns the picker reads).
DROP INDEX IF EXISTS "credential_assets_picker_idx";

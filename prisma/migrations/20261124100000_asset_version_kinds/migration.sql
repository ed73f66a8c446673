-- Asset references are checked per store kind (lib/assets/reference.ts). Two stored shapes change:
--
-- AWS: a pinned version now says what it is, "stage:<label>" or "id:<version id>", instead of being
-- guessed at every read (an upper-case word was a staging label). Existing pins are rewritten by that
-- same rule, so each asset keeps resolving the version it resolved before.
UPDATE "credential_assets" AS a
SET "secret_version" = CASE
    WHEN btrim(a."secret_version") ~* '^stage:.+' THEN 'stage:' || substr(btrim(a."secret_version"), 7)
    WHEN btrim(a."secret_version") ~* '^id:.+' THEN 'id:' || substr(btrim(a."secret_version"), 4)
    WHEN btrim(a."secret_version") ~ '^[A-Z][A-Z0-9_]*$' THEN 'stage:' || btrim(a."secret_version")
    ELSE 'id:' || btrim(a."secret_version")
  END
FROM "credential_stores" AS s
WHERE s."id" = a."store_id" AND s."kind" = 'aws' AND a."secret_version" IS NOT NULL AND btrim(a."secret_version") <> '';

UPDATE "credential_assets" AS a
SET "secret_version" = NULL
FROM "credential_stores" AS s
WHERE s."id" = a."store_id" AND s."kind" = 'aws' AND a."secret_version" IS NOT NULL AND btrim(a."secret_version") = '';

-- CyberArk's Credential Provider has no versions: the resolver refused every asset that named one,
-- and the form no longer offers the field, so such a pin could not even be removed. Drop it.
UPDATE "credential_assets" AS a
SET "secret_version" = NULL
FROM "credential_stores" AS s
WHERE s."id" = a."store_id" AND s."kind" = 'cyberark' AND a."secret_version" IS NOT NULL;

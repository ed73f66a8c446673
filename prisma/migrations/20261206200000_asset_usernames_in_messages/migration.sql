-- A username taken from a credential asset is the store's, like the password: a target's refusal no
-- longer quotes it (lib/connectors/types.ts, USER_FROM_ASSET). Outcomes recorded before did, and every
-- reader of the connection reads them: on connections that take their username from an asset, the
-- user is named by where it came from. Data only; running it again changes nothing.
UPDATE "connections" c
SET "last_message" = regexp_replace(
      regexp_replace(c."last_message", 'for user “[^”]*”', 'for the user from its credential asset', 'g'),
      '([Tt]he user) “[^”]*”', '\1 from its credential asset', 'g')
WHERE c."last_message" ~ 'user “'
  AND EXISTS (SELECT 1 FROM "connection_secrets" s WHERE s."connection_id" = c."id" AND s."part" = 'USERNAME');

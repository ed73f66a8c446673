-- An AWS staging label may be 256 characters and is stored as "stage:<label>" (262): the column
-- held 200, so a long label passed the form's check and then failed the write.
ALTER TABLE "credential_assets" ALTER COLUMN "secret_version" TYPE VARCHAR(300);

import { applyMigrations } from "../lib/db/migrate";

// `npm run db:migrate`: applies prisma/migrations to DATABASE_URL.
async function main() {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is required (a postgresql:// URL). `npm run up` migrates its embedded database itself.");
  const { applied } = await applyMigrations(url, { log: (msg) => console.log(msg) });
  console.log(applied.length ? `Applied ${applied.length} migration(s).` : "Database is up to date; nothing to apply.");
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});

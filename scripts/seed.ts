/** `npm run db:seed`: the first-run administrator and the built-in store, against DATABASE_URL. */
import { describeDatabaseFailure } from "../lib/db/migrate";
import { seed } from "../prisma/seed";

async function main() {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is required (a postgresql:// URL).");
  const result = await seed(url, {
    adminEmail: process.env.LATCH_ADMIN_EMAIL,
    adminPassword: process.env.LATCH_ADMIN_PASSWORD,
  });
  if (!result.created) {
    console.log("Users already exist; nothing seeded.");
  } else {
    console.log(`Created administrator ${result.email}`);
    console.log(result.password ? `Password: ${result.password}` : "Password: the value of LATCH_ADMIN_PASSWORD");
  }
}

main().catch((err) => {
  const code = (err as { code?: unknown })?.code;
  // 42P01 undefined_table: a database the migrations have not reached.
  if (code === "42P01") console.error("The database has no Latch tables yet: run `npm run db:migrate` with the same DATABASE_URL first, then `npm run db:seed`.");
  else console.error(process.env.DATABASE_URL ? describeDatabaseFailure(err, process.env.DATABASE_URL).replace(/^./, (c) => c.toUpperCase()) : err instanceof Error ? err.message : err);
  process.exitCode = 1;
});

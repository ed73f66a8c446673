/** `npm run db:seed`: the first-run administrator and the built-in store, against DATABASE_URL. */
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
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});

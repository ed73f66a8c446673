import path from "node:path";
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

// Config mode skips .env, and `prisma generate` refuses to run without a URL, so give it a local default.
const url = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/latch";

export default defineConfig({
  schema: path.join("prisma", "schema.prisma"),
  migrations: { path: path.join("prisma", "migrations") },
  experimental: { adapter: true },
  engine: "js",
  adapter: async () => new PrismaPg({ connectionString: url }),
});

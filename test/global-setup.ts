import { randomBytes } from "node:crypto";
import { createThrowawayDatabase, type ThrowawayDatabase } from "../scripts/test-db";

// Runs once in the main vitest process; the forked workers inherit process.env.
let db: ThrowawayDatabase | undefined;

export async function setup() {
  db = await createThrowawayDatabase({ log: (msg) => console.log(`[test-db] ${msg}`) });
  const env = process.env as Record<string, string | undefined>;
  env.DATABASE_URL = db.url;
  env.NEXTAUTH_SECRET ??= `test-${randomBytes(32).toString("base64url")}`;
  env.LATCH_MASTER_KEY ??= randomBytes(32).toString("base64");
  env.NODE_ENV = "test";
}

export async function teardown() {
  await db?.drop();
}

import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { createThrowawayDatabase, type ThrowawayDatabase } from "../scripts/test-db";

// Runs once in the main vitest process; the forked workers inherit process.env.
let databases: ThrowawayDatabase[] = [];

/** One throwaway database per worker (test/worker-database.ts picks its own by VITEST_POOL_ID). */
export async function setup(project: TestProject) {
  const workers = Math.max(1, project.config.maxWorkers);
  const log = (msg: string) => console.log(`[test-db] ${msg}`);
  try {
    // One at a time: the first may start an embedded server, which the others then share.
    for (let i = 0; i < workers; i++) databases.push(await createThrowawayDatabase({ log: i === 0 ? log : undefined }));
  } catch (error) {
    await teardown();
    throw error;
  }
  const env = process.env as Record<string, string | undefined>;
  env.LATCH_TEST_DATABASE_URLS = JSON.stringify(databases.map((db) => db.url));
  env.DATABASE_URL = databases[0]!.url;
  env.NEXTAUTH_SECRET ??= `test-${randomBytes(32).toString("base64url")}`;
  env.LATCH_MASTER_KEY ??= randomBytes(32).toString("base64");
  env.NODE_ENV = "test";
}

export async function teardown() {
  // The last drop stops the embedded server, if one was started.
  for (const db of databases) await db.drop();
  databases = [];
}

/**
 * Playwright's web server: a throwaway, migrated database with the e2e admin seeded, then the
 * production build (`next build` must have run) under server.mjs, as `npm start` runs it. SIGTERM stops Next and drops
 * the database.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { seed } from "../prisma/seed";
import { createThrowawayDatabase } from "./test-db";

const port = process.env.E2E_PORT ?? "3100";
const SERVER_LOG = path.join(process.cwd(), "e2e", ".output", "server.log");

async function main() {
  if (!existsSync(path.join(process.cwd(), ".next", "BUILD_ID"))) {
    throw new Error("No production build: run `next build` first (npm test does).");
  }
  const database = await createThrowawayDatabase();
  await seed(database.url, { adminEmail: process.env.LATCH_ADMIN_EMAIL, adminPassword: process.env.LATCH_ADMIN_PASSWORD });

  // What every instance of this console shares; the multi-instance spec starts more with the same.
  const shared: Record<string, string> = {
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    DATABASE_URL: database.url,
    NEXTAUTH_SECRET: randomBytes(48).toString("base64url"),
    LATCH_MASTER_KEY: randomBytes(32).toString("base64"),
    NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    LATCH_ADMIN_PASSWORD: "",
    // Everything down to debug reaches the log, and e2e/leak.spec.ts searches all of it.
    LOG_LEVEL: "debug",
  };
  const next = spawn(process.execPath, [path.join(process.cwd(), "server.mjs"), "-p", port, "-H", "127.0.0.1"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...shared, NEXTAUTH_URL: `http://127.0.0.1:${port}` } as NodeJS.ProcessEnv,
  });

  // Kept for the leak check (e2e/leak.spec.ts): no secret may ever reach the server log.
  mkdirSync(path.dirname(SERVER_LOG), { recursive: true });
  // Also for the leak checks: the specs dump this database and look for values that must not be there.
  writeFileSync(path.join(path.dirname(SERVER_LOG), "database-url"), database.url, { mode: 0o600 });
  writeFileSync(path.join(path.dirname(SERVER_LOG), "instance-env.json"), JSON.stringify(shared), { mode: 0o600 });
  // The secret values this run's specs use (e2e/fixtures.ts registerSecret); a new run starts empty.
  // The server's own keys are among them.
  const ownKeys = (["NEXTAUTH_SECRET", "LATCH_MASTER_KEY", "NEXT_SERVER_ACTIONS_ENCRYPTION_KEY"] as const).map((label) => JSON.stringify({ label, value: shared[label], spec: "scripts/e2e-server.ts" }));
  writeFileSync(path.join(path.dirname(SERVER_LOG), "secrets.jsonl"), `${ownKeys.join("\n")}\n`, { mode: 0o600 });
  const log = createWriteStream(SERVER_LOG, { flags: "w" });
  next.stdout!.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    log.write(chunk);
  });
  next.stderr!.on("data", (chunk: Buffer) => {
    process.stderr.write(chunk);
    log.write(chunk);
  });

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (next.exitCode === null) {
      next.kill("SIGTERM");
      await new Promise((resolve) => next.once("exit", resolve));
    }
    // The signal may reach an embedded server first; its leftover database is dropped on its next start.
    await database.drop().catch((error) => {
      if (error?.code !== "57P03") console.error("could not drop the e2e database:", error?.message ?? error);
    });
    process.exit(code);
  };
  process.on("SIGTERM", () => void stop(0));
  process.on("SIGINT", () => void stop(0));
  next.on("exit", (code) => void stop(code ?? 1));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

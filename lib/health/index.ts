import "server-only";
import { listPendingMigrations, readMigrations } from "@/lib/db/migrate";
import { env } from "@/lib/env";
import { logger } from "@/lib/log";

/** `pending`: how many migrations shipped with this build are not applied (not their names: the probe is public). */
export type Readiness = { ready: boolean; checks: { database: "ok" | "unreachable" | "unknown"; migrations: "ok" | "pending" | "unknown" }; pending: number };

/** A probe answers within this, whatever the database does. */
const PROBE_TIMEOUT_MS = 5_000;

/** A probe's answer stands this long: any number of callers cost one database connection a second. */
const REUSE_MS = 1_000;
const latest = globalThis as unknown as { latchReadiness?: { url: string; at: number; result: Promise<Readiness> } };

/**
 * Ready when the database answers and every migration shipped with this build has been applied.
 * The probe is public and opens its own connection (it tests that one can be opened), so callers
 * arriving together share one check, and its answer is reused for a second.
 */
export function checkReadiness(): Promise<Readiness> {
  const url = env().DATABASE_URL;
  const kept = latest.latchReadiness;
  if (kept && kept.url === url && performance.now() - kept.at < REUSE_MS) return kept.result;
  const result = probe();
  const entry = { url, at: Number.POSITIVE_INFINITY, result };
  latest.latchReadiness = entry;
  // The second counts from the answer: a slow probe is not repeated by whoever arrives while it runs.
  void result.finally(() => (entry.at = performance.now()));
  return result;
}

async function probe(): Promise<Readiness> {
  // This build's own migrations first: a missing directory is the deployment's fault, not the database's.
  try {
    await readMigrations();
  } catch (error) {
    logger().error({ err: error }, "readiness: cannot read this build's migrations (is the server started from the app's directory?)");
    return { ready: false, checks: { database: "unknown", migrations: "unknown" }, pending: 0 };
  }
  try {
    const pending = await listPendingMigrations(env().DATABASE_URL, { timeoutMs: PROBE_TIMEOUT_MS });
    return { ready: pending.length === 0, checks: { database: "ok", migrations: pending.length ? "pending" : "ok" }, pending: pending.length };
  } catch (error) {
    logger().warn({ err: error }, "readiness: the database did not answer");
    return { ready: false, checks: { database: "unreachable", migrations: "unknown" }, pending: 0 };
  }
}

import "server-only";
import { configuredMasterKeyIds, dataKeysByMasterKey, missingMasterKeys } from "@/lib/crypto/master-keys";
import { describeDatabaseFailure, listPendingMigrations, readMigrations, withDatabaseClient } from "@/lib/db/migrate";
import { env } from "@/lib/env";
import { logger } from "@/lib/log";

/** `pending`: how many migrations shipped with this build are not applied (not their names: the probe is public). */
/**
 * `encryption`: "missing_master_key" when the database holds data keys wrapped by a master key this
 * instance is not given (a lost or mistyped LATCH_MASTER_KEY, a previous key dropped before the
 * rewrap): what they protect cannot be opened here, so the instance should not take traffic.
 * "no_master_key" when no LATCH_MASTER_KEY is set at all: the built-in store, typed values, store
 * settings and OAuth tokens could neither be sealed nor opened.
 */
export type Readiness = {
  ready: boolean;
  checks: { database: "ok" | "unreachable" | "unknown"; migrations: "ok" | "pending" | "unknown"; encryption: "ok" | "missing_master_key" | "no_master_key" | "unknown" };
  pending: number;
};

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

/** The master keys this instance is given, by id. */
const configuredKeys = () => configuredMasterKeyIds(env().LATCH_MASTER_KEY, env().LATCH_PREVIOUS_MASTER_KEYS);

async function probe(): Promise<Readiness> {
  // This build's own migrations first: a missing directory is the deployment's fault, not the database's.
  try {
    await readMigrations();
  } catch (error) {
    logger().error({ err: error }, "readiness: cannot read this build's migrations (is the server started from the app's directory?)");
    return { ready: false, checks: { database: "unknown", migrations: "unknown", encryption: "unknown" }, pending: 0 };
  }
  const keys = configuredKeys();
  try {
    const { pending, missing } = await withDatabaseClient(
      env().DATABASE_URL,
      async (client) => ({
        pending: (await listPendingMigrations(client)).length,
        missing: missingMasterKeys(await dataKeysByMasterKey(client), keys.all),
      }),
      PROBE_TIMEOUT_MS,
    );
    // No key at all first: it is what to fix, whatever the stored data keys need.
    const encryption = keys.current === null ? "no_master_key" : missing.length ? "missing_master_key" : "ok";
    return {
      ready: pending === 0 && encryption === "ok",
      checks: { database: "ok", migrations: pending ? "pending" : "ok", encryption },
      pending,
    };
  } catch (error) {
    logger().warn({ err: error }, "readiness: the database did not answer");
    return { ready: false, checks: { database: "unreachable", migrations: "unknown", encryption: "unknown" }, pending: 0 };
  }
}

/**
 * At start-up: whether the database has every migration this build needs (`npm start` applies none),
 * which master key this instance runs with (by id, comparable with `npm run keys:rewrap`), and an error
 * when the database needs one it is not given. /api/ready keeps saying so afterwards.
 */
export async function reportAtStart(): Promise<void> {
  const configured = configuredKeys();
  try {
    const pending = await withDatabaseClient(env().DATABASE_URL, (client) => listPendingMigrations(client), PROBE_TIMEOUT_MS);
    if (pending.length > 0) {
      // Before the key check, which reads a table a pending migration may create.
      logger().error(
        { pending: pending.length, first: pending[0] },
        "the database lacks migrations this build needs: run `npm run db:migrate` with this DATABASE_URL (README: Running in production); /api/ready answers 503 until then",
      );
      return;
    }
    const missing = missingMasterKeys(await withDatabaseClient(env().DATABASE_URL, dataKeysByMasterKey, PROBE_TIMEOUT_MS), configured.all);
    if (configured.current === null) {
      logger().error("no LATCH_MASTER_KEY is set: nothing can be sealed or opened (store settings, typed values, OAuth tokens); /api/ready answers 503 until it is");
    } else if (missing.length > 0) {
      logger().error(
        { keyId: configured.current, missingKeyIds: missing },
        "the database holds data keys under master keys this instance is not given: what they seal cannot be opened here (README: Rotating the master key)",
      );
    } else {
      logger().info({ keyId: configured.current }, "encryption: running with this master key");
    }
  } catch (error) {
    logger().error(
      { code: (error as { code?: unknown })?.code },
      `could not check the database's migrations and master keys at start-up: ${describeDatabaseFailure(error, env().DATABASE_URL)}; /api/ready answers 503 until the database can be used`,
    );
  }
}

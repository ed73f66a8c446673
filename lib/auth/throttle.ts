import "server-only";
import { db } from "@/lib/db";
import { env } from "@/lib/env";

/**
 * Sign-in failure counters in PostgreSQL so every instance sees the same count. A key locks for one
 * window after too many failures within a window; the address limit is looser for shared NATs.
 */
export type ThrottleKeys = { email: string; address: string };

const keysOf = ({ email, address }: ThrottleKeys) => [
  { key: `email:${email.toLowerCase()}`, max: env().LATCH_LOGIN_MAX_FAILURES },
  { key: `addr:${address}`, max: env().LATCH_LOGIN_MAX_FAILURES * 4 },
];

/** Seconds until the caller may try again, or 0. */
export async function lockedForSeconds(keys: ThrottleKeys): Promise<number> {
  const rows = await db().authThrottle.findMany({
    where: { key: { in: keysOf(keys).map((k) => k.key) }, lockedUntil: { gt: new Date() } },
    select: { lockedUntil: true },
  });
  const until = Math.max(0, ...rows.map((r) => r.lockedUntil!.getTime()));
  return until ? Math.ceil((until - Date.now()) / 1000) : 0;
}

export async function recordFailure(keys: ThrottleKeys): Promise<void> {
  const window = env().LATCH_LOGIN_WINDOW_SECONDS;
  for (const { key, max } of keysOf(keys)) {
    await db().$executeRaw`
      INSERT INTO auth_throttles (key, failures, window_start) VALUES (${key}, 1, now())
      ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN auth_throttles.window_start < now() - make_interval(secs => ${window}) THEN 1 ELSE auth_throttles.failures + 1 END,
        window_start = CASE WHEN auth_throttles.window_start < now() - make_interval(secs => ${window}) THEN now() ELSE auth_throttles.window_start END,
        locked_until = CASE
          WHEN auth_throttles.window_start >= now() - make_interval(secs => ${window}) AND auth_throttles.failures + 1 >= ${max}
          THEN now() + make_interval(secs => ${window}) ELSE auth_throttles.locked_until END`;
  }
}

export async function clearFailures(keys: ThrottleKeys): Promise<void> {
  await db().authThrottle.deleteMany({ where: { key: keysOf(keys)[0]!.key } });
}

import "server-only";
import { Prisma } from "@prisma/client";
import { db } from "@/lib/db";
import { env } from "@/lib/env";

/**
 * Sign-in attempt counters in PostgreSQL so every instance sees the same count. A key locks for one
 * window once it reaches its limit of failures within a window; the address limit is looser for
 * shared NATs.
 *
 * An attempt is counted before its password is checked (the check takes a while, on purpose), in one
 * atomic upsert per key: a burst of parallel guesses cannot all pass a "not locked yet" check before
 * any of them is counted. A correct password takes its own attempt back.
 */
export type ThrottleKeys = { email: string; address: string };

const keysOf = ({ email, address }: ThrottleKeys) => [
  { key: `email:${email.toLowerCase()}`, max: env().LATCH_LOGIN_MAX_FAILURES },
  { key: `addr:${address}`, max: env().LATCH_LOGIN_MAX_FAILURES * 4 },
];

/** The stored count is over: its window has passed and no lock holds. */
const fresh = (window: number) => Prisma.sql`(t.window_start < now() - make_interval(secs => ${window}) AND NOT coalesce(t.locked_until > now(), false))`;

/**
 * Counts one attempt against every key; false when any key was already at its limit (the caller is
 * locked out). The attempt that reaches the limit is still allowed, and sets the lock.
 */
export async function reserveAttempt(keys: ThrottleKeys): Promise<boolean> {
  const window = env().LATCH_LOGIN_WINDOW_SECONDS;
  let allowed = true;
  for (const { key, max } of keysOf(keys)) {
    // A new count starts when the window has passed and no lock holds ("fresh" below).
    const [row] = await db().$queryRaw<{ failures: number }[]>`
      WITH params AS (SELECT make_interval(secs => ${window}) AS window, ${max}::int AS max)
      INSERT INTO auth_throttles AS t (key, failures, window_start, locked_until)
      SELECT ${key}, 1, now(), CASE WHEN 1 >= params.max THEN now() + params.window END FROM params
      ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN ${fresh(window)} THEN 1 ELSE t.failures + 1 END,
        window_start = CASE WHEN ${fresh(window)} THEN now() ELSE t.window_start END,
        locked_until = CASE
          WHEN coalesce(t.locked_until > now(), false) THEN t.locked_until
          WHEN (CASE WHEN ${fresh(window)} THEN 1 ELSE t.failures + 1 END) >= ${max}::int THEN now() + make_interval(secs => ${window})
          ELSE t.locked_until END
      RETURNING failures`;
    if (!row || row.failures > max) allowed = false;
  }
  return allowed;
}

/** A correct password: the e-mail's count starts again, and the address gets its attempt back. */
export async function settleSuccess(keys: ThrottleKeys): Promise<void> {
  const [email, address] = keysOf(keys);
  await db().authThrottle.deleteMany({ where: { key: email!.key } });
  await db().$executeRaw`UPDATE auth_throttles SET failures = greatest(failures - 1, 0) WHERE key = ${address!.key} AND NOT coalesce(locked_until > now(), false)`;
}

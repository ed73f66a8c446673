import "server-only";
import { db } from "@/lib/db";
import { env } from "@/lib/env";

/**
 * Sign-in attempt counters in PostgreSQL so every instance sees the same count. A key (the e-mail,
 * and the client's address with a looser limit for shared NATs) locks for one window once it has
 * had its limit of failed sign-ins within a window.
 *
 * An attempt is counted before its password is checked (the check takes a while, on purpose), in one
 * atomic upsert per key, so a burst of parallel guesses cannot all pass a "not locked yet" check
 * before any of them is counted. Only failures stay counted and only failures lock: an attempt that
 * was refused, or whose password was right, is taken back.
 */
export type ThrottleKeys = { email: string; address: string };

const keysOf = ({ email, address }: ThrottleKeys) => [
  { key: `email:${email.toLowerCase()}`, max: env().LATCH_LOGIN_MAX_FAILURES },
  { key: `addr:${address}`, max: env().LATCH_LOGIN_MAX_FAILURES * 4 },
];

/**
 * Counts one attempt against every key; false when a key is locked, or already has as many attempts
 * under way or failed in its window as its limit allows. A refused attempt leaves no count behind.
 */
export async function reserveAttempt(keys: ThrottleKeys): Promise<boolean> {
  const all = keysOf(keys);
  const [locked] = await db().$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM auth_throttles WHERE key = ANY(${all.map((k) => k.key)}::text[]) AND locked_until > now()`;
  if ((locked?.n ?? 0) > 0) return false;
  const window = env().LATCH_LOGIN_WINDOW_SECONDS;
  const counted: string[] = [];
  for (const { key, max } of all) {
    // A window that has passed starts the count again at this attempt.
    const [row] = await db().$queryRaw<{ failures: number }[]>`
      INSERT INTO auth_throttles AS t (key, failures, window_start) VALUES (${key}, 1, now())
      ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN t.window_start < now() - make_interval(secs => ${window}) THEN 1 ELSE t.failures + 1 END,
        window_start = CASE WHEN t.window_start < now() - make_interval(secs => ${window}) THEN now() ELSE t.window_start END
      RETURNING failures`;
    counted.push(key);
    if (!row || row.failures > max) {
      await takeBack(counted);
      return false;
    }
  }
  return true;
}

async function takeBack(keys: string[]): Promise<void> {
  await db().$executeRaw`UPDATE auth_throttles SET failures = greatest(failures - 1, 0) WHERE key = ANY(${keys}::text[])`;
}

/** The password was wrong (or the account unknown or inactive): the attempt stays counted, and a key at its limit locks. */
export async function confirmFailure(keys: ThrottleKeys): Promise<void> {
  const window = env().LATCH_LOGIN_WINDOW_SECONDS;
  for (const { key, max } of keysOf(keys)) {
    await db().$executeRaw`
      UPDATE auth_throttles SET locked_until = now() + make_interval(secs => ${window})
      WHERE key = ${key} AND failures >= ${max}::int AND NOT coalesce(locked_until > now(), false)`;
  }
}

/** A correct password: the e-mail's count starts again, and the address gets its attempt back. */
export async function settleSuccess(keys: ThrottleKeys): Promise<void> {
  const [email, address] = keysOf(keys);
  await db().authThrottle.deleteMany({ where: { key: email!.key } });
  await takeBack([address!.key]);
}

import "server-only";
import { createHash } from "node:crypto";
import { isIPv6 } from "node:net";
import { db } from "@/lib/db";
import { env } from "@/lib/env";

/**
 * Sign-in attempt counters in PostgreSQL so every instance sees the same count. A key locks for one
 * window once it has had its limit of failed sign-ins within a window:
 *  - an e-mail from one client address: LATCH_LOGIN_MAX_FAILURES. Someone guessing from one place
 *    is stopped there, and only there, so a stranger cannot lock a person (or every administrator,
 *    whose e-mail may be the well-known default) out of their account from afar;
 *  - an e-mail from anywhere: ten times that, against guessing spread over many addresses;
 *  - a client address, whatever e-mails it names: four times that (shared NATs).
 * `npm run auth:unlock -- <e-mail or address>` lifts the locks on an e-mail or a client address.
 *
 * An attempt is counted before its password is checked (the check takes a while, on purpose), in one
 * atomic upsert per key, so a burst of parallel guesses cannot all pass a "not locked yet" check
 * before any of them is counted. Only failures stay counted and only failures lock: an attempt that
 * was refused, or whose password was right, is taken back.
 */
export type ThrottleKeys = { email: string; address: string };

export const emailKey = (email: string) => `email:${email.toLowerCase()}`;
// The e-mail as a digest: a 254-character address and an IPv6 address would not fit the key's column.
const emailTag = (email: string) => createHash("sha256").update(email.toLowerCase()).digest("hex").slice(0, 32);
export const emailAtAddressKey = (email: string, address: string) => `email-at:${emailTag(email)}|${address}`;

/**
 * Where attempts come from, as the limits count it: an IPv4 address (also when written IPv4-mapped),
 * or an IPv6 address's /64. One host holds a whole /64 (a home line, any VPS), and a new address
 * from it per attempt must not be a new place.
 */
export function attemptSource(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = "", tail = ""] = address.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = address.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

const keysOf = ({ email, address }: ThrottleKeys) => {
  const source = attemptSource(address);
  return [
    { key: emailAtAddressKey(email, source), max: env().LATCH_LOGIN_MAX_FAILURES },
    { key: emailKey(email), max: env().LATCH_LOGIN_MAX_FAILURES * 10 },
    { key: `addr:${source}`, max: env().LATCH_LOGIN_MAX_FAILURES * 4 },
  ];
};

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

/** A correct password: the e-mail's counts (here and overall) start again, and the address gets its attempt back. */
export async function settleSuccess(keys: ThrottleKeys): Promise<void> {
  const [here, email, address] = keysOf(keys);
  await db().authThrottle.deleteMany({ where: { key: { in: [here!.key, email!.key] } } });
  await takeBack([address!.key]);
}

/** Lifts every lock and count on an e-mail, from every address (an administrator locked out; `npm run auth:unlock`). */
export async function unlockEmail(email: string): Promise<number> {
  const normalised = email.trim().toLowerCase();
  const { count } = await db().authThrottle.deleteMany({
    where: { OR: [{ key: emailKey(normalised) }, { key: { startsWith: `email-at:${emailTag(normalised)}|` } }] },
  });
  return count;
}

/**
 * Lifts every lock and count on a client address (everyone behind a shared NAT locked out by one
 * person's guesses; `npm run auth:unlock -- <address>`): the address's own, and each e-mail's there.
 */
export async function unlockAddress(address: string): Promise<number> {
  const source = attemptSource(address.trim());
  const { count } = await db().authThrottle.deleteMany({
    where: { OR: [{ key: `addr:${source}` }, { key: { startsWith: "email-at:" }, AND: { key: { endsWith: `|${source}` } } }] },
  });
  return count;
}

/**
 * Rows nothing will read again: sessions past their expiry, and attempt counters whose window and
 * lock are over (every unknown e-mail tried leaves one). Run now and then from a sign-in, not awaited.
 */
export async function pruneSignInState(): Promise<{ sessions: number; counters: number }> {
  const window = env().LATCH_LOGIN_WINDOW_SECONDS;
  const sessions = await db().session.deleteMany({ where: { expiresAt: { lt: new Date() } } });
  const counters = await db().$executeRaw`
    DELETE FROM auth_throttles
    WHERE window_start < now() - make_interval(secs => ${window}) AND NOT coalesce(locked_until > now(), false)`;
  return { sessions: sessions.count, counters };
}

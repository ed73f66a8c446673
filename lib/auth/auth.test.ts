import { randomUUID } from "node:crypto";
import { encode } from "next-auth/jwt";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { makeUser, whileRefusingInserts } from "@/test/fixtures";
import { whileAnotherSession } from "@/test/races";
import { hashPassword } from "./password";
import { authorizeCredentials, SIGN_IN_ERRORS } from "./options";
import { attemptSource, emailAtAddressKey, pruneSignInState, unlockAddress, unlockEmail } from "./throttle";
import { getCurrentUser } from "./session";

/** What sign-ins log (their objects), beside the real logger. */
const logged = vi.hoisted(() => [] as Record<string, unknown>[]);
vi.mock("@/lib/log", async (importOriginal) => {
  const real = await importOriginal<typeof import("@/lib/log")>();
  return {
    ...real,
    requestLogger: (requestId: string) => {
      const log = real.requestLogger(requestId);
      const note = (level: "info" | "warn") => (object: Record<string, unknown>, message?: string) => {
        logged.push(object);
        return log[level](object, message);
      };
      return Object.assign(Object.create(log), { info: note("info"), warn: note("warn") });
    },
  };
});

const jar = new Map<string, string>();
vi.mock("next/headers", () => ({
  cookies: async () => ({ get: (name: string) => (jar.has(name) ? { name, value: jar.get(name) } : undefined) }),
  headers: async () => new Headers(),
}));

const headers = (address: string) => ({ "x-forwarded-for": address, "user-agent": "vitest" });

async function cookieFor(sub: string, sid: string) {
  jar.set("next-auth.session-token", await encode({ token: { sub, sid }, secret: env().NEXTAUTH_SECRET }));
}

describe("sign-in", () => {
  beforeEach(() => jar.clear());

  it("a failure of Latch itself is not taken for a wrong password, and its text does not reach the browser", async () => {
    const user = await makeUser();
    // next-auth puts the thrown message into its answer; the database's own text must not be it.
    const refused = await whileRefusingInserts("audit_events", "NEW.action = 'user.sign_in'", () =>
      authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("10.9.0.1")).then(
        () => null,
        (error: Error) => error.message,
      ),
    );
    expect(refused).toBe(SIGN_IN_ERRORS.unavailable);
    // Nothing half-done: no session for the sign-in that could not be recorded.
    expect(await db().session.count({ where: { userId: user.id } })).toBe(0);
  });

  it("a correct password creates a server-side session; wrong or unknown gives one generic message", async () => {
    const user = await makeUser();
    const ok = await authorizeCredentials({ email: user.email.toUpperCase(), password: "correct horse battery" }, headers("10.0.0.1"));
    expect(ok).toMatchObject({ id: user.id, email: user.email });
    expect(await db().session.findUnique({ where: { id: ok.sessionId } })).not.toBeNull();

    await expect(authorizeCredentials({ email: user.email, password: "wrong" }, headers("10.0.0.2"))).rejects.toThrow(SIGN_IN_ERRORS.invalid);
    await expect(authorizeCredentials({ email: "nobody@example.test", password: "wrong" }, headers("10.0.0.2"))).rejects.toThrow(SIGN_IN_ERRORS.invalid);
    const failures = await db().auditEvent.count({ where: { action: "user.sign_in", outcome: "FAILURE", targetLabel: user.email } });
    expect(failures).toBe(1);
  });

  it("an address with a control character in it is a wrong sign-in, not an outage", async () => {
    for (const email of ["admin\u0000@latch.local", "a\u0007b@example.test"]) {
      await expect(authorizeCredentials({ email, password: "whatever" }, headers("10.0.0.9"))).rejects.toThrow(SIGN_IN_ERRORS.invalid);
    }
  });

  it("a password reset that commits while a sign-in with the old password is being checked leaves no session", async () => {
    const user = await makeUser();
    const replaced = await hashPassword("a new password entirely");
    // The reset's transaction has changed the hash, not yet committed, when the sign-in comes to create its session.
    const signIn = await whileAnotherSession("UPDATE users SET password_hash = $1 WHERE id = $2::uuid", [replaced, user.id], () =>
      authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("10.0.0.8")).then(
        () => "signed in",
        (error: Error) => error.message,
      ),
    );
    expect(signIn).toBe(SIGN_IN_ERRORS.invalid);
    expect(await db().session.count({ where: { userId: user.id } })).toBe(0);
  });

  it("a deactivated user cannot sign in, with the same generic message", async () => {
    const user = await makeUser({ active: false });
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("10.0.0.3"))).rejects.toThrow(
      SIGN_IN_ERRORS.invalid,
    );
  });

  it("repeated failures from one address lock the e-mail there, even with the right password, until the window passes; elsewhere it still signs in", async () => {
    const user = await makeUser();
    const max = env().LATCH_LOGIN_MAX_FAILURES;
    for (let i = 0; i < max; i++) {
      await expect(authorizeCredentials({ email: user.email, password: `wrong ${i}` }, headers("10.1.0.1"))).rejects.toThrow(SIGN_IN_ERRORS.invalid);
    }
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("10.1.0.1"))).rejects.toThrow(SIGN_IN_ERRORS.locked);
    // A stranger guessing from afar does not lock the person out where they are.
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("10.1.1.1"))).resolves.toMatchObject({ id: user.id });
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("10.1.0.1"))).rejects.toThrow(SIGN_IN_ERRORS.locked);
    // The lock lapses with its window.
    await db().authThrottle.updateMany({ where: { key: emailAtAddressKey(user.email, "10.1.0.1") }, data: { lockedUntil: new Date(Date.now() - 1000), windowStart: new Date(0) } });
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("10.1.0.1"))).resolves.toMatchObject({ id: user.id });
  });

  it("records the client address of failed and refused sign-ins, which `auth:unlock` takes, in the log and the audit trail", async () => {
    const user = await makeUser();
    logged.length = 0;
    for (let i = 0; i < env().LATCH_LOGIN_MAX_FAILURES; i++) await authorizeCredentials({ email: user.email, password: `wrong ${i}` }, headers("10.7.0.9")).catch(() => undefined);
    await expect(authorizeCredentials({ email: user.email, password: "wrong again" }, headers("10.7.0.9"))).rejects.toThrow(SIGN_IN_ERRORS.locked);
    expect(logged.filter((o) => o.event === "sign_in.failed").map((o) => o.clientAddress)).toEqual(Array(env().LATCH_LOGIN_MAX_FAILURES).fill("10.7.0.9"));
    expect(logged.filter((o) => o.event === "sign_in.locked")).toEqual([{ event: "sign_in.locked", clientAddress: "10.7.0.9" }]);
    const audited = await db().auditEvent.findMany({ where: { action: "user.sign_in", outcome: "FAILURE", targetLabel: user.email } });
    expect(audited.map((e) => (e.details as { clientAddress?: string }).clientAddress)).toEqual(Array(env().LATCH_LOGIN_MAX_FAILURES).fill("10.7.0.9"));
    // Neither ever carries the password tried.
    expect(JSON.stringify([logged, audited])).not.toContain("wrong ");
  });

  it("counts an IPv6 host by its /64 and an IPv4-mapped address as the IPv4 one: a new address per guess is not a new place", async () => {
    expect(attemptSource("2001:db8:aa:1::1")).toBe("2001:db8:aa:1::/64");
    expect(attemptSource("2001:0db8:00aa:0001:ffff:ffff:ffff:ffff")).toBe("2001:db8:aa:1::/64");
    expect(attemptSource("::1")).toBe("0:0:0:0::/64");
    expect(attemptSource("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(attemptSource("192.0.2.7")).toBe("192.0.2.7");
    const user = await makeUser();
    const max = env().LATCH_LOGIN_MAX_FAILURES;
    for (let i = 0; i < max; i++) {
      await expect(authorizeCredentials({ email: user.email, password: `wrong ${i}` }, headers(`2001:db8:77:5::${(i + 1).toString(16)}`))).rejects.toThrow(SIGN_IN_ERRORS.invalid);
    }
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("2001:db8:77:5:abcd::9"))).rejects.toThrow(SIGN_IN_ERRORS.locked);
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("2001:db8:77:6::1"))).resolves.toMatchObject({ id: user.id });
  });

  it("guesses spread over many addresses lock the e-mail everywhere at ten times the limit; auth:unlock lifts it", async () => {
    const user = await makeUser();
    const max = env().LATCH_LOGIN_MAX_FAILURES * 10;
    for (let i = 0; i < max; i++) {
      await expect(authorizeCredentials({ email: user.email, password: `wrong ${i}` }, headers(`10.3.${Math.floor(i / 200)}.${i % 200}`))).rejects.toThrow(SIGN_IN_ERRORS.invalid);
    }
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("10.3.9.9"))).rejects.toThrow(SIGN_IN_ERRORS.locked);
    expect(await unlockEmail(` ${user.email.toUpperCase()} `)).toBeGreaterThan(0);
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("10.3.9.9"))).resolves.toMatchObject({ id: user.id });
  }, 60_000);

  it("guesses naming many e-mails from one address lock that address for everyone; auth:unlock with the address lifts it", async () => {
    const user = await makeUser();
    const max = env().LATCH_LOGIN_MAX_FAILURES * 4;
    for (let i = 0; i < max; i++) {
      await expect(authorizeCredentials({ email: `nobody-${i}-${randomUUID()}@example.test`, password: "guess" }, headers("2001:db8:99:1::5"))).rejects.toThrow(SIGN_IN_ERRORS.invalid);
    }
    // The same /64: a person there with the right password is locked out too.
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("2001:db8:99:1::6"))).rejects.toThrow(SIGN_IN_ERRORS.locked);
    // Unlocking the person's e-mail does not help: the lock is on the address.
    await unlockEmail(user.email);
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("2001:db8:99:1::6"))).rejects.toThrow(SIGN_IN_ERRORS.locked);
    expect(await unlockAddress(" 2001:db8:99:1::7 ")).toBeGreaterThan(0);
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("2001:db8:99:1::6"))).resolves.toMatchObject({ id: user.id });
  }, 60_000);
});

describe("sign-in throttle under concurrent guesses", () => {
  it("a burst of parallel wrong passwords gets no more guesses than the limit", async () => {
    const user = await makeUser();
    const max = env().LATCH_LOGIN_MAX_FAILURES;
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        authorizeCredentials({ email: user.email, password: `guess ${i}` }, headers("10.2.0.1")).then(
          () => "signed in",
          (error: Error) => error.message,
        ),
      ),
    );
    // Only `max` passwords were checked; the rest were refused before their check.
    expect(outcomes.filter((o) => o === SIGN_IN_ERRORS.invalid)).toHaveLength(max);
    expect(outcomes.filter((o) => o === SIGN_IN_ERRORS.locked)).toHaveLength(20 - max);
    expect(await db().auditEvent.count({ where: { action: "user.sign_in", outcome: "FAILURE", targetLabel: user.email } })).toBe(max);
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("10.2.0.1"))).rejects.toThrow(SIGN_IN_ERRORS.locked);
  });

  it("attempts refused at a locked address count for nothing against the e-mails they name", async () => {
    const address = "10.4.0.1";
    const max = env().LATCH_LOGIN_MAX_FAILURES;
    for (let i = 0; i < max * 4; i++) {
      await expect(authorizeCredentials({ email: `nobody-${i}-${Date.now()}@example.test`, password: "wrong" }, headers(address))).rejects.toThrow(SIGN_IN_ERRORS.invalid);
    }
    const user = await makeUser();
    for (let i = 0; i < max + 2; i++) {
      await expect(authorizeCredentials({ email: user.email, password: `guess ${i}` }, headers(address))).rejects.toThrow(SIGN_IN_ERRORS.locked);
    }
    // The person, from their own address, is not locked out by what the locked address tried.
    await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers("10.4.0.2"))).resolves.toMatchObject({ id: user.id });
  });

  it("only failures lock an address: a correct password at its last allowed attempt, or a burst of them, leaves it open", async () => {
    const address = "10.5.0.1";
    const max = env().LATCH_LOGIN_MAX_FAILURES;
    for (let i = 0; i < max * 4 - 1; i++) {
      await expect(authorizeCredentials({ email: `nobody-${i}-${Date.now()}@example.test`, password: "wrong" }, headers(address))).rejects.toThrow(SIGN_IN_ERRORS.invalid);
    }
    const [a, b] = [await makeUser(), await makeUser()];
    await expect(authorizeCredentials({ email: a.email, password: "correct horse battery" }, headers(address))).resolves.toMatchObject({ id: a.id });
    await expect(authorizeCredentials({ email: b.email, password: "correct horse battery" }, headers(address))).resolves.toMatchObject({ id: b.id });

    const burst = await Promise.all(Array.from({ length: max * 4 + 2 }, () => makeUser()));
    await Promise.allSettled(burst.map((u) => authorizeCredentials({ email: u.email, password: "correct horse battery" }, headers("10.5.0.2"))));
    await expect(authorizeCredentials({ email: a.email, password: "correct horse battery" }, headers("10.5.0.2"))).resolves.toMatchObject({ id: a.id });
  });

  it("a correct password gives the address its attempt back, so people behind one NAT who sign in are not locked out", async () => {
    const address = "10.3.0.1";
    const max = env().LATCH_LOGIN_MAX_FAILURES;
    // Four times the e-mail limit is the address limit: many more successful sign-ins than that.
    for (let i = 0; i < max * 4 + 2; i++) {
      const user = await makeUser();
      await expect(authorizeCredentials({ email: user.email, password: "correct horse battery" }, headers(address))).resolves.toMatchObject({ id: user.id });
    }
  });
});

describe("session check on every request", () => {
  beforeEach(() => jar.clear());

  it("accepts a live session and rejects it once the session row is gone (sign-out) or the user is deactivated", async () => {
    const user = await makeUser();
    const s = await db().session.create({ data: { userId: user.id, expiresAt: new Date(Date.now() + 60_000) } });
    await cookieFor(user.id, s.id);
    expect(await getCurrentUser()).toMatchObject({ id: user.id });

    await db().user.update({ where: { id: user.id }, data: { active: false } });
    expect(await getCurrentUser()).toBeNull();

    await db().user.update({ where: { id: user.id }, data: { active: true } });
    await db().session.delete({ where: { id: s.id } });
    expect(await getCurrentUser()).toBeNull();
  });

  it("over https only the __Secure- cookie is read: a plain-named one (which http could plant) is ignored", async () => {
    const user = await makeUser();
    const s = await db().session.create({ data: { userId: user.id, expiresAt: new Date(Date.now() + 60_000) } });
    const token = await encode({ token: { sub: user.id, sid: s.id }, secret: env().NEXTAUTH_SECRET });
    const configured = env().NEXTAUTH_URL;
    Object.assign(env(), { NEXTAUTH_URL: "https://latch.example.com" });
    try {
      jar.set("next-auth.session-token", token);
      expect(await getCurrentUser()).toBeNull();
      jar.set("__Secure-next-auth.session-token", token);
      expect(await getCurrentUser()).toMatchObject({ id: user.id });
    } finally {
      Object.assign(env(), { NEXTAUTH_URL: configured });
    }
  });

  it("rejects a forged or mismatched cookie", async () => {
    const [a, b] = [await makeUser(), await makeUser()];
    const s = await db().session.create({ data: { userId: a.id, expiresAt: new Date(Date.now() + 60_000) } });
    await cookieFor(b.id, s.id);
    expect(await getCurrentUser()).toBeNull();
    jar.set("next-auth.session-token", "garbage");
    expect(await getCurrentUser()).toBeNull();
  });
});

describe("sign-in state that nothing reads again", () => {
  it("expired sessions and finished attempt counters are pruned; live ones and running locks stay", async () => {
    const user = await makeUser();
    const [expired, live] = await Promise.all([
      db().session.create({ data: { userId: user.id, expiresAt: new Date(Date.now() - 60_000) } }),
      db().session.create({ data: { userId: user.id, expiresAt: new Date(Date.now() + 3_600_000) } }),
    ]);
    const old = new Date(Date.now() - (env().LATCH_LOGIN_WINDOW_SECONDS + 60) * 1000);
    await db().authThrottle.createMany({
      data: [
        { key: "email:prune-finished@example.test", failures: 2, windowStart: old },
        { key: "email:prune-locked@example.test", failures: 9, windowStart: old, lockedUntil: new Date(Date.now() + 60_000) },
        { key: "email:prune-current@example.test", failures: 1, windowStart: new Date() },
      ],
    });
    await pruneSignInState();
    expect(await db().session.findUnique({ where: { id: expired.id } })).toBeNull();
    expect(await db().session.findUnique({ where: { id: live.id } })).not.toBeNull();
    const left = (await db().authThrottle.findMany({ where: { key: { startsWith: "email:prune-" } } })).map((r) => r.key).sort();
    expect(left).toEqual(["email:prune-current@example.test", "email:prune-locked@example.test"]);
  });
});

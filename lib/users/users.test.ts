import { randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { authorizeCredentials } from "@/lib/auth/options";
import { hashPassword, verifyPassword } from "@/lib/auth/password";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { grant, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { whileAnotherSession } from "@/test/races";
import { personalToken } from "@/test/tokens";
import {
  changeOwnPasswordAction,
  createUserAction,
  resetUserPasswordAction,
  setUserActiveAction,
  setUserAdminAction,
  updateUserAction,
} from "./actions";
import { setUserActive, setUserAdmin } from "./mutations";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

async function sessionFor(userId: string) {
  return db().session.create({ data: { userId, expiresAt: new Date(Date.now() + 3600_000) } });
}

describe("user administration", () => {
  beforeEach(() => signInAs(null));

  it("creates a user with a hashed password and refuses duplicates, bad e-mails and short passwords", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const email = `new-${Date.now()}@example.test`;
    const created = await createUserAction({ email: email.toUpperCase(), name: "New Person", password: "a long initial pass", isAdmin: false });
    expect(created).toMatchObject({ ok: true, data: { email } });
    const row = await db().user.findUniqueOrThrow({ where: { email } });
    expect(row.passwordHash).toMatch(/^scrypt\$/);
    expect(row.passwordHash).not.toContain("a long initial pass");
    expect(await verifyPassword("a long initial pass", row.passwordHash)).toBe(true);

    expect(await createUserAction({ email, name: "Again", password: "a long initial pass", isAdmin: false })).toMatchObject({
      ok: false,
      error: { code: "CONFLICT", fieldErrors: { email: ["A user with that e-mail address already exists."] } },
    });
    expect(await createUserAction({ email: "nope", name: "X", password: "short", isAdmin: false })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { email: ["Enter a valid e-mail address."], password: ["Use at least 12 characters."] } },
    });
    // Twelve spaces: long enough, and no password; a passphrase with spaces in it is one.
    expect(await createUserAction({ email: `spaces-${randomUUID().slice(0, 6)}@example.test`, name: "Spaces", password: " ".repeat(12), isAdmin: false })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { password: ["A password cannot be only spaces."] } },
    });
    expect(await createUserAction({ email: `phrase-${randomUUID().slice(0, 6)}@example.test`, name: "Phrase", password: "correct horse battery", isAdmin: false })).toMatchObject({ ok: true });
  });

  it("an administrator corrects a person's name and e-mail; the person keeps their sessions", async () => {
    const admin = await makeUser({ isAdmin: true });
    const person = await makeUser();
    const other = await makeUser();
    const session = await sessionFor(person.id);
    signInAs(admin);
    const email = `renamed-${Date.now()}@example.test`;
    expect(await updateUserAction({ userId: person.id, name: "  Renamed Person ", email: email.toUpperCase() })).toMatchObject({
      ok: true,
      data: { id: person.id, name: "Renamed Person", email },
    });
    const row = await db().user.findUniqueOrThrow({ where: { id: person.id } });
    expect(row).toMatchObject({ name: "Renamed Person", email });
    expect(await db().session.findUnique({ where: { id: session.id } })).not.toBeNull();
    const event = await db().auditEvent.findFirstOrThrow({ where: { targetId: person.id, action: "user.update" } });
    expect(event).toMatchObject({ targetLabel: email, details: { changed: ["name", "email"], previousEmail: person.email } });

    // Another person's address is refused by the field, and nothing changes.
    expect(await updateUserAction({ userId: person.id, name: "Renamed Person", email: other.email })).toMatchObject({
      ok: false,
      error: { code: "CONFLICT", fieldErrors: { email: ["A user with that e-mail address already exists."] } },
    });
    expect((await db().user.findUniqueOrThrow({ where: { id: person.id } })).email).toBe(email);
    // Bad input names its fields; an unknown person is not found; no change writes no event.
    expect(await updateUserAction({ userId: person.id, name: " ", email: "nope" })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { name: expect.any(Array), email: ["Enter a valid e-mail address."] } },
    });
    expect(await updateUserAction({ userId: "00000000-0000-4000-8000-000000000000", name: "X", email: "x@example.test" })).toMatchObject({
      ok: false,
      error: { code: "NOT_FOUND" },
    });
    expect(await updateUserAction({ userId: person.id, name: "Renamed Person", email })).toMatchObject({ ok: true });
    expect(await db().auditEvent.count({ where: { targetId: person.id, action: "user.update" } })).toBe(1);
  });

  it("an address another request takes meanwhile is refused by the field, not an unexpected error", async () => {
    const [admin, a, b] = [await makeUser({ isAdmin: true }), await makeUser(), await makeUser()];
    signInAs(admin);
    const email = `contested-${Date.now()}@example.test`;
    // Another request's transaction gives b the address but has not committed yet: the update waits on it.
    const updating = await whileAnotherSession("UPDATE users SET email = $1 WHERE id = $2", [email, b.id], () => updateUserAction({ userId: a.id, name: "A", email }));
    expect(updating).toMatchObject({ ok: false, error: { code: "CONFLICT", fieldErrors: { email: ["A user with that e-mail address already exists."] } } });
    expect((await db().user.findUniqueOrThrow({ where: { id: a.id } })).email).toBe(a.email);
  });

  it("deactivating a user ends their sessions at once; reactivating lets them sign in again", async () => {
    const admin = await makeUser({ isAdmin: true });
    const person = await makeUser();
    await sessionFor(person.id);
    signInAs(admin);
    expect(await setUserActiveAction({ userId: person.id, active: false })).toMatchObject({ ok: true });
    expect(await db().session.count({ where: { userId: person.id } })).toBe(0);
    expect((await db().user.findUniqueOrThrow({ where: { id: person.id } })).active).toBe(false);
    const signIn = () => authorizeCredentials({ email: person.email, password: "correct horse battery" }, { "x-forwarded-for": "10.8.0.1", "user-agent": "vitest" }).then((u) => u?.id ?? null, () => null);
    expect(await signIn()).toBeNull();
    expect(await setUserActiveAction({ userId: person.id, active: true })).toMatchObject({ ok: true, data: { active: true } });
    expect(await signIn()).toBe(person.id);
    const actions = (await db().auditEvent.findMany({ where: { targetId: person.id }, orderBy: { occurredAt: "asc" } })).map((e) => e.action);
    expect(actions.filter((a) => a.startsWith("user.") && !a.startsWith("user.sign_in"))).toEqual(["user.deactivate", "user.reactivate"]);
  });

  it("an administrator cannot deactivate themselves or remove the last active administrator", async () => {
    const admin = await makeUser({ isAdmin: true });
    signInAs(admin);
    expect(await setUserActiveAction({ userId: admin.id, active: false })).toMatchObject({
      ok: false,
      error: { code: "CONFLICT", message: "You cannot deactivate your own account." },
    });
    // Demote every other admin first so this one is the last.
    await db().user.updateMany({ where: { isAdmin: true, id: { not: admin.id } }, data: { isAdmin: false } });
    expect(await setUserAdminAction({ userId: admin.id, isAdmin: false })).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    const other = await makeUser();
    expect(await setUserAdminAction({ userId: other.id, isAdmin: true })).toMatchObject({ ok: true });
    expect(await setUserAdminAction({ userId: admin.id, isAdmin: false })).toMatchObject({ ok: true });
  });

  it("administrators taking each other's rights at the same moment cannot leave none", async () => {
    const admins = await Promise.all(Array.from({ length: 6 }, () => makeUser({ isAdmin: true })));
    await db().user.updateMany({ where: { isAdmin: true, id: { notIn: admins.map((a) => a.id) } }, data: { isAdmin: false } });
    // Each takes the next one's rights (or deactivates them), all at once.
    const results = await Promise.allSettled(
      admins.map((actor, i) => {
        const userId = admins[(i + 1) % admins.length]!.id;
        const ctx = { actor, requestId: `race-${i}` };
        return i % 2 ? setUserActive(ctx, { userId, active: false }) : setUserAdmin(ctx, { userId, isAdmin: false });
      }),
    );
    expect(await db().user.count({ where: { isAdmin: true, active: true } })).toBeGreaterThan(0);
    // Refused as the last administrator, or because the caller's own rights went first.
    for (const r of results) if (r.status === "rejected") expect(["CONFLICT", "NOT_FOUND"]).toContain((r.reason as { code: string }).code);
  });

  it("a request already under way when its administrator is demoted or deactivated changes nothing", async () => {
    const [a, b] = [await makeUser({ isAdmin: true }), await makeUser({ isAdmin: true })];
    const other = await makeUser();
    // b's request began while b was an administrator (the actor it carries says so); then a took b's rights.
    const stale = { actor: { ...b, isAdmin: true }, requestId: "stale-admin" };
    await setUserAdmin({ actor: a, requestId: "demote" }, { userId: b.id, isAdmin: false });
    await expect(setUserAdmin(stale, { userId: b.id, isAdmin: true })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(setUserActive(stale, { userId: other.id, active: false })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await db().user.findUniqueOrThrow({ where: { id: b.id } })).toMatchObject({ isAdmin: false });
    expect(await db().user.findUniqueOrThrow({ where: { id: other.id } })).toMatchObject({ active: true });
    // Deactivated, the same.
    await setUserAdmin({ actor: a, requestId: "restore" }, { userId: b.id, isAdmin: true });
    await setUserActive({ actor: a, requestId: "deactivate" }, { userId: b.id, active: false });
    await expect(setUserActive(stale, { userId: b.id, active: true })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await db().user.findUniqueOrThrow({ where: { id: b.id } })).toMatchObject({ active: false });
  });

  it("a password reset replaces the hash and ends every session of that user", async () => {
    const admin = await makeUser({ isAdmin: true });
    const person = await makeUser();
    await sessionFor(person.id);
    signInAs(admin);
    expect(await resetUserPasswordAction({ userId: person.id, password: "brand new password 1" })).toMatchObject({ ok: true });
    const row = await db().user.findUniqueOrThrow({ where: { id: person.id } });
    expect(await verifyPassword("brand new password 1", row.passwordHash)).toBe(true);
    expect(await db().session.count({ where: { userId: person.id } })).toBe(0);
  });

  it("a reset can also revoke the person's API tokens, which outlive sessions; without it they keep working", async () => {
    const admin = await makeUser({ isAdmin: true });
    const person = await makeUser();
    const folder = await makeFolder();
    await grant(folder.id, person, "VIEWER");
    const [first, second] = [await personalToken(person, [{ folderId: folder.id, permissions: [] }]), await personalToken(person, [{ folderId: folder.id, permissions: [] }])];
    signInAs(admin);
    expect(await resetUserPasswordAction({ userId: person.id, password: "brand new password 3" })).toMatchObject({ ok: true, data: { tokensRevoked: 0 } });
    expect(await db().apiToken.count({ where: { userId: person.id, revokedAt: null } })).toBe(2);
    expect(await resetUserPasswordAction({ userId: person.id, password: "brand new password 4", revokeTokens: true })).toMatchObject({ ok: true, data: { tokensRevoked: 2 } });
    expect(await db().apiToken.count({ where: { id: { in: [first.row.id, second.row.id] }, revokedAt: null } })).toBe(0);
    const event = await db().auditEvent.findFirstOrThrow({ where: { action: "user.reset_password", targetId: person.id }, orderBy: { occurredAt: "desc" } });
    expect(event.details).toMatchObject({ personalAccessRevoked: 2 });
  });

  it("an administrator resetting their own password stays signed in where they did it; their other sessions end", async () => {
    const self = await makeUser({ isAdmin: true });
    const [here, elsewhere] = [await sessionFor(self.id), await sessionFor(self.id)];
    signInAs({ ...self, sessionId: here.id });
    expect(await resetUserPasswordAction({ userId: self.id, password: "brand new password 2" })).toMatchObject({ ok: true });
    expect(await db().session.findUnique({ where: { id: here.id } })).not.toBeNull();
    expect(await db().session.findUnique({ where: { id: elsewhere.id } })).toBeNull();
  });

  it("changing one's own password needs the current one", async () => {
    const person = await makeUser();
    signInAs(person);
    expect(await changeOwnPasswordAction({ currentPassword: "wrong one", newPassword: "another good password" })).toMatchObject({
      ok: false,
      error: { fieldErrors: { currentPassword: ["Your current password is not correct."] } },
    });
    const [current, other] = [await sessionFor(person.id), await sessionFor(person.id)];
    signInAs({ ...person, sessionId: current.id });
    expect(await changeOwnPasswordAction({ currentPassword: "correct horse battery", newPassword: "another good password" })).toMatchObject({ ok: true });
    // Every other session of the person ends; the one that changed it goes on.
    expect(await db().session.findUnique({ where: { id: other.id } })).toBeNull();
    expect(await db().session.findUnique({ where: { id: current.id } })).not.toBeNull();
  });

  it("the current password is checked under the sign-in limits: guessing it through a session locks", async () => {
    const person = await makeUser();
    signInAs(person);
    for (let i = 0; i < env().LATCH_LOGIN_MAX_FAILURES; i++) {
      expect(await changeOwnPasswordAction({ currentPassword: `guess ${i}`, newPassword: "another good password" })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    }
    // Now even the right password waits, as a sign-in with this e-mail would.
    expect(await changeOwnPasswordAction({ currentPassword: "correct horse battery", newPassword: "another good password" })).toMatchObject({
      ok: false,
      error: { code: "RATE_LIMITED", message: "Too many failed sign-ins. Wait a few minutes, then try again." },
    });
    expect(await verifyPassword("correct horse battery", (await db().user.findUniqueOrThrow({ where: { id: person.id } })).passwordHash)).toBe(true);
  });

  it("a password change does not undo an administrator's reset made while it was checking", async () => {
    const person = await makeUser();
    const session = await sessionFor(person.id);
    const resetHash = await hashPassword("the administrator's reset");
    signInAs({ ...person, sessionId: session.id });
    const changing = changeOwnPasswordAction({ currentPassword: "correct horse battery", newPassword: "the intruder's choice" });
    // Once the change has read the password and counted its attempt, the reset lands (the change still has two slow hashes to run).
    await vi.waitFor(async () => expect(await db().authThrottle.count({ where: { key: `email:${person.email}` } })).toBe(1), { interval: 2 });
    await db().user.update({ where: { id: person.id }, data: { passwordHash: resetHash } });
    expect(await changing).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    const row = await db().user.findUniqueOrThrow({ where: { id: person.id } });
    expect(await verifyPassword("the administrator's reset", row.passwordHash)).toBe(true);
  });
});

import { createHash } from "node:crypto";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { grant, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { personalToken, serviceToken } from "@/test/tokens";
import {
  createPersonalTokenAction,
  createServiceAccountAction,
  createServiceAccountTokenAction,
  deleteServiceAccountAction,
  revokeTokenAction,
  setServiceAccountDisabledAction,
  updateServiceAccountAction,
} from "./actions";
import { authenticateBearer } from "./authenticate";
import { generateToken, parseToken } from "./format";
import { createPersonalToken, createServiceAccount, MAX_ACTIVE_TOKENS_PER_OWNER, revokeToken } from "./mutations";
import { ACTIVE_PERSONAL_TOKENS_LISTED, listActivePersonalTokens, listPersonalTokens, listScopeFolderOptions, listServiceAccounts } from "./queries";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

let admin: Actor, editor: Actor, viewer: Actor, outsider: Actor;
let x: { id: string; name: string }, y: { id: string; name: string };

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  editor = await makeUser();
  viewer = await makeUser();
  outsider = await makeUser();
  x = await makeFolder();
  y = await makeFolder();
  await grant(x.id, editor, "EDITOR");
  await grant(x.id, viewer, "VIEWER");
});

beforeEach(() => signInAs(null));

const sha256 = (s: string) => createHash("sha256").update(s).digest();

/** Every column of the token's row and its scopes, as text, straight from PostgreSQL. */
async function rawRows(tokenId: string): Promise<string> {
  const rows = await db().$queryRaw<unknown[]>`
    SELECT row_to_json(t)::text AS token, (SELECT json_agg(s)::text FROM api_token_scopes s WHERE s.token_id = t.id) AS scopes
    FROM api_tokens t WHERE t.id = ${tokenId}::uuid`;
  return JSON.stringify(rows);
}

describe("token format", () => {
  it("is lt_<8 lower-case letters or digits>_<43 base64url characters>, hashed with SHA-256 of the secret", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const { token, prefix, hash } = generateToken();
      expect(token).toMatch(/^lt_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
      expect(token.startsWith(`${prefix}_`)).toBe(true);
      const parsed = parseToken(token)!;
      expect(parsed.prefix).toBe(prefix);
      expect(Buffer.from(hash).equals(sha256(parsed.secret))).toBe(true);
      seen.add(token);
    }
    expect(seen.size).toBe(50);
  });

  it("refuses anything else", () => {
    const good = generateToken().token;
    for (const bad of ["", "lt_", good.slice(0, -1), `${good}x`, good.replace("lt_", "LT_"), good.replace("lt_", "xx_"), `Bearer ${good}`, good.toUpperCase()]) {
      expect(parseToken(bad), bad).toBeNull();
    }
  });
});

describe("personal access tokens", () => {
  it("are shown once, stored only as a hash, and listed without secret or hash", async () => {
    signInAs(editor);
    const result = await createPersonalTokenAction({ name: "CI runner", expiresInDays: 30, scopes: [{ folderId: x.id, permissions: ["connections.use"] }] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { token, row } = result.data;
    const { secret } = parseToken(token)!;
    expect(row).toMatchObject({ name: "CI runner", status: "active", owner: { kind: "personal", id: editor.id } });
    // Seeing the folder comes with every grant.
    expect(row.scopes).toEqual([{ folderId: x.id, folderLabel: x.name, permissions: ["folders.read", "connections.use"] }]);
    expect(row.expiresAt.getTime() - Date.now()).toBeGreaterThan(29.9 * 86_400_000);

    const stored = await rawRows(row.id);
    expect(stored).toContain(row.prefix);
    expect(stored).not.toContain(token);
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(Buffer.from(secret).toString("hex"));
    const hash = (await db().apiToken.findUniqueOrThrow({ where: { id: row.id } })).hash;
    expect(Buffer.from(hash).equals(sha256(secret))).toBe(true);

    const listed = JSON.stringify(await listPersonalTokens(editor));
    expect(listed).toContain(row.prefix);
    expect(listed).not.toContain(secret);
    expect(listed).not.toContain(Buffer.from(hash).toString("hex"));
    expect(listed).not.toContain(Buffer.from(hash).toString("base64"));
    expect(listed).not.toMatch(/"hash"/);
    expect(JSON.stringify(await listActivePersonalTokens(admin))).not.toContain(secret);
    expect((await listActivePersonalTokens(admin)).total).toBeGreaterThan(0);

    const audit = await db().auditEvent.findFirstOrThrow({ where: { action: "api_token.create", targetId: row.id } });
    expect(audit).toMatchObject({ actorId: editor.id, outcome: "SUCCESS" });
    expect(JSON.stringify(audit)).not.toContain(secret);
  });

  it("cannot carry more than the person holds now", async () => {
    signInAs(viewer);
    const tooMuch = await createPersonalTokenAction({ name: "t", expiresInDays: 30, scopes: [{ folderId: x.id, permissions: ["connections.read", "connections.use"] }] });
    expect(tooMuch).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { "scopes.0.permissions": [expect.stringContaining("Use connections")] } } });
    const foreign = await createPersonalTokenAction({ name: "t", expiresInDays: 30, scopes: [{ folderId: y.id, permissions: ["folders.read"] }] });
    expect(foreign).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    const malformed = await createPersonalTokenAction({ name: "t", expiresInDays: 30, scopes: [{ folderId: "nope", permissions: ["folders.read"] }] });
    expect(malformed).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await db().apiToken.count({ where: { userId: viewer.id } })).toBe(0);

    const options = await listScopeFolderOptions(viewer, "personal");
    expect(options.find((o) => o.id === x.id)?.allowed).toEqual(["folders.read", "assets.read", "connections.read"]);
    expect(options.some((o) => o.id === y.id)).toBe(false);
  });

  it("refuses write permissions, long lives, lives that are not a whole number of days, empty or duplicate scopes", async () => {
    signInAs(admin);
    const cases = [
      { name: "t", expiresInDays: 30, scopes: [{ folderId: x.id, permissions: ["folders.manage"] }] },
      { name: "t", expiresInDays: 366, scopes: [{ folderId: x.id, permissions: ["folders.read"] }] },
      { name: "t", expiresInDays: 0, scopes: [{ folderId: x.id, permissions: ["folders.read"] }] },
      { name: "t", expiresInDays: 30, scopes: [] },
      { name: "t", expiresInDays: 30, scopes: [{ folderId: x.id, permissions: ["folders.read"] }, { folderId: x.id, permissions: ["assets.read"] }] },
      { name: " ", expiresInDays: 30, scopes: [{ folderId: x.id, permissions: ["folders.read"] }] },
      // Not a number of days, though Number() would read each as one (1, 5, 100, 16, 0).
      ...[true, [5], "1e2", "0x10", ""].map((expiresInDays) => ({ name: "t", expiresInDays, scopes: [{ folderId: x.id, permissions: ["folders.read"] }] })),
    ];
    for (const input of cases) {
      expect(await createPersonalTokenAction(input as never), JSON.stringify(input)).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    }
  });

  it("are revoked by their owner or an administrator, by nobody else, and only once in the audit log", async () => {
    const { row } = await personalToken(editor, [{ folderId: x.id, permissions: ["connections.read"] }]);
    signInAs(outsider);
    expect(await revokeTokenAction({ tokenId: row.id })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await revokeTokenAction({ tokenId: "malformed" })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    signInAs(editor);
    expect(await revokeTokenAction({ tokenId: row.id })).toMatchObject({ ok: true });
    expect(await revokeTokenAction({ tokenId: row.id })).toMatchObject({ ok: true });
    expect(await db().auditEvent.count({ where: { action: "api_token.revoke", targetId: row.id } })).toBe(1);
    expect((await listPersonalTokens(editor)).find((t) => t.id === row.id)?.status).toBe("revoked");

    const other = await personalToken(editor, [{ folderId: x.id, permissions: ["connections.read"] }]);
    signInAs(admin);
    expect(await revokeTokenAction({ tokenId: other.row.id })).toMatchObject({ ok: true });
    expect(await db().auditEvent.findFirst({ where: { action: "api_token.revoke", targetId: other.row.id } })).toMatchObject({ actorId: admin.id });
  });

  it("cannot be minted, listed or revoked through a token", async () => {
    const { token, row } = await personalToken(editor, [{ folderId: x.id, permissions: ["connections.use"] }]);
    const tokenActor = await authenticateBearer(`Bearer ${token}`, new Headers());
    const ctx = { actor: tokenActor, requestId: "t" };
    await expect(createPersonalToken(ctx, { name: "child", expiresInDays: 1, scopes: [{ folderId: x.id, permissions: ["folders.read"] }] })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(revokeToken(ctx, { tokenId: row.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(listPersonalTokens(tokenActor)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(createServiceAccount(ctx, { name: "sneaky", description: "" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("are capped per owner", async () => {
    const person = await makeUser();
    await grant(x.id, person, "VIEWER");
    await db().apiToken.createMany({
      data: Array.from({ length: MAX_ACTIVE_TOKENS_PER_OWNER }, () => {
        const g = generateToken();
        return { userId: person.id, name: "bulk", prefix: g.prefix, hash: g.hash, expiresAt: new Date(Date.now() + 86_400_000) };
      }),
    });
    signInAs(person);
    expect(await createPersonalTokenAction({ name: "one more", expiresInDays: 1, scopes: [{ folderId: x.id, permissions: [] }] })).toMatchObject({
      ok: false,
      error: { code: "CONFLICT" },
    });
  });

  it("are capped per owner also when many are created at once", async () => {
    const person = await makeUser();
    await grant(x.id, person, "VIEWER");
    const room = 5;
    await db().apiToken.createMany({
      data: Array.from({ length: MAX_ACTIVE_TOKENS_PER_OWNER - room }, () => {
        const g = generateToken();
        return { userId: person.id, name: "bulk", prefix: g.prefix, hash: g.hash, expiresAt: new Date(Date.now() + 86_400_000) };
      }),
    });
    const results = await Promise.allSettled(
      Array.from({ length: 15 }, (_, i) => createPersonalToken({ actor: person, requestId: `cap-${i}` }, { name: `burst ${i}`, expiresInDays: 1, scopes: [{ folderId: x.id, permissions: ["folders.read"] }] })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(room);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "CONFLICT" });
    expect(await db().apiToken.count({ where: { userId: person.id, revokedAt: null } })).toBe(MAX_ACTIVE_TOKENS_PER_OWNER);
  });
});

describe("the token lists", () => {
  it("the administrators' list of personal tokens in use says how many there are when it shows only the newest", async () => {
    const person = await makeUser();
    await db().apiToken.createMany({
      data: Array.from({ length: ACTIVE_PERSONAL_TOKENS_LISTED + 1 }, () => {
        const g = generateToken();
        return { userId: person.id, name: "bulk", prefix: g.prefix, hash: g.hash, expiresAt: new Date(Date.now() + 86_400_000) };
      }),
    });
    const listed = await listActivePersonalTokens(admin);
    expect(listed.rows).toHaveLength(ACTIVE_PERSONAL_TOKENS_LISTED);
    expect(listed.total).toBeGreaterThan(ACTIVE_PERSONAL_TOKENS_LISTED);
    await db().apiToken.deleteMany({ where: { userId: person.id } });
  });

  it("list every usable token however many newer revoked ones there are, so each can still be revoked", async () => {
    const person = await makeUser();
    await grant(x.id, person, "EDITOR");
    const mine = await personalToken(person, [{ folderId: x.id, permissions: ["connections.use"] }]);
    const theirs = await serviceToken(admin, [{ folderId: x.id, permissions: ["connections.use"] }]);
    const later = new Date(Date.now() + 60_000);
    const revoked = (owner: { userId: string } | { serviceAccountId: string }) =>
      Array.from({ length: 250 }, () => {
        const g = generateToken();
        return { ...owner, name: "rotated away", prefix: g.prefix, hash: g.hash, expiresAt: new Date(Date.now() + 86_400_000), revokedAt: later, createdAt: later };
      });
    await db().apiToken.createMany({ data: [...revoked({ userId: person.id }), ...revoked({ serviceAccountId: theirs.serviceAccountId })] });

    const own = await listPersonalTokens(person);
    expect(own[0]).toMatchObject({ prefix: mine.token.slice(0, 11), status: "active" });
    expect(own.filter((t) => t.status === "revoked").length).toBeGreaterThan(0);
    const account = (await listServiceAccounts(admin)).find((a) => a.id === theirs.serviceAccountId)!;
    expect(account.tokens[0]).toMatchObject({ prefix: theirs.token.slice(0, 11), status: "active" });
    expect(account.tokens.filter((t) => t.prefix === theirs.token.slice(0, 11))).toHaveLength(1);
  });

  it("show a token refused because of its owner as refused, not active", async () => {
    const person = await makeUser();
    await grant(x.id, person, "EDITOR");
    const mine = await personalToken(person, [{ folderId: x.id, permissions: ["connections.use"] }]);
    const theirs = await serviceToken(admin, [{ folderId: x.id, permissions: ["connections.use"] }]);
    const statusOf = async (prefix: string) => {
      const rows = [...(await listActivePersonalTokens(admin)).rows, ...(await listServiceAccounts(admin)).flatMap((a) => a.tokens)];
      return rows.find((r) => r.prefix === prefix)?.status;
    };
    const [personal, service] = [mine.token.slice(0, 11), theirs.token.slice(0, 11)];
    expect([await statusOf(personal), await statusOf(service)]).toEqual(["active", "active"]);
    await db().user.update({ where: { id: person.id }, data: { active: false } });
    await db().serviceAccount.update({ where: { id: theirs.serviceAccountId }, data: { disabled: true } });
    // As a runner would find: both are refused now.
    expect([await statusOf(personal), await statusOf(service)]).toEqual(["owner_deactivated", "account_disabled"]);
  });
});

describe("service accounts", () => {
  it("are invisible to people who are not administrators", async () => {
    const account = await createServiceAccount({ actor: admin, requestId: "t" }, { name: `hidden-${Date.now()}`, description: "" });
    const before = await db().serviceAccount.count();
    for (const person of [editor, viewer, outsider]) {
      signInAs(person);
      const results = await Promise.all([
        createServiceAccountAction({ name: "mine", description: "" }),
        updateServiceAccountAction({ serviceAccountId: account.id, name: "renamed", description: "" }),
        setServiceAccountDisabledAction({ serviceAccountId: account.id, disabled: true }),
        deleteServiceAccountAction({ serviceAccountId: account.id }),
        createServiceAccountTokenAction({ serviceAccountId: account.id, name: "t", expiresInDays: 30, scopes: [{ folderId: x.id, permissions: ["folders.read"] }] }),
      ]);
      for (const result of results) expect(result).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      await expect(listServiceAccounts(person)).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(listActivePersonalTokens(person)).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(listScopeFolderOptions(person, "service")).rejects.toMatchObject({ code: "NOT_FOUND" });
    }
    expect(await db().serviceAccount.count()).toBe(before);
    expect(await db().apiToken.count({ where: { serviceAccountId: account.id } })).toBe(0);
    expect((await db().serviceAccount.findUniqueOrThrow({ where: { id: account.id } })).disabled).toBe(false);
  });

  it("are created, renamed, disabled and deleted by administrators, with names unique ignoring case", async () => {
    signInAs(admin);
    const name = `Deploy-${Date.now()}`;
    const created = await createServiceAccountAction({ name, description: "Deploys" });
    expect(created).toMatchObject({ ok: true });
    if (!created.ok) return;
    const id = created.data.id;
    expect(await createServiceAccountAction({ name: name.toLowerCase(), description: "" })).toMatchObject({
      ok: false,
      error: { code: "CONFLICT", fieldErrors: { name: [expect.any(String)] } },
    });
    expect(await updateServiceAccountAction({ serviceAccountId: id, name: `${name}-2`, description: "Still deploys" })).toMatchObject({ ok: true });

    // Any folder, any token permission: the administrator grants directly (no role needed).
    const tokenResult = await createServiceAccountTokenAction({
      serviceAccountId: id,
      name: "prod",
      expiresInDays: 365,
      scopes: [{ folderId: y.id, permissions: ["connections.read", "connections.use", "assets.use"] }],
    });
    expect(tokenResult).toMatchObject({ ok: true, data: { row: { owner: { kind: "service", id }, scopes: [{ folderId: y.id }] } } });
    expect(await createServiceAccountTokenAction({ serviceAccountId: id, name: "x", expiresInDays: 30, scopes: [{ folderId: "00000000-0000-4000-8000-000000000000", permissions: [] }] })).toMatchObject({
      ok: false,
      error: { code: "NOT_FOUND" },
    });

    const listed = (await listServiceAccounts(admin)).find((a) => a.id === id)!;
    expect(listed).toMatchObject({ name: `${name}-2`, description: "Still deploys", disabled: false, createdBy: admin.email });
    expect(listed.tokens).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(tokenResult.ok ? parseToken(tokenResult.data.token)!.secret : "?");

    expect(await setServiceAccountDisabledAction({ serviceAccountId: id, disabled: true })).toMatchObject({ ok: true, data: { disabled: true } });
    expect(await createServiceAccountTokenAction({ serviceAccountId: id, name: "y", expiresInDays: 30, scopes: [{ folderId: y.id, permissions: [] }] })).toMatchObject({
      ok: false,
      error: { code: "CONFLICT" },
    });
    expect(await deleteServiceAccountAction({ serviceAccountId: id })).toMatchObject({ ok: true });
    expect(await db().apiToken.count({ where: { serviceAccountId: id } })).toBe(0);
    const actions = (await db().auditEvent.findMany({ where: { targetId: id }, orderBy: { occurredAt: "asc" } })).map((e) => e.action);
    expect(actions).toEqual(["service_account.create", "service_account.update", "service_account.disable", "service_account.delete"]);
    expect(await db().auditEvent.count({ where: { action: "api_token.create", details: { path: ["serviceAccount", "id"], equals: id } } })).toBe(1);
  });

  it("a deleted folder leaves the token with its other scopes", async () => {
    const doomed = await makeFolder();
    const { row } = await serviceToken(admin, [
      { folderId: doomed.id, permissions: ["connections.read"] },
      { folderId: y.id, permissions: ["connections.read"] },
    ]);
    await db().folder.delete({ where: { id: doomed.id } });
    expect(await db().apiTokenScope.findMany({ where: { tokenId: row.id }, select: { folderId: true } })).toEqual([{ folderId: y.id }]);
  });
});

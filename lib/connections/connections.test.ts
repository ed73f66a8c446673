import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Folder } from "@prisma/client";
import { NextRequest } from "next/server";
import pg from "pg";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ActionResult } from "@/lib/actions/action";
import { createAssetAction, deleteAssetAction } from "@/lib/assets/actions";
import { searchPickableAssets } from "@/lib/assets/picker";
import { getAssetViewOrThrow } from "@/lib/assets/queries";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { invalidateAsset } from "@/lib/secrets/resolver";
import { createStoreAction } from "@/lib/stores/actions";
import { startHashicorpEmulator, type HashicorpEmulator } from "@/test/emulators/hashicorp";
import { createTestPki, type TestPki } from "@/test/emulators/tls";
import { grant, latchStore, makeFolder, makeUser, signInAs, whileRefusingInserts } from "@/test/fixtures";
import { startOidcServer, type OidcServer } from "@/test/targets/oidc";
import { startHttpTarget } from "@/test/targets/http-target";
import { createMariadbUser } from "@/test/targets/mariadb";
import { freePort, startHeldProxy } from "@/test/targets/net";
import { startPasswordPostgres, type PasswordPostgres } from "@/test/targets/postgres";
import { createRabbitUser } from "@/test/targets/rabbitmq";
import { createRedisUser } from "@/test/targets/redis";
import { pgDump } from "@/test/pg-dump";
import { authorizeConnectionAction, deleteConnectionAction, reconnectConnectionAction, saveConnectionAction } from "./actions";
import { oauth2ConfigSchema, oauth2Connector, type OAuth2Client } from "@/lib/connectors/oauth2";
import { ConnectorError } from "@/lib/connectors/types";
import { openState, sealState, sharedStateOf } from "./state";
import { finishOAuthAuthorization, oauthRedirectUri } from "./oauth";
import { toConnectionDto } from "./dto";
import { getConnectionViewOrThrow, listConnections } from "./queries";
import { parseListQuery } from "@/lib/list-query";
import { HIDDEN_ASSET, listAuditEvents } from "@/lib/audit/queries";
import { drain, invokeConnection } from "./runtime";
import { GET as callbackRoute } from "@/app/api/v1/connections/oauth/callback/route";
import { POST as testRoute } from "@/app/api/v1/connections/[connectionId]/test/route";
import { request, routeContext } from "@/test/tokens";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * Connections through credential assets against real targets: a password-auth PostgreSQL whose
 * password lives in the Vault emulator (in another folder), and an oidc-provider OAuth server whose
 * client secret does. Only references are saved; values appear nowhere in the database.
 */
let admin: Actor, editor: Actor, viewerOfSecrets: Actor;
let connFolder: Folder, secretsFolder: Folder;
let pki: TestPki, vault: HashicorpEmulator, target: PasswordPostgres, oidc: OidcServer;
let vaultStoreId: string, pgAssetId: string, oauthAssetId: string;
const PG_PATH = `apps/payroll-db-${randomUUID().slice(0, 6)}`;
const OAUTH_PATH = `apps/crm-oauth-${randomUUID().slice(0, 6)}`;
/** Every value this file puts anywhere; none may be found in the database dump. */
const values: string[] = [];

function ok<T>(result: ActionResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.data;
}

/** A real pg_dump of the test database (see test/pg-dump.ts for when none can read the server). */
async function dumpDatabase(): Promise<string> {
  const dump = await pgDump(env().DATABASE_URL);
  if (!dump.tool.startsWith("pg_dump")) console.warn(`[connections.test] database dump made from ${dump.tool}`);
  return dump.text;
}

function expectAbsent(dump: string, value: string) {
  expect(dump).not.toContain(value);
  expect(dump).not.toContain(Buffer.from(value).toString("hex"));
}

const pgInput = (assetId: string, overrides: Record<string, unknown> = {}) => ({
  connectionId: null,
  folderId: connFolder.id,
  name: `Payroll ${randomUUID().slice(0, 8)}`,
  kind: "postgres",
  config: { host: target.host, port: target.port, database: target.database, tlsMode: "disable", ...overrides },
  secrets: { password: { mode: "asset" as const, assetId } },
  usernameFromAsset: ["password"],
});

const connectionCount = () => db().connection.count();

/** The id of a connection that connected (or is waiting for authorisation); fails the test otherwise. */
function connected(outcome: { ok: boolean; connectionId: string | null }): string {
  if (!outcome.ok || !outcome.connectionId) throw new Error(`expected a connection, got ${JSON.stringify(outcome)}`);
  return outcome.connectionId;
}

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  editor = await makeUser();
  viewerOfSecrets = await makeUser();
  connFolder = await makeFolder();
  secretsFolder = await makeFolder();
  await grant(connFolder.id, editor, "EDITOR");
  await grant(secretsFolder.id, editor, "EDITOR");
  await grant(connFolder.id, viewerOfSecrets, "EDITOR");
  await grant(secretsFolder.id, viewerOfSecrets, "VIEWER");
  await latchStore();

  pki = createTestPki();
  [vault, target, oidc] = await Promise.all([
    startHashicorpEmulator({ pki }),
    startPasswordPostgres(),
    startOidcServer({ pki, redirectUri: oauthRedirectUri() }),
  ]);
  values.push(target.password, oidc.clientSecret);
  vault.seedSecret({ path: PG_PATH, data: { username: target.user, password: target.password } });
  vault.seedSecret({ path: OAUTH_PATH, data: { value: oidc.clientSecret } });

  signInAs(admin);
  vaultStoreId = ok(
    await createStoreAction({ name: `Vault ${randomUUID().slice(0, 6)}`, kind: "hashicorp", mode: "READ_ONLY", folderId: null, config: { address: vault.url, kvVersion: "2" }, secrets: { token: vault.createToken({ ttlSeconds: 3600 }) }, caBundle: pki.caCert, timeoutMs: 5000 }),
  ).id;
  signInAs(editor);
  pgAssetId = ok(await createAssetAction({ folderId: secretsFolder.id, type: "CREDENTIAL", name: "Payroll DB login", storeId: vaultStoreId, secretName: PG_PATH, usernameKey: "username", valueKey: "password" })).id;
  oauthAssetId = ok(await createAssetAction({ folderId: secretsFolder.id, type: "SECRET", name: "CRM client secret", storeId: vaultStoreId, secretName: OAUTH_PATH })).id;
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([vault?.close(), target?.stop(), oidc?.close()]);
});


/** Connect with the Vault emulator sealed for the duration (a sealed Vault answers every request 503). */
async function connectWhileSealed(input: Parameters<typeof saveConnectionAction>[0]) {
  vault.seal();
  try {
    return ok(await saveConnectionAction(input));
  } finally {
    vault.unseal();
  }
}

/** What Connect answers then: the store named as the failure, in words, with no value. */
const SEALED_OUTCOME = {
  ok: false,
  connectionId: null,
  kind: "store_unavailable",
  title: "Credential store: Store unavailable",
  message: expect.stringMatching(/^Vault at 127\.0\.0\.1:\d+ is sealed\. An operator must unseal it\.$/),
};

describe("PostgreSQL through a credential asset in another folder", () => {
  let connectionId: string;

  it("connects with the password (and username) from the Vault asset, and saves only references", async () => {
    signInAs(editor);
    const outcome = ok(await saveConnectionAction(pgInput(pgAssetId)));
    expect(outcome).toMatchObject({ ok: true, message: expect.stringContaining("PostgreSQL") });
    connectionId = connected(outcome);
    const row = await db().connection.findUniqueOrThrow({ where: { id: connectionId }, include: { secrets: true } });
    expect(row.status).toBe("CONNECTED");
    expect(row.config).not.toHaveProperty("password");
    expect(row.config).not.toHaveProperty("user");
    expect(row.secrets.map((s) => [s.field, s.part, s.assetId, s.ciphertext])).toEqual(
      expect.arrayContaining([
        ["password", "VALUE", pgAssetId, null],
        ["user", "USERNAME", pgAssetId, null],
      ]),
    );
    const view = await getConnectionViewOrThrow(editor, connectionId);
    expect(view.secretFields.find((f) => f.field === "password")).toMatchObject({ source: "asset", asset: { id: pgAssetId, name: "Payroll DB login", readable: true } });
    expect(JSON.stringify(view)).not.toContain(target.password);

    // Someone who may see the connection but not the asset's folder gets its name alone: no path, no id.
    const onlyConnections = await makeUser();
    await grant(connFolder.id, onlyConnections, "VIEWER");
    const theirs = await getConnectionViewOrThrow(onlyConnections, connectionId);
    expect(theirs.secretFields.find((f) => f.field === "password")).toEqual(expect.objectContaining({ asset: expect.objectContaining({ id: null, name: "Payroll DB login", folderPath: "a folder you cannot open", readable: false }) }));
    expect(JSON.stringify(toConnectionDto(theirs))).not.toContain(pgAssetId);
  });

  it("the asset page lists the connection, and the asset cannot be deleted while in use", async () => {
    const asset = await getAssetViewOrThrow(editor, pgAssetId);
    expect(asset.usages.map((u) => u.id)).toContain(connectionId);
    const refused = await deleteAssetAction({ assetId: pgAssetId });
    expect(refused).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    expect(refused.ok ? "" : refused.error.message).toContain("Payroll");
  });

  it("a wrong password is classified as credentials rejected, and nothing is saved", async () => {
    const wrongPath = `${PG_PATH}-wrong`;
    vault.seedSecret({ path: wrongPath, data: { username: target.user, password: "not-the-password-123" } });
    const wrong = ok(await createAssetAction({ folderId: secretsFolder.id, type: "CREDENTIAL", name: "Wrong login", storeId: vaultStoreId, secretName: wrongPath, usernameKey: "username", valueKey: "password" }));
    const before = await connectionCount();
    const outcome = ok(await saveConnectionAction(pgInput(wrong.id)));
    expect(outcome).toMatchObject({ ok: false, kind: "credentials_rejected", title: "Credentials rejected by the target" });
    expect(JSON.stringify(outcome)).not.toContain("not-the-password-123");
    // The user is the store's too: the refusal says where it came from (anyone who may read the connection reads this).
    expect(outcome.ok ? "" : outcome.message).toMatch(/^The target rejected the credentials \(PostgreSQL 28P01\) for the user from its credential asset at /);
    expect(JSON.stringify(outcome)).not.toContain(target.user);
    expect(await connectionCount()).toBe(before);
  });

  it("a host with nothing listening is unreachable, and nothing is saved", async () => {
    const before = await connectionCount();
    const outcome = ok(await saveConnectionAction(pgInput(pgAssetId, { port: 1 })));
    expect(outcome).toMatchObject({ ok: false, kind: "unreachable" });
    expect(await connectionCount()).toBe(before);
  });

  let currentPassword = "";
  it("after a rotation, the cached old password is rejected once, refetched, and Reconnect succeeds", async () => {
    const rotated = `rotated-${randomUUID()}`;
    values.push(rotated);
    currentPassword = rotated;
    const admin = new pg.Client({ connectionString: target.adminUrl });
    await admin.connect();
    await admin.query(`ALTER ROLE "${target.user}" PASSWORD '${rotated}'`);
    await admin.end();
    vault.seedSecret({ path: PG_PATH, data: { username: target.user, password: rotated } });
    const reads = () => vault.count(`/data/${PG_PATH}`, "GET");
    const before = reads();
    const outcome = ok(await reconnectConnectionAction({ connectionId }));
    expect(outcome).toMatchObject({ ok: true });
    expect(reads() - before).toBe(1);
    expect((await db().connection.findUniqueOrThrow({ where: { id: connectionId } })).status).toBe("CONNECTED");
  });

  it("a person who may only view the asset's folder cannot see it in the picker, and a forged reference saves nothing", async () => {
    const picker = await searchPickableAssets(viewerOfSecrets, { q: "Payroll DB" });
    expect(picker.rows.map((r) => r.id)).not.toContain(pgAssetId);
    expect((await searchPickableAssets(editor, { q: "Payroll DB" })).rows.map((r) => r.id)).toContain(pgAssetId);
    signInAs(viewerOfSecrets);
    const before = await connectionCount();
    const forged = await saveConnectionAction(pgInput(pgAssetId));
    expect(forged).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await connectionCount()).toBe(before);
    signInAs(editor);
  });

  it("outcomes recorded before usernames from assets were named by their source lose the username (migration)", async () => {
    signInAs(editor);
    const fromAsset = connected(ok(await saveConnectionAction(pgInput(pgAssetId))));
    const typed = connected(ok(await saveConnectionAction({ ...pgInput(pgAssetId), usernameFromAsset: [], config: { ...pgInput(pgAssetId).config, user: target.user } })));
    const old = `The target rejected the credentials (PostgreSQL 28P01) for user “${target.user}” at ${target.host}:${target.port}.`;
    await db().connection.updateMany({ where: { id: { in: [fromAsset, typed] } }, data: { lastMessage: old, lastErrorKind: "credentials_rejected" } });
    await db().connection.update({ where: { id: fromAsset }, data: { lastMessage: `${old} The user “${target.user}” lacks a privilege.` } });
    const sql = readFileSync(path.join(process.cwd(), "prisma/migrations/20261206200000_asset_usernames_in_messages/migration.sql"), "utf8");
    const client = new pg.Client({ connectionString: env().DATABASE_URL });
    await client.connect();
    try {
      await client.query(sql);
      await client.query(sql); // again: nothing more changes
    } finally {
      await client.end();
    }
    const message = async (id: string) => (await db().connection.findUniqueOrThrow({ where: { id } })).lastMessage;
    expect(await message(fromAsset)).toBe(`The target rejected the credentials (PostgreSQL 28P01) for the user from its credential asset at ${target.host}:${target.port}. The user from its credential asset lacks a privilege.`);
    // A username typed into the connection is its setting: left as recorded.
    expect(await message(typed)).toBe(old);
  });

  it("a typed password is kept sealed; a setting asset cannot back a secret field", async () => {
    const outcome = ok(await saveConnectionAction({ ...pgInput(pgAssetId), config: { ...pgInput(pgAssetId).config, user: target.user }, secrets: { password: { mode: "value", value: currentPassword } }, usernameFromAsset: [] }));
    expect(outcome).toMatchObject({ ok: true });
    const row = await db().connectionSecret.findFirstOrThrow({ where: { connectionId: connected(outcome), field: "password" } });
    expect(row.assetId).toBeNull();
    expect(Buffer.from(row.ciphertext!).includes(Buffer.from(currentPassword))).toBe(false);

    const setting = ok(await createAssetAction({ folderId: secretsFolder.id, type: "TEXT", name: "Not a secret", plainValue: "hello" }));
    const before = await connectionCount();
    const refused = await saveConnectionAction(pgInput(setting.id));
    expect(refused).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining("only Credential and Secret assets") } });
    expect(await connectionCount()).toBe(before);
  });

  it("a typed password stays with its address: an edit to another host asks for it again, a rename keeps it", async () => {
    signInAs(editor);
    const typed = { ...pgInput(pgAssetId), config: { ...pgInput(pgAssetId).config, user: target.user }, secrets: { password: { mode: "value" as const, value: currentPassword } }, usernameFromAsset: [] };
    const id = connected(ok(await saveConnectionAction(typed)));
    const kept = { ...typed, connectionId: id, secrets: { password: { mode: "keep" as const } } };
    const before = await db().connection.findUniqueOrThrow({ where: { id } });
    // Another address (also the same host under another port): the stored value is not sent there (TLS and CA: destination.test.ts).
    const refused = (why: string) => ({ ok: false, error: { code: "VALIDATION", fieldErrors: { "secrets.password": [`Latch does not send the stored password ${why}: enter it again, or use a credential asset.`] } } });
    for (const config of [{ ...typed.config, host: "localhost" }, { ...typed.config, port: 1 }]) {
      expect(await saveConnectionAction({ ...kept, config }), JSON.stringify(config)).toMatchObject(refused("to a new address"));
    }
    expect((await db().connection.findUniqueOrThrow({ where: { id } })).config).toEqual(before.config);
    expect(ok(await saveConnectionAction({ ...kept, name: `${typed.name} renamed` }))).toMatchObject({ ok: true });
  });

  it("editing: turning on “fill the user from the asset” with the password kept adds the username reference", async () => {
    signInAs(editor);
    const typedUser = { ...pgInput(pgAssetId), config: { ...pgInput(pgAssetId).config, user: target.user }, usernameFromAsset: [] };
    const id = connected(ok(await saveConnectionAction(typedUser)));
    expect((await db().connectionSecret.findMany({ where: { connectionId: id } })).map((r) => r.part)).toEqual(["VALUE"]);

    const edited = ok(await saveConnectionAction({ ...typedUser, connectionId: id, secrets: { password: { mode: "keep" } }, usernameFromAsset: ["password"] }));
    expect(edited).toMatchObject({ ok: true });
    const row = await db().connection.findUniqueOrThrow({ where: { id }, include: { secrets: true } });
    expect(row.config).not.toHaveProperty("user");
    expect(row.secrets.map((r) => [r.field, r.part, r.assetId]).sort()).toEqual([
      ["password", "VALUE", pgAssetId],
      ["user", "USERNAME", pgAssetId],
    ]);
    expect((await getConnectionViewOrThrow(editor, id)).secretFields.find((f) => f.field === "password")?.fillsUsernameField).toBe("user");
    expect(ok(await reconnectConnectionAction({ connectionId: id }))).toMatchObject({ ok: true });

    // And off again: the username is typed once more, the reference goes.
    expect(ok(await saveConnectionAction({ ...typedUser, connectionId: id, secrets: { password: { mode: "keep" } }, usernameFromAsset: [] }))).toMatchObject({ ok: true });
    const after = await db().connection.findUniqueOrThrow({ where: { id }, include: { secrets: true } });
    expect(after.config).toMatchObject({ user: target.user });
    expect(after.secrets.map((r) => r.part)).toEqual(["VALUE"]);
  });

  it("an empty form gets every field's error at once, not one round at a time", async () => {
    signInAs(editor);
    const before = await connectionCount();
    const empty = await saveConnectionAction({ connectionId: null, folderId: connFolder.id, name: "   ", kind: "postgres", config: { host: "", database: "", user: "" }, secrets: { password: { mode: "none" } } });
    expect(empty).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    if (empty.ok) return;
    expect(Object.keys(empty.error.fieldErrors ?? {}).sort()).toEqual(["config.database", "config.host", "config.user", "name", "secrets.password"]);
    expect(empty.error.fieldErrors?.name).toEqual(["Enter a name."]);
    expect(await connectionCount()).toBe(before);
  });

  it("a taken name is reported with the form's other mistakes; alone, it is a conflict on the name", async () => {
    signInAs(editor);
    const first = pgInput(pgAssetId);
    ok(await saveConnectionAction(first));
    const before = await connectionCount();
    const both = await saveConnectionAction({ ...pgInput(pgAssetId, { port: 99999 }), name: first.name });
    expect(both).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { name: [expect.stringContaining("already exists in this folder")], "config.port": ["A port from 1 to 65535."] } } });
    const alone = await saveConnectionAction({ ...pgInput(pgAssetId), name: first.name });
    expect(alone).toMatchObject({ ok: false, error: { code: "CONFLICT", fieldErrors: { name: [expect.stringContaining("already exists in this folder")] } } });
    expect(await connectionCount()).toBe(before);
  });

  it("“fill the user from the asset” needs a Credential asset: a typed value or a Secret asset is a field error, and nothing is saved", async () => {
    signInAs(editor);
    const before = await connectionCount();
    const typed = await saveConnectionAction({ ...pgInput(pgAssetId), secrets: { password: { mode: "value", value: "typed-pw-1" } }, usernameFromAsset: ["password"] });
    expect(typed).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { "secrets.password": [expect.stringContaining("Only a Credential asset can fill the username")] } } });
    const empty = await saveConnectionAction({ ...pgInput(pgAssetId), secrets: {}, usernameFromAsset: ["password"] });
    expect(empty).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { "secrets.password": [expect.stringContaining("Credential asset")] } } });
    const secretAsset = await saveConnectionAction(pgInput(oauthAssetId));
    expect(secretAsset).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { "secrets.password": [expect.stringMatching(/Only a Credential asset can fill “User”; this is a secret asset/)] } } });
    const notAUsernameField = await saveConnectionAction({ ...pgInput(pgAssetId), usernameFromAsset: ["database"] });
    expect(notAUsernameField).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { "secrets.database": [expect.any(String)] } } });
    // The type of an asset the person may not use is not revealed: not found, as for any forbidden asset.
    signInAs(viewerOfSecrets);
    expect(await saveConnectionAction(pgInput(oauthAssetId))).toMatchObject({ ok: false, error: { code: "NOT_FOUND", message: "Credential asset was not found." } });
    signInAs(editor);
    expect(await connectionCount()).toBe(before);
  });

  it("a delete that cannot be announced to the other instances is not made, so none keeps its sessions to the target open", async () => {
    signInAs(editor);
    const id = connected(ok(await saveConnectionAction(pgInput(pgAssetId))));
    expect(await whileRefusingInserts("refresh_events", "true", () => deleteConnectionAction({ connectionId: id }))).toMatchObject({ ok: false });
    expect(await db().connection.count({ where: { id } })).toBe(1);
    expect(ok(await deleteConnectionAction({ connectionId: id }))).toMatchObject({ id });
    expect(await db().$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM refresh_events WHERE kind = 'connection' AND target_id = ${id}::uuid`).toEqual([{ n: 1 }]);
  });

  it("POST /test reports a failed test as a 200 whose reason uses an error's words", async () => {
    signInAs(editor);
    const input = pgInput(pgAssetId);
    const id = connected(ok(await saveConnectionAction(input)));
    await db().connection.update({ where: { id }, data: { config: { ...input.config, port: await freePort() } } });
    const answer = await testRoute(request("POST", `/api/v1/connections/${id}/test`), routeContext({ connectionId: id }));
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ ok: false, connectionId: id, reason: "unreachable", kind: "unreachable", title: "Target unreachable" });
    // The list says which fields come from assets, in the form's order: User too, filled from the Credential asset.
    expect((await listConnections(editor, connFolder.id, parseListQuery({ q: input.name }))).rows.map((r) => r.assetFields)).toEqual([["User", "Password"]]);
  });

  it("create, edit, failed and successful connect, and delete are audited with asset references and outcome, never a value", async () => {
    signInAs(editor);
    const input = pgInput(pgAssetId);
    const id = connected(ok(await saveConnectionAction(input)));
    expect(ok(await saveConnectionAction({ ...input, connectionId: id, name: `${input.name} renamed`, secrets: { password: { mode: "keep" } } }))).toMatchObject({ ok: true });
    expect(ok(await reconnectConnectionAction({ connectionId: id }))).toMatchObject({ ok: true });
    // The target goes away: Reconnect fails, and says so in the trail.
    await db().connection.update({ where: { id }, data: { config: { ...input.config, port: await freePort() } } });
    expect(ok(await reconnectConnectionAction({ connectionId: id }))).toMatchObject({ ok: false, kind: "unreachable" });
    expect(ok(await deleteConnectionAction({ connectionId: id }))).toMatchObject({ id });

    const events = await db().auditEvent.findMany({ where: { targetId: id }, orderBy: { occurredAt: "asc" } });
    // Sorted: steps a millisecond apart can share a timestamp.
    expect(events.map((e) => `${e.action} ${e.outcome}`).sort()).toEqual(
      ["connection.connect FAILURE", "connection.connect SUCCESS", "connection.create SUCCESS", "connection.delete SUCCESS", "connection.update SUCCESS"],
    );
    for (const e of events) {
      const details = e.details as { fields: unknown[]; failure?: string };
      expect(details.fields, e.action).toEqual(
        expect.arrayContaining([
          { field: "password", part: "value", source: "asset", assetId: pgAssetId },
          { field: "user", part: "username", source: "asset", assetId: pgAssetId },
        ]),
      );
    }
    expect(events.find((e) => e.outcome === "FAILURE")?.details).toMatchObject({ failure: "unreachable" });
    const text = JSON.stringify(events);
    for (const value of [...values, currentPassword]) expect(text).not.toContain(value);
  });

  /** A Reconnect held at the target while `meanwhile` runs; then the target goes away, so the Reconnect fails on what it saw before. */
  async function reconnectWhile(meanwhile: (id: string, input: ReturnType<typeof pgInput>) => Promise<void>) {
    const proxy = await startHeldProxy({ targetPort: target.port });
    try {
      const input = pgInput(pgAssetId, { port: proxy.port });
      const id = connected(ok(await saveConnectionAction(input)));
      proxy.hold();
      const reconnecting = reconnectConnectionAction({ connectionId: id });
      await proxy.waiting();
      await meanwhile(id, input);
      proxy.cut();
      return { id, result: await reconnecting };
    } finally {
      await proxy.close();
    }
  }
  const connectEvents = async (id: string) =>
    (await db().auditEvent.findMany({ where: { targetId: id, action: "connection.connect" }, orderBy: { occurredAt: "asc" } })).map((e) => [e.outcome, (e.details as { failure: string | null }).failure]);

  it("a Reconnect that an edit overtakes records nothing over the edit's status: it answers a conflict", async () => {
    signInAs(editor);
    let afterEdit: { status: string; lastCheckAt: Date | null; lastMessage: string | null } | null = null;
    // Someone saves the connection pointed at the target itself (tested, so CONNECTED) while the Reconnect waits.
    const { id, result } = await reconnectWhile(async (id, input) => {
      const edited = ok(await saveConnectionAction({ ...input, connectionId: id, config: { ...input.config, port: target.port }, secrets: { password: { mode: "keep" } } }));
      expect(edited).toMatchObject({ ok: true });
      const row = await db().connection.findUniqueOrThrow({ where: { id } });
      afterEdit = { status: row.status, lastCheckAt: row.lastCheckAt, lastMessage: row.lastMessage };
    });
    // The Reconnect's failure belongs to settings that no longer exist.
    expect(result).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining("settings were saved while it was being tested") } });
    const after = await db().connection.findUniqueOrThrow({ where: { id } });
    expect({ status: after.status, lastCheckAt: after.lastCheckAt, lastMessage: after.lastMessage }).toEqual({ ...afterEdit!, status: "CONNECTED" });
    // The credentials were used all the same: the trail says so, without an outcome for the old settings.
    expect(await connectEvents(id)).toEqual([["FAILURE", "superseded"]]);
    // Tried again, it tests the settings as they are now.
    expect(ok(await reconnectConnectionAction({ connectionId: id }))).toMatchObject({ ok: true });
  });

  it("a Reconnect does not overwrite a status recorded while it ran (an OAuth authorisation that completed, another test), and still answers its own outcome", async () => {
    signInAs(editor);
    const recorded = new Date();
    // A newer status for the same settings, as finishOAuthAuthorization records one when the app's authorisation completes.
    const { id, result } = await reconnectWhile(async (id) => {
      await db().connection.update({ where: { id }, data: { status: "CONNECTED", lastCheckAt: recorded, lastConnectedAt: recorded, lastMessage: "Authorised; tokens kept encrypted.", lastErrorKind: null } });
    });
    // Same settings: what this test found is true of the connection as it is (here, the target was cut off), so it is the answer; a conflict would say nothing.
    expect(result).toMatchObject({ ok: true, data: { ok: false, connectionId: id } });
    const after = await db().connection.findUniqueOrThrow({ where: { id } });
    expect({ status: after.status, lastCheckAt: after.lastCheckAt, lastMessage: after.lastMessage }).toEqual({ status: "CONNECTED", lastCheckAt: recorded, lastMessage: "Authorised; tokens kept encrypted." });
    expect(await connectEvents(id)).toEqual([["FAILURE", "superseded"]]);
  });

  it("a deactivated owner's connection cannot run until someone who may use its assets saves it, taking it over", async () => {
    const [owner, colleague, noAssets] = [await makeUser(), await makeUser(), await makeUser()];
    for (const person of [owner, colleague]) {
      await grant(connFolder.id, person, "EDITOR");
      await grant(secretsFolder.id, person, "EDITOR");
    }
    await grant(connFolder.id, noAssets, "EDITOR");
    signInAs(owner);
    const input = pgInput(pgAssetId);
    const id = connected(ok(await saveConnectionAction(input)));
    await db().user.update({ where: { id: owner.id }, data: { active: false } });

    signInAs(colleague);
    expect(await reconnectConnectionAction({ connectionId: id })).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining("can save it again to take it over") } });
    // Someone who may not use the asset cannot take it over: the edit is refused, by the field, and nothing changes.
    signInAs(noAssets);
    expect(await saveConnectionAction({ ...input, connectionId: id, secrets: { password: { mode: "keep" } } })).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { "secrets.password": [expect.stringContaining("You may not use the credential asset chosen here")] } } });
    expect((await db().connection.findUniqueOrThrow({ where: { id } })).ownerId).toBe(owner.id);

    signInAs(colleague);
    expect(ok(await saveConnectionAction({ ...input, connectionId: id, secrets: { password: { mode: "keep" } } }))).toMatchObject({ ok: true });
    expect((await db().connection.findUniqueOrThrow({ where: { id } })).ownerId).toBe(colleague.id);
    expect(ok(await reconnectConnectionAction({ connectionId: id }))).toMatchObject({ ok: true });
    const update = await db().auditEvent.findFirstOrThrow({ where: { targetId: id, action: "connection.update", outcome: "SUCCESS" } });
    expect(update.details).toMatchObject({ ownerTakenOverFrom: owner.id });
  });

  it("an owner who may no longer use the asset makes the connection a conflict to put right (409), not a missing one (404)", async () => {
    const [owner, admin] = [await makeUser(), await makeUser({ isAdmin: true })];
    await grant(connFolder.id, owner, "EDITOR");
    await grant(secretsFolder.id, owner, "EDITOR");
    signInAs(owner);
    const id = connected(ok(await saveConnectionAction(pgInput(pgAssetId))));
    await db().folderMember.update({ where: { folderId_userId: { folderId: secretsFolder.id, userId: owner.id } }, data: { role: "VIEWER" } });

    // An administrator, who may run it, is told what to put right; so is a runner calling invoke.
    signInAs(admin);
    const refused = await reconnectConnectionAction({ connectionId: id });
    expect(refused).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining("owner may no longer use the credential asset chosen for its “Password” field") } });
    // The connection's page says so too: its status is a failure with that reason, not the last "Connected".
    expect(await db().connection.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "FAILED", lastErrorKind: "owner", lastMessage: expect.stringContaining("may no longer use the credential asset") });
    const invokeRoute = await import("@/app/api/v1/connections/[connectionId]/invoke/route");
    const res = await invokeRoute.POST(
      new NextRequest(`http://latch.test/api/v1/connections/${id}/invoke`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ operation: "query", input: { sql: "SELECT 1" } }) }),
      { params: Promise.resolve({ connectionId: id }) },
    );
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: "CONFLICT" } });

    // The owner's own Reconnect speaks to them, and says what they can do.
    signInAs(owner);
    expect(await reconnectConnectionAction({ connectionId: id })).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringMatching(/^You may no longer use the credential asset chosen for “Password”: choose another one for it \(Edit\)/) } });
    // What the page keeps is for whoever reads it later.
    expect((await db().connection.findUniqueOrThrow({ where: { id } })).lastMessage).toMatch(/^This connection's owner may no longer use/);
    // Saving resolves as the person saving: an asset they may not use is not found, as anywhere else...
    const typedUser = { ...pgInput(pgAssetId), config: { ...pgInput(pgAssetId).config, user: target.user }, usernameFromAsset: [] };
    expect(await saveConnectionAction(typedUser)).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    // ...except the one the connection already uses, kept on the form: its field says to choose another.
    const kept = await saveConnectionAction({ ...typedUser, connectionId: id, secrets: { password: { mode: "keep" } } });
    expect(kept).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { "secrets.password": ["You may not use the credential asset chosen here: choose another one for this field, or type the value."] } } });
  });

  it("an edit by someone else may only pick assets the owner may use too, since the connection runs as its owner", async () => {
    const [owner, colleague] = [await makeUser({ name: "Olivia Owner" }), await makeUser()];
    const colleaguesSecrets = await makeFolder();
    for (const person of [owner, colleague]) {
      await grant(connFolder.id, person, "EDITOR");
      await grant(secretsFolder.id, person, "EDITOR");
    }
    await grant(colleaguesSecrets.id, colleague, "EDITOR");
    signInAs(colleague);
    const colleaguesAsset = ok(await createAssetAction({ folderId: colleaguesSecrets.id, type: "CREDENTIAL", name: "Colleague's DB login", storeId: vaultStoreId, secretName: PG_PATH, usernameKey: "username", valueKey: "password" })).id;
    signInAs(owner);
    const input = pgInput(pgAssetId);
    const id = connected(ok(await saveConnectionAction(input)));
    const before = JSON.stringify(await db().connection.findUniqueOrThrow({ where: { id }, include: { secrets: true } }));

    // The colleague may use their own asset, and the target accepts it; the owner may not: refused, nothing saved.
    signInAs(colleague);
    const refused = await saveConnectionAction({ ...input, connectionId: id, secrets: { password: { mode: "asset", assetId: colleaguesAsset } } });
    expect(refused).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { "secrets.password": [expect.stringContaining("runs as its owner, Olivia Owner, who may not use this asset")] } } });
    expect(JSON.stringify(await db().connection.findUniqueOrThrow({ where: { id }, include: { secrets: true } }))).toBe(before);
    // An asset both may use is saved, and the connection still runs as its owner.
    expect(ok(await saveConnectionAction({ ...input, connectionId: id, name: `${input.name} (renamed)`, secrets: { password: { mode: "keep" } } }))).toMatchObject({ ok: true });
    expect((await db().connection.findUniqueOrThrow({ where: { id } })).ownerId).toBe(owner.id);
    // The owner's own edit is checked against the owner alone: their asset, kept, saves.
    signInAs(owner);
    expect(ok(await saveConnectionAction({ ...input, connectionId: id, name: `${input.name} (owner)`, secrets: { password: { mode: "keep" } } }))).toMatchObject({ ok: true });
  });

  it("an Editor elsewhere cannot reconnect or delete it (not found), the owner's Editor can delete it", async () => {
    const stranger = await makeUser();
    const strangersFolder = await makeFolder();
    await grant(strangersFolder.id, stranger, "EDITOR");
    await grant(secretsFolder.id, stranger, "EDITOR");
    signInAs(stranger);
    const before = JSON.stringify(await db().connection.findUniqueOrThrow({ where: { id: connectionId }, include: { secrets: true } }));
    // Editing a foreign connection, creating one in a foreign folder, even with an asset it may use.
    expect(await saveConnectionAction({ ...pgInput(pgAssetId), connectionId, name: "Hijacked" })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await saveConnectionAction({ ...pgInput(pgAssetId), folderId: connFolder.id })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    for (const id of ["not-a-uuid", "00000000-0000-4000-8000-000000000000"]) {
      expect(await saveConnectionAction({ ...pgInput(pgAssetId), connectionId: id })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      expect(await reconnectConnectionAction({ connectionId: id })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    }
    await expect(getConnectionViewOrThrow(stranger, connectionId)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(JSON.stringify(await db().connection.findUniqueOrThrow({ where: { id: connectionId }, include: { secrets: true } }))).toBe(before);
    // A Viewer of the connection's folder sees it but cannot change, reconnect or delete it.
    const viewer = await makeUser();
    await grant(connFolder.id, viewer, "VIEWER");
    signInAs(viewer);
    expect((await getConnectionViewOrThrow(viewer, connectionId)).permissions).toEqual({ write: false, use: false });
    expect(await reconnectConnectionAction({ connectionId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await deleteConnectionAction({ connectionId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    signInAs(stranger);
    expect(await reconnectConnectionAction({ connectionId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await deleteConnectionAction({ connectionId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await deleteConnectionAction({ connectionId: "not-a-uuid" })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    signInAs(editor);
  });
});

describe("OAuth 2.0 app with the client secret from a Vault asset", () => {
  const oauthInput = (grantType: "client_credentials" | "authorization_code", overrides: Record<string, unknown> = {}, assetId = oauthAssetId) => ({
    connectionId: null as string | null,
    folderId: connFolder.id,
    name: `CRM ${grantType} ${randomUUID().slice(0, 6)}`,
    kind: "oauth2",
    config: { authorizationUrl: oidc.authorizationUrl, tokenUrl: oidc.tokenUrl, clientId: oidc.clientId, scopes: "api:read", grant: grantType, clientAuth: "client_secret_basic", apiBaseUrl: oidc.apiUrl, caBundle: pki.caCert, ...overrides },
    secrets: { clientSecret: { mode: "asset" as const, assetId } } as Record<string, { mode: "asset"; assetId: string } | { mode: "keep" }>,
    usernameFromAsset: [] as string[],
  });
  const ctx = () => ({ actor: editor, requestId: `t-${randomUUID().slice(0, 8)}` });
  const stateOf = async (id: string) => openState(await db().connection.findUniqueOrThrow({ where: { id } }));
  /** What the oidc server says about an access token: 200 only for one it issued and still knows. */
  const whoami = async (accessToken: string) => {
    const res = await undiciFetch(`${oidc.apiUrl}/whoami`, { headers: { authorization: `Bearer ${accessToken}` }, dispatcher: new Agent({ connect: { ca: pki.caCert } }) });
    return res.status;
  };
  /** Walks the authorization-code flow as the browser would, and returns the connection id. */
  async function authorise(started: { ok: boolean; connectionId: string | null; redirectTo?: string }) {
    expect(started.redirectTo).toEqual(expect.any(String));
    const { code, state } = await oidc.approve(started.redirectTo!);
    expect(await finishOAuthAuthorization(ctx(), { state: state!, code })).toMatchObject({ ok: true });
    return connected(started);
  }

  it("client credentials: connects; the tokens are kept only as ciphertext that the envelope key opens", async () => {
    signInAs(editor);
    const outcome = ok(await saveConnectionAction(oauthInput("client_credentials")));
    expect(outcome).toMatchObject({ ok: true });
    const row = await db().connection.findUniqueOrThrow({ where: { id: connected(outcome) } });
    const tokens = await openState(row);
    expect(tokens?.accessToken).toEqual(expect.any(String));
    values.push(tokens!.accessToken!);
    // A real token from the app, sealed: the stored bytes do not contain it, the envelope key opens them.
    expect(await whoami(tokens!.accessToken!)).toBe(200);
    const raw = Buffer.from(row.stateCiphertext!);
    expect(raw.includes(Buffer.from(tokens!.accessToken!))).toBe(false);
    expect(raw.includes(Buffer.from(oidc.clientSecret))).toBe(false);
    expect(raw.toString("latin1")).not.toContain("accessToken");
  });

  it("client credentials: a wrong client secret in the asset is rejected, a token URL with nothing listening is unreachable; nothing saved", async () => {
    signInAs(editor);
    const wrongPath = `${OAUTH_PATH}-wrong`;
    const wrongSecret = `wrong-client-secret-${randomUUID()}`;
    values.push(wrongSecret);
    vault.seedSecret({ path: wrongPath, data: { value: wrongSecret } });
    const wrong = ok(await createAssetAction({ folderId: secretsFolder.id, type: "SECRET", name: `Wrong CRM secret ${randomUUID().slice(0, 6)}`, storeId: vaultStoreId, secretName: wrongPath }));
    const before = await connectionCount();
    const rejected = ok(await saveConnectionAction(oauthInput("client_credentials", {}, wrong.id)));
    expect(rejected).toMatchObject({ ok: false, kind: "credentials_rejected", title: "Credentials rejected by the target" });
    expect(JSON.stringify(rejected)).not.toContain(wrongSecret);
    const down = ok(await saveConnectionAction(oauthInput("client_credentials", { tokenUrl: `https://127.0.0.1:${await freePort()}/token` })));
    expect(down).toMatchObject({ ok: false, kind: "unreachable" });
    expect(await connectionCount()).toBe(before);
  });

  it("authorization code: with the store sealed, Connect says so like any other Connect, audits the failure, and saves nothing", async () => {
    signInAs(editor);
    const path = `${OAUTH_PATH}-sealed`;
    vault.seedSecret({ path, data: { value: oidc.clientSecret } });
    const asset = ok(await createAssetAction({ folderId: secretsFolder.id, type: "SECRET", name: `Sealed CRM secret ${randomUUID().slice(0, 6)}`, storeId: vaultStoreId, secretName: path }));
    invalidateAsset(asset.id);
    const input = oauthInput("authorization_code", {}, asset.id);
    const before = { connections: await connectionCount() };
    const outcome = await connectWhileSealed(input);
    expect(outcome).toEqual(SEALED_OUTCOME);
    expect(JSON.stringify(outcome)).not.toContain(oidc.clientSecret);
    expect(await connectionCount()).toBe(before.connections);
    expect(await db().connection.findFirst({ where: { name: input.name } })).toBeNull();
    const audit = await db().auditEvent.findFirst({ where: { action: "connection.create", targetLabel: input.name } });
    expect(audit).toMatchObject({ outcome: "FAILURE", details: expect.objectContaining({ failure: "store_unavailable" }) });
  });

  it("authorization code: a connection still waiting (declined at the app) is authorised again from its page, without an edit", async () => {
    signInAs(editor);
    const started = ok(await saveConnectionAction(oauthInput("authorization_code")));
    const id = connected(started);
    // Reconnect has nothing to test yet: a 409 that leaves it waiting (recorded as a failure, it
    // ended the wait and took the Authorise button with it).
    expect(await reconnectConnectionAction({ connectionId: id })).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining("waiting for authorisation") } });
    expect(await db().connection.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "PENDING_AUTHORIZATION" });
    // The person declined at the app's sign-in: the connection stays waiting, with no tokens.
    const again = ok(await authorizeConnectionAction({ connectionId: id }));
    expect(again).toMatchObject({ ok: true, connectionId: id, redirectTo: expect.stringContaining(oidc.authorizationUrl) });
    // The first request's state no longer finishes anything; the new one does.
    const first = await oidc.approve((started as { redirectTo: string }).redirectTo);
    await expect(finishOAuthAuthorization(ctx(), { state: first.state!, code: first.code })).rejects.toMatchObject({ code: "NOT_FOUND" });
    const { code, state } = await oidc.approve(again.redirectTo);
    expect(await finishOAuthAuthorization(ctx(), { state: state!, code })).toMatchObject({ ok: true });
    expect((await db().connection.findUniqueOrThrow({ where: { id } })).status).toBe("CONNECTED");
    // Authorised now: nothing working is given up by a stray click.
    expect(await authorizeConnectionAction({ connectionId: id })).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining("already authorised") } });
    // Tokens the app refuses (a revoked grant) are nothing working: authorising again is the way back.
    await db().connection.update({ where: { id }, data: { status: "FAILED", lastErrorKind: "credentials_rejected" } });
    expect(ok(await authorizeConnectionAction({ connectionId: id }))).toMatchObject({ ok: true, redirectTo: expect.stringContaining(oidc.authorizationUrl) });
    // Client credentials has nothing to authorise; someone who may not edit the connection finds none.
    const service = connected(ok(await saveConnectionAction(oauthInput("client_credentials"))));
    expect(await authorizeConnectionAction({ connectionId: service })).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    const viewer = await makeUser();
    await grant(connFolder.id, viewer, "VIEWER");
    signInAs(viewer);
    expect(await authorizeConnectionAction({ connectionId: id })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it("authorization code with a test path: the API is tried as soon as the app is authorised, so a path the token may not read shows at once", async () => {
    signInAs(editor);
    const good = ok(await saveConnectionAction(oauthInput("authorization_code", { testPath: "/whoami" })));
    await authorise(good);
    expect(await db().connection.findUniqueOrThrow({ where: { id: connected(good) } })).toMatchObject({ status: "CONNECTED" });
    const before = oidc.count("/api/forbidden");
    const bad = ok(await saveConnectionAction(oauthInput("authorization_code", { testPath: "/forbidden" })));
    const { code, state } = await oidc.approve((bad as { redirectTo: string }).redirectTo);
    // The authorisation itself succeeded (the tokens are kept)...
    expect(await finishOAuthAuthorization(ctx(), { state: state!, code })).toMatchObject({ ok: true });
    expect(await stateOf(connected(bad))).toMatchObject({ accessToken: expect.any(String) });
    // ...and the test path was tried with the new token: the connection says what is wrong.
    expect(oidc.count("/api/forbidden")).toBe(before + 1);
    expect(await db().connection.findUniqueOrThrow({ where: { id: connected(bad) } })).toMatchObject({ status: "FAILED", lastErrorKind: "permission" });
  });

  let authorisedId: string;
  it("authorization code: Connect sends the browser to the app, the callback stores sealed tokens", async () => {
    signInAs(editor);
    const started = ok(await saveConnectionAction(oauthInput("authorization_code")));
    expect(started).toMatchObject({ ok: true, redirectTo: expect.stringContaining(oidc.authorizationUrl) });
    const redirectTo = (started as { redirectTo: string }).redirectTo;
    expect((await db().connection.findUniqueOrThrow({ where: { id: connected(started) } })).status).toBe("PENDING_AUTHORIZATION");
    const { code, state } = await oidc.approve(redirectTo);
    // A forged state is refused.
    await expect(finishOAuthAuthorization(ctx(), { state: `${connected(started)}.forged`, code })).rejects.toMatchObject({ code: "NOT_FOUND" });
    // The browser comes back twice at once (a reload, a double submit): one callback exchanges the
    // code, the other finds the authorisation used up, and the tokens stay valid.
    const callbacks = await Promise.allSettled([finishOAuthAuthorization(ctx(), { state: state!, code }), finishOAuthAuthorization(ctx(), { state: state!, code })]);
    expect(callbacks.filter((c) => c.status === "fulfilled").map((c) => c.value)).toEqual([{ ok: true, connectionId: connected(started) }]);
    expect(callbacks.find((c) => c.status === "rejected")).toMatchObject({ reason: { code: "NOT_FOUND" } });
    // Replayed later, the same state is refused too.
    await expect(finishOAuthAuthorization(ctx(), { state: state!, code })).rejects.toMatchObject({ code: "NOT_FOUND" });
    authorisedId = connected(started);
    const row = await db().connection.findUniqueOrThrow({ where: { id: authorisedId } });
    expect(row.status).toBe("CONNECTED");
    const tokens = await openState(row);
    expect(tokens).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    values.push(tokens!.accessToken!, tokens!.refreshToken!);
    expect(await whoami(tokens!.accessToken!)).toBe(200);
    for (const token of [tokens!.accessToken!, tokens!.refreshToken!]) expect(Buffer.from(row.stateCiphertext!).includes(Buffer.from(token))).toBe(false);
    expect(ok(await reconnectConnectionAction({ connectionId: authorisedId }))).toMatchObject({ ok: true });
    const renewed = await stateOf(authorisedId);
    values.push(renewed!.accessToken!, ...(renewed!.refreshToken ? [renewed!.refreshToken] : []));
  });

  it("authorization code: a callback that finishes after a new authorisation was started stores nothing over it", async () => {
    signInAs(editor);
    const input = oauthInput("authorization_code");
    const started = ok(await saveConnectionAction(input));
    const id = connected(started);
    const { code, state } = await oidc.approve((started as { redirectTo: string }).redirectTo);
    // The client secret is read from the store for the exchange, slowly; meanwhile someone starts a new authorisation.
    invalidateAsset(oauthAssetId);
    vault.inject({ fault: { type: "latency", ms: 800 }, pathIncludes: OAUTH_PATH, times: 1 });
    try {
      const finishing = finishOAuthAuthorization(ctx(), { state: state!, code });
      await new Promise((r) => setTimeout(r, 300));
      // What saving it again stores: a new pending authorisation (its own nonce and verifier).
      await db().connection.update({ where: { id }, data: await sealState(id, { pendingNonce: "newer-nonce", pendingVerifier: "newer-verifier", pendingSince: new Date().toISOString() }) });
      expect(await finishing).toMatchObject({ ok: false, message: expect.stringContaining("the newer one applies") });
    } finally {
      vault.clearFaults();
    }
    const row = await db().connection.findUniqueOrThrow({ where: { id } });
    expect(row.status).toBe("PENDING_AUTHORIZATION");
    expect(await stateOf(id)).toMatchObject({ pendingNonce: "newer-nonce" });
    expect(await stateOf(id)).not.toHaveProperty("accessToken");
  });

  it("authorization code: an edit that leaves the grant alone keeps the tokens and the connection works on", async () => {
    signInAs(editor);
    const row = await db().connection.findUniqueOrThrow({ where: { id: authorisedId } });
    const edit = { ...oauthInput("authorization_code"), connectionId: authorisedId, name: `${row.name} (renamed)`, secrets: { clientSecret: { mode: "keep" as const } } };
    const outcome = ok(await saveConnectionAction(edit));
    expect(outcome).toMatchObject({ ok: true, message: expect.stringContaining("Token obtained") });
    expect(outcome).not.toHaveProperty("redirectTo");
    const after = await db().connection.findUniqueOrThrow({ where: { id: authorisedId } });
    expect(after.status).toBe("CONNECTED");
    expect(after.name).toBe(`${row.name} (renamed)`);
    const tokens = await stateOf(authorisedId);
    expect(tokens).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    expect(tokens).not.toHaveProperty("pendingNonce");
    values.push(tokens!.accessToken!, tokens!.refreshToken!);
    const invoked = await invokeConnection(ctx(), { connectionId: authorisedId, operation: "request", input: { method: "GET", path: "/whoami" } });
    expect(invoked.result).toMatchObject({ status: 200 });
    // Choosing the same asset again is no change to the grant either.
    expect(ok(await saveConnectionAction({ ...edit, secrets: { clientSecret: { mode: "asset", assetId: oauthAssetId } } }))).not.toHaveProperty("redirectTo");
  });

  it("authorization code: tokens renewed during a failed invoke are kept, so a rotated refresh token is not lost", async () => {
    signInAs(editor);
    // A client built from the stored tokens (an earlier test's client may hold older ones).
    drain(authorisedId);
    const before = await stateOf(authorisedId);
    // The API refuses even a fresh token: the client renews once (the app rotates the refresh token), then the invoke fails.
    const refused = invokeConnection(ctx(), { connectionId: authorisedId, operation: "request", input: { method: "GET", path: "/always-401" } });
    await expect(refused).rejects.toMatchObject({ code: "UPSTREAM_FAILED", userMessage: expect.stringMatching(/^Credentials rejected by the target/) });
    const after = await stateOf(authorisedId);
    expect(after!.refreshToken).toEqual(expect.any(String));
    expect(after!.refreshToken).not.toBe(before!.refreshToken);
    values.push(after!.accessToken!, after!.refreshToken!);
    // With every access token forgotten, a client opened from what is stored renews with the stored
    // refresh token: the live one. (A new client: the pooled one would not renew the token a renewal
    // just failed to help for another 10 s, see RENEWAL_DID_NOT_HELP_MS.)
    drain(authorisedId);
    oidc.expireAccessTokens();
    const invoked = await invokeConnection(ctx(), { connectionId: authorisedId, operation: "request", input: { method: "GET", path: "/whoami" } });
    expect(invoked.result).toMatchObject({ status: 200 });
    expect((await db().connection.findUniqueOrThrow({ where: { id: authorisedId } })).status).toBe("CONNECTED");
  });

  it("authorization code: clients of one connection on several instances renew in turn, and never reuse a rotated refresh token", async () => {
    signInAs(editor);
    drain(authorisedId);
    const row = await db().connection.findUniqueOrThrow({ where: { id: authorisedId } });
    const config = oauth2ConfigSchema.parse(row.config);
    // One client per instance, each opened from the tokens stored at that moment, as each instance's pool does.
    const instance = async () => oauth2Connector.open({ config, secrets: { clientSecret: oidc.clientSecret }, timeoutMs: 10_000, state: await openState(row), sharedState: sharedStateOf(authorisedId) });
    const clients = await Promise.all([instance(), instance(), instance()]);
    const [a, b, c] = clients;
    const whoamiVia = async (client: OAuth2Client) => {
      const res = await client.send(new URL(`${oidc.apiUrl}/whoami`), { method: "GET", headers: {}, timeoutMs: 10_000 });
      await res.body?.cancel();
      return res.status;
    };
    try {
      // The app forgets every access token: each client will find its own refused.
      oidc.expireAccessTokens();
      let tokenCalls = oidc.count("/token");
      // A renews; the app rotates the refresh token, retiring the one B and C were opened with.
      expect(await whoamiVia(a!)).toBe(200);
      // B and C take what A stored instead of renewing with the retired token (invalid_grant, or the grant revoked).
      expect(await Promise.all([whoamiVia(b!), whoamiVia(c!)])).toEqual([200, 200]);
      expect(oidc.count("/token") - tokenCalls).toBe(1);
      // All three refused at once: still one renewal between them.
      oidc.expireAccessTokens();
      tokenCalls = oidc.count("/token");
      expect(await Promise.all(clients.map(whoamiVia))).toEqual([200, 200, 200]);
      expect(oidc.count("/token") - tokenCalls).toBe(1);
      const stored = await stateOf(authorisedId);
      values.push(stored!.accessToken!, stored!.refreshToken!);
      expect(stored!.refreshToken).not.toBe((await openState(row))!.refreshToken);
      // The run time's own client (another pool, opened from the row as it was) carries on from the stored tokens too.
      oidc.expireAccessTokens();
      const invoked = await invokeConnection(ctx(), { connectionId: authorisedId, operation: "request", input: { method: "GET", path: "/whoami" } });
      expect(invoked.result).toMatchObject({ status: 200 });
      // And a Reconnect, which always asks the token endpoint, renews from the newest one.
      expect(ok(await reconnectConnectionAction({ connectionId: authorisedId }))).toMatchObject({ ok: true });
      const latest = await stateOf(authorisedId);
      values.push(latest!.accessToken!, latest!.refreshToken!);
      expect(await Promise.all(clients.map(whoamiVia))).toEqual([200, 200, 200]);
    } finally {
      await Promise.all(clients.map((client) => oauth2Connector.close(client)));
    }
  });

  it("authorization code: a client opened before an edit of the grant does not take what is stored for the new settings", async () => {
    signInAs(editor);
    const row = await db().connection.findUniqueOrThrow({ where: { id: authorisedId } });
    const config = oauth2ConfigSchema.parse(row.config);
    const old = await oauth2Connector.open({ config, secrets: { clientSecret: oidc.clientSecret }, timeoutMs: 10_000, state: await openState(row), sharedState: sharedStateOf(authorisedId) });
    const before = await stateOf(authorisedId);
    try {
      // Meanwhile the connection is edited to another scope: what is stored from now on is the new grant's.
      await db().connection.update({ where: { id: authorisedId }, data: { config: { ...(row.config as object), scopes: `${config.scopes} extra` } } });
      oidc.expireAccessTokens();
      const tokenCalls = oidc.count("/token");
      const refused = old.send(new URL(`${oidc.apiUrl}/whoami`), { method: "GET", headers: {}, timeoutMs: 10_000 });
      await expect(refused).rejects.toBeInstanceOf(ConnectorError);
      await expect(refused).rejects.toMatchObject({ kind: "config", message: expect.stringContaining("settings were changed while this request ran") });
      // It neither renewed with the stored refresh token nor stored anything.
      expect(oidc.count("/token")).toBe(tokenCalls);
      expect(await stateOf(authorisedId)).toEqual(before);
    } finally {
      await oauth2Connector.close(old);
      await db().connection.update({ where: { id: authorisedId }, data: { config: row.config as object } });
    }
  });

  it("authorization code: an edit of the scopes, the client, its secret's source or the API's address asks for authorisation again", async () => {
    signInAs(editor);
    const base = { ...oauthInput("authorization_code"), connectionId: authorisedId, name: (await db().connection.findUniqueOrThrow({ where: { id: authorisedId } })).name, secrets: { clientSecret: { mode: "keep" as const } } };
    const sameSecretPath = `${OAUTH_PATH}-copy`;
    vault.seedSecret({ path: sameSecretPath, data: { value: oidc.clientSecret } });
    const otherAsset = ok(await createAssetAction({ folderId: secretsFolder.id, type: "SECRET", name: `CRM secret copy ${randomUUID().slice(0, 6)}`, storeId: vaultStoreId, secretName: sameSecretPath }));
    for (const change of [
      { config: { ...base.config, scopes: "api:read api:write" } },
      { config: { ...base.config, tokenUrl: `${oidc.tokenUrl}?v=2` } },
      // Tokens someone authorised for one API are not sent to another.
      { config: { ...base.config, apiBaseUrl: oidc.apiUrl.replace("127.0.0.1", "localhost") } },
      { secrets: { clientSecret: { mode: "asset" as const, assetId: otherAsset.id } } },
    ]) {
      const outcome = ok(await saveConnectionAction({ ...base, ...change }));
      expect(outcome, JSON.stringify(change)).toMatchObject({ ok: true, redirectTo: expect.stringContaining(oidc.authorizationUrl) });
      expect((await db().connection.findUniqueOrThrow({ where: { id: authorisedId } })).status).toBe("PENDING_AUTHORIZATION");
      expect(await stateOf(authorisedId)).not.toHaveProperty("accessToken");
      await authorise(outcome);
      // Back to the first settings: that is a change of the grant too.
      const back = ok(await saveConnectionAction({ ...base, secrets: { clientSecret: { mode: "asset", assetId: oauthAssetId } } }));
      expect(back).toMatchObject({ redirectTo: expect.any(String) });
      await authorise(back);
    }
  });

  it("authorization code: when the app has revoked the grant, Connect on an edit asks for authorisation again", async () => {
    signInAs(editor);
    const row = await db().connection.findUniqueOrThrow({ where: { id: authorisedId } });
    oidc.revokeRefreshTokens();
    oidc.expireAccessTokens();
    const outcome = ok(await saveConnectionAction({ ...oauthInput("authorization_code"), connectionId: authorisedId, name: row.name, secrets: { clientSecret: { mode: "keep" } } }));
    expect(outcome).toMatchObject({ ok: true, redirectTo: expect.stringContaining(oidc.authorizationUrl) });
    await authorise(outcome);
    expect((await db().connection.findUniqueOrThrow({ where: { id: authorisedId } })).status).toBe("CONNECTED");
  });

  it("a failed code exchange marks the connection failed and is audited, with the asset reference and no value", async () => {
    signInAs(editor);
    const started = ok(await saveConnectionAction(oauthInput("authorization_code")));
    const state = new URL((started as { redirectTo: string }).redirectTo).searchParams.get("state")!;
    const failed = await finishOAuthAuthorization(ctx(), { state, code: "not-a-code-the-app-issued" });
    expect(failed).toMatchObject({ ok: false });
    const id = connected(started);
    expect(await db().connection.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "FAILED", lastErrorKind: expect.any(String) });
    const events = await db().auditEvent.findMany({ where: { targetId: id, action: "connection.authorize" } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: "FAILURE", details: { fields: [{ field: "clientSecret", part: "value", source: "asset", assetId: oauthAssetId }], failure: expect.any(String) } });
    expect(JSON.stringify(events)).not.toContain(oidc.clientSecret);
  });

  it("authorization code: declining in the app uses the authorisation up, audited; only someone who may edit the connection gets that far", async () => {
    signInAs(editor);
    const started = ok(await saveConnectionAction(oauthInput("authorization_code")));
    const id = connected(started);
    const state = new URL((started as { redirectTo: string }).redirectTo).searchParams.get("state")!;
    // What the app's redirect looks like when the person selects Cancel or Deny (RFC 6749 §4.1.2.1).
    const callback = (query: string) => callbackRoute(request("GET", `/api/v1/connections/oauth/callback?${query}`), routeContext());
    const denied = `state=${encodeURIComponent(state)}&error=access_denied&error_description=The+user+denied`;

    // A person who can see the connection but not edit it, another editor, and a made-up state: not found, and the authorisation still waits.
    const onlooker = await makeUser();
    await grant(connFolder.id, onlooker, "VIEWER");
    signInAs(onlooker);
    expect((await callback(denied)).status).toBe(404);
    // Another editor of the folder, holding the callback's address: only who started it may finish it.
    signInAs(viewerOfSecrets);
    expect((await callback(denied)).status).toBe(404);
    signInAs(editor);
    expect((await callback(`state=${id}.forged&error=access_denied`)).status).toBe(404);
    expect(await db().auditEvent.count({ where: { targetId: id, action: "connection.authorize" } })).toBe(0);

    const answer = await callback(denied);
    expect(answer.status).toBe(303);
    expect(answer.headers.get("location")).toBe(`/connections/${id}?authorization=denied`);
    // Used up: the same redirect again (a reload) is not found, and records nothing more.
    expect((await callback(denied)).status).toBe(404);
    const events = await db().auditEvent.findMany({ where: { targetId: id, action: "connection.authorize" } });
    expect(events).toMatchObject([{ outcome: "FAILURE", actorId: editor.id, details: { failure: "declined" } }]);
    // Still waiting for an authorisation, which Authorise the app starts anew.
    expect(await db().connection.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "PENDING_AUTHORIZATION", stateCiphertext: null });
    const again = ok(await authorizeConnectionAction({ connectionId: id }));
    expect(again).toMatchObject({ ok: true, redirectTo: expect.stringContaining(oidc.authorizationUrl) });

    // Another refusal by the app (not the person's) reads as failed.
    const next = new URL((again as { redirectTo: string }).redirectTo).searchParams.get("state")!;
    const refused = await callback(`state=${encodeURIComponent(next)}&error=invalid_scope`);
    expect(refused.headers.get("location")).toBe(`/connections/${id}?authorization=failed`);
    expect((await db().auditEvent.findMany({ where: { targetId: id, action: "connection.authorize" }, orderBy: { occurredAt: "asc" } })).map((e) => (e.details as { failure: string }).failure)).toEqual(["declined", "app_refused"]);
  });
});

type Case = {
  kind: string;
  label?: string;
  /**
   * Starts the target and a throwaway account; returns the form config, the secret field, the credential,
   * optionally how to check the credential reached the target as configured, and a cleanup.
   */
  setup(): Promise<{ config: Record<string, unknown>; field: string; username?: string; password: string; portField: string; via?(): Promise<boolean>; cleanup(): Promise<void> }>;
};

const cases: Case[] = [
  {
    kind: "mariadb",
    async setup() {
      const u = await createMariadbUser();
      return { config: { host: u.host, port: u.port, database: u.database, tls: false }, field: "password", username: u.user, password: u.password, portField: "port", cleanup: u.cleanup };
    },
  },
  {
    kind: "redis",
    async setup() {
      const u = await createRedisUser();
      return { config: { host: u.host, port: u.port, db: 0, tls: false }, field: "password", username: u.username, password: u.password, portField: "port", cleanup: u.cleanup };
    },
  },
  {
    kind: "rabbitmq",
    async setup() {
      const u = await createRabbitUser();
      return { config: { host: u.host, port: u.port, vhost: u.vhost, tls: false }, field: "password", username: u.username, password: u.password, portField: "port", cleanup: u.cleanup };
    },
  },
  ...(
    [
      ["bearer", {}, "token", "token"],
      ["apiKey", { apiKeyIn: "header", apiKeyName: "X-API-Key" }, "apiKey", "apiKey"],
      ["apiKey", { apiKeyIn: "query", apiKeyName: "api_key" }, "apiKey", "apiKey"],
      ["basic", {}, "basicPassword", "password"],
    ] as const
  ).map(
    ([scheme, extra, field, credential]): Case => ({
      kind: "http",
      label: `http (${scheme}${"apiKeyIn" in extra ? ` in ${extra.apiKeyIn}` : ""})`,
      async setup() {
        const credentials = { apiKey: `key-${randomUUID()}`, token: `token-${randomUUID()}`, user: `user-${randomUUID().slice(0, 8)}`, password: `pw-${randomUUID()}` };
        const t = await startHttpTarget({ pki, credentials });
        return {
          config: { baseUrl: t.url, authScheme: scheme, ...extra, testPath: "/health", caBundle: pki.caCert },
          field,
          // HTTP Basic: a Credential asset fills the user name too.
          username: scheme === "basic" ? credentials.user : undefined,
          password: credentials[credential],
          portField: "baseUrl",
          // The credential reached the target the way the scheme says (and only that way).
          via: async () => {
            const last = t.requests.filter((r) => r.path.startsWith("/health")).at(-1)!;
            if (scheme === "apiKey" && extra.apiKeyIn === "query") return last.path.includes(`api_key=${credentials.apiKey}`) && !last.headers["x-api-key"];
            if (scheme === "apiKey") return last.headers["x-api-key"] === credentials.apiKey && !last.path.includes("api_key");
            if (scheme === "basic") return last.headers.authorization === `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64")}`;
            return last.headers.authorization === `Bearer ${credentials.token}`;
          },
          cleanup: () => t.close(),
        };
      },
    }),
  ),
];

describe("every other connector, with its secret in a Vault asset, against its real target", () => {
  for (const c of cases) {
    it(`${c.label ?? c.kind}: connects; a wrong secret is rejected; a closed port is unreachable; nothing saved on failure`, async () => {
      const t = await c.setup();
      values.push(t.password);
      try {
        signInAs(editor);
        const path = `apps/${c.kind}-${randomUUID().slice(0, 6)}`;
        vault.seedSecret({ path, data: t.username ? { username: t.username, password: t.password } : { value: t.password } });
        const makeAsset = async (secretPath: string) =>
          ok(
            await createAssetAction(
              t.username
                ? { folderId: secretsFolder.id, type: "CREDENTIAL", name: `${c.kind} login ${randomUUID().slice(0, 6)}`, storeId: vaultStoreId, secretName: secretPath, usernameKey: "username", valueKey: "password" }
                : { folderId: secretsFolder.id, type: "SECRET", name: `${c.kind} token ${randomUUID().slice(0, 6)}`, storeId: vaultStoreId, secretName: secretPath },
            ),
          );
        const asset = await makeAsset(path);
        const input = (config: Record<string, unknown>, assetId = asset.id) => ({
          connectionId: null,
          folderId: connFolder.id,
          name: `${c.kind} ${randomUUID().slice(0, 8)}`,
          kind: c.kind,
          config,
          secrets: { [t.field]: { mode: "asset" as const, assetId } },
          usernameFromAsset: t.username ? [t.field] : [],
        });
        const outcome = ok(await saveConnectionAction(input(t.config)));
        expect(outcome).toMatchObject({ ok: true });
        if (t.via) expect(await t.via()).toBe(true);
        expect(JSON.stringify(outcome)).not.toContain(t.password);

        const before = await connectionCount();
        const wrongPath = `${path}-wrong`;
        const wrongValue = `wrong-${randomUUID()}`;
        values.push(wrongValue);
        vault.seedSecret({ path: wrongPath, data: t.username ? { username: t.username, password: wrongValue } : { value: wrongValue } });
        const wrong = await makeAsset(wrongPath);
        const rejected = ok(await saveConnectionAction(input(t.config, wrong.id)));
        expect(rejected).toMatchObject({ ok: false, kind: "credentials_rejected" });
        expect(JSON.stringify(rejected)).not.toContain(wrongValue);
        const closedPort = c.kind === "http" ? { ...t.config, baseUrl: `https://127.0.0.1:${await freePort()}` } : { ...t.config, [t.portField]: await freePort() };
        expect(ok(await saveConnectionAction(input(closedPort)))).toMatchObject({ ok: false, kind: "unreachable" });
        expect(await connectionCount()).toBe(before);
      } finally {
        await t.cleanup();
      }
    }, 60_000);
  }
});

describe("Connect while the asset's credential store fails", () => {
  const secretRows = () => db().connectionSecret.count();

  it("a sealed Vault: Connect says the store is unavailable, in words and without a value, and nothing is saved", async () => {
    const path = `${PG_PATH}-sealed`;
    vault.seedSecret({ path, data: { username: target.user, password: target.password } });
    signInAs(editor);
    const asset = ok(await createAssetAction({ folderId: secretsFolder.id, type: "CREDENTIAL", name: `Sealed login ${randomUUID().slice(0, 6)}`, storeId: vaultStoreId, secretName: path, usernameKey: "username", valueKey: "password" }));
    // Cold, so Connect must ask the store (a cached value would hide the outage).
    invalidateAsset(asset.id);
    const input = pgInput(asset.id);
    const before = { connections: await connectionCount(), secrets: await secretRows(), vaultRequests: vault.requests.length };
    const outcome = await connectWhileSealed(input);
    expect(outcome).toEqual(SEALED_OUTCOME);
    // Connect did ask the store (a sealed Vault answers every request 503).
    expect(vault.requests.length).toBeGreaterThan(before.vaultRequests);
    expect(JSON.stringify(outcome)).not.toContain(target.password);
    expect(await connectionCount()).toBe(before.connections);
    expect(await secretRows()).toBe(before.secrets);
    expect(await db().connection.findFirst({ where: { name: input.name } })).toBeNull();
    const audit = await db().auditEvent.findFirst({ where: { action: "connection.create", targetLabel: input.name } });
    expect(audit).toMatchObject({ outcome: "FAILURE", details: expect.objectContaining({ failure: "store_unavailable" }) });
  });

  it("an unreachable store: Connect on an edit says the store could not be reached, and the saved connection is unchanged", async () => {
    signInAs(editor);
    const input = pgInput(pgAssetId);
    const id = connected(ok(await saveConnectionAction(input)));
    const snapshot = async () => db().connection.findUniqueOrThrow({ where: { id }, include: { secrets: { orderBy: [{ field: "asc" }, { part: "asc" }] } } });
    const saved = await snapshot();

    // A second Vault holding the new credentials, which then goes away.
    const gone = await startHashicorpEmulator({ pki });
    const path = `apps/moved-${randomUUID().slice(0, 6)}`;
    gone.seedSecret({ path, data: { username: target.user, password: target.password } });
    signInAs(admin);
    const goneStoreId = ok(
      await createStoreAction({ name: `Vault gone ${randomUUID().slice(0, 6)}`, kind: "hashicorp", mode: "READ_ONLY", folderId: null, config: { address: gone.url, kvVersion: "2" }, secrets: { token: gone.createToken({ ttlSeconds: 3600 }) }, caBundle: pki.caCert, timeoutMs: 5000 }),
    ).id;
    signInAs(editor);
    const moved = ok(await createAssetAction({ folderId: secretsFolder.id, type: "CREDENTIAL", name: `Moved login ${randomUUID().slice(0, 6)}`, storeId: goneStoreId, secretName: path, usernameKey: "username", valueKey: "password" }));
    invalidateAsset(moved.id);
    await gone.close();

    const outcome = ok(await saveConnectionAction({ ...pgInput(moved.id), connectionId: id, name: `${input.name} moved` }));
    expect(outcome).toMatchObject({ ok: false, connectionId: id, kind: "store_tcp", title: "Credential store: Could not connect" });
    expect(outcome.ok ? "" : outcome.message).toMatch(/^Nothing is listening at 127\.0\.0\.1:\d+\. Check the address and port, and that the store is running\.$/);
    expect(JSON.stringify(outcome)).not.toContain(target.password);
    expect(await snapshot()).toEqual(saved);
  });

  it("the store's words (the secret's path) reach only those who may open the asset; others learn what failed, not where", async () => {
    const path = `${PG_PATH}-gone`;
    // The login as it is now (an earlier test rotates the password).
    vault.seedSecret({ path, data: vault.readSecret({ path: PG_PATH })! });
    signInAs(editor);
    const asset = ok(await createAssetAction({ folderId: secretsFolder.id, type: "CREDENTIAL", name: `Gone login ${randomUUID().slice(0, 6)}`, storeId: vaultStoreId, secretName: path, usernameKey: "username", valueKey: "password" }));
    const input = pgInput(asset.id);
    const id = connected(ok(await saveConnectionAction(input)));
    // An Editor of the connection's folder alone: may use the connection (it runs as its owner), cannot open the asset's folder.
    const runner = await makeUser();
    await grant(connFolder.id, runner, "EDITOR");
    vault.deleteSecret({ path, mode: "all" });
    invalidateAsset(asset.id);

    signInAs(runner);
    const theirs = ok(await reconnectConnectionAction({ connectionId: id }));
    expect(theirs).toMatchObject({ ok: false, kind: "store_not_found", message: "The credential store could not provide a value this connection needs (Secret not found). The details are shown to people who can open its credential assets." });
    const invoke = invokeConnection({ actor: runner, requestId: `t-${randomUUID().slice(0, 8)}` }, { connectionId: id, operation: "query", input: { sql: "SELECT 1" } });
    await expect(invoke).rejects.toMatchObject({ code: "UPSTREAM_FAILED", kind: "not_found", reason: "store_not_found", userMessage: expect.stringContaining("(Secret not found)") });
    await expect(invoke.catch((e: Error) => e.message)).resolves.not.toContain(path);
    const asRunner = { view: await getConnectionViewOrThrow(runner, id), list: await listConnections(runner, connFolder.id, parseListQuery({ q: input.name })) };
    expect(asRunner.view.lastMessage).toBe(theirs.ok ? null : theirs.message);
    expect(asRunner.list.rows).toEqual([expect.objectContaining({ id, lastMessage: asRunner.view.lastMessage })]);
    expect(JSON.stringify(asRunner)).not.toContain(path);

    // Someone who may open the asset reads the store's own words, wherever they were recorded from.
    const asEditor = { view: await getConnectionViewOrThrow(editor, id), list: await listConnections(editor, connFolder.id, parseListQuery({ q: input.name })) };
    expect(asEditor.view.lastMessage).toContain(path);
    expect(asEditor.list.rows[0]?.lastMessage).toBe(asEditor.view.lastMessage);
    signInAs(editor);
    const mine = ok(await reconnectConnectionAction({ connectionId: id }));
    expect(mine).toMatchObject({ ok: false, kind: "store_not_found", message: expect.stringContaining(path) });
    await expect(invokeConnection({ actor: editor, requestId: `t-${randomUUID().slice(0, 8)}` }, { connectionId: id, operation: "query", input: { sql: "SELECT 1" } })).rejects.toMatchObject({ userMessage: expect.stringContaining(path) });
  });

  it("the connection's audit trail names an asset its reader cannot open as such, not by its id", async () => {
    signInAs(editor);
    const input = pgInput(pgAssetId);
    const id = connected(ok(await saveConnectionAction(input)));
    expect((await invokeConnection({ actor: editor, requestId: `t-${randomUUID().slice(0, 8)}` }, { connectionId: id, operation: "query", input: { sql: "SELECT 1" } })).operation).toBe("query");
    const [blind, seeing] = [await makeUser(), await makeUser()];
    await grant(connFolder.id, blind, "FOLDER_ADMIN");
    await grant(connFolder.id, seeing, "FOLDER_ADMIN");
    await grant(secretsFolder.id, seeing, "VIEWER");
    const trail = async (reader: Actor) => (await listAuditEvents(reader, { q: "", page: 1, pageSize: 100, folderId: connFolder.id })).rows.filter((e) => e.targetId === id);

    const theirs = await trail(blind);
    expect(theirs.map((e) => e.action)).toEqual(expect.arrayContaining(["connection.create", "connection.invoke"]));
    expect(JSON.stringify(theirs)).not.toContain(pgAssetId);
    expect(theirs.find((e) => e.action === "connection.create")?.details).toMatchObject({ fields: expect.arrayContaining([expect.objectContaining({ field: "password", assetId: HIDDEN_ASSET })]) });
    expect(theirs.find((e) => e.action === "connection.invoke")?.details).toMatchObject({ assets: { [HIDDEN_ASSET]: expect.any(String) } });
    // Someone who may open the asset's folder reads the ids as recorded.
    const seen = await trail(seeing);
    expect(seen.find((e) => e.action === "connection.invoke")?.details).toMatchObject({ assets: { [pgAssetId]: expect.any(String) } });
  });
});

describe("nothing resolved is persisted", () => {
  it("no value appears anywhere in the database (a full dump), while references do", async () => {
    const dump = await dumpDatabase();
    expect(dump).toContain(pgAssetId); // positive control
    for (const value of values) expectAbsent(dump, value);
  });
});

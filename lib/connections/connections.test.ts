import { randomUUID } from "node:crypto";
import type { Folder } from "@prisma/client";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ActionResult } from "@/lib/actions/action";
import { createAssetAction, deleteAssetAction } from "@/lib/assets/actions";
import { searchPickableAssets } from "@/lib/assets/picker";
import { getAssetViewOrThrow } from "@/lib/assets/queries";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { createStoreAction } from "@/lib/stores/actions";
import { startHashicorpEmulator, type HashicorpEmulator } from "@/test/emulators/hashicorp";
import { createTestPki, type TestPki } from "@/test/emulators/tls";
import { grant, latchStore, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { startOidcServer, type OidcServer } from "@/test/targets/oidc";
import { startHttpTarget } from "@/test/targets/http-target";
import { createMariadbUser } from "@/test/targets/mariadb";
import { freePort } from "@/test/targets/net";
import { startPasswordPostgres, type PasswordPostgres } from "@/test/targets/postgres";
import { createRabbitUser } from "@/test/targets/rabbitmq";
import { createRedisUser } from "@/test/targets/redis";
import { deleteConnectionAction, reconnectConnectionAction, saveConnectionAction } from "./actions";
import { finishOAuthAuthorization, oauthRedirectUri } from "./oauth";
import { getConnectionViewOrThrow } from "./queries";

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

/** The equivalent of a pg_dump for leak checks: every row of every table, as text, bytea as hex. */
async function dumpDatabase(): Promise<string> {
  const tables = await db().$queryRaw<{ t: string }[]>`SELECT tablename::text AS t FROM pg_tables WHERE schemaname = 'public'`;
  const parts: string[] = [];
  for (const { t } of tables) {
    const rows = await db().$queryRawUnsafe<{ r: string }[]>(`SELECT row_to_json(x)::text AS r FROM "${t}" x`);
    parts.push(...rows.map((r) => r.r));
  }
  return parts.join("\n");
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
    expect(view.secretFields.find((f) => f.field === "password")).toMatchObject({ source: "asset", asset: { name: "Payroll DB login", readable: true } });
    expect(JSON.stringify(view)).not.toContain(target.password);
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
  const oauthInput = (grantType: "client_credentials" | "authorization_code") => ({
    connectionId: null,
    folderId: connFolder.id,
    name: `CRM ${grantType} ${randomUUID().slice(0, 6)}`,
    kind: "oauth2",
    config: { authorizationUrl: oidc.authorizationUrl, tokenUrl: oidc.tokenUrl, clientId: oidc.clientId, scopes: "api:read", grant: grantType, clientAuth: "client_secret_basic", caBundle: pki.caCert },
    secrets: { clientSecret: { mode: "asset" as const, assetId: oauthAssetId } },
    usernameFromAsset: [],
  });

  it("client credentials: connects, and the tokens are kept only as ciphertext", async () => {
    signInAs(editor);
    const outcome = ok(await saveConnectionAction(oauthInput("client_credentials")));
    expect(outcome).toMatchObject({ ok: true });
    const row = await db().connection.findUniqueOrThrow({ where: { id: connected(outcome) } });
    expect(row.stateCiphertext).not.toBeNull();
  });

  it("authorization code: Connect sends the browser to the app, the callback stores sealed tokens", async () => {
    signInAs(editor);
    const started = ok(await saveConnectionAction(oauthInput("authorization_code")));
    expect(started).toMatchObject({ ok: true, redirectTo: expect.stringContaining(oidc.authorizationUrl) });
    const redirectTo = (started as { redirectTo: string }).redirectTo;
    expect((await db().connection.findUniqueOrThrow({ where: { id: connected(started) } })).status).toBe("PENDING_AUTHORIZATION");
    const { code, state } = await oidc.approve(redirectTo);
    // A forged state is refused.
    await expect(finishOAuthAuthorization({ actor: editor, requestId: "t" }, { state: `${connected(started)}.forged`, code })).rejects.toMatchObject({ code: "NOT_FOUND" });
    const done = await finishOAuthAuthorization({ actor: editor, requestId: "t" }, { state: state!, code });
    expect(done).toMatchObject({ ok: true });
    const row = await db().connection.findUniqueOrThrow({ where: { id: connected(started) } });
    expect(row.status).toBe("CONNECTED");
    expect(ok(await reconnectConnectionAction({ connectionId: connected(started) }))).toMatchObject({ ok: true });
  });
});

type Case = {
  kind: string;
  /** Starts the target and a throwaway account; returns the form config, the secret field, the credential and a cleanup. */
  setup(): Promise<{ config: Record<string, unknown>; field: string; username?: string; password: string; portField: string; cleanup(): Promise<void> }>;
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
  {
    kind: "http",
    async setup() {
      const t = await startHttpTarget({ pki });
      return { config: { baseUrl: t.url, authScheme: "bearer", testPath: "/health", caBundle: pki.caCert }, field: "token", password: t.credentials.token, portField: "baseUrl", cleanup: () => t.close() };
    },
  },
];

describe("every other connector, with its secret in a Vault asset, against its real target", () => {
  for (const c of cases) {
    it(`${c.kind}: connects; a wrong secret is rejected; a closed port is unreachable; nothing saved on failure`, async () => {
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
        expect(ok(await saveConnectionAction(input(t.config)))).toMatchObject({ ok: true });

        const before = await connectionCount();
        const wrongPath = `${path}-wrong`;
        vault.seedSecret({ path: wrongPath, data: t.username ? { username: t.username, password: "wrong-password-999" } : { value: "wrong-token-999" } });
        const wrong = await makeAsset(wrongPath);
        const rejected = ok(await saveConnectionAction(input(t.config, wrong.id)));
        expect(rejected).toMatchObject({ ok: false, kind: "credentials_rejected" });
        expect(JSON.stringify(rejected)).not.toContain("wrong-password-999");
        const closedPort = c.kind === "http" ? { ...t.config, baseUrl: `https://127.0.0.1:${await freePort()}` } : { ...t.config, [t.portField]: await freePort() };
        expect(ok(await saveConnectionAction(input(closedPort)))).toMatchObject({ ok: false, kind: "unreachable" });
        expect(await connectionCount()).toBe(before);
      } finally {
        await t.cleanup();
      }
    }, 60_000);
  }
});

describe("nothing resolved is persisted", () => {
  it("no value appears anywhere in the database (a full dump), while references do", async () => {
    const dump = await dumpDatabase();
    expect(dump).toContain(pgAssetId); // positive control
    for (const value of values) expectAbsent(dump, value);
  });
});

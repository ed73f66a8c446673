import { randomUUID } from "node:crypto";
import type { Folder } from "@prisma/client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ActionResult } from "@/lib/actions/action";
import { createAssetAction, updateAssetAction } from "@/lib/assets/actions";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { assetEditInput, grant, latchStore, makeFolder, makeUser, signInAs, whileRefusing } from "@/test/fixtures";
import { startHttpTarget, type HttpTarget } from "@/test/targets/http-target";
import { startOidcServer, type OidcServer } from "@/test/targets/oidc";
import { deleteConnectionAction, reconnectConnectionAction, refreshConnectionAction, saveConnectionAction } from "./actions";
import { getConnectionViewOrThrow } from "./queries";
import { whileAnotherSession } from "@/test/races";
import { drain, invokeConnection } from "./runtime";
import { openState, sealState } from "./state";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * Two people editing one connection: a save never undoes a change saved since the editor loaded the
 * connection (nor one saved while its target was being tested). Refused edits and deletes are in the
 * folder's trail; an OAuth Connect is saved with its pending authorisation or not at all.
 */
let alice: Actor, bob: Actor;
let folder: Folder;
let target: HttpTarget;
let assetX: string, assetY: string;

function ok<T>(result: ActionResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.data;
}

type TokenSource = { mode: "asset"; assetId: string } | { mode: "keep" };

const httpInput = (overrides: { name?: string; testPath?: string } = {}) => ({
  connectionId: null as string | null,
  folderId: folder.id,
  name: overrides.name ?? `Orders API ${randomUUID().slice(0, 8)}`,
  kind: "http",
  config: { baseUrl: target.url, authScheme: "bearer", testPath: overrides.testPath ?? "/health", caBundle: target.caCert },
  secrets: { token: { mode: "asset", assetId: assetX } as TokenSource },
  usernameFromAsset: [] as string[],
});

/** A connection using asset X for its token, as Alice saved it. */
async function aConnection() {
  signInAs(alice);
  const input = httpInput();
  const outcome = ok(await saveConnectionAction(input));
  if (!outcome.ok || !outcome.connectionId) throw new Error(JSON.stringify(outcome));
  return { id: outcome.connectionId, input: { ...input, connectionId: outcome.connectionId } };
}

/** What the edit page gives the form: the settings version it loaded. */
const loadedVersion = async (id: string) => (await getConnectionViewOrThrow(bob, id)).settingsVersion;

const snapshot = async (id: string) => {
  const row = await db().connection.findUniqueOrThrow({ where: { id }, include: { secrets: true } });
  return { name: row.name, config: row.config, secrets: row.secrets.map((s) => ({ field: s.field, part: s.part, assetId: s.assetId })) };
};

const failedUpdates = (id: string) => db().auditEvent.findMany({ where: { targetId: id, action: "connection.update", outcome: "FAILURE" } });

beforeAll(async () => {
  [alice, bob] = [await makeUser({ name: "Alice" }), await makeUser({ name: "Bob" })];
  folder = await makeFolder();
  for (const person of [alice, bob]) await grant(folder.id, person, "EDITOR");
  const latch = await latchStore();
  target = await startHttpTarget();
  signInAs(alice);
  // Two Secret assets holding the same working token: moving the field from one to the other is a real edit.
  const tokenAsset = async (n: string) =>
    ok(await createAssetAction({ folderId: folder.id, type: "SECRET", name: `API token ${n} ${randomUUID().slice(0, 6)}`, storeId: latch.id, source: "value", secretValue: target.credentials.token })).id;
  assetX = await tokenAsset("X");
  assetY = await tokenAsset("Y");
}, 120_000);

afterAll(async () => {
  await target?.close();
});

describe("two people editing one connection", () => {
  it("a save from a form loaded before someone else's change is refused (409), and their change stays", async () => {
    const { id, input } = await aConnection();
    const bobsVersion = await loadedVersion(id);

    // Alice moves the token to asset Y and changes a setting.
    signInAs(alice);
    ok(await saveConnectionAction({ ...input, config: { ...input.config, testPath: "/echo" }, secrets: { token: { mode: "asset", assetId: assetY } } }));
    const afterAlice = await snapshot(id);

    // Bob renames it, keeping the token field, from the form he loaded before.
    signInAs(bob);
    const tests = target.count("/health");
    const result = await saveConnectionAction({ ...input, name: `${input.name} (Bob)`, secrets: { token: { mode: "keep" } }, expectedVersion: bobsVersion });
    expect(result).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringMatching(/Someone else changed this connection.*Reload/) } });
    expect(await snapshot(id)).toEqual(afterAlice);
    expect(afterAlice.secrets).toEqual([{ field: "token", part: "VALUE", assetId: assetY }]);
    // Refused before the target was tried.
    expect(target.count("/health")).toBe(tests);
    // In the trail like any other save that did not land.
    const failures = await failedUpdates(id);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ actorId: bob.id, details: expect.objectContaining({ failure: "conflict" }) });

    // Reloaded, Bob's rename saves over Alice's change, keeping it.
    const reloaded = await loadedVersion(id);
    expect(ok(await saveConnectionAction({ ...input, config: { ...input.config, testPath: "/echo" }, name: `${input.name} (Bob)`, secrets: { token: { mode: "keep" } }, expectedVersion: reloaded }))).toMatchObject({ ok: true });
    expect(await snapshot(id)).toEqual({ ...afterAlice, name: `${input.name} (Bob)` });
  });

  it("a change saved while the target is being tested is not undone: the slower save is refused, with or without a version", async () => {
    for (const withVersion of [true, false]) {
      const { id, input } = await aConnection();
      const bobsVersion = await loadedVersion(id);
      signInAs(bob);
      // Bob's test of the target answers slowly; Alice saves her change meanwhile.
      target.inject({ fault: { type: "latency", ms: 3000 }, pathIncludes: "/health", times: 1 });
      const before = target.count("/health");
      const bobs = saveConnectionAction({ ...input, name: `${input.name} (Bob)`, secrets: { token: { mode: "keep" } }, ...(withVersion ? { expectedVersion: bobsVersion } : {}) });
      await vi.waitFor(() => expect(target.count("/health")).toBeGreaterThan(before), { timeout: 10_000, interval: 20 });
      signInAs(alice);
      ok(await saveConnectionAction({ ...input, config: { ...input.config, testPath: "/echo" }, secrets: { token: { mode: "asset", assetId: assetY } } }));
      const afterAlice = await snapshot(id);

      expect(await bobs).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining("Someone else changed this connection") } });
      expect(await snapshot(id)).toEqual(afterAlice);
      expect(afterAlice.secrets).toEqual([{ field: "token", part: "VALUE", assetId: assetY }]);
      expect(await failedUpdates(id)).toEqual([expect.objectContaining({ actorId: bob.id, details: expect.objectContaining({ failure: "conflict" }) })]);
    }
  });

  it("without a version (an API caller) or with the current one, an edit saves as before", async () => {
    const { id, input } = await aConnection();
    signInAs(bob);
    ok(await saveConnectionAction({ ...input, name: `${input.name} (1)`, secrets: { token: { mode: "keep" } } }));
    ok(await saveConnectionAction({ ...input, name: `${input.name} (2)`, secrets: { token: { mode: "keep" } }, expectedVersion: await loadedVersion(id) }));
    expect((await snapshot(id)).name).toBe(`${input.name} (2)`);
    expect(await failedUpdates(id)).toEqual([]);
  });
});

describe("what is not an edit is no conflict: a save with the version loaded before it lands", () => {
  const row = (id: string) => db().connection.findUniqueOrThrow({ where: { id } });

  it("a refresh, a Reconnect, an edit of an asset it uses and a status write, each moving updatedAt", async () => {
    const { id, input } = await aConnection();
    const loaded = await row(id);
    const bobsVersion = await loadedVersion(id);
    expect(bobsVersion).toBe(loaded.settingsVersion);

    signInAs(alice);
    ok(await refreshConnectionAction({ connectionId: id }));
    expect(ok(await reconnectConnectionAction({ connectionId: id }))).toMatchObject({ ok: true });
    // Editing the asset behind its token field bumps the connection's refresh generation.
    ok(await updateAssetAction(await assetEditInput(alice, assetX, { description: `rotated ${randomUUID().slice(0, 6)}` })));
    const moved = await row(id);
    expect(moved.refreshGeneration).toBeGreaterThanOrEqual(loaded.refreshGeneration + 2);
    expect(moved.updatedAt.getTime()).toBeGreaterThan(loaded.updatedAt.getTime());
    expect(moved.settingsVersion).toBe(loaded.settingsVersion);

    // Bob's rename, from the form he loaded before all that, saves.
    signInAs(bob);
    expect(ok(await saveConnectionAction({ ...input, name: `${input.name} (Bob)`, secrets: { token: { mode: "keep" } }, expectedVersion: bobsVersion }))).toMatchObject({ ok: true });
    const saved = await row(id);
    expect({ name: saved.name, settingsVersion: saved.settingsVersion }).toEqual({ name: `${input.name} (Bob)`, settingsVersion: bobsVersion + 1 });
    expect(await failedUpdates(id)).toEqual([]);

    // A status write committing while the save waits for the row is no conflict either; an edit is.
    const again = await loadedVersion(id);
    const whileStatus = await whileAnotherSession(
      `UPDATE connections SET status = 'FAILED', last_check_at = now(), refresh_generation = refresh_generation + 1, updated_at = now() WHERE id = $1::uuid`,
      [id],
      () => saveConnectionAction({ ...input, name: `${input.name} (Bob 2)`, secrets: { token: { mode: "keep" } }, expectedVersion: again }),
    );
    expect(ok(whileStatus)).toMatchObject({ ok: true });
    expect((await row(id)).name).toBe(`${input.name} (Bob 2)`);
  });

  it("an edit committing while the save waits for the row lock is not undone, with or without a version", async () => {
    for (const withVersion of [true, false]) {
      const { id, input } = await aConnection();
      const bobsVersion = await loadedVersion(id);
      signInAs(bob);
      // Alice's edit (as saveConnection writes one: the version moves with it), holding the row until Bob's save waits for it.
      const result = await whileAnotherSession(
        `UPDATE connections SET config = jsonb_set(config, '{testPath}', '"/echo"'), settings_version = settings_version + 1, updated_at = now() WHERE id = $1::uuid`,
        [id],
        () => saveConnectionAction({ ...input, name: `${input.name} (Bob)`, secrets: { token: { mode: "keep" } }, ...(withVersion ? { expectedVersion: bobsVersion } : {}) }),
      );
      expect(result).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining("Someone else changed this connection") } });
      expect(await snapshot(id)).toMatchObject({ name: input.name, config: expect.objectContaining({ testPath: "/echo" }) });
    }
  });

  describe("an OAuth app whose tokens a runner renews", () => {
    let oidc: OidcServer;
    beforeAll(async () => {
      oidc = await startOidcServer();
    }, 60_000);
    afterAll(async () => {
      await oidc?.close();
    });

    it("tokens renewed by an invoke after the form was loaded: the edit saves, keeping the renewed tokens", async () => {
      signInAs(alice);
      const input = {
        connectionId: null as string | null,
        folderId: folder.id,
        name: `CRM ${randomUUID().slice(0, 8)}`,
        kind: "oauth2",
        config: { grant: "client_credentials", tokenUrl: oidc.tokenUrl, clientId: oidc.clientId, scopes: "api:read", clientAuth: "client_secret_basic", apiBaseUrl: oidc.apiUrl, caBundle: oidc.caCert },
        secrets: { clientSecret: { mode: "value", value: oidc.clientSecret } } as Record<string, { mode: "value"; value: string } | { mode: "keep" }>,
        usernameFromAsset: [] as string[],
      };
      const id = ok(await saveConnectionAction(input)).connectionId!;
      const loaded = await row(id);
      const first = await openState(loaded);
      const bobsVersion = await loadedVersion(id);

      // A runner's invoke finds its token refused, renews it and stores the new one (lib/connections/state.ts).
      drain(id);
      oidc.expireAccessTokens();
      const invoked = await invokeConnection({ actor: alice, requestId: `t-${randomUUID().slice(0, 8)}` }, { connectionId: id, operation: "request", input: { method: "GET", path: "/whoami" } });
      expect(invoked.result).toMatchObject({ status: 200 });
      const renewed = await row(id);
      expect((await openState(renewed))?.accessToken).not.toBe(first?.accessToken);
      expect(renewed.updatedAt.getTime()).toBeGreaterThan(loaded.updatedAt.getTime());
      expect(renewed.settingsVersion).toBe(bobsVersion);

      signInAs(bob);
      const outcome = ok(await saveConnectionAction({ ...input, connectionId: id, name: `${input.name} (Bob)`, secrets: { clientSecret: { mode: "keep" } }, expectedVersion: bobsVersion }));
      expect(outcome).toMatchObject({ ok: true });
      const saved = await row(id);
      expect({ name: saved.name, status: saved.status, settingsVersion: saved.settingsVersion }).toEqual({ name: `${input.name} (Bob)`, status: "CONNECTED", settingsVersion: bobsVersion + 1 });
      expect(await openState(saved)).toMatchObject({ accessToken: expect.any(String) });
      drain(id);
    });
  });
});

describe("refused edits and deletes are in the folder's trail", () => {
  it("a Viewer's edit and delete answer not found, change nothing, and each leaves a DENIED event", async () => {
    const { id, input } = await aConnection();
    const viewer = await makeUser();
    await grant(folder.id, viewer, "VIEWER");
    const before = await snapshot(id);
    signInAs(viewer);
    expect(await saveConnectionAction({ ...input, name: "Taken over", secrets: { token: { mode: "keep" } } })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await deleteConnectionAction({ connectionId: id })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await snapshot(id)).toEqual(before);
    const denied = await db().auditEvent.findMany({ where: { targetId: id, actorId: viewer.id }, orderBy: { action: "asc" } });
    expect(denied.map((e) => [e.action, e.outcome, e.folderId, (e.details as { failure?: string }).failure])).toEqual([
      ["connection.delete", "DENIED", folder.id, "access_denied"],
      ["connection.update", "DENIED", folder.id, "access_denied"],
    ]);
  });
});

describe("OAuth authorization code: Connect is saved with its pending authorisation, or not at all", () => {
  const oauthInput = (overrides: Record<string, unknown> = {}) => ({
    connectionId: null as string | null,
    folderId: folder.id,
    name: `CRM ${randomUUID().slice(0, 8)}`,
    kind: "oauth2",
    config: { grant: "authorization_code", authorizationUrl: `${target.url}/authorize`, tokenUrl: `${target.url}/token`, clientId: "latch-app", scopes: "api:read", caBundle: target.caCert, ...overrides },
    secrets: { clientSecret: { mode: "value", value: `client-secret-${randomUUID()}` } } as Record<string, { mode: "value"; value: string } | { mode: "keep" }>,
    usernameFromAsset: [] as string[],
  });

  /** Runs `fn` while the database refuses to store a new pending authorisation (nonce and PKCE verifier) on the connection named `name`. */
  const whileRefusingPendingState = <T>(name: string, fn: () => Promise<T>) =>
    whileRefusing(
      "UPDATE",
      "connections",
      `NEW.name = '${name.replace(/'/g, "''")}' AND NEW.status = 'PENDING_AUTHORIZATION' AND NEW.state_ciphertext IS NOT NULL AND NEW.state_ciphertext IS DISTINCT FROM OLD.state_ciphertext`,
      fn,
    );

  it("a new connection whose pending authorisation cannot be stored is not saved", async () => {
    signInAs(alice);
    const input = oauthInput();
    const result = await whileRefusingPendingState(input.name, () => saveConnectionAction(input));
    expect(result.ok).toBe(false);
    // Not left behind as a connection waiting for an authorisation that can never complete.
    expect(await db().connection.findFirst({ where: { name: input.name } })).toBeNull();
    expect(await db().auditEvent.count({ where: { action: "connection.create", outcome: "SUCCESS", targetLabel: input.name } })).toBe(0);

    // Once it can be stored, Connect saves the connection with the nonce the browser is sent with.
    const outcome = ok(await saveConnectionAction(input));
    if (!outcome.ok || !("redirectTo" in outcome)) throw new Error(JSON.stringify(outcome));
    const row = await db().connection.findUniqueOrThrow({ where: { id: outcome.connectionId } });
    expect(row.status).toBe("PENDING_AUTHORIZATION");
    expect(new URL(outcome.redirectTo).searchParams.get("state")).toBe(`${outcome.connectionId}.${(await openState(row))?.pendingNonce}`);
  });

  it("an edit of the grant whose pending authorisation cannot be stored changes nothing: the kept tokens stay", async () => {
    signInAs(alice);
    const input = oauthInput();
    const id = ok(await saveConnectionAction(input)).connectionId!;
    // As after the app's callback: authorised, with tokens.
    await db().connection.update({ where: { id }, data: { status: "CONNECTED", ...(await sealState(id, { accessToken: "access-1", refreshToken: "refresh-1", tokenType: "Bearer", scope: "api:read" })) } });
    const before = await db().connection.findUniqueOrThrow({ where: { id }, include: { secrets: true } });

    // New scopes: a new grant, which asks for authorisation again.
    const edit = { ...input, connectionId: id, config: { ...input.config, scopes: "api:read api:write" }, secrets: { clientSecret: { mode: "keep" as const } } };
    const result = await whileRefusingPendingState(input.name, () => saveConnectionAction(edit));
    expect(result.ok).toBe(false);
    const after = await db().connection.findUniqueOrThrow({ where: { id }, include: { secrets: true } });
    expect({ status: after.status, config: after.config, updatedAt: after.updatedAt }).toEqual({ status: before.status, config: before.config, updatedAt: before.updatedAt });
    expect(await openState(after)).toMatchObject({ accessToken: "access-1", refreshToken: "refresh-1" });
    expect(await db().auditEvent.count({ where: { targetId: id, action: "connection.update", outcome: "SUCCESS" } })).toBe(0);

    // Once it can be stored, the same edit goes to the app's sign-in with a nonce the connection holds.
    const outcome = ok(await saveConnectionAction(edit));
    expect(outcome).toMatchObject({ ok: true, redirectTo: expect.any(String) });
    expect(await openState(await db().connection.findUniqueOrThrow({ where: { id } }))).toMatchObject({ pendingNonce: expect.any(String) });
  });

  it("an authorisation that completes while an edit of the pending connection is saved is not replaced by a new one", async () => {
    signInAs(alice);
    const input = oauthInput();
    const id = ok(await saveConnectionAction(input)).connectionId!;
    // The app's callback storing tokens (finishOAuthAuthorization), committing while Bob's rename waits for the row.
    const tokens = await sealState(id, { accessToken: "access-2", refreshToken: "refresh-2", tokenType: "Bearer", scope: "api:read" });
    signInAs(bob);
    const result = await whileAnotherSession(
      `UPDATE connections SET status = 'CONNECTED', state_ciphertext = $2, state_data_key_id = $3::uuid, updated_at = now() WHERE id = $1::uuid`,
      [id, Buffer.from(tokens.stateCiphertext), tokens.stateDataKeyId],
      () => saveConnectionAction({ ...input, connectionId: id, name: `${input.name} (Bob)`, secrets: { clientSecret: { mode: "keep" } } }),
    );
    expect(result).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining("Someone else changed this connection") } });
    const after = await db().connection.findUniqueOrThrow({ where: { id } });
    expect({ name: after.name, status: after.status }).toEqual({ name: input.name, status: "CONNECTED" });
    expect(await openState(after)).toMatchObject({ accessToken: "access-2", refreshToken: "refresh-2" });
  });
});

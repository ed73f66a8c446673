import { randomUUID } from "node:crypto";
import type { Folder } from "@prisma/client";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ActionResult } from "@/lib/actions/action";
import { createAssetAction } from "@/lib/assets/actions";
import type { Actor } from "@/lib/authz";
import { refreshAsset, refreshStore } from "@/lib/connections/runtime";
import { db } from "@/lib/db";
import { createStoreAction } from "@/lib/stores/actions";
import { keptStoreClients, withStoreClient } from "@/lib/stores/client";
import { startHashicorpEmulator, type HashicorpEmulator } from "@/test/emulators/hashicorp";
import { createTestPki, type TestPki } from "@/test/emulators/tls";
import { grant, latchStore, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { broadcastRefresh } from "./broadcast";
import { invalidateAsset, invalidateStore, resolve, type ResolveError } from "./resolver";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));
// Lets a test make Latch's own database fail where resolve() records a success.
const auditFault = vi.hoisted(() => ({ error: null as Error | null }));
vi.mock("@/lib/audit/record", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@/lib/audit/record")>();
  return {
    ...actual,
    recordAuditEvent: (...args: Parameters<typeof actual.recordAuditEvent>) => {
      if (auditFault.error && args[1].action === "asset.resolve" && args[1].outcome === "SUCCESS") return Promise.reject(auditFault.error);
      return actual.recordAuditEvent(...args);
    },
  };
});

/**
 * The process cache's single-flight as callers meet it: through resolve() (access check, store
 * client, audit) against the Vault emulator, not a stubbed fetch.
 */
let admin: Actor, user: Actor;
let folder: Folder;
let pki: TestPki, vault: HashicorpEmulator;
let storeId: string;
const PATH = `apps/burst-${randomUUID().slice(0, 6)}`;
const USERNAME = "burst_user";
const PASSWORD = `burst-${randomUUID()}`;

function ok<T>(result: ActionResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.data;
}

const reads = (path: string) => vault.count(`/data/${path}`, "GET");

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  user = await makeUser();
  folder = await makeFolder();
  await grant(folder.id, user, "EDITOR");
  await latchStore();
  pki = createTestPki();
  vault = await startHashicorpEmulator({ pki });
  signInAs(admin);
  storeId = ok(
    await createStoreAction({ name: `Vault ${randomUUID().slice(0, 6)}`, kind: "hashicorp", mode: "READ_ONLY", folderId: null, config: { address: vault.url, kvVersion: "2" }, secrets: { token: vault.createToken({ ttlSeconds: 3600 }) }, caBundle: pki.caCert, timeoutMs: 10_000 }),
  ).id;
}, 120_000);

afterAll(async () => {
  await vault?.close();
});

describe("resolve() single-flight against the Vault emulator", () => {
  it("200 concurrent resolves of one cold asset make one secret read, and every caller gets the value and its metadata", async () => {
    vault.seedSecret({ path: PATH, data: { username: "old", password: "old" } });
    const { version } = vault.seedSecret({ path: PATH, data: { username: USERNAME, password: PASSWORD } });
    signInAs(user);
    const assetId = ok(await createAssetAction({ folderId: folder.id, type: "CREDENTIAL", name: `Burst ${randomUUID().slice(0, 6)}`, storeId, secretName: PATH, usernameKey: "username", valueKey: "password" })).id;
    // The version's creation time, as Vault itself reports it.
    const metadata = (await (
      await undiciFetch(`${vault.url}/v1/secret/metadata/${PATH}`, { headers: { "x-vault-token": vault.rootToken }, dispatcher: new Agent({ connect: { ca: pki.caCert } }) })
    ).json()) as { data: { versions: Record<string, { created_time: string }> } };
    const createdAt = new Date(metadata.data.versions[String(version)]!.created_time);

    // Cold: nothing from asset creation (or any earlier test) may be served.
    invalidateAsset(assetId);
    invalidateStore(storeId);
    // A slow store keeps the first read in flight while the other 199 callers arrive.
    vault.inject({ fault: { type: "latency", ms: 1500 }, pathIncludes: `/data/${PATH}` });
    const before = reads(PATH);
    let results;
    try {
      results = await Promise.all(Array.from({ length: 200 }, () => resolve({ assetId }, { actor: user, purpose: "test" })));
    } finally {
      vault.clearFaults();
    }

    expect(reads(PATH) - before).toBe(1);
    expect(results).toHaveLength(200);
    for (const r of results) {
      expect(r).toMatchObject({ type: "CREDENTIAL", username: USERNAME, password: PASSWORD });
      expect(r.meta).toMatchObject({ assetId, storeId, version: String(version), keys: ["password", "username"], fromCache: false });
      expect(r.meta.updatedAt?.getTime()).toBe(createdAt.getTime());
    }
    // One fetch served them all.
    expect(new Set(results.map((r) => r.meta.fetchSeq)).size).toBe(1);

    // And the value stays cached: the next resolve reads nothing.
    const again = await resolve({ assetId }, { actor: user, purpose: "test" });
    expect(again.meta).toMatchObject({ fromCache: true, fetchSeq: results[0]!.meta.fetchSeq });
    expect(reads(PATH) - before).toBe(1);
  }, 90_000);
});

describe("assets that point at the same secret", () => {
  it("refreshing one drops the value cached through the other, and the refresh names both for the other instances", async () => {
    signInAs(user);
    const path = `apps/shared-${randomUUID().slice(0, 6)}`;
    vault.seedSecret({ path, data: { username: USERNAME, password: "before-rotation" } });
    const create = async (name: string) =>
      ok(await createAssetAction({ folderId: folder.id, type: "CREDENTIAL", name: `${name} ${randomUUID().slice(0, 6)}`, storeId, secretName: path, usernameKey: "username", valueKey: "password" })).id;
    const a = await create("Shared A");
    const b = await create("Shared B");
    // The value is cached through B only; A has never been resolved on this instance.
    await expect(resolve({ assetId: b }, { actor: user, purpose: "test" })).resolves.toMatchObject({ password: "before-rotation" });

    vault.seedSecret({ path, data: { username: USERNAME, password: "after-rotation" } });
    await refreshAsset({ actor: user, requestId: "shared-secret-test" }, { assetId: a });
    const before = reads(path);
    await expect(resolve({ assetId: a }, { actor: user, purpose: "test" })).resolves.toMatchObject({ password: "after-rotation", meta: { fromCache: false } });
    expect(reads(path) - before).toBe(1);
    // B reads the same new value from the cache now.
    await expect(resolve({ assetId: b }, { actor: user, purpose: "test" })).resolves.toMatchObject({ password: "after-rotation", meta: { fromCache: true } });

    // The value is dropped here before the database is asked anything, so an outage cannot keep it.
    await expect(resolve({ assetId: a }, { actor: user, purpose: "test" })).resolves.toMatchObject({ meta: { fromCache: true } });
    const down = vi.spyOn(db(), "$queryRaw").mockRejectedValueOnce(new Error("database unreachable"));
    try {
      await expect(broadcastRefresh({ kind: "asset", id: a }, db())).rejects.toThrow("database unreachable");
    } finally {
      down.mockRestore();
    }
    await expect(resolve({ assetId: a }, { actor: user, purpose: "test" })).resolves.toMatchObject({ meta: { fromCache: false } });

    // Another instance that only ever resolved B learns of it from the event.
    const [event] = await db().refreshEvent.findMany({ where: { targetId: a }, orderBy: { id: "desc" }, take: 1 });
    expect(event?.assetIds).toEqual([b]);
  }, 60_000);

  it("a refresh names the assets whose secret name differs only in case (one secret to Azure Key Vault and CyberArk)", async () => {
    signInAs(user);
    const suffix = randomUUID().slice(0, 6);
    const [upper, lower] = [`apps/DbPass-${suffix}`, `apps/dbpass-${suffix}`];
    for (const path of [upper, lower]) vault.seedSecret({ path, data: { username: USERNAME, password: PASSWORD } });
    const create = async (path: string) =>
      ok(await createAssetAction({ folderId: folder.id, type: "CREDENTIAL", name: `Cased ${randomUUID().slice(0, 6)}`, storeId, secretName: path, usernameKey: "username", valueKey: "password" })).id;
    const [a, b] = [await create(upper), await create(lower)];
    await refreshAsset({ actor: user, requestId: "cased-secret-test" }, { assetId: a });
    const [event] = await db().refreshEvent.findMany({ where: { targetId: a }, orderBy: { id: "desc" }, take: 1 });
    expect(event?.assetIds).toEqual([b]);
  });
});

describe("the store's kept client", () => {
  const logins = () => vault.count("/auth/token/lookup-self", "GET");

  it("serves the next store read without a new login; an edited or refreshed store gets a new client", async () => {
    signInAs(user);
    const paths = [1, 2, 3, 4].map((n) => `apps/kept-${n}-${randomUUID().slice(0, 6)}`);
    const assets: string[] = [];
    for (const path of paths) {
      vault.seedSecret({ path, data: { username: USERNAME, password: `${PASSWORD}-${path}` } });
      assets.push(ok(await createAssetAction({ folderId: folder.id, type: "CREDENTIAL", name: `Kept ${randomUUID().slice(0, 6)}`, storeId, secretName: path, usernameKey: "username", valueKey: "password" })).id);
    }
    const cold = async (i: number) => {
      invalidateAsset(assets[i]!);
      const r = await resolve({ assetId: assets[i]! }, { actor: user, purpose: "test" });
      expect(r).toMatchObject({ type: "CREDENTIAL", password: `${PASSWORD}-${paths[i]}`, meta: { fromCache: false } });
    };

    await cold(0);
    const afterFirst = { logins: logins(), reads: vault.requests.length };
    await cold(1);
    await cold(0);
    // Two store reads, each one request: the kept client's token was already looked up.
    expect(logins()).toBe(afterFirst.logins);
    expect(vault.requests.length - afterFirst.reads).toBe(2);

    // Edited (here as another instance would: only the row changes): the next read logs in with the new settings.
    await db().credentialStore.update({ where: { id: storeId }, data: { timeoutMs: 9_000 } });
    await cold(2);
    expect(logins()).toBe(afterFirst.logins + 1);

    // A store refresh drops the client too, not only the cached values.
    await refreshStore({ actor: admin, requestId: "kept-client-test" }, { storeId });
    await cold(3);
    expect(logins()).toBe(afterFirst.logins + 2);
    expect(keptStoreClients().filter((k) => k.storeId === storeId)).toHaveLength(1);

    // A read that loaded the store's row before an edit uses the newer client; it does not put the old settings back.
    const row = await db().credentialStore.findUniqueOrThrow({ where: { id: storeId } });
    const newer = { ...row, updatedAt: new Date(row.updatedAt.getTime() + 1000) };
    await withStoreClient(newer, (client) => client.health());
    await withStoreClient(row, (client) => client.health());
    expect(keptStoreClients().filter((k) => k.storeId === storeId)).toEqual([expect.objectContaining({ version: newer.updatedAt.getTime() })]);
  }, 60_000);

  it("a store that throttles with Retry-After: the caller's 503 carries the store's wait, in whole seconds", async () => {
    signInAs(user);
    const path = `apps/throttled-${randomUUID().slice(0, 6)}`;
    vault.seedSecret({ path, data: { username: USERNAME, password: PASSWORD } });
    const assetId = ok(await createAssetAction({ folderId: folder.id, type: "CREDENTIAL", name: `Throttled ${randomUUID().slice(0, 6)}`, storeId, secretName: path, usernameKey: "username", valueKey: "password" })).id;
    invalidateAsset(assetId);
    // Longer than a request waits out: the call ends at once, and says when to come back.
    vault.inject({ fault: { type: "status", status: 429, body: { errors: ["rate limit quota exceeded"] }, headers: { "retry-after": "30" } }, pathIncludes: `/data/${path}` });
    try {
      await expect(resolve({ assetId }, { actor: user, purpose: "test" })).rejects.toMatchObject({ code: "UPSTREAM_UNAVAILABLE", kind: "throttled", retryAfterSeconds: 30 });
    } finally {
      vault.clearFaults();
    }
    // A store that fails without a hint leaves the caller none either.
    vault.inject({ fault: { type: "status", status: 403, body: { errors: ["permission denied"] } }, pathIncludes: `/data/${path}` });
    try {
      const refused = await resolve({ assetId }, { actor: user, purpose: "test" }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: "UPSTREAM_FAILED" });
      expect((refused as ResolveError).retryAfterSeconds).toBeUndefined();
    } finally {
      vault.clearFaults();
    }
  }, 60_000);

  it("a key the secret lacks names the keys there are and says what to change", async () => {
    signInAs(user);
    const path = `apps/keyless-${randomUUID().slice(0, 6)}`;
    vault.seedSecret({ path, data: { username: USERNAME, value: PASSWORD } });
    const name = `Keyless ${randomUUID().slice(0, 6)}`;
    const assetId = ok(await createAssetAction({ folderId: folder.id, type: "CREDENTIAL", name, storeId, secretName: path, usernameKey: "username", valueKey: "password" })).id;
    const error = (await resolve({ assetId }, { actor: user, purpose: "test" }).catch((e: unknown) => e)) as ResolveError;
    expect(error).toMatchObject({ kind: "not_found" });
    expect(error.userMessage).toBe(
      `The secret behind “${name}” has no key “password” for the password (keys present: username, value). Edit the asset to name the key that holds it, or add “password” to the secret in the store.`,
    );
  });

  it("a key missing from the cached copy is looked for in the store once more, so the advice to add it works at once", async () => {
    signInAs(user);
    const path = `apps/key-added-${randomUUID().slice(0, 6)}`;
    vault.seedSecret({ path, data: { username: USERNAME, password: PASSWORD } });
    const credential = ok(await createAssetAction({ folderId: folder.id, type: "CREDENTIAL", name: `Key added ${randomUUID().slice(0, 6)}`, storeId, secretName: path, usernameKey: "username", valueKey: "password" })).id;
    const apiKey = ok(await createAssetAction({ folderId: folder.id, type: "SECRET", name: `Key added later ${randomUUID().slice(0, 6)}`, storeId, secretName: path, valueKey: "api_key" })).id;
    // The secret is cached through the credential; the second asset names a key it does not have yet.
    await expect(resolve({ assetId: credential }, { actor: user, purpose: "test" })).resolves.toMatchObject({ password: PASSWORD });
    const before = reads(path);
    // A copy read just now is not read again for it, however often it is asked (a runner in a loop).
    for (let i = 0; i < 5; i++) await expect(resolve({ assetId: apiKey }, { actor: user, purpose: "test" })).rejects.toMatchObject({ kind: "not_found" });
    expect(reads(path) - before).toBe(0);
    // Someone adds the key, as the message says: the next use finds it, without a refresh or the hour.
    vault.seedSecret({ path, data: { username: USERNAME, password: PASSWORD, api_key: "key-added-later" } });
    await new Promise((r) => setTimeout(r, 1100));
    await expect(resolve({ assetId: apiKey }, { actor: user, purpose: "test" })).resolves.toMatchObject({ value: "key-added-later", meta: { fromCache: false } });
    expect(reads(path) - before).toBe(1);
    await expect(resolve({ assetId: credential }, { actor: user, purpose: "test" })).resolves.toMatchObject({ password: PASSWORD, meta: { fromCache: true } });
  });

  it("Latch's own database failing is not reported as the store failing", async () => {
    signInAs(user);
    const path = `apps/own-db-${randomUUID().slice(0, 6)}`;
    vault.seedSecret({ path, data: { username: USERNAME, password: PASSWORD } });
    const assetId = ok(await createAssetAction({ folderId: folder.id, type: "CREDENTIAL", name: `Own db ${randomUUID().slice(0, 6)}`, storeId, secretName: path, usernameKey: "username", valueKey: "password" })).id;
    auditFault.error = Object.assign(new Error("Connection terminated unexpectedly"), { code: "ECONNRESET" });
    try {
      const error = await resolve({ assetId }, { actor: user, purpose: "test" }).catch((e: unknown) => e);
      expect(error).toBe(auditFault.error);
      expect(error).not.toHaveProperty("kind");
    } finally {
      auditFault.error = null;
    }
    // On a cache miss Latch reads the store's row before the store: that read failing is not
    // "the connection to <store name> was reset" either.
    invalidateAsset(assetId);
    const reset = Object.assign(new Error("Connection terminated unexpectedly"), { code: "ECONNRESET" });
    const rowRead = vi.spyOn(db().credentialStore, "findUnique").mockRejectedValueOnce(reset);
    try {
      const error = await resolve({ assetId }, { actor: user, purpose: "test" }).catch((e: unknown) => e);
      expect(error).toBe(reset);
      expect(error).not.toHaveProperty("kind");
    } finally {
      rowRead.mockRestore();
    }
  });

  it("a broken connection starts the next read with a new client; a store that is busy or denies the path keeps it", async () => {
    signInAs(user);
    const path = `apps/kept-fail-${randomUUID().slice(0, 6)}`;
    vault.seedSecret({ path, data: { username: USERNAME, password: PASSWORD } });
    const assetId = ok(await createAssetAction({ folderId: folder.id, type: "CREDENTIAL", name: `Kept fail ${randomUUID().slice(0, 6)}`, storeId, secretName: path, usernameKey: "username", valueKey: "password" })).id;
    const failOnce = async (fault: Parameters<HashicorpEmulator["inject"]>[0]["fault"]) => {
      vault.inject({ fault, pathIncludes: `/data/${path}` });
      invalidateAsset(assetId);
      try {
        await expect(resolve({ assetId }, { actor: user, purpose: "test" })).rejects.toMatchObject({ kind: expect.any(String) });
      } finally {
        vault.clearFaults();
      }
      invalidateAsset(assetId);
      await expect(resolve({ assetId }, { actor: user, purpose: "test" })).resolves.toMatchObject({ password: PASSWORD });
    };
    invalidateAsset(assetId);
    await resolve({ assetId }, { actor: user, purpose: "test" });
    const before = logins();

    // Sealed, or throttling: the same client reads again once it answers.
    await failOnce({ type: "status", status: 503, body: { errors: ["Vault is sealed"] } });
    await failOnce({ type: "status", status: 429, body: { errors: ["rate limit quota exceeded"] } });
    expect(logins()).toBe(before);
    // A request the store refuses as malformed is about that one reference (a version on a KV v1
    // mount, say): the client is kept, rather than logging in again at every read of it.
    await failOnce({ type: "status", status: 400, body: { errors: ["invalid request"] } });
    expect(logins()).toBe(before);
    // A policy that does not reach the path: one lookup tells it from a dead token, and the live token is kept.
    await failOnce({ type: "status", status: 403, body: { errors: ["permission denied"] } });
    expect(logins()).toBe(before + 1);
    // The connection was cut: the next read opens a new client, which looks its token up again.
    await failOnce({ type: "reset" });
    expect(logins()).toBe(before + 2);
  }, 60_000);
});

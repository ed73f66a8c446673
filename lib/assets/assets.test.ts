import { randomUUID } from "node:crypto";
import type { CredentialStore, Folder } from "@prisma/client";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { forgetRecordedRefusalsForTests } from "@/lib/audit/throttle";
import type { ActionResult } from "@/lib/actions/action";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { createFolderAction, deleteFolderAction, moveFolderAction } from "@/lib/folders/actions";
import { ensureListening } from "@/lib/secrets/broadcast";
import { resolve, ResolveError, type ResolveContext } from "@/lib/secrets/resolver";
import { deleteUnusedLatchSecret } from "@/lib/vault/providers/latch";
import { createStoreAction, deleteStoreAction, updateStoreAction } from "@/lib/stores/actions";
import { clientForStore, forgetStoreClient } from "@/lib/stores/client";
import { forgetUnwrappedKeysForTests } from "@/lib/crypto/envelope";
import { listStores } from "@/lib/stores/queries";
import { startHashicorpEmulator, type HashicorpEmulator } from "@/test/emulators/hashicorp";
import { createTestPki, type TestPki } from "@/test/emulators/tls";
import { assetEditInput, everythingSaidBy, grant, latchStore, makeFolder, makeUser, rowCounts, signInAs, whileRefusing, whileRefusingInserts } from "@/test/fixtures";
import { whileAnotherSession } from "@/test/races";
import { session } from "@/test/mocks/session";
import { createAssetAction, deleteAssetAction, testAssetAction, updateAssetAction } from "./actions";
import { getAssetViewOrThrow, listAssets, listStoreOptions } from "./queries";
import { assetListQuerySchema } from "./schemas";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * Credential assets end to end: the real server actions, the real resolver, the built-in Latch
 * Database store and a HashiCorp Vault store pointing at the emulator (over TLS, its CA in the
 * store's CA bundle).
 */

type CreateInput = Parameters<typeof createAssetAction>[0];
type UpdateInput = Parameters<typeof updateAssetAction>[0];

let admin: Actor, editor: Actor, viewer: Actor;
let folder: Folder, unrelated: Folder;
let latch: CredentialStore;
let pki: TestPki;
let emu: HashicorpEmulator;
let vaultToken: string;
/** Tenant-wide HashiCorp stores on the emulator. */
let vault: StoreRef, vaultReadOnly: StoreRef;

/** Every value typed or seeded in this file, for the "never stored or audited in the clear" sweeps. */
const VALUES: string[] = [];
/** A value unique enough that finding it anywhere means it leaked. */
function secretValue(label: string) {
  const value = `${label}-${randomUUID()}`;
  VALUES.push(value);
  return value;
}
const tag = () => randomUUID().slice(0, 8);

function ok<T>(result: ActionResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.data;
}

/** Runs `fn` signed in as `actor`, then puts the previous session back. */
async function as<T>(actor: Actor, fn: () => Promise<T>): Promise<T> {
  const previous = session.current;
  signInAs(actor);
  try {
    return await fn();
  } finally {
    session.current = previous;
  }
}

const resolveAs = (actor: Actor, assetId: string, extra: Partial<ResolveContext> = {}) => resolve({ assetId }, { actor, purpose: "test", ...extra });

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

type StoreRef = { id: string; name: string; input: ReturnType<typeof vaultStoreInput> };

function vaultStoreInput(opts: { mode?: "READ_ONLY" | "READ_WRITE"; folderId?: string | null; timeoutMs?: number }) {
  return {
    name: `Vault ${tag()}`,
    kind: "hashicorp" as const,
    mode: opts.mode ?? "READ_WRITE",
    folderId: opts.folderId ?? null,
    config: { address: emu.url, kvVersion: "2" },
    secrets: { token: vaultToken },
    caBundle: pki.caCert,
    timeoutMs: opts.timeoutMs ?? 5000,
  };
}

async function makeVaultStore(opts: { mode?: "READ_ONLY" | "READ_WRITE"; folderId?: string | null; timeoutMs?: number } = {}): Promise<StoreRef> {
  const input = vaultStoreInput(opts);
  const created = ok(await as(admin, () => createStoreAction(input)));
  return { ...created, input };
}

const create = (input: Omit<CreateInput, "folderId"> & { folderId?: string }) => createAssetAction({ folderId: folder.id, ...input });

/** A Credential whose password is typed into the built-in Latch Database store. */
const typedCredential = (name: string, username: string, password: string, folderId = folder.id) =>
  createAssetAction({ folderId, type: "CREDENTIAL", name, storeId: latch.id, source: "value", username, secretValue: password });

/** What the edit form submits for an asset, unchanged unless overridden (write-only value blank). */
const editInput = (assetId: string, changes: Partial<Omit<UpdateInput, "assetId">> = {}) => assetEditInput(admin, assetId, changes);

const latchVersions = (name: string) => db().latchSecret.findMany({ where: { storeId: latch.id, name }, orderBy: { version: "asc" }, select: { version: true } });
const assetCount = () => db().credentialAsset.count();

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  editor = await makeUser();
  viewer = await makeUser();
  folder = await makeFolder();
  unrelated = await makeFolder();
  await grant(folder.id, editor, "EDITOR");
  await grant(folder.id, viewer, "VIEWER");
  latch = await latchStore();
  pki = createTestPki();
  emu = await startHashicorpEmulator({ pki });
  vaultToken = emu.createToken({ ttlSeconds: 3600 });
  vault = await makeVaultStore({ mode: "READ_WRITE" });
  vaultReadOnly = await makeVaultStore({ mode: "READ_ONLY" });
});

afterAll(async () => {
  await emu?.close();
});

beforeEach(() => {
  signInAs(editor);
  // Refusals are recorded once a minute per caller and target: each test counts its own.
  forgetRecordedRefusalsForTests();
});

describe("creating each type of asset", () => {
  it("Credential typed into the Latch store: resolves to the username and password, and only ciphertext is kept", async () => {
    const password = secretValue("Pa55 wörd");
    // Spaces are part of the value: nothing trims them.
    const typed = `  ${password} `;
    const { id } = ok(await typedCredential(`Payroll DB ${tag()}`, "payroll_app", typed));

    const resolved = await resolveAs(editor, id);
    expect(resolved).toMatchObject({ type: "CREDENTIAL", username: "payroll_app", password: typed, meta: { version: "1", keys: ["password", "username"] } });

    const row = await db().credentialAsset.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({
      folderId: folder.id,
      type: "CREDENTIAL",
      storeId: latch.id,
      secretName: `assets/${id}`,
      secretVersion: null,
      usernameKey: "username",
      valueKey: "password",
      username: "payroll_app",
      ownsSecret: true,
      plainValue: null,
      createdById: editor.id,
    });
    // Every column of the row, as the database holds it.
    const raw = await db().$queryRaw<Record<string, unknown>[]>`SELECT * FROM credential_assets WHERE id = ${id}::uuid`;
    expect(raw).toHaveLength(1);
    expect(JSON.stringify(raw)).not.toContain(password);

    const sealed = await db().latchSecret.findMany({ where: { storeId: latch.id, name: `assets/${id}` } });
    expect(sealed.map((s) => s.version)).toEqual([1]);
    expect(sealed[0]!.ciphertext.length).toBeGreaterThan(password.length);
    for (const s of await db().latchSecret.findMany()) {
      expect(Buffer.from(s.ciphertext).includes(Buffer.from(password))).toBe(false);
      expect(Buffer.from(s.ciphertext).includes(Buffer.from("payroll_app"))).toBe(false);
    }
  });

  it("Secret referencing a secret already in the Latch store: Latch points at it and does not own it", async () => {
    const apiKey = secretValue("api-key");
    const name = `team/api-key-${tag()}`;
    const client = await clientForStore(latch);
    await client.putSecret!({ name }, { value: apiKey });

    const { id } = ok(await create({ type: "SECRET", name: `API key ${tag()}`, storeId: latch.id, source: "reference", secretName: name }));
    expect(await resolveAs(editor, id)).toMatchObject({ type: "SECRET", value: apiKey, meta: { version: "1", keys: ["value"] } });
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id } })).toMatchObject({ storeId: latch.id, secretName: name, ownsSecret: false, plainValue: null });
  });

  it("Credential and Secret referencing secrets in HashiCorp Vault (keys chosen, version pinned or latest)", async () => {
    const password = secretValue("vault-pw");
    const path = `prod/payroll-${tag()}`;
    emu.seedSecret({ path, data: { username: "vault_user", password, port: 5432 } });
    const cred = ok(await create({ type: "CREDENTIAL", name: `Vault cred ${tag()}`, storeId: vault.id, secretName: path, usernameKey: "username", valueKey: "password" }));
    expect(await resolveAs(editor, cred.id)).toMatchObject({ type: "CREDENTIAL", username: "vault_user", password, meta: { version: "1", keys: ["password", "port", "username"] } });

    // A fixed username on the asset, the password from the secret.
    const fixed = ok(await create({ type: "CREDENTIAL", name: `Vault fixed ${tag()}`, storeId: vault.id, secretName: path, username: "someone_else", valueKey: "password" }));
    expect(await resolveAs(editor, fixed.id)).toMatchObject({ username: "someone_else", password });

    const first = secretValue("vault-token-1");
    const second = secretValue("vault-token-2");
    const tokenPath = `apps/token-${tag()}`;
    emu.seedSecret({ path: tokenPath, data: { api_key: first, region: "eu" } });
    emu.seedSecret({ path: tokenPath, data: { api_key: second, region: "eu" } });
    const latest = ok(await create({ type: "SECRET", name: `Vault latest ${tag()}`, storeId: vault.id, secretName: tokenPath, valueKey: "api_key" }));
    const pinned = ok(await create({ type: "SECRET", name: `Vault pinned ${tag()}`, storeId: vault.id, secretName: tokenPath, secretVersion: "1", valueKey: "api_key" }));
    expect(await resolveAs(editor, latest.id)).toMatchObject({ type: "SECRET", value: second, meta: { version: "2" } });
    expect(await resolveAs(editor, pinned.id)).toMatchObject({ type: "SECRET", value: first, meta: { version: "1" } });
  });

  it("Secret typed into a read-write Vault store is written there, under the (new) path given, and Latch records it created it", async () => {
    const value = secretValue("typed-into-vault");
    const path = `apps/typed-${tag()}`;
    const { id } = ok(await create({ type: "SECRET", name: `Typed vault ${tag()}`, storeId: vault.id, source: "value", secretName: `/${path}/`, secretValue: value }));
    expect(emu.readSecret({ path })).toEqual({ value });
    // The path is stored as Vault reads it (no surrounding slashes).
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id } })).toMatchObject({ storeId: vault.id, secretName: path, ownsSecret: true });
    expect(await resolveAs(editor, id)).toMatchObject({ value });
  });

  it("a burst of typed values, more than the database pool holds, all land: no change waits for a second session while it holds one", async () => {
    // 16 at once into each kind of store, against a pool of 10: each typed value used to take a
    // second session while its change held one (the Latch store's own write transaction; for an
    // external store, reading its sealed settings). Cold, as after a restart or a store edit: no
    // kept store client and no unwrapped data key.
    const fresh = await makeVaultStore({ mode: "READ_WRITE" });
    forgetStoreClient(fresh.id);
    forgetUnwrappedKeysForTests();
    const burst = Array.from({ length: 16 }, (_, i) => i);
    const intoVault = await Promise.all(
      burst.map((i) => create({ type: "SECRET", name: `Burst vault ${i} ${tag()}`, storeId: fresh.id, source: "value", secretName: `apps/burst-${i}-${tag()}`, secretValue: secretValue(`burst-${i}`) })),
    );
    expect(intoVault.filter((r) => !r.ok)).toEqual([]);
    forgetUnwrappedKeysForTests();
    const intoLatch = await Promise.all(burst.map((i) => typedCredential(`Burst ${i} ${tag()}`, "app", secretValue(`burst-${i}`))));
    expect(intoLatch.filter((r) => !r.ok)).toEqual([]);
  }, 60_000);

  it("Text is stored as typed", async () => {
    const { id } = ok(await create({ type: "TEXT", name: `Region ${tag()}`, plainValue: "  eu-west-1, primary " }));
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id } })).toMatchObject({ type: "TEXT", plainValue: "  eu-west-1, primary ", storeId: null, secretName: null });
    // Settings are not secrets: the resolver will not hand them out.
    expect(await failure(resolveAs(editor, id))).toMatchObject({ code: "CONFLICT" });
  });

  it("Integer: whole numbers only, normalised (007 is stored as 7), within 64 bits", async () => {
    const before = await assetCount();
    for (const bad of ["12a", "4.2", "", " ", "9223372036854775808", "1e3"]) {
      const result = await create({ type: "INTEGER", name: `Port ${tag()}`, plainValue: bad });
      expect(result, `"${bad}"`).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { plainValue: ["Enter a whole number, such as 42 or -7."] } } });
    }
    expect(await assetCount()).toBe(before);

    for (const [typed, stored] of [["007", "7"], ["-0042", "-42"], ["9223372036854775807", "9223372036854775807"], ["-9223372036854775808", "-9223372036854775808"]]) {
      const { id } = ok(await create({ type: "INTEGER", name: `Int ${tag()}`, plainValue: typed }));
      expect((await db().credentialAsset.findUniqueOrThrow({ where: { id } })).plainValue, typed).toBe(stored);
    }
  });

  it("Boolean: only true or false", async () => {
    const before = await assetCount();
    for (const bad of ["yes", "TRUE", "1", "", " true"]) {
      expect(await create({ type: "BOOLEAN", name: `Flag ${tag()}`, plainValue: bad }), `"${bad}"`).toMatchObject({
        ok: false,
        error: { code: "VALIDATION", fieldErrors: { plainValue: ["Choose true or false."] } },
      });
    }
    expect(await assetCount()).toBe(before);
    for (const value of ["true", "false"]) {
      const { id } = ok(await create({ type: "BOOLEAN", name: `Flag ${tag()}`, plainValue: value }));
      expect((await db().credentialAsset.findUniqueOrThrow({ where: { id } })).plainValue).toBe(value);
    }
  });
});

describe("validation answers with field errors and writes nothing", () => {
  it("missing store, missing secret name, missing username or password", async () => {
    const before = { ...(await rowCounts()), assets: await assetCount(), latchSecrets: await db().latchSecret.count() };
    const failedBefore = await db().auditEvent.count({ where: { action: "asset.create", outcome: "FAILURE" } });
    expect(await create({ type: "CREDENTIAL", name: `No store ${tag()}`, storeId: "", secretName: "x", usernameKey: "username" })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { storeId: ["Choose the credential store that holds the secret."] } },
    });
    expect(await create({ type: "SECRET", name: `No name ${tag()}`, storeId: latch.id, source: "reference", secretName: "" })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { secretName: ["Enter the name of the secret."] } },
    });
    expect(await create({ type: "CREDENTIAL", name: `No pw ${tag()}`, storeId: latch.id, source: "value", username: "u" })).toMatchObject({
      ok: false,
      error: { fieldErrors: { secretValue: ["Enter the password."] } },
    });
    expect(await create({ type: "CREDENTIAL", name: `No user ${tag()}`, storeId: latch.id, source: "value", secretValue: "pw-pw-pw" })).toMatchObject({
      ok: false,
      error: { fieldErrors: { username: ["Enter the username."] } },
    });
    // Input refused by the form's schema never reaches the change; the name, refused by the store
    // kind's rules once the store is known, is a refused change and is audited as such.
    expect({ ...(await rowCounts()), assets: await assetCount(), latchSecrets: await db().latchSecret.count() }).toEqual({ ...before, audit: before.audit + 1 });
    expect(await db().auditEvent.count({ where: { action: "asset.create", outcome: "FAILURE" } })).toBe(failedBefore + 1);
  });

  it("a name already used in the folder, whatever its case, is refused on create and rename; other folders may reuse it", async () => {
    const name = `Shared Name ${tag()}`;
    ok(await create({ type: "TEXT", name, plainValue: "a" }));
    const before = await assetCount();
    const clash = await create({ type: "SECRET", name: name.toUpperCase(), storeId: latch.id, source: "value", secretValue: secretValue("dup") });
    expect(clash).toMatchObject({ ok: false, error: { code: "CONFLICT", fieldErrors: { name: [expect.stringContaining("already exists in this folder")] } } });
    expect(await assetCount()).toBe(before);
    // The value was not left behind in the Latch store either.
    const leftovers = await db().latchSecret.findMany({ where: { storeId: latch.id, name: { startsWith: "assets/" } }, select: { name: true } });
    const assetIds = new Set((await db().credentialAsset.findMany({ select: { id: true } })).map((a) => a.id));
    expect(leftovers.filter((s) => !assetIds.has(s.name.slice("assets/".length)))).toEqual([]);

    const second = ok(await create({ type: "TEXT", name: `Other ${tag()}`, plainValue: "b" }));
    expect(await updateAssetAction(await editInput(second.id, { name: `  ${name.toLowerCase()} ` }))).toMatchObject({
      ok: false,
      error: { code: "CONFLICT", fieldErrors: { name: [expect.stringContaining("already exists")] } },
    });

    const elsewhere = await makeFolder();
    await grant(elsewhere.id, editor, "EDITOR");
    ok(await create({ folderId: elsewhere.id, type: "TEXT", name, plainValue: "c" }));
  });

  it("a name that only looks different is not a second name: an accent typed another way clashes, an invisible character is refused", async () => {
    const name = `Café ${tag()}`;
    const first = ok(await create({ type: "TEXT", name, plainValue: "a" }));
    const before = await assetCount();
    expect(await create({ type: "TEXT", name: name.normalize("NFD"), plainValue: "b" })).toMatchObject({ ok: false, error: { code: "CONFLICT", fieldErrors: { name: [expect.stringContaining("already exists in this folder")] } } });
    expect(await create({ type: "TEXT", name: `${name}\u200b`, plainValue: "b" })).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { name: [expect.stringContaining("invisible characters")] } } });
    expect(await assetCount()).toBe(before);
    expect((await getAssetViewOrThrow(editor, first.id)).name).toBe(name.normalize("NFC"));
  });

  it("a store owned by an unrelated folder (or no store at all) is refused; a store owned by an ancestor is offered", async () => {
    const foreignStore = await makeVaultStore({ folderId: unrelated.id });
    emu.seedSecret({ path: "shared/thing", data: { value: "v-v-v-v" } });
    const before = await assetCount();
    for (const storeId of [foreignStore.id, randomUUID(), "not-a-store"]) {
      expect(await create({ type: "SECRET", name: `Foreign ${tag()}`, storeId, secretName: "shared/thing" }), storeId).toMatchObject({
        ok: false,
        error: { code: "VALIDATION", fieldErrors: { storeId: ["Choose a credential store this folder may use."] } },
      });
    }
    expect(await assetCount()).toBe(before);

    const child = await makeFolder(`Child ${tag()}`, folder.id);
    const parentStore = await makeVaultStore({ folderId: folder.id });
    const { id } = ok(await create({ folderId: child.id, type: "SECRET", name: `Inherited ${tag()}`, storeId: parentStore.id, secretName: "shared/thing" }));
    expect(await resolveAs(editor, id)).toMatchObject({ value: "v-v-v-v" });
  });

  it("the form learns which offered stores failed their last test (and nothing of why)", async () => {
    const failing = await makeVaultStore({ folderId: folder.id });
    const healthy = await makeVaultStore({ folderId: folder.id });
    await db().credentialStore.update({ where: { id: failing.id }, data: { lastTestAt: new Date(), lastTestOk: false, lastTestMessage: "permission denied" } });
    await db().credentialStore.update({ where: { id: healthy.id }, data: { lastTestAt: new Date(), lastTestOk: true } });
    const options = new Map((await listStoreOptions(editor, folder.id)).map((o) => [o.id, o]));
    expect(options.get(failing.id)).toMatchObject({ lastTestFailed: true });
    expect(options.get(healthy.id)).toMatchObject({ lastTestFailed: false });
    expect(JSON.stringify([...options.values()])).not.toContain("permission denied");
  });

  it("a typed value is refused for a read-only store, and nothing is written there", async () => {
    const path = `apps/readonly-${tag()}`;
    const before = await assetCount();
    const result = await create({ type: "SECRET", name: `RO ${tag()}`, storeId: vaultReadOnly.id, source: "value", secretName: path, secretValue: secretValue("ro") });
    expect(result).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { secretValue: [expect.stringContaining("is read-only")] } } });
    expect(emu.secretExists({ path })).toBe(false);
    expect(await assetCount()).toBe(before);
  });
});

describe("updating", () => {
  it("renaming keeps the stored value (no new version)", async () => {
    const password = secretValue("keep-me");
    const { id } = ok(await typedCredential(`Before ${tag()}`, "svc", password));
    const newName = `After ${tag()}`;
    expect(ok(await updateAssetAction(await editInput(id, { name: newName, description: "renamed" })))).toEqual({ id, name: newName });
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id } })).toMatchObject({ name: newName, description: "renamed", ownsSecret: true, secretName: `assets/${id}` });
    expect(await latchVersions(`assets/${id}`)).toEqual([{ version: 1 }]);
    expect(await resolveAs(editor, id)).toMatchObject({ username: "svc", password });
    const audit = await db().auditEvent.findFirstOrThrow({ where: { action: "asset.update", targetId: id } });
    expect(audit).toMatchObject({ outcome: "SUCCESS", targetLabel: newName, details: { changed: ["name", "description"], valueWritten: false } });
  });

  it("an edit that cannot be announced to the other instances is not made, so none keeps serving the old secret", async () => {
    const { id } = ok(await typedCredential(`Announced ${tag()}`, "svc", secretValue("announced")));
    const before = await db().credentialAsset.findUniqueOrThrow({ where: { id } });
    const failed = await whileRefusingInserts("refresh_events", "true", async () => updateAssetAction(await editInput(id, { name: `Renamed ${tag()}` })));
    expect(failed).toMatchObject({ ok: false });
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id } })).toMatchObject({ name: before.name, updatedAt: before.updatedAt });
    ok(await updateAssetAction(await editInput(id, { name: `Renamed ${tag()}` })));
    expect(await db().$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM refresh_events WHERE kind = 'asset' AND target_id = ${id}::uuid`).toEqual([{ n: 1 }]);
  });

  it("typing a new value writes a new version, and the next resolve sees it at once (the cache is invalidated)", async () => {
    const first = secretValue("first");
    const { id } = ok(await typedCredential(`Rotating ${tag()}`, "svc", first));
    expect(await resolveAs(editor, id)).toMatchObject({ password: first, meta: { fromCache: false } });
    expect(await resolveAs(editor, id)).toMatchObject({ password: first, meta: { fromCache: true } });

    // A change behind Latch's back is not seen while the cached value lives: the cache is in play.
    const behind = secretValue("behind");
    await (await clientForStore(latch)).putSecret!({ name: `assets/${id}` }, { username: "svc", password: behind });
    expect(await resolveAs(editor, id)).toMatchObject({ password: first, meta: { fromCache: true, version: "1" } });

    const third = secretValue("third");
    ok(await updateAssetAction(await editInput(id, { secretValue: third })));
    expect(await latchVersions(`assets/${id}`)).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }]);
    expect(await resolveAs(editor, id)).toMatchObject({ username: "svc", password: third, meta: { fromCache: false, version: "3" } });
    const audit = await db().auditEvent.findFirstOrThrow({ where: { action: "asset.update", targetId: id } });
    expect(audit.details).toMatchObject({ valueWritten: true, version: "3" });

    // Editing without a value keeps it.
    ok(await updateAssetAction(await editInput(id, { description: "no new value" })));
    expect(await latchVersions(`assets/${id}`)).toHaveLength(3);
    expect(await resolveAs(editor, id)).toMatchObject({ password: third });
  });

  it("changing the reference points the asset at the other secret (and a version can be pinned)", async () => {
    const a = secretValue("ref-a");
    const b1 = secretValue("ref-b1");
    const b2 = secretValue("ref-b2");
    const pathA = `apps/a-${tag()}`;
    const pathB = `apps/b-${tag()}`;
    emu.seedSecret({ path: pathA, data: { value: a } });
    emu.seedSecret({ path: pathB, data: { value: b1 } });
    emu.seedSecret({ path: pathB, data: { value: b2 } });
    const { id } = ok(await create({ type: "SECRET", name: `Ref ${tag()}`, storeId: vault.id, secretName: pathA }));
    expect(await resolveAs(editor, id)).toMatchObject({ value: a });

    ok(await updateAssetAction(await editInput(id, { secretName: pathB })));
    expect(await resolveAs(editor, id)).toMatchObject({ value: b2, meta: { version: "2" } });
    ok(await updateAssetAction(await editInput(id, { secretVersion: "1" })));
    expect(await resolveAs(editor, id)).toMatchObject({ value: b1, meta: { version: "1" } });
    const audits = await db().auditEvent.findMany({ where: { action: "asset.update", targetId: id } });
    expect(audits.map((e) => (e.details as { changed: string[] }).changed).sort()).toEqual([["secretName"], ["secretVersion"]]);
  });

  it("pointing a typed Latch credential at another store removes the value Latch kept for it", async () => {
    const { id } = ok(await typedCredential(`Moving ${tag()}`, "svc", secretValue("old-latch")));
    expect(await latchVersions(`assets/${id}`)).toHaveLength(1);
    const password = secretValue("now-in-vault");
    const path = `prod/moved-${tag()}`;
    emu.seedSecret({ path, data: { username: "vault_svc", password } });
    ok(await updateAssetAction(await editInput(id, { storeId: vault.id, secretName: path, usernameKey: "username", valueKey: "password" })));
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id } })).toMatchObject({ storeId: vault.id, secretName: path, ownsSecret: false });
    expect(await latchVersions(`assets/${id}`)).toEqual([]);
    expect(await resolveAs(editor, id)).toMatchObject({ username: "vault_svc", password });
  });

  it("the value Latch kept is removed only while no asset points at it: a value typed in again meanwhile stays", async () => {
    const { id } = ok(await typedCredential(`Retyped ${tag()}`, "svc", secretValue("first")));
    const name = `assets/${id}`;
    // An asset still points at the name (another change typed a value into it): it stays.
    expect(await db().$transaction((tx) => deleteUnusedLatchSecret(tx, latch.id, name))).toBe(false);
    expect(await latchVersions(name)).toHaveLength(1);
    expect(await resolveAs(editor, id)).toMatchObject({ username: "svc" });
    // Once nothing points at it, it goes.
    await db().credentialAsset.update({ where: { id }, data: { secretName: `${name}-elsewhere` } });
    expect(await db().$transaction((tx) => deleteUnusedLatchSecret(tx, latch.id, name))).toBe(true);
    expect(await latchVersions(name)).toEqual([]);
  });

  it("the sealed value goes with the asset or neither does: a removal that fails keeps the asset, and says so", async () => {
    const { id } = ok(await typedCredential(`Kept value ${tag()}`, "svc", secretValue("kept")));
    const name = `assets/${id}`;
    await whileRefusing("DELETE", "latch_secrets", `OLD.name = '${name}'`, async () => {
      expect(await deleteAssetAction({ assetId: id })).toMatchObject({ ok: false, error: { code: "UNEXPECTED" } });
      // Moving the asset to another store lets go of the value the same way.
      const moved = await updateAssetAction(await editInput(id, { storeId: vault.id, secretName: `apps/elsewhere-${tag()}`, usernameKey: "username", valueKey: "password" }));
      expect(moved).toMatchObject({ ok: false });
    });
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id } })).toMatchObject({ storeId: latch.id, secretName: name });
    expect(await latchVersions(name)).toHaveLength(1);
    expect(await resolveAs(editor, id)).toMatchObject({ username: "svc" });
    const events = await db().auditEvent.findMany({ where: { targetId: id, action: { in: ["asset.delete", "asset.update"] } }, select: { action: true, outcome: true } });
    expect(events.map((e) => `${e.action} ${e.outcome}`).sort()).toEqual(["asset.delete FAILURE", "asset.update FAILURE"]);
    ok(await deleteAssetAction({ assetId: id }));
    expect(await latchVersions(name)).toEqual([]);
  });

  it("settings: integers are normalised, invalid values refused with the field named", async () => {
    const { id } = ok(await create({ type: "INTEGER", name: `Int ${tag()}`, plainValue: "1" }));
    ok(await updateAssetAction(await editInput(id, { plainValue: "0042" })));
    expect((await db().credentialAsset.findUniqueOrThrow({ where: { id } })).plainValue).toBe("42");
    expect(await updateAssetAction(await editInput(id, { plainValue: "forty" }))).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { plainValue: ["Enter a whole number, such as 42 or -7."] } },
    });
    expect((await db().credentialAsset.findUniqueOrThrow({ where: { id } })).plainValue).toBe("42");

    const flag = ok(await create({ type: "BOOLEAN", name: `Flag ${tag()}`, plainValue: "false" }));
    expect(await updateAssetAction(await editInput(flag.id, { plainValue: "maybe" }))).toMatchObject({ ok: false, error: { fieldErrors: { plainValue: ["Choose true or false."] } } });
    ok(await updateAssetAction(await editInput(flag.id, { plainValue: "true" })));
    expect((await db().credentialAsset.findUniqueOrThrow({ where: { id: flag.id } })).plainValue).toBe("true");
  });
});

describe("deleting", () => {
  it("removes the row, audits it, and removes the secret Latch kept for a typed value", async () => {
    const { id } = ok(await typedCredential(`Doomed ${tag()}`, "svc", secretValue("doomed")));
    await resolveAs(editor, id);
    expect(ok(await deleteAssetAction({ assetId: id }))).toEqual({ id, folderId: folder.id });
    expect(await db().credentialAsset.findUnique({ where: { id } })).toBeNull();
    expect(await latchVersions(`assets/${id}`)).toEqual([]);
    expect(await db().auditEvent.findFirst({ where: { action: "asset.delete", targetId: id } })).toMatchObject({
      outcome: "SUCCESS",
      actorId: editor.id,
      folderId: folder.id,
      details: { type: "CREDENTIAL", storeId: latch.id, reference: `assets/${id}`, valueRemoved: true },
    });
    // Even with the value still in the process cache, a deleted asset resolves to nothing.
    expect(await failure(resolveAs(editor, id))).toMatchObject({ code: "NOT_FOUND" });
  });

  it("leaves secrets it does not own where they are (Latch store and Vault)", async () => {
    const name = `team/kept-${tag()}`;
    await (await clientForStore(latch)).putSecret!({ name }, { value: secretValue("kept") });
    const inLatch = ok(await create({ type: "SECRET", name: `Ref latch ${tag()}`, storeId: latch.id, secretName: name }));
    const path = `apps/kept-${tag()}`;
    const inVault = ok(await create({ type: "SECRET", name: `Typed vault ${tag()}`, storeId: vault.id, source: "value", secretName: path, secretValue: secretValue("kept-vault") }));
    ok(await deleteAssetAction({ assetId: inLatch.id }));
    ok(await deleteAssetAction({ assetId: inVault.id }));
    expect(await latchVersions(name)).toEqual([{ version: 1 }]);
    expect(emu.secretExists({ path })).toBe(true);
    for (const assetId of [inLatch.id, inVault.id]) {
      expect((await db().auditEvent.findFirstOrThrow({ where: { action: "asset.delete", targetId: assetId } })).details).toMatchObject({ valueRemoved: false });
    }
  });
});

describe("the Resolve test", () => {
  it("reads the store afresh each time, so it is limited per caller like a refresh", async () => {
    const { id } = ok(await typedCredential(`Limited ${tag()}`, "svc", secretValue("limited")));
    const limiter = globalThis as unknown as { latchRefreshLimiter?: unknown };
    const configured = env().LATCH_REFRESH_RATE_PER_SECOND;
    Object.assign(env(), { LATCH_REFRESH_RATE_PER_SECOND: 0.1 }); // one every ten seconds, bursts of one
    limiter.latchRefreshLimiter = undefined;
    try {
      expect(await testAssetAction({ assetId: id })).toMatchObject({ ok: true, data: { ok: true } });
      expect(await testAssetAction({ assetId: id })).toMatchObject({ ok: false, error: { code: "RATE_LIMITED" } });
    } finally {
      Object.assign(env(), { LATCH_REFRESH_RATE_PER_SECOND: configured });
      limiter.latchRefreshLimiter = undefined;
    }
  });

  it("on success returns metadata only, never the value, and records a healthy last resolve", async () => {
    const password = secretValue("tested");
    const { id } = ok(await typedCredential(`Tested ${tag()}`, "tester", password));
    const result = await testAssetAction({ assetId: id });
    expect(result).toEqual({
      ok: true,
      data: { ok: true, version: "1", updatedAt: expect.any(Date), keys: ["password", "username"], username: "tester", usernameKey: null, durationMs: expect.any(Number) },
    });
    expect(JSON.stringify(result)).not.toContain(password);
    expect((await getAssetViewOrThrow(editor, id)).lastResolve).toMatchObject({ ok: true });

    const value = secretValue("tested-secret");
    const secret = ok(await create({ type: "SECRET", name: `Tested secret ${tag()}`, storeId: latch.id, source: "value", secretValue: value }));
    const secretResult = await testAssetAction({ assetId: secret.id });
    expect(secretResult).toMatchObject({ ok: true, data: { ok: true, keys: ["value"], username: null } });
    expect(JSON.stringify(secretResult)).not.toContain(value);
  });

  it("reads afresh, so a secret deleted in the store fails with not_found even while a value is cached", async () => {
    const password = secretValue("gone");
    const { id } = ok(await typedCredential(`Gone ${tag()}`, "svc", password));
    await resolveAs(editor, id);
    await (await clientForStore(latch)).deleteSecret!({ name: `assets/${id}` });
    const result = await testAssetAction({ assetId: id });
    expect(result).toMatchObject({ ok: true, data: { ok: false, kind: "not_found", title: expect.any(String), message: expect.stringContaining(`assets/${id}`) } });
    expect(JSON.stringify(result)).not.toContain(password);
    expect((await getAssetViewOrThrow(editor, id)).lastResolve).toMatchObject({ ok: false });

    const value = secretValue("vault-gone");
    const path = `apps/gone-${tag()}`;
    emu.seedSecret({ path, data: { value } });
    const inVault = ok(await create({ type: "SECRET", name: `Vault gone ${tag()}`, storeId: vault.id, secretName: path }));
    expect(await testAssetAction({ assetId: inVault.id })).toMatchObject({ ok: true, data: { ok: true, version: "1" } });
    emu.deleteSecret({ path, mode: "all" });
    const vaultResult = await testAssetAction({ assetId: inVault.id });
    expect(vaultResult).toMatchObject({ ok: true, data: { ok: false, kind: "not_found" } });
    expect(JSON.stringify(vaultResult)).not.toContain(value);

    // A new description leaves the failed test standing; a new pointer makes it say nothing (not yet tested).
    ok(await updateAssetAction(await editInput(inVault.id, { description: "still gone" })));
    expect((await getAssetViewOrThrow(editor, inVault.id)).lastResolve).toMatchObject({ ok: false });
    const moved = `apps/back-${tag()}`;
    emu.seedSecret({ path: moved, data: { value } });
    ok(await updateAssetAction(await editInput(inVault.id, { secretName: moved })));
    expect((await getAssetViewOrThrow(editor, inVault.id)).lastResolve).toBeNull();
  });
});

describe("the audit trail", () => {
  it("records create, update, resolve (success and failure) and delete with their outcome, never the value", async () => {
    const v1 = secretValue("audit-one");
    const v2 = secretValue("audit-two");
    const { id } = ok(await create({ type: "SECRET", name: `Audited ${tag()}`, storeId: latch.id, source: "value", secretValue: v1 }));
    ok(await updateAssetAction(await editInput(id, { secretValue: v2 })));
    expect(await resolveAs(editor, id)).toMatchObject({ value: v2 });
    await (await clientForStore(latch)).deleteSecret!({ name: `assets/${id}` });
    const failed = await failure(resolveAs(editor, id, { fresh: true }));
    expect(failed).toBeInstanceOf(ResolveError);
    expect(failed).toMatchObject({ kind: "not_found" });
    ok(await deleteAssetAction({ assetId: id }));

    const events = await db().auditEvent.findMany({ where: { targetId: id } });
    const byAction = (action: string, outcome = "SUCCESS") => events.filter((e) => e.action === action && e.outcome === outcome);
    expect(events).toHaveLength(5);
    for (const e of events) expect(e).toMatchObject({ actorId: editor.id, folderId: folder.id, targetType: "asset", targetId: id });
    // Events from server actions carry the request id.
    for (const e of events.filter((e) => e.action !== "asset.resolve")) expect(e.requestId).toBe("test-request-id");
    expect(byAction("asset.create")[0]!.details).toMatchObject({ type: "SECRET", storeId: latch.id, reference: `assets/${id}`, valueWritten: true, version: "1" });
    expect(byAction("asset.update")[0]!.details).toMatchObject({ valueWritten: true, version: "2" });
    expect(byAction("asset.resolve")[0]!.details).toMatchObject({ purpose: "test", storeId: latch.id, cache: "miss", version: "2" });
    expect(byAction("asset.resolve", "FAILURE")[0]!.details).toMatchObject({ purpose: "test", failure: "not_found" });
    expect(byAction("asset.delete")[0]!.details).toMatchObject({ type: "SECRET", reference: `assets/${id}`, valueRemoved: true });

    const all = JSON.stringify(await db().auditEvent.findMany());
    expect(all).not.toContain(v1);
    expect(all).not.toContain(v2);
    // Nothing secret-looking was even handed to the audit trail (the redaction layer had nothing to mask).
    expect(JSON.stringify(events.map((e) => e.details))).not.toContain("[REDACTED]");
  });
});

describe("stores and folders that assets depend on", () => {
  it("a store in use cannot be deleted or narrowed to a folder its assets are outside; the stores list counts its assets", async () => {
    const store = await makeVaultStore();
    const path = `apps/in-use-${tag()}`;
    emu.seedSecret({ path, data: { value: "in-use-value" } });
    const assetName = `Billing API ${tag()}`;
    const { id } = ok(await create({ type: "SECRET", name: assetName, storeId: store.id, secretName: path }));
    ok(await create({ type: "CREDENTIAL", name: `Billing DB ${tag()}`, storeId: store.id, secretName: path, username: "u", valueKey: "value" }));
    signInAs(admin);

    expect((await listStores(admin, { q: store.name })).find((s) => s.id === store.id)).toMatchObject({ assetCount: 2 });

    const refused = await deleteStoreAction({ storeId: store.id });
    expect(refused).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining(`“${assetName}” (in ${folder.name})`) } });
    expect(await db().credentialStore.findUnique({ where: { id: store.id } })).not.toBeNull();

    const narrowed = await updateStoreAction({ ...store.input, storeId: store.id, folderId: unrelated.id, secrets: {} });
    expect(narrowed).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining(assetName), fieldErrors: { folderId: [expect.any(String)] } } });
    expect((await db().credentialStore.findUniqueOrThrow({ where: { id: store.id } })).folderId).toBeNull();
    // Narrowing to the folder the assets live in is fine, and they keep resolving.
    ok(await updateStoreAction({ ...store.input, storeId: store.id, folderId: folder.id, secrets: {} }));
    expect(await resolveAs(editor, id)).toMatchObject({ value: "in-use-value" });

    signInAs(editor);
    for (const asset of await db().credentialAsset.findMany({ where: { storeId: store.id } })) ok(await deleteAssetAction({ assetId: asset.id }));
    expect((await listStores(admin, { q: store.name })).find((s) => s.id === store.id)).toMatchObject({ assetCount: 0 });
    ok(await as(admin, () => deleteStoreAction({ storeId: store.id })));
  });

  it("a folder holding an asset cannot be deleted", async () => {
    const holder = await makeFolder();
    await grant(holder.id, editor, "EDITOR");
    const { id } = ok(await create({ folderId: holder.id, type: "TEXT", name: `Keeps folder ${tag()}`, plainValue: "x" }));
    signInAs(admin);
    expect(await deleteFolderAction({ folderId: holder.id })).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining("1 credential asset") } });
    expect(await db().folder.findUnique({ where: { id: holder.id } })).not.toBeNull();
    ok(await deleteAssetAction({ assetId: id }));
    ok(await deleteFolderAction({ folderId: holder.id }));
  });

  it("a folder cannot be moved away from a folder-owned store its assets use", async () => {
    const parent = await makeFolder();
    const child = await makeFolder(`Moving child ${tag()}`, parent.id);
    const sibling = await makeFolder(`Sibling ${tag()}`, parent.id);
    const elsewhere = await makeFolder();
    const store = await makeVaultStore({ folderId: parent.id });
    const path = `apps/owned-${tag()}`;
    emu.seedSecret({ path, data: { value: "owned-value" } });
    signInAs(admin);
    const assetName = `Uses parent store ${tag()}`;
    const { id } = ok(await create({ folderId: child.id, type: "SECRET", name: assetName, storeId: store.id, secretName: path }));

    for (const parentId of [elsewhere.id, null]) {
      const result = await moveFolderAction({ folderId: child.id, parentId });
      expect(result, String(parentId)).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining(`“${assetName}”`) } });
      expect((result as { error: { message: string } }).error.message).toContain(store.name);
    }
    expect((await db().folder.findUniqueOrThrow({ where: { id: child.id } })).parentId).toBe(parent.id);

    // Within the store's folder the move is fine, and the asset keeps resolving.
    ok(await moveFolderAction({ folderId: child.id, parentId: sibling.id }));
    expect(await resolveAs(admin, id)).toMatchObject({ value: "owned-value" });
  });

  it("a slow store write does not hold folder changes up: the tree is locked only after it", async () => {
    const path = `apps/slow-${tag()}`;
    emu.inject({ fault: { type: "latency", ms: 2500 }, pathIncludes: `/data/${path}`, times: 2 });
    try {
      const creating = create({ type: "SECRET", name: `Slow write ${tag()}`, storeId: vault.id, source: "value", secretName: path, secretValue: secretValue("slow") });
      let created = false;
      void creating.then(() => (created = true), () => {});
      // The store write has begun (and takes 2.5 s): a folder change now must not wait for it.
      await vi.waitFor(() => expect(emu.count(`/data/${path}`)).toBeGreaterThan(0), { timeout: 10_000, interval: 20 });
      ok(await as(admin, () => createFolderAction({ name: `Meanwhile ${tag()}`, parentId: null })));
      expect(created).toBe(false);
      ok(await creating);
    } finally {
      emu.clearFaults();
    }
  });

  it("an asset created while its folder moves away from the store's folder is refused, not left unable to resolve", async () => {
    const parent = await makeFolder();
    const child = await makeFolder(`Moving child ${tag()}`, parent.id);
    const elsewhere = await makeFolder();
    const store = await makeVaultStore({ folderId: parent.id });
    signInAs(admin);
    // Another request's move holds the tree lock and has moved the folder, not yet committed; the create waits on it.
    const creating = await whileAnotherSession(
      [
        ["SELECT pg_advisory_xact_lock(hashtext('latch.folder-tree'))", []],
        ["UPDATE folders SET parent_id = $1 WHERE id = $2", [elsewhere.id, child.id]],
      ],
      [],
      () => create({ folderId: child.id, type: "SECRET", name: `Raced ${tag()}`, storeId: store.id, secretName: `apps/raced-${tag()}` }),
    );
    expect(creating).toMatchObject({ ok: false, error: { fieldErrors: { storeId: ["Choose a credential store this folder may use."] } } });
    expect(await db().credentialAsset.count({ where: { folderId: child.id } })).toBe(0);
  });
});

describe("the resolver re-checks authorisation every time", () => {
  it("an Editor resolves; once the grant is removed, not found even though the value is cached", async () => {
    const home = await makeFolder();
    const person = await makeUser();
    await grant(home.id, person, "EDITOR");
    const password = secretValue("revoked");
    const { id } = ok(await as(admin, () => typedCredential(`Revocable ${tag()}`, "svc", password, home.id)));

    expect(await resolveAs(person, id)).toMatchObject({ password, meta: { fromCache: false } });
    expect(await resolveAs(person, id)).toMatchObject({ password, meta: { fromCache: true } });

    await db().folderMember.delete({ where: { folderId_userId: { folderId: home.id, userId: person.id } } });
    const denied = await failure(resolveAs(person, id));
    expect(denied).toMatchObject({ code: "NOT_FOUND" });
    expect(JSON.stringify(denied)).not.toContain(password);

    // The value was still cached all along: the refusal came from the check, not from a cache miss.
    await grant(home.id, person, "EDITOR");
    expect(await resolveAs(person, id)).toMatchObject({ password, meta: { fromCache: true } });
  });

  it("a role on an ancestor folder reaches assets in subfolders", async () => {
    const top = await makeFolder();
    const sub = await makeFolder(`Sub ${tag()}`, top.id);
    const person = await makeUser();
    await grant(top.id, person, "EDITOR");
    const value = secretValue("inherited");
    const { id } = ok(await as(admin, () => create({ folderId: sub.id, type: "SECRET", name: `Deep ${tag()}`, storeId: latch.id, source: "value", secretValue: value })));
    expect(await resolveAs(person, id)).toMatchObject({ value });
  });

  it("a Viewer may read the asset's metadata but not resolve it, cached or not", async () => {
    const password = secretValue("viewer-cannot");
    const { id } = ok(await typedCredential(`Viewed ${tag()}`, "svc", password));
    await resolveAs(editor, id);
    const view = await getAssetViewOrThrow(viewer, id);
    expect(view).toMatchObject({ id, permissions: { write: false, use: false } });
    expect(JSON.stringify(view)).not.toContain(password);
    expect(await failure(resolveAs(viewer, id))).toMatchObject({ code: "NOT_FOUND" });
    expect(await failure(resolveAs(viewer, id, { fresh: true }))).toMatchObject({ code: "NOT_FOUND" });
    expect(await as(viewer, () => testAssetAction({ assetId: id }))).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it("an asset whose store is no longer open to its folder fails with a config error, cached value or not", async () => {
    const store = await makeVaultStore();
    const value = secretValue("scoped-away");
    const path = `apps/scoped-${tag()}`;
    emu.seedSecret({ path, data: { value } });
    const { id } = ok(await create({ type: "SECRET", name: `Scoped ${tag()}`, storeId: store.id, secretName: path }));
    expect(await resolveAs(editor, id)).toMatchObject({ value });

    // Changed behind the console's back (the console itself refuses this while the asset uses it).
    await db().credentialStore.update({ where: { id: store.id }, data: { folderId: unrelated.id } });
    const error = await failure(resolveAs(editor, id));
    expect(error).toBeInstanceOf(ResolveError);
    expect(error).toMatchObject({ kind: "config", code: "UPSTREAM_FAILED", userMessage: expect.stringContaining(store.name) });
    expect(everythingSaidBy(error)).not.toContain(value);
    const audit = await db().auditEvent.findFirstOrThrow({ where: { action: "asset.resolve", targetId: id, outcome: "FAILURE" } });
    expect(audit.details).toMatchObject({ failure: "config" });
    expect(await testAssetAction({ assetId: id })).toMatchObject({ ok: true, data: { ok: false, kind: "config" } });
  });
});

/** A connection in `folderId` whose field uses the asset, written directly (the connections UI is tested elsewhere). */
async function connectionUsing(assetId: string, folderId: string, name = `Conn ${tag()}`) {
  return db().connection.create({
    data: { folderId, name, connectorKind: "postgres", status: "CONNECTED", ownerId: admin.id, secrets: { create: { field: "password", assetId } } },
  });
}

/** The database's clock now, to find the audit events written after it. */
const mark = async () => (await db().$queryRaw<{ now: Date }[]>`SELECT date_trunc('milliseconds', clock_timestamp()) AS now`)[0]!.now;
const auditSince = (since: Date, where: Record<string, unknown> = {}) => db().auditEvent.findMany({ where: { occurredAt: { gte: since }, ...where }, orderBy: { occurredAt: "asc" } });

describe("every change and every resolve is audited: who, which asset, which store, outcome, duration", () => {
  it("successful changes name the store and how long they took", async () => {
    const path = `apps/audited-${tag()}`;
    emu.seedSecret({ path, data: { value: secretValue("audited") } });
    const since = await mark();
    const { id } = ok(await create({ type: "SECRET", name: `Audited ref ${tag()}`, storeId: vault.id, secretName: path }));
    ok(await updateAssetAction(await editInput(id, { storeId: latch.id, source: "value", secretName: "", secretValue: secretValue("moved-to-latch") })));
    ok(await deleteAssetAction({ assetId: id }));
    const events = await auditSince(since, { targetId: id });
    expect(events.map((e) => [e.action, e.outcome, e.actorId, e.folderId])).toEqual([
      ["asset.create", "SUCCESS", editor.id, folder.id],
      ["asset.update", "SUCCESS", editor.id, folder.id],
      ["asset.delete", "SUCCESS", editor.id, folder.id],
    ]);
    expect(events[0]!.details).toMatchObject({ storeId: vault.id, store: vault.name, storeKind: "hashicorp", reference: path, valueWritten: false, durationMs: expect.any(Number) });
    expect(events[1]!.details).toMatchObject({ storeId: latch.id, store: latch.name, reference: `assets/${id}`, valueWritten: true, changed: ["storeId", "secretName"], durationMs: expect.any(Number) });
    expect(events[2]!.details).toMatchObject({ storeId: latch.id, store: latch.name, valueRemoved: true, durationMs: expect.any(Number) });
  });

  it("a refused or failed change writes a FAILURE event (conflict, a store refusing the write), never with the value", async () => {
    const taken = `Taken ${tag()}`;
    ok(await create({ type: "TEXT", name: taken, plainValue: "x" }));
    const { id } = ok(await typedCredential(`Will fail ${tag()}`, "svc", secretValue("first")));
    const since = await mark();

    // A name clash.
    const clashValue = secretValue("clash");
    expect(await updateAssetAction(await editInput(id, { name: taken, secretValue: clashValue }))).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    // The store refuses the write: Latch's token may read there but not write.
    emu.writePolicy({ name: "read-only", rules: { "secret/data/*": ["read"], "secret/metadata/*": ["read", "list"], "sys/internal/ui/mounts/*": ["read"] } });
    const readOnlyToken = emu.createToken({ policies: ["read-only"], ttlSeconds: 3600 });
    const store = ok(await as(admin, () => createStoreAction({ ...vaultStoreInput({ mode: "READ_WRITE" }), secrets: { token: readOnlyToken } })));
    const refusedValue = secretValue("refused");
    const path = `apps/refused-${tag()}`;
    expect(await create({ type: "SECRET", name: `Refused ${tag()}`, storeId: store.id, source: "value", secretName: path, secretValue: refusedValue })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { secretValue: [expect.stringContaining("Could not write the value")] } },
    });
    expect(emu.secretExists({ path })).toBe(false);

    const events = await auditSince(since, { targetType: "asset" });
    expect(events.map((e) => [e.action, e.outcome])).toEqual([
      ["asset.update", "FAILURE"],
      ["asset.create", "FAILURE"],
    ]);
    expect(events[0]).toMatchObject({ targetId: id, folderId: folder.id, actorId: editor.id });
    expect(events[0]!.details).toMatchObject({ failure: "conflict", storeId: latch.id, store: latch.name, durationMs: expect.any(Number) });
    expect(events[1]).toMatchObject({ targetId: null, folderId: folder.id, actorId: editor.id });
    expect(events[1]!.details).toMatchObject({ failure: "validation", fields: ["secretValue"], storeId: store.id, store: store.name, reference: path, durationMs: expect.any(Number) });
    const text = JSON.stringify(events);
    for (const v of [clashValue, refusedValue]) expect(text).not.toContain(v);
  });

  it("resolves refused before the store is asked are audited too: no access (DENIED), absent, or a setting", async () => {
    const { id } = ok(await typedCredential(`Guarded ${tag()}`, "svc", secretValue("guarded")));
    const setting = ok(await create({ type: "INTEGER", name: `Port ${tag()}`, plainValue: "5432" }));
    const absent = randomUUID();
    const since = await mark();
    expect(await failure(resolveAs(viewer, id))).toMatchObject({ code: "NOT_FOUND" });
    expect(await failure(resolveAs(editor, absent))).toMatchObject({ code: "NOT_FOUND" });
    expect(await failure(resolveAs(editor, setting.id))).toMatchObject({ code: "CONFLICT" });
    const events = await auditSince(since, { action: "asset.resolve" });
    expect(events.map((e) => [e.outcome, e.actorId, e.targetId, e.folderId, (e.details as { failure: string }).failure])).toEqual([
      ["DENIED", viewer.id, id, folder.id, "access_denied"],
      ["FAILURE", editor.id, absent, null, "asset_not_found"],
      ["FAILURE", editor.id, setting.id, folder.id, "not_a_secret"],
    ]);
    for (const e of events) expect(e.details).toMatchObject({ purpose: "test", durationMs: expect.any(Number) });
    expect(events[0]!.details).toMatchObject({ storeId: latch.id });
  });
});

describe("the Resolve test is not an edit", () => {
  it("leaves the asset's Updated time alone, so an edit opened before it still saves; a real change in between is a conflict", async () => {
    const password = secretValue("resolve-test-updated");
    const { id } = ok(await typedCredential(`Not an edit ${tag()}`, "svc", password));
    const opened = await getAssetViewOrThrow(editor, id);
    await new Promise((r) => setTimeout(r, 10));
    expect(await testAssetAction({ assetId: id })).toMatchObject({ ok: true, data: { ok: true } });
    // A failing test records its outcome the same way.
    await (await clientForStore(latch)).deleteSecret!({ name: `assets/${id}` });
    expect(await testAssetAction({ assetId: id })).toMatchObject({ ok: true, data: { ok: false, kind: "not_found" } });
    const after = await getAssetViewOrThrow(editor, id);
    expect(after.updatedAt).toEqual(opened.updatedAt);
    expect(after.lastResolve).toMatchObject({ ok: false });
    expect(after.lastResolve!.at.getTime()).toBeGreaterThan(opened.updatedAt.getTime());

    // The form opened before the tests saves (it sends when it loaded the asset).
    const form = await editInput(id, { description: "edited after two resolve tests", secretValue: secretValue("new") });
    expect(await updateAssetAction({ ...form, expectedUpdatedAt: opened.updatedAt.toISOString() })).toMatchObject({ ok: true });

    // A form opened before someone else saved is refused, and changes nothing.
    const stale = await getAssetViewOrThrow(editor, id);
    await new Promise((r) => setTimeout(r, 10));
    ok(await as(admin, async () => updateAssetAction(await editInput(id, { description: "someone else's change" }))));
    const refused = await updateAssetAction({ ...(await editInput(id)), description: "mine", expectedUpdatedAt: stale.updatedAt.toISOString() });
    expect(refused).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining("Someone else changed this asset") } });
    expect((await getAssetViewOrThrow(editor, id)).description).toBe("someone else's change");
  });
});

describe("typing a value into an external store: Latch overwrites only secrets it created for assets the person may change", () => {
  it("refuses a path that already holds a secret Latch did not create, and leaves it untouched", async () => {
    const original = secretValue("outside-latch");
    const path = `shared/outside-${tag()}`;
    emu.seedSecret({ path, data: { value: original } });
    const before = await assetCount();
    const typed = secretValue("would-overwrite");
    const result = await create({ type: "SECRET", name: `Overwrite ${tag()}`, storeId: vault.id, source: "value", secretName: path, secretValue: typed });
    expect(result).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { secretName: [expect.stringContaining("A secret already exists at")] } } });
    expect(emu.readSecret({ path })).toEqual({ value: original });
    expect(await assetCount()).toBe(before);

    // Referencing it first does not make it Latch's to overwrite either.
    const ref = ok(await create({ type: "SECRET", name: `Ref outside ${tag()}`, storeId: vault.id, secretName: path }));
    expect(await updateAssetAction(await editInput(ref.id, { secretValue: typed }))).toMatchObject({ ok: false, error: { fieldErrors: { secretName: [expect.stringContaining("A secret already exists at")] } } });
    expect(emu.readSecret({ path })).toEqual({ value: original });
    expect(await resolveAs(editor, ref.id)).toMatchObject({ value: original });
  });

  it("refuses a path another folder's asset uses (existing or not yet), unless the person may change that asset too", async () => {
    const other = await makeFolder();
    const otherValue = secretValue("folder-b-relies-on-it");
    const used = `tenant/used-by-b-${tag()}`;
    const pending = `tenant/awaited-by-b-${tag()}`;
    // Folder B's assets: one typed (Latch created the secret), one waiting for a secret to appear.
    const bTyped = ok(await as(admin, () => create({ folderId: other.id, type: "SECRET", name: `B typed ${tag()}`, storeId: vault.id, source: "value", secretName: used, secretValue: otherValue })));
    ok(await as(admin, () => create({ folderId: other.id, type: "SECRET", name: `B awaits ${tag()}`, storeId: vault.id, secretName: pending })));

    for (const path of [used, pending]) {
      const typed = secretValue("from-folder-a");
      const result = await create({ type: "SECRET", name: `A overwrites ${tag()}`, storeId: vault.id, source: "value", secretName: path, secretValue: typed });
      expect(result, path).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { secretName: [expect.stringContaining("is used by another asset you cannot change")] } } });
      // The message does not say where.
      expect(JSON.stringify(result)).not.toContain(other.name);
    }
    expect(emu.readSecret({ path: used })).toEqual({ value: otherValue });
    expect(emu.secretExists({ path: pending })).toBe(false);
    expect(await resolveAs(admin, bTyped.id)).toMatchObject({ value: otherValue });

    // Someone who may change B's assets too may write there.
    const both = await makeUser();
    await grant(folder.id, both, "EDITOR");
    await grant(other.id, both, "EDITOR");
    const fresh = secretValue("by-editor-of-both");
    const mine = ok(await as(both, () => create({ type: "SECRET", name: `Both ${tag()}`, storeId: vault.id, source: "value", secretName: pending, secretValue: fresh })));
    expect(emu.readSecret({ path: pending })).toEqual({ value: fresh });
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id: mine.id } })).toMatchObject({ ownsSecret: true });
  });

  it("refuses a reference to a value another folder's asset typed, unless the person may use that asset", async () => {
    const other = await makeFolder();
    const path = `tenant/typed-in-b-${tag()}`;
    ok(await as(admin, () => create({ folderId: other.id, type: "SECRET", name: `B typed ${tag()}`, storeId: vault.id, source: "value", secretName: path, secretValue: secretValue("typed-into-b") })));
    const refusal = { ok: false, error: { code: "VALIDATION", fieldErrors: { secretName: [expect.stringContaining("holds a value typed into an asset you may not use")] } } };
    const before = await assetCount();
    const refused = await create({ type: "SECRET", name: `A points at B ${tag()}`, storeId: vault.id, secretName: path });
    expect(refused).toMatchObject(refusal);
    expect(JSON.stringify(refused)).not.toContain(other.name);
    expect(await assetCount()).toBe(before);
    // Nor by pointing an existing reference there (names differing only in case are one secret where the store says so; Vault's are not).
    const mine = ok(await create({ type: "SECRET", name: `A elsewhere ${tag()}`, storeId: vault.id, secretName: `tenant/a-own-${tag()}` }));
    expect(await updateAssetAction(await editInput(mine.id, { secretName: path }))).toMatchObject(refusal);
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id: mine.id } })).toMatchObject({ secretName: expect.stringContaining("tenant/a-own-") });

    // Someone who may use B's asset may reference its secret too; a viewer of B may not.
    const [viewerOfB, editorOfB] = [await makeUser(), await makeUser()];
    for (const [person, role] of [[viewerOfB, "VIEWER"], [editorOfB, "EDITOR"]] as const) {
      await grant(folder.id, person, "EDITOR");
      await grant(other.id, person, role);
    }
    expect(await as(viewerOfB, () => create({ type: "SECRET", name: `Viewer of B ${tag()}`, storeId: vault.id, secretName: path }))).toMatchObject(refusal);
    ok(await as(editorOfB, () => create({ type: "SECRET", name: `Editor of B ${tag()}`, storeId: vault.id, secretName: path })));
  });

  it("a secret Latch created for an asset takes new values from it, and from other assets the same person may change", async () => {
    const path = `apps/latch-made-${tag()}`;
    const v1 = secretValue("made-1");
    const first = ok(await create({ type: "SECRET", name: `Maker ${tag()}`, storeId: vault.id, source: "value", secretName: path, secretValue: v1 }));
    const v2 = secretValue("made-2");
    ok(await updateAssetAction(await editInput(first.id, { secretValue: v2 })));
    expect(emu.readSecret({ path })).toEqual({ value: v2 });
    const v3 = secretValue("made-3");
    const second = ok(await create({ type: "SECRET", name: `Second writer ${tag()}`, storeId: vault.id, source: "value", secretName: path, secretValue: v3 }));
    expect(emu.readSecret({ path })).toEqual({ value: v3 });
    expect(await resolveAs(editor, first.id)).toMatchObject({ value: v3, meta: { version: "3" } });
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id: second.id } })).toMatchObject({ ownsSecret: true });
  });

  it("a typed-in Credential's username changes with its password: alone, it asks for the password again", async () => {
    const { id } = ok(await typedCredential(`Renamed user ${tag()}`, "alice_app", secretValue("renamed-1")));
    const refused = await updateAssetAction(await editInput(id, { username: "bob_app" }));
    expect(refused).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { username: [expect.stringContaining("type the password again")] } } });
    // Cleared is changed too: the secret would keep the old one.
    expect(await updateAssetAction(await editInput(id, { username: "" }))).toMatchObject({ ok: false, error: { fieldErrors: { username: [expect.stringContaining("type the password again")] } } });
    expect(await resolveAs(admin, id)).toMatchObject({ username: "alice_app" });
    const password = secretValue("renamed-2");
    ok(await updateAssetAction(await editInput(id, { username: "bob_app", secretValue: password })));
    expect(await resolveAs(admin, id)).toMatchObject({ username: "bob_app", password });
    // Other edits keep working without the password.
    ok(await updateAssetAction(await editInput(id, { description: "Payroll login" })));
  });

  it("a store that fails the check before a write is an error of the whole form, not of the name field: nothing is saved", async () => {
    const path = `apps/store-down-${tag()}`;
    emu.inject({ fault: { type: "status", status: 503, body: { errors: ["Vault is sealed"] } }, pathIncludes: path, times: 10 });
    try {
      const before = await db().credentialAsset.count();
      const refused = await create({ type: "SECRET", name: `Store down ${tag()}`, storeId: vault.id, source: "value", secretName: path, secretValue: secretValue("down") });
      expect(refused).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^UPSTREAM_/), message: expect.stringMatching(/^Could not check “.*” in “.*” before writing, so nothing was saved: .*tell an administrator/) } });
      expect(refused.ok ? null : (refused.error.fieldErrors ?? {})).toEqual({});
      expect(await db().credentialAsset.count()).toBe(before);
    } finally {
      emu.clearFaults();
    }
  });

  it("a value written while the asset is read is the one kept afterwards, also for another asset that shares the secret", async () => {
    const path = `apps/read-during-write-${tag()}`;
    const v1 = secretValue("rdw-1");
    const first = ok(await create({ type: "SECRET", name: `Read during write ${tag()}`, storeId: vault.id, source: "value", secretName: path, secretValue: v1 }));
    expect(await resolveAs(editor, first.id)).toMatchObject({ value: v1 });
    // The store takes its time over the write: a read on this instance meanwhile still gets the old value.
    emu.inject({ fault: { type: "latency", ms: 1500 }, pathIncludes: `/data/${path}`, times: 1 });
    const before = emu.requests.length;
    const v2 = secretValue("rdw-2");
    const saving = updateAssetAction(await editInput(first.id, { secretValue: v2 }));
    await vi.waitFor(() => expect(emu.requests.slice(before).some((r) => r.method !== "GET" && r.path.includes(`/data/${path}`))).toBe(true), { timeout: 10_000 });
    expect(await resolveAs(editor, first.id)).toMatchObject({ value: v1 });
    ok(await saving);
    // Read before the change committed, so not kept once it has.
    expect(await resolveAs(editor, first.id)).toMatchObject({ value: v2 });

    // Another asset created with a value for the same secret: the first one's cached value goes too.
    const v3 = secretValue("rdw-3");
    ok(await create({ type: "SECRET", name: `Writes over ${tag()}`, storeId: vault.id, source: "value", secretName: path, secretValue: v3 }));
    expect(await resolveAs(editor, first.id)).toMatchObject({ value: v3 });
  });

  it("nothing half-written: when the change fails after the store write, a secret it created is removed again", async () => {
    // The change's own audit event (last in its transaction) is refused, so the transaction fails after the write.
    const label = `Fails after write ${tag()}`;
    await db().$executeRaw`
      CREATE OR REPLACE FUNCTION test_fail_after_write() RETURNS trigger AS $$
      BEGIN RAISE EXCEPTION 'injected failure after the store write'; END $$ LANGUAGE plpgsql`;
    await db().$executeRaw`
      CREATE TRIGGER test_fail_after_write BEFORE INSERT ON audit_events FOR EACH ROW
      WHEN (NEW.outcome = 'SUCCESS' AND NEW.target_label LIKE 'Fails after write%') EXECUTE FUNCTION test_fail_after_write()`;
    try {
      const path = `apps/half-written-${tag()}`;
      const inVault = await create({ type: "SECRET", name: `${label} vault`, storeId: vault.id, source: "value", secretName: path, secretValue: secretValue("half-vault") });
      expect(inVault).toMatchObject({ ok: false, error: { code: "UNEXPECTED" } });
      expect(emu.secretExists({ path })).toBe(false);

      const inLatch = await typedCredential(`${label} latch`, "svc", secretValue("half-latch"));
      expect(inLatch).toMatchObject({ ok: false, error: { code: "UNEXPECTED" } });
      expect(await db().credentialAsset.count({ where: { name: { startsWith: label } } })).toBe(0);
      const orphans = await db().latchSecret.findMany({ where: { storeId: latch.id, name: { startsWith: "assets/" } }, select: { name: true } });
      const ids = new Set((await db().credentialAsset.findMany({ select: { id: true } })).map((a) => a.id));
      expect(orphans.filter((o) => !ids.has(o.name.slice("assets/".length)))).toEqual([]);

      const failures = await db().auditEvent.findMany({ where: { action: "asset.create", outcome: "FAILURE", targetLabel: { startsWith: label } } });
      expect(failures).toHaveLength(2);
      // Vault's write was made and then removed; the Latch store's was part of the transaction, so it never landed.
      const byLabel = Object.fromEntries(failures.map((f) => [f.targetLabel, f.details]));
      expect(byLabel[`${label} vault`]).toMatchObject({ failure: "unexpected", valueWritten: true, valueRemoved: true });
      expect(byLabel[`${label} latch`]).toMatchObject({ failure: "unexpected" });
      expect(byLabel[`${label} latch`]).not.toHaveProperty("valueWritten");

      // An edit that moves a typed value from Vault into the Latch store: the new Latch secret goes again.
      const vaultPath = `apps/mover-${tag()}`;
      const mover = ok(await create({ type: "SECRET", name: `Mover ${tag()}`, storeId: vault.id, source: "value", secretName: vaultPath, secretValue: secretValue("mover") }));
      const moved = await updateAssetAction(await editInput(mover.id, { name: `${label} moved`, storeId: latch.id, secretName: "", secretValue: secretValue("moved") }));
      expect(moved).toMatchObject({ ok: false, error: { code: "UNEXPECTED" } });
      expect(await latchVersions(`assets/${mover.id}`)).toEqual([]);
      expect(await db().credentialAsset.findUniqueOrThrow({ where: { id: mover.id } })).toMatchObject({ storeId: vault.id, secretName: vaultPath, ownsSecret: true });
    } finally {
      await db().$executeRaw`DROP TRIGGER IF EXISTS test_fail_after_write ON audit_events`;
      await db().$executeRaw`DROP FUNCTION IF EXISTS test_fail_after_write()`;
    }
  });
});

describe("a write the store may have saved after Latch stopped waiting", () => {
  const eventually = async (check: () => boolean) => {
    for (let i = 0; i < 60 && !check(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(check()).toBe(true);
  };

  it("a new secret: the change fails saying the value may be there, asks the store to delete it, and audits the outcome as unknown", async () => {
    const slow = await makeVaultStore({ timeoutMs: 1000 });
    const path = `apps/unconfirmed-${tag()}`;
    // The existence check answers at once; the write is carried out, but only after Latch gave up.
    emu.inject({ fault: { type: "latency", ms: 1 }, pathIncludes: `/data/${path}`, times: 1 });
    emu.inject({ fault: { type: "latency", ms: 2000 }, pathIncludes: `/data/${path}`, times: 1 });
    const name = `Unconfirmed ${tag()}`;
    const result = await create({ type: "SECRET", name, storeId: slow.id, source: "value", secretName: path, secretValue: secretValue("unconfirmed") });
    expect(result).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    const message = (result as { error: { message: string } }).error.message;
    expect(message).toContain(`Latch could not confirm the value was written to “${slow.name}”: Timed out.`);
    expect(message).toContain(`The store may still save it as “${path}”`);
    expect(await db().credentialAsset.count({ where: { name } })).toBe(0);
    const event = await db().auditEvent.findFirstOrThrow({ where: { action: "asset.create", targetLabel: name } });
    expect(event).toMatchObject({ outcome: "FAILURE", details: expect.objectContaining({ valueWritten: "unknown", removalAsked: true }) });
    expect(emu.count(path, "DELETE")).toBeGreaterThan(0);
  }, 30_000);

  it("an edit: the change fails saying so, and every instance reads the store afresh instead of keeping the old value", async () => {
    const slow = await makeVaultStore({ timeoutMs: 1000 });
    const path = `apps/unconfirmed-edit-${tag()}`;
    const before = secretValue("before");
    const { id } = ok(await create({ type: "SECRET", name: `Unconfirmed edit ${tag()}`, storeId: slow.id, source: "value", secretName: path, secretValue: before }));
    expect(await resolveAs(editor, id)).toMatchObject({ value: before });
    emu.inject({ fault: { type: "latency", ms: 2000 }, pathIncludes: `/data/${path}`, times: 1 });
    const after = secretValue("after");
    const result = await updateAssetAction(await editInput(id, { secretValue: after }));
    expect(result).toMatchObject({ ok: false, error: { code: "VALIDATION", message: expect.stringContaining("The store may have saved it all the same") } });
    await eventually(() => (emu.readSecret({ path }) as { value?: string } | undefined)?.value === after);
    // Without the announcement this instance would serve `before` from its cache for up to an hour.
    expect(await resolveAs(editor, id)).toMatchObject({ value: after });
    const event = await db().auditEvent.findFirstOrThrow({ where: { action: "asset.update", targetId: id }, orderBy: { occurredAt: "desc" } });
    expect(event).toMatchObject({ outcome: "FAILURE", details: expect.objectContaining({ valueWritten: "unknown", removalAsked: false }) });
  }, 30_000);
});

describe("edits reach every instance", () => {
  it("update and delete announce the asset on the refresh channel; another instance's notice drops the value cached here", async () => {
    const listener = new pg.Client({ connectionString: env().DATABASE_URL });
    await listener.connect();
    const heard: { kind: string; id: string }[] = [];
    listener.on("notification", (n) => heard.push(JSON.parse(n.payload!)));
    await listener.query("LISTEN latch_cache_refresh");
    try {
      const { id } = ok(await typedCredential(`Announced ${tag()}`, "svc", secretValue("announced")));
      ok(await updateAssetAction(await editInput(id, { secretValue: secretValue("announced-2") })));
      await vi.waitFor(() => expect(heard).toContainEqual(expect.objectContaining({ kind: "asset", id })));
      heard.length = 0;
      ok(await deleteAssetAction({ assetId: id }));
      await vi.waitFor(() => expect(heard).toContainEqual(expect.objectContaining({ kind: "asset", id })));
    } finally {
      await listener.end();
    }

    // This process as the other instance: a notice from elsewhere drops its cached value.
    const value = secretValue("cached-here");
    const { id } = ok(await typedCredential(`Cached here ${tag()}`, "svc", value));
    expect(await resolveAs(editor, id)).toMatchObject({ meta: { fromCache: false } });
    expect(await resolveAs(editor, id)).toMatchObject({ meta: { fromCache: true } });
    await ensureListening();
    await db().$executeRaw`SELECT pg_notify('latch_cache_refresh', ${JSON.stringify({ kind: "asset", id, assetIds: [], origin: "another-instance" })})`;
    await vi.waitFor(async () => expect((await resolveAs(editor, id)).meta.fromCache).toBe(false));
  });
});

describe("where used", () => {
  it("names only connections the reader may see (linked by id) and counts the rest; the delete refusal does the same", async () => {
    const hidden = await makeFolder(`Hidden ${tag()}`);
    const { id } = ok(await typedCredential(`Shared ${tag()}`, "svc", secretValue("shared")));
    const seen = await connectionUsing(id, folder.id, `Visible sync ${tag()}`);
    const secret = await connectionUsing(id, hidden.id, `Secret project job ${tag()}`);

    const asEditor = await getAssetViewOrThrow(editor, id);
    expect(asEditor.usages).toEqual([{ kind: "connection", id: seen.id, name: seen.name, folder: { id: folder.id, name: folder.name } }]);
    expect(asEditor.hiddenUsages).toBe(1);
    expect(JSON.stringify(asEditor)).not.toContain(secret.name);
    expect(JSON.stringify(asEditor)).not.toContain(hidden.name);
    // An administrator sees both.
    const asAdmin = await getAssetViewOrThrow(admin, id);
    expect(asAdmin.usages.map((u) => u.id).sort()).toEqual([seen.id, secret.id].sort());
    expect(asAdmin.hiddenUsages).toBe(0);

    const refused = await deleteAssetAction({ assetId: id });
    expect(refused).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    const message = (refused as { error: { message: string } }).error.message;
    expect(message).toContain(`${seen.name} (in ${folder.name})`);
    expect(message).toContain("1 connection in a folder you cannot see");
    expect(message).not.toContain(secret.name);
    expect(message).not.toContain(hidden.name);
    expect(await db().credentialAsset.findUnique({ where: { id } })).not.toBeNull();
  });

  it("a connection that starts using the asset while it is being deleted makes the delete a conflict, not an error", async () => {
    const { id } = ok(await create({ type: "TEXT", name: `Raced ${tag()}`, plainValue: "x" }));
    const conn = await db().connection.create({ data: { folderId: folder.id, name: `Racer ${tag()}`, connectorKind: "postgres", status: "CONNECTED", ownerId: admin.id } });
    // Another transaction starts using the asset and has not committed when the delete begins; the delete waits on it.
    const result = await whileAnotherSession("INSERT INTO connection_secrets (connection_id, field, asset_id) VALUES ($1, 'password', $2)", [conn.id, id], () => deleteAssetAction({ assetId: id }));
    expect(result).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringContaining(conn.name) } });
    expect(await db().credentialAsset.findUnique({ where: { id } })).not.toBeNull();
    expect(await db().auditEvent.findFirst({ where: { action: "asset.delete", targetId: id } })).toMatchObject({ outcome: "FAILURE", details: expect.objectContaining({ failure: "conflict" }) });
  });
});

describe("the assets tab lists a folder's assets: search, type filter, pages", () => {
  it("pages through every match exactly once in name order, with the total; q matches name or description; type filters", async () => {
    const tab = await makeFolder();
    await grant(tab.id, viewer, "VIEWER");
    const names: string[] = [];
    for (let i = 0; i < 23; i++) {
      const type = i % 3 === 0 ? "INTEGER" : "TEXT";
      const name = `Item ${String(i).padStart(2, "0")}`;
      names.push(name);
      ok(await as(admin, () => create({ folderId: tab.id, type, name, description: i % 5 === 0 ? "nightly batch" : "", plainValue: String(i) })));
    }
    const list = (q: Partial<{ q: string; type: "TEXT" | "INTEGER"; page: number; pageSize: number }>) => listAssets(viewer, tab.id, assetListQuerySchema.parse(q));

    const pages = await Promise.all([1, 2, 3].map((page) => list({ page, pageSize: 10 })));
    expect(pages.map((p) => p.rows.length)).toEqual([10, 10, 3]);
    expect(pages.every((p) => p.total === 23)).toBe(true);
    expect(pages.flatMap((p) => p.rows.map((r) => r.name))).toEqual(names);
    expect(await list({ page: 4, pageSize: 10 })).toMatchObject({ rows: [], total: 23 });

    // Case-insensitive, in the name or the description.
    expect((await list({ q: "item 1" })).rows.map((r) => r.name)).toEqual(names.filter((n) => n.startsWith("Item 1")));
    expect((await list({ q: "NIGHTLY" })).rows.map((r) => r.name)).toEqual(["Item 00", "Item 05", "Item 10", "Item 15", "Item 20"]);
    const integers = await list({ type: "INTEGER" });
    expect(integers.total).toBe(8);
    expect(integers.rows.every((r) => r.type === "INTEGER")).toBe(true);
    // All three together: integers whose description matches, second page of two.
    const combined = await list({ q: "nightly", type: "INTEGER", page: 2, pageSize: 1 });
    expect(combined).toMatchObject({ total: 2, rows: [{ name: "Item 15" }] });
  });
});

describe("nothing this file typed or seeded is kept in the clear", () => {
  it("no asset row and no audit event holds any of the values", async () => {
    expect(VALUES.length).toBeGreaterThan(0);
    const assets = JSON.stringify(await db().$queryRaw`SELECT * FROM credential_assets`);
    const audit = JSON.stringify(await db().$queryRaw`SELECT * FROM audit_events`);
    const sealed = await db().latchSecret.findMany({ select: { ciphertext: true } });
    for (const value of VALUES) {
      expect(assets).not.toContain(value);
      expect(audit).not.toContain(value);
      for (const s of sealed) expect(Buffer.from(s.ciphertext).includes(Buffer.from(value))).toBe(false);
    }
  });
});

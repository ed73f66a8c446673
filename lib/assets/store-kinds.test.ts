import { randomUUID } from "node:crypto";
import type { Folder } from "@prisma/client";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { ActionResult } from "@/lib/actions/action";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { resolve } from "@/lib/secrets/resolver";
import { createStoreAction } from "@/lib/stores/actions";
import { seedDemoAws, startAwsEmulator, type AwsEmulator } from "@/test/emulators/aws";
import { seedDemoAzure, startAzureEmulator, type AzureEmulator } from "@/test/emulators/azure";
import { seedDemoCyberark, startCyberarkEmulator, type CyberarkEmulator } from "@/test/emulators/cyberark";
import { createTestPki, type TestPki } from "@/test/emulators/tls";
import { grant, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { createAssetAction, testAssetAction, updateAssetAction } from "./actions";
import { getAssetViewOrThrow } from "./queries";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * Assets on every external store kind besides Vault (lib/assets/assets.test.ts): Azure Key Vault,
 * AWS Secrets Manager and CyberArk CCP, each through its emulator over TLS, from the asset action to
 * the value, the Resolve test's metadata, and the store's precise failures. The value never comes back
 * from the Resolve test.
 */

type CreateInput = Parameters<typeof createAssetAction>[0];

let admin: Actor, editor: Actor;
let folder: Folder;
let pki: TestPki;
const tag = () => randomUUID().slice(0, 8);

function ok<T>(result: ActionResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.data;
}

const create = (input: Omit<CreateInput, "folderId">) => createAssetAction({ folderId: folder.id, ...input });
const resolveAs = (actor: Actor, assetId: string) => resolve({ assetId }, { actor, purpose: "test" });

async function makeStore(kind: "azure" | "aws" | "cyberark", config: Record<string, unknown>, secrets: Record<string, string>, mode: "READ_ONLY" | "READ_WRITE") {
  signInAs(admin);
  try {
    return ok(await createStoreAction({ name: `${kind} ${tag()}`, kind, mode, folderId: null, config, secrets, caBundle: pki.caCert, timeoutMs: 5000 }));
  } finally {
    signInAs(editor);
  }
}

/** The Resolve test result, with a check that no value of `values` is anywhere in it. */
async function resolveTest(assetId: string, values: string[]) {
  const result = await testAssetAction({ assetId });
  const text = JSON.stringify(result);
  for (const v of values) expect(text).not.toContain(v);
  return ok(result);
}

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  editor = await makeUser();
  folder = await makeFolder();
  await grant(folder.id, editor, "EDITOR");
  pki = createTestPki();
});

beforeEach(() => signInAs(editor));

describe("Azure Key Vault (one value per secret)", () => {
  let emu: AzureEmulator;
  let storeId: string;

  beforeAll(async () => {
    emu = await startAzureEmulator({ pki });
    const demo = seedDemoAzure(emu);
    storeId = (await makeStore("azure", demo.storeConfig, demo.storeSecrets, "READ_WRITE")).id;
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("a Credential keeps the username on the asset; the password is the secret's value, latest or a pinned version", async () => {
    const name = `payroll-${tag()}`;
    const first = emu.seedSecret({ name, value: `pw-one-${randomUUID()}` });
    const second = emu.rotateSecret(name, `pw-two-${randomUUID()}`);
    const latest = ok(await create({ type: "CREDENTIAL", name: `AKV cred ${tag()}`, storeId, secretName: name, username: "payroll_app" }));
    // The single-value store ignores keys: nothing is stored for them.
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id: latest.id } })).toMatchObject({ secretName: name, secretVersion: null, usernameKey: null, valueKey: null, username: "payroll_app" });
    expect(await resolveAs(editor, latest.id)).toMatchObject({ type: "CREDENTIAL", username: "payroll_app", password: second.value, meta: { version: second.version, keys: ["value"] } });

    const pinned = ok(await create({ type: "CREDENTIAL", name: `AKV pinned ${tag()}`, storeId, secretName: name, secretVersion: first.version, username: "payroll_app" }));
    expect(await resolveAs(editor, pinned.id)).toMatchObject({ password: first.value, meta: { version: first.version } });

    const tested = await resolveTest(latest.id, [first.value, second.value]);
    expect(tested).toEqual({ ok: true, version: second.version, updatedAt: expect.any(Date), keys: ["value"], username: "payroll_app", usernameKey: null, durationMs: expect.any(Number) });

    // Keys sent anyway (an edit moving the asset here from a store with keys, whose key fields the form hid): not kept.
    const moved = ok(await create({ type: "CREDENTIAL", name: `AKV moved ${tag()}`, storeId, secretName: name, username: "payroll_app", usernameKey: "username", valueKey: "password" }));
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id: moved.id } })).toMatchObject({ usernameKey: null, valueKey: null, username: "payroll_app" });
    expect(await resolveAs(editor, moved.id)).toMatchObject({ username: "payroll_app", password: second.value });

    // No username: the error is by the Username field, the only one the form shows for this store,
    // also when a hidden username key came along (it would have left a Credential with no username).
    for (const keys of [{}, { usernameKey: "username" }]) {
      expect(await create({ type: "CREDENTIAL", name: `AKV no user ${tag()}`, storeId, secretName: name, ...keys })).toMatchObject({
        ok: false,
        error: { code: "VALIDATION", fieldErrors: { username: [expect.stringContaining("Enter the username")] } },
      });
    }
  });

  it("a Secret typed in is written as a new Key Vault secret and read back", async () => {
    const name = `typed-${tag()}`;
    const value = `typed-akv-${randomUUID()}`;
    const { id } = ok(await create({ type: "SECRET", name: `AKV typed ${tag()}`, storeId, source: "value", secretName: name, secretValue: value }));
    expect(emu.versions(name).map((v) => v.value)).toEqual([value]);
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id } })).toMatchObject({ ownsSecret: true, secretName: name });
    expect(await resolveAs(editor, id)).toMatchObject({ type: "SECRET", value });
  });

  it("refuses names and versions Key Vault cannot have, next to the field", async () => {
    expect(await create({ type: "SECRET", name: `AKV bad ${tag()}`, storeId, secretName: "prod/db_password" })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { secretName: [expect.stringContaining("letters, digits and hyphens")] } },
    });
    expect(await create({ type: "SECRET", name: `AKV bad version ${tag()}`, storeId, secretName: "ok-name", secretVersion: "v-2" })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { secretVersion: [expect.stringContaining("version ID")] } },
    });
  });

  it("the Resolve test names the failure: an unknown version, a deleted secret", async () => {
    const name = `doomed-${tag()}`;
    const value = `doomed-${randomUUID()}`;
    emu.seedSecret({ name, value });
    const wrongVersion = ok(await create({ type: "SECRET", name: `AKV wrong version ${tag()}`, storeId, secretName: name, secretVersion: "0123456789abcdef0123456789abcdef" }));
    expect(await resolveTest(wrongVersion.id, [value])).toMatchObject({ ok: false, kind: "not_found", title: "Secret not found" });
    const { id } = ok(await create({ type: "SECRET", name: `AKV doomed ${tag()}`, storeId, secretName: name }));
    expect(await resolveTest(id, [value])).toMatchObject({ ok: true });
    emu.deleteSecret(name);
    const failed = await resolveTest(id, [value]);
    // Soft-deleted: still recoverable, and the message says so.
    expect(failed).toMatchObject({ ok: false, kind: "deleted", message: expect.stringContaining("can be recovered") });
    expect((await getAssetViewOrThrow(editor, id)).lastResolve).toMatchObject({ ok: false });
  });
});

describe("AWS Secrets Manager (JSON key/value secrets, staging labels and version ids)", () => {
  let emu: AwsEmulator;
  let storeId: string;

  beforeAll(async () => {
    emu = await startAwsEmulator({ pki });
    const demo = seedDemoAws(emu, pki);
    storeId = (await makeStore("aws", demo.storeConfig, demo.storeSecrets, "READ_WRITE")).id;
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("a Credential reads its username and password keys; the Resolve test shows the keys, the version id and which key holds the username, no value", async () => {
    const name = `prod/payroll-${tag()}`;
    const password = `aws-pw-${randomUUID()}`;
    const { versionId } = emu.seedSecret({ name, value: { username: "payroll_app", password, host: "db.internal", port: 5432 } });
    const { id } = ok(await create({ type: "CREDENTIAL", name: `AWS cred ${tag()}`, storeId, secretName: name, usernameKey: "username", valueKey: "password" }));
    expect(await resolveAs(editor, id)).toMatchObject({ type: "CREDENTIAL", username: "payroll_app", password, meta: { version: versionId, keys: ["host", "password", "port", "username"] } });
    expect(await resolveTest(id, [password, "payroll_app"])).toEqual({
      ok: true,
      version: versionId,
      updatedAt: expect.any(Date),
      keys: ["host", "password", "port", "username"],
      username: null,
      usernameKey: "username",
      durationMs: expect.any(Number),
    });
  });

  it("an asset in use is not pointed at a reference that does not resolve: its connections would all fail", async () => {
    const name = `prod/in-use-${tag()}`;
    emu.seedSecret({ name, value: { username: "svc", password: `aws-pw-${randomUUID()}` } });
    const asset = ok(await create({ type: "CREDENTIAL", name: `AWS in use ${tag()}`, storeId, secretName: name, usernameKey: "username", valueKey: "password" }));
    const edit = (secretName: string, keys: { usernameKey: string; valueKey: string } = { usernameKey: "username", valueKey: "password" }) =>
      updateAssetAction({ assetId: asset.id, name: asset.name, description: "", storeId, secretName, ...keys });
    // Not in use yet: any reference is the editor's business.
    expect(await edit(`prod/typo-${tag()}`)).toMatchObject({ ok: true });
    expect(await edit(name)).toMatchObject({ ok: true });
    const connection = await db().connection.create({ data: { folderId: folder.id, name: `Payroll ${tag()}`, connectorKind: "postgres", status: "CONNECTED", ownerId: editor.id } });
    await db().connectionSecret.create({ data: { connectionId: connection.id, field: "password", assetId: asset.id } });
    // In use: a missing secret, or one without the keys named, is refused, naming who would break.
    const missing = await edit(`prod/typo-${tag()}`);
    expect(missing).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { secretName: [expect.stringContaining(`This asset is used by ${connection.name}`)] } } });
    const otherName = `prod/other-${tag()}`;
    emu.seedSecret({ name: otherName, value: { user: "svc", pass: "x" } });
    expect(await edit(otherName)).toMatchObject({ ok: false, error: { message: expect.stringContaining("The secret has no key “username” or “password”") } });
    // The password key cleared, on a secret with several keys, none called "value" nor "password" (AWS's usual key): resolving could not choose.
    expect(await edit(otherName, { usernameKey: "user", valueKey: "" })).toMatchObject({ ok: false, error: { message: expect.stringContaining("several keys (pass, user) and none is named for the value") } });
    expect((await db().credentialAsset.findUniqueOrThrow({ where: { id: asset.id } })).secretName).toBe(name);
    // With a "password" key there, cleared is fine: that is where the value is read from.
    expect(await edit(name, { usernameKey: "username", valueKey: "" })).toMatchObject({ ok: true });
    // A reference that resolves is saved.
    expect(await edit(otherName, { usernameKey: "user", valueKey: "pass" })).toMatchObject({ ok: true });
    await db().connection.delete({ where: { id: connection.id } });
  });

  it("a username key pointed at the password (or any other value) shows nothing of it; the same key for both is refused", async () => {
    const name = `prod/shared-${tag()}`;
    const password = `aws-pw-${randomUUID()}`;
    const apiKey = `aws-key-${randomUUID()}`;
    emu.seedSecret({ name, value: { username: "svc", password, api_key: apiKey } });
    // Any key of the secret as "username": the Resolve test names the key, never what it holds.
    const other = ok(await create({ type: "CREDENTIAL", name: `AWS other ${tag()}`, storeId, secretName: name, usernameKey: "api_key", valueKey: "password" }));
    expect(await resolveTest(other.id, [password, apiKey])).toMatchObject({ ok: true, username: null, usernameKey: "api_key" });
    // The password's own key as the username: refused when saved, and by resolve() for an asset stored so before.
    const same = await create({ type: "CREDENTIAL", name: `AWS same ${tag()}`, storeId, secretName: name, usernameKey: "password", valueKey: "password" });
    expect(same).toMatchObject({ ok: false, error: { fieldErrors: { usernameKey: ["The username and the password need different keys."] } } });
    await db().credentialAsset.update({ where: { id: other.id }, data: { usernameKey: "password" } });
    expect(await resolveTest(other.id, [password, apiKey])).toMatchObject({ ok: false, kind: "config", message: expect.stringContaining("reads its username and its password from the same key “password”") });
  });

  it("a version is pinned by an explicit staging label (upper or lower case) or version id", async () => {
    const name = `prod/api-${tag()}`;
    const v1 = `aws-v1-${randomUUID()}`;
    const v2 = `aws-v2-${randomUUID()}`;
    const v3 = `aws-v3-${randomUUID()}`;
    const first = emu.seedSecret({ name, value: v1 });
    emu.rotateSecret(name, v2);
    // A third version carrying only a custom, lower-case label (not current).
    const pending = emu.seedSecret({ name, value: v3, stages: ["pending-rotation"] });
    const make = (label: string, secretVersion: string, versionKind: "latest" | "stage" | "id") =>
      create({ type: "SECRET", name: `AWS ${label} ${tag()}`, storeId, secretName: name, secretVersion, versionKind });

    const current = ok(await make("current", "", "latest"));
    const previous = ok(await make("previous", "AWSPREVIOUS", "stage"));
    const custom = ok(await make("custom", "pending-rotation", "stage"));
    const byId = ok(await make("by id", first.versionId, "id"));
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id: custom.id } })).toMatchObject({ secretVersion: "stage:pending-rotation" });
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id: byId.id } })).toMatchObject({ secretVersion: `id:${first.versionId}` });

    expect(await resolveAs(editor, current.id)).toMatchObject({ value: v2 });
    expect(await resolveAs(editor, previous.id)).toMatchObject({ value: v1, meta: { version: first.versionId } });
    expect(await resolveAs(editor, custom.id)).toMatchObject({ value: v3, meta: { version: pending.versionId } });
    expect(await resolveAs(editor, byId.id)).toMatchObject({ value: v1, meta: { version: first.versionId } });
    expect(await resolveTest(custom.id, [v1, v2, v3])).toMatchObject({ ok: true, version: pending.versionId, keys: ["value"], username: null });

    // Without saying which kind of version it is, the version is refused (no guessing by case).
    expect(await create({ type: "SECRET", name: `AWS unsaid ${tag()}`, storeId, secretName: name, secretVersion: "AWSPREVIOUS" })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { versionKind: [expect.any(String)] } },
    });
    // The longest label AWS allows is stored whole; a longer one is refused by its field.
    const longest = "L".repeat(256);
    const long = ok(await make("longest label", longest, "stage"));
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id: long.id } })).toMatchObject({ secretVersion: `stage:${longest}` });
    expect(await make("too long", `${longest}L`, "stage")).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { secretVersion: [expect.any(String)] } } });
  });

  it("the Resolve test names the failure: an unknown version id, a secret scheduled for deletion", async () => {
    const name = `prod/doomed-${tag()}`;
    const value = `aws-doomed-${randomUUID()}`;
    emu.seedSecret({ name, value });
    const unknown = ok(await create({ type: "SECRET", name: `AWS unknown version ${tag()}`, storeId, secretName: name, secretVersion: randomUUID(), versionKind: "id" }));
    expect(await resolveTest(unknown.id, [value])).toMatchObject({ ok: false, kind: "not_found", title: "Secret not found" });
    const { id } = ok(await create({ type: "SECRET", name: `AWS doomed ${tag()}`, storeId, secretName: name }));
    expect(await resolveTest(id, [value])).toMatchObject({ ok: true });
    emu.deleteSecret(name);
    expect(await resolveTest(id, [value])).toMatchObject({ ok: false, kind: "deleted", message: expect.stringContaining(name) });
  });
});

describe("CyberArk Central Credential Provider (read-only, no versions)", () => {
  let emu: CyberarkEmulator;
  let storeId: string;

  beforeAll(async () => {
    emu = await startCyberarkEmulator({ pki });
    const demo = seedDemoCyberark(emu);
    storeId = (await makeStore("cyberark", demo.storeConfig, demo.storeSecrets, "READ_ONLY")).id;
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("a Credential reads the account's username and password; the Resolve test lists the account's properties", async () => {
    const object = `db-${tag()}`;
    const password = `ccp-${randomUUID()}`;
    emu.seedAccount({ safe: "Finance", object, userName: "svc_reports", address: "db.finance.internal", database: "reports", password });
    const { id } = ok(await create({ type: "CREDENTIAL", name: `CCP cred ${tag()}`, storeId, secretName: object, usernameKey: "username", valueKey: "password" }));
    expect(await resolveAs(editor, id)).toMatchObject({ type: "CREDENTIAL", username: "svc_reports", password });
    const tested = await resolveTest(id, [password]);
    expect(tested).toMatchObject({ ok: true, username: null, usernameKey: "username", keys: expect.arrayContaining(["address", "database", "password", "username"]) });

    // After a rotation in CyberArk the next Resolve test reads the new password (still not shown).
    const rotated = emu.rotateAccount({ safe: "Finance", object });
    expect(await resolveTest(id, [password, rotated])).toMatchObject({ ok: true });
    expect(await resolveAs(editor, id)).toMatchObject({ password: rotated });
  });

  it("a Secret with no key named reads the account's password, beside its other properties", async () => {
    const object = `secret-${tag()}`;
    const password = `ccp-secret-${randomUUID()}`;
    emu.seedAccount({ safe: "Finance", object, userName: "svc_etl", address: "etl.internal", password });
    const { id } = ok(await create({ type: "SECRET", name: `CCP secret ${tag()}`, storeId, secretName: object }));
    expect(await resolveAs(editor, id)).toMatchObject({ type: "SECRET", value: password });
    expect(await resolveTest(id, [password])).toMatchObject({ ok: true, keys: expect.arrayContaining(["address", "password", "username"]) });
  });

  it("has no versions and takes no typed values: both are refused next to their field", async () => {
    expect(await create({ type: "CREDENTIAL", name: `CCP versioned ${tag()}`, storeId, secretName: "payroll-db", secretVersion: "2", usernameKey: "username", valueKey: "password" })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { secretVersion: [expect.stringContaining("no versions")] } },
    });
    expect(await create({ type: "SECRET", name: `CCP typed ${tag()}`, storeId, source: "value", secretName: "payroll-db", secretValue: "typed-into-ccp" })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { secretValue: [expect.stringContaining("read-only")] } },
    });
  });

  it("the Resolve test names the failure: an account deleted in CyberArk", async () => {
    const object = `gone-${tag()}`;
    const password = `ccp-gone-${randomUUID()}`;
    emu.seedAccount({ safe: "Finance", object, userName: "gone", password });
    const { id } = ok(await create({ type: "SECRET", name: `CCP gone ${tag()}`, storeId, secretName: object, valueKey: "password" }));
    expect(await resolveTest(id, [password])).toMatchObject({ ok: true, keys: expect.arrayContaining(["password"]) });
    emu.deleteAccount({ safe: "Finance", object });
    expect(await resolveTest(id, [password])).toMatchObject({ ok: false, kind: "not_found", title: "Secret not found", message: expect.stringContaining(object) });
  });
});

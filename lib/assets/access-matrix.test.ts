import { randomUUID } from "node:crypto";
import type { CredentialStore, Folder } from "@prisma/client";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { forgetRecordedRefusalsForTests } from "@/lib/audit/throttle";
import type { ActionResult } from "@/lib/actions/action";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { resolve } from "@/lib/secrets/resolver";
import { createStoreAction } from "@/lib/stores/actions";
import { everythingSaidBy, grant, latchStore, makeFolder, makeUser, rowCounts, signInAs } from "@/test/fixtures";
import { createAssetAction, deleteAssetAction, refreshAssetAction, testAssetAction, updateAssetAction } from "./actions";
import { getAssetViewOrThrow, listAssets, listStoreOptions } from "./queries";
import { assetListQuerySchema } from "./schemas";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * For every asset action: a person without the right on the asset's folder gets "not found" and
 * nothing changes, whether the id is foreign, malformed or absent. Folders keep their assets apart.
 */

const MALFORMED = "not-a-uuid";
const ABSENT = "00000000-0000-4000-8000-000000000000";
const PASSWORD_B = `folder-b-password-${randomUUID()}`;
const ALL_ASSETS = assetListQuerySchema.parse({});

let admin: Actor, editorA: Actor, viewerB: Actor, editorB: Actor;
let folderA: Folder, folderB: Folder;
let latch: CredentialStore;
/** Folder B's credential, typed into the Latch store (so Latch owns the secret `assets/<id>`). */
let assetB: string;
let assetA: string;

function ok<T>(result: ActionResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.data;
}

/**
 * rowCounts plus what asset actions can touch: assets, the Latch store's sealed values, stores. The
 * audit trail is checked apart (auditSince): a refused call is recorded there, and only that.
 */
async function counts() {
  const [{ audit: _audit, ...base }, assets, latchSecrets, stores] = await Promise.all([rowCounts(), db().credentialAsset.count(), db().latchSecret.count(), db().credentialStore.count()]);
  return { ...base, assets, latchSecrets, stores };
}

/** The database's clock now, to the millisecond as audit rows are stamped (lib/audit/record.ts): an event in this same millisecond still counts as after it. */
async function mark(): Promise<Date> {
  return (await db().$queryRaw<{ now: Date }[]>`SELECT date_trunc('milliseconds', clock_timestamp()) AS now`)[0]!.now;
}

/** Audit events written since `since`: refusals only (never a success), and never the value. */
async function refusalsSince(since: Date) {
  const events = await db().auditEvent.findMany({ where: { occurredAt: { gte: since } }, orderBy: { occurredAt: "asc" } });
  expect(events.filter((e) => e.outcome === "SUCCESS")).toEqual([]);
  expect(JSON.stringify(events)).not.toContain(PASSWORD_B);
  return events;
}

/** Rows in a comparable order: two refusals can be stored in the same millisecond, in either order. */
const sorted = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort();

/** Folder B's asset as stored, to show a refused call left it exactly as it was. */
const assetBRow = () => db().credentialAsset.findUniqueOrThrow({ where: { id: assetB } });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  editorA = await makeUser();
  viewerB = await makeUser();
  editorB = await makeUser();
  folderA = await makeFolder();
  folderB = await makeFolder();
  await grant(folderA.id, editorA, "EDITOR");
  await grant(folderB.id, viewerB, "VIEWER");
  await grant(folderB.id, editorB, "EDITOR");
  latch = await latchStore();
  signInAs(editorB);
  assetB = ok(await createAssetAction({ folderId: folderB.id, type: "CREDENTIAL", name: "Payroll DB", storeId: latch.id, source: "value", username: "payroll_app", secretValue: PASSWORD_B })).id;
  signInAs(editorA);
  assetA = ok(await createAssetAction({ folderId: folderA.id, type: "TEXT", name: "Region", plainValue: "eu-west-1" })).id;
});

// Each test counts the refusals it causes; what an earlier test recorded is not "this minute's" here.
beforeEach(() => forgetRecordedRefusalsForTests());

type Case = [name: string, call: (id: string) => Promise<ActionResult<unknown>>];

/** Each call tries to change or read something; a typed value would reach the store if checks came late. */
const assetCases: Case[] = [
  [
    "updateAsset",
    (assetId) =>
      updateAssetAction({
        assetId,
        name: "Hijacked",
        storeId: latch.id,
        secretName: `assets/${assetB}`,
        usernameKey: "username",
        valueKey: "password",
        username: "intruder",
        secretValue: "overwritten-password",
      }),
  ],
  ["updateAsset (keep value)", (assetId) => updateAssetAction({ assetId, name: "Hijacked", description: "x", storeId: latch.id, secretName: `assets/${assetB}`, usernameKey: "username", valueKey: "password" })],
  ["deleteAsset", (assetId) => deleteAssetAction({ assetId })],
  ["testAsset", (assetId) => testAssetAction({ assetId })],
];

describe("asset actions answer not found without changing anything", () => {
  for (const [name, call] of assetCases) {
    it(`${name}: another folder's Editor, the folder's Viewer, malformed and absent ids`, async () => {
      const before = await counts();
      const since = await mark();
      const rowBefore = await assetBRow();
      const messages = new Set<string>();
      for (const [who, actor, id] of [
        ["editor of A", editorA, assetB],
        ["viewer of B", viewerB, assetB],
        ["admin", admin, MALFORMED],
        ["admin", admin, ABSENT],
      ] as const) {
        signInAs(actor);
        const result = await call(id);
        expect(result, `${name} as ${who} on ${id}`).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
        if (!result.ok) messages.add(result.error.message);
        expect(JSON.stringify(result)).not.toContain(PASSWORD_B);
      }
      // Forbidden and absent read the same: nothing tells an outsider the asset exists.
      expect([...messages]).toEqual(["Credential asset was not found."]);
      expect(await counts()).toEqual(before);
      expect(await assetBRow()).toEqual(rowBefore);
      // Each attempt is in the audit trail: on B's asset as DENIED (seen by B's admins), else as a
      // failure; ids that do not exist once a minute per caller, however many are tried.
      const events = await refusalsSince(since);
      const action = { updateAsset: "asset.update", "updateAsset (keep value)": "asset.update", deleteAsset: "asset.delete", testAsset: "asset.resolve" }[name]!;
      expect(sorted(events.map((e) => [e.action, e.actorId, e.outcome, e.targetId, e.folderId]))).toEqual(
        sorted([
          [action, editorA.id, "DENIED", assetB, folderB.id],
          [action, viewerB.id, "DENIED", assetB, folderB.id],
          [action, admin.id, "FAILURE", MALFORMED, null],
        ]),
      );
      // The same refusals again within the minute add nothing.
      for (const [actor, id] of [[editorA, assetB], [admin, ABSENT]] as const) {
        signInAs(actor);
        await call(id);
      }
      expect(await refusalsSince(since)).toHaveLength(3);
      for (const e of events) expect(e.details).toMatchObject({ failure: expect.stringMatching(/not_found|access_denied|asset_not_found/), durationMs: expect.any(Number) });
    });
  }

  it("createAsset: in another person's folder, a Viewer's folder, a malformed or an absent folder", async () => {
    const before = await counts();
    const since = await mark();
    const messages = new Set<string>();
    for (const [who, actor, folderId] of [
      ["editor of A", editorA, folderB.id],
      ["viewer of B", viewerB, folderB.id],
      ["admin", admin, MALFORMED],
      ["admin", admin, ABSENT],
    ] as const) {
      signInAs(actor);
      for (const input of [
        { folderId, type: "CREDENTIAL" as const, name: "Sneaky", storeId: latch.id, source: "value" as const, username: "u", secretValue: "typed-password" },
        { folderId, type: "TEXT" as const, name: "Sneaky text", plainValue: "x" },
      ]) {
        const result = await createAssetAction(input);
        expect(result, `${input.type} as ${who} in ${folderId}`).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
        if (!result.ok) messages.add(result.error.message);
      }
    }
    expect([...messages]).toEqual(["Folder was not found."]);
    expect(await counts()).toEqual(before);
    // Once a minute per caller and folder (the first attempt's), and once for folders that do not exist.
    const events = await refusalsSince(since);
    expect(sorted(events.map((e) => [e.action, e.actorId, e.outcome, e.folderId, e.targetLabel]))).toEqual(
      sorted([
        ["asset.create", editorA.id, "DENIED", folderB.id, "Sneaky"],
        ["asset.create", viewerB.id, "DENIED", folderB.id, "Sneaky"],
        ["asset.create", admin.id, "FAILURE", null, "Sneaky"],
      ]),
    );
    // Nothing typed into a refused form reaches the trail.
    expect(JSON.stringify(events)).not.toContain("typed-password");
  });

  it("refreshAsset: another folder's Editor, the folder's Viewer, malformed and absent ids; the cached value stays", async () => {
    // B's value is cached; a refresh that got through would drop it (and be audited as asset.refresh).
    await expect(resolve({ assetId: assetB }, { actor: editorB, purpose: "test" })).resolves.toMatchObject({ password: PASSWORD_B });
    const before = await counts();
    const since = await mark();
    for (const [who, actor, id] of [
      ["editor of A", editorA, assetB],
      ["viewer of B", viewerB, assetB],
      ["admin", admin, MALFORMED],
      ["admin", admin, ABSENT],
    ] as const) {
      signInAs(actor);
      const result = await refreshAssetAction({ assetId: id });
      expect(result, `refresh as ${who} on ${id}`).toEqual({ ok: false, error: { code: "NOT_FOUND", message: "Credential asset was not found.", reference: expect.any(String) } });
    }
    expect(await counts()).toEqual(before);
    // Nothing was refreshed; the two refused uses of B (which exists) are in B's folder's trail as DENIED.
    const refreshes = await db().auditEvent.findMany({ where: { action: "asset.refresh", occurredAt: { gte: since } }, orderBy: { occurredAt: "asc" } });
    expect(sorted(refreshes.map((e) => [e.outcome, e.actorId, e.targetId, e.folderId, (e.details as { failure?: string }).failure]))).toEqual(
      sorted([
        ["DENIED", editorA.id, assetB, folderB.id, "access_denied"],
        ["DENIED", viewerB.id, assetB, folderB.id, "access_denied"],
      ]),
    );
    await expect(resolve({ assetId: assetB }, { actor: editorB, purpose: "test" })).resolves.toMatchObject({ meta: { fromCache: true } });
    // Control: B's Editor may refresh, and the next resolve reads the store again.
    signInAs(editorB);
    expect(await refreshAssetAction({ assetId: assetB })).toEqual({ ok: true, data: { refreshed: true, assetId: assetB } });
    await expect(resolve({ assetId: assetB }, { actor: editorB, purpose: "test" })).resolves.toMatchObject({ meta: { fromCache: false } });
  });

  it("without a session every asset action answers UNAUTHENTICATED and changes nothing", async () => {
    const before = await counts();
    signInAs(null);
    for (const result of [
      await createAssetAction({ folderId: folderA.id, type: "TEXT", name: "Anon", plainValue: "x" }),
      await updateAssetAction({ assetId: assetA, name: "Anon", plainValue: "y" }),
      await deleteAssetAction({ assetId: assetA }),
      await testAssetAction({ assetId: assetB }),
      await refreshAssetAction({ assetId: assetB }),
    ]) {
      expect(result).toMatchObject({ ok: false, error: { code: "UNAUTHENTICATED" } });
    }
    expect(await counts()).toEqual(before);
  });
});

describe("folders keep their assets apart", () => {
  it("an Editor of folder A cannot read, list, test, update, delete or resolve folder B's assets", async () => {
    // Control: the same person can do all of it in their own folder.
    expect(await getAssetViewOrThrow(editorA, assetA)).toMatchObject({ id: assetA, permissions: { write: true, use: true } });
    expect((await listAssets(editorA, folderA.id, ALL_ASSETS)).rows.map((r) => r.id)).toEqual([assetA]);

    const before = await counts();
    const since = await mark();
    for (const attempt of [
      () => getAssetViewOrThrow(editorA, assetB),
      () => listAssets(editorA, folderB.id, ALL_ASSETS),
      () => listStoreOptions(editorA, folderB.id),
      () => resolve({ assetId: assetB }, { actor: editorA, purpose: "test" }),
      () => resolve({ assetId: assetB }, { actor: editorA, purpose: "test", fresh: true }),
    ]) {
      const error = await rejection(attempt());
      expect(error).toMatchObject({ code: "NOT_FOUND" });
      expect(everythingSaidBy(error)).not.toContain(PASSWORD_B);
    }
    signInAs(editorA);
    expect(await testAssetAction({ assetId: assetB })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await updateAssetAction({ assetId: assetB, name: "Mine now", storeId: latch.id, secretName: `assets/${assetB}`, usernameKey: "username", valueKey: "password" })).toMatchObject({
      ok: false,
      error: { code: "NOT_FOUND" },
    });
    expect(await deleteAssetAction({ assetId: assetB })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await counts()).toEqual(before);
    // Reads are not audited; each kind of resolve and change attempt is, as DENIED in B's trail (the
    // three resolves, the Resolve test among them, once: once a minute per caller, action and asset).
    const events = await refusalsSince(since);
    expect(events.map((e) => [e.action, e.outcome, e.actorId, e.folderId])).toEqual(
      ["asset.resolve", "asset.update", "asset.delete"].map((action) => [action, "DENIED", editorA.id, folderB.id]),
    );
  });

  it("a Viewer of folder B reads metadata (never the value) but cannot test, resolve, update or delete", async () => {
    const view = await getAssetViewOrThrow(viewerB, assetB);
    expect(view).toMatchObject({ id: assetB, name: "Payroll DB", type: "CREDENTIAL", username: "payroll_app", permissions: { write: false, use: false } });
    expect(JSON.stringify(view)).not.toContain(PASSWORD_B);
    const list = await listAssets(viewerB, folderB.id, ALL_ASSETS);
    expect(list).toMatchObject({ total: 1, rows: [{ id: assetB }], permissions: { write: false, use: false } });
    expect(JSON.stringify(list)).not.toContain(PASSWORD_B);
    await expect(listStoreOptions(viewerB, folderB.id)).rejects.toMatchObject({ code: "NOT_FOUND" });

    // The value is in the cache (its Editor just used it); the Viewer still cannot have it.
    await expect(resolve({ assetId: assetB }, { actor: editorB, purpose: "test" })).resolves.toMatchObject({ password: PASSWORD_B });
    const before = await counts();
    const since = await mark();
    const rowBefore = await assetBRow();
    await expect(resolve({ assetId: assetB }, { actor: viewerB, purpose: "test" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    signInAs(viewerB);
    for (const result of [
      await testAssetAction({ assetId: assetB }),
      await updateAssetAction({ assetId: assetB, name: "Renamed", storeId: latch.id, secretName: `assets/${assetB}`, usernameKey: "username", valueKey: "password" }),
      await deleteAssetAction({ assetId: assetB }),
    ]) {
      expect(result).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    }
    expect(await counts()).toEqual(before);
    expect(await assetBRow()).toEqual(rowBefore);
    expect((await refusalsSince(since)).map((e) => [e.action, e.outcome, e.actorId])).toEqual(
      ["asset.resolve", "asset.update", "asset.delete"].map((action) => [action, "DENIED", viewerB.id]),
    );
  });

  it("an Editor of folder A cannot point an asset of A at the value Latch keeps for folder B's asset", async () => {
    // A Viewer of B sees B's asset ids; the Latch store names typed values after them (assets/<id>).
    const both = await makeUser();
    await grant(folderA.id, both, "EDITOR");
    await grant(folderB.id, both, "VIEWER");
    signInAs(both);
    const before = await counts();
    const since = await mark();
    const created = await createAssetAction({ folderId: folderA.id, type: "SECRET", name: "Borrowed", storeId: latch.id, source: "reference", secretName: `assets/${assetB}`, valueKey: "password" });
    expect(created).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { secretName: [expect.any(String)] } } });
    expect(await counts()).toEqual(before);
    expect((await refusalsSince(since)).map((e) => [e.action, e.outcome, e.folderId, e.details])).toEqual([
      ["asset.create", "FAILURE", folderA.id, expect.objectContaining({ failure: "validation", fields: ["secretName"], storeId: latch.id, reference: `assets/${assetB}` })],
    ]);

    // Nor by editing an asset it already has.
    const ownValue = `own-${randomUUID()}`;
    const own = ok(await createAssetAction({ folderId: folderA.id, type: "SECRET", name: "Own value", storeId: latch.id, source: "value", secretValue: ownValue }));
    const edited = await updateAssetAction({ assetId: own.id, name: "Own value", storeId: latch.id, secretName: `assets/${assetB}`, valueKey: "password" });
    expect(edited).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { secretName: [expect.any(String)] } } });
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id: own.id } })).toMatchObject({ secretName: `assets/${own.id}`, ownsSecret: true });
    await expect(resolve({ assetId: own.id }, { actor: both, purpose: "test" })).resolves.toMatchObject({ type: "SECRET", value: ownValue });

    // Its own value is still reachable under its own name when the asset is edited without a new value.
    ok(await updateAssetAction({ assetId: own.id, name: "Own value renamed", storeId: latch.id, secretName: `assets/${own.id}` }));
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id: own.id } })).toMatchObject({ secretName: `assets/${own.id}`, ownsSecret: true });
    await expect(resolve({ assetId: own.id }, { actor: both, purpose: "test" })).resolves.toMatchObject({ value: ownValue });
  });

  it("an Editor of folder A cannot use a store owned by folder B, on create or on edit", async () => {
    signInAs(admin);
    const storeB = ok(
      await createStoreAction({ name: `B's vault ${randomUUID().slice(0, 8)}`, kind: "hashicorp", folderId: folderB.id, config: { address: "https://vault.b.example.test:8200" }, secrets: { token: "t" } }),
    );
    expect((await listStoreOptions(editorA, folderA.id)).map((s) => s.id)).not.toContain(storeB.id);
    expect((await listStoreOptions(editorB, folderB.id)).map((s) => s.id)).toContain(storeB.id);

    signInAs(editorA);
    const before = await counts();
    const since = await mark();
    expect(await createAssetAction({ folderId: folderA.id, type: "SECRET", name: "Uses B's store", storeId: storeB.id, secretName: "b/secret" })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { storeId: ["Choose a credential store this folder may use."] } },
    });
    const own = ok(await createAssetAction({ folderId: folderA.id, type: "SECRET", name: "Latch secret of A", storeId: latch.id, source: "value", secretValue: `a-${randomUUID()}` }));
    expect(await updateAssetAction({ assetId: own.id, name: "Latch secret of A", storeId: storeB.id, secretName: "b/secret" })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { storeId: ["Choose a credential store this folder may use."] } },
    });
    expect(await db().credentialAsset.findUniqueOrThrow({ where: { id: own.id } })).toMatchObject({ storeId: latch.id });
    expect(await counts()).toEqual({ ...before, assets: before.assets + 1, latchSecrets: before.latchSecrets + 1 });
    const events = await db().auditEvent.findMany({ where: { occurredAt: { gte: since } }, orderBy: { occurredAt: "asc" } });
    expect(sorted(events.map((e) => [e.action, e.outcome, (e.details as { fields?: string[] }).fields ?? null]))).toEqual(
      sorted([
        ["asset.create", "FAILURE", ["storeId"]],
        ["asset.create", "SUCCESS", null],
        ["asset.update", "FAILURE", ["storeId"]],
      ]),
    );
  });

  it("the resolver itself refuses another asset's typed value, even for a row written behind the form's back", async () => {
    const sneaky = await db().credentialAsset.create({
      data: { folderId: folderA.id, name: `Direct row ${randomUUID().slice(0, 8)}`, type: "CREDENTIAL", storeId: latch.id, secretName: `assets/${assetB}`, usernameKey: "username", valueKey: "password" },
    });
    const error = await rejection(resolve({ assetId: sneaky.id }, { actor: editorA, purpose: "test" }));
    expect(error).toMatchObject({ kind: "permission" });
    expect(everythingSaidBy(error)).not.toContain(PASSWORD_B);
  });
});

import { beforeEach, describe, expect, it, vi } from "vitest";
import { createAssetAction } from "@/lib/assets/actions";
import { listAssets } from "@/lib/assets/queries";
import { db } from "@/lib/db";
import { createFolderAction, renameFolderAction } from "@/lib/folders/actions";
import { makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { nameTaken } from "./names";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * Names are unique per scope without regard to case, as the unique indexes say (lower(name)). Their
 * characters are only characters: `_`, `%` and `\` are not LIKE patterns, in the checks or in search.
 */
describe("names with LIKE's special characters", () => {
  beforeEach(async () => signInAs(await makeUser({ isAdmin: true })));

  it("a folder “a_c” or “a%” is not taken by “abc”, and “ABC” is", async () => {
    const parent = await makeFolder();
    expect((await createFolderAction({ name: "abc", parentId: parent.id })).ok).toBe(true);
    expect(await createFolderAction({ name: "a_c", parentId: parent.id })).toMatchObject({ ok: true });
    expect(await createFolderAction({ name: "a%", parentId: parent.id })).toMatchObject({ ok: true });
    expect(await createFolderAction({ name: "%", parentId: parent.id })).toMatchObject({ ok: true });
    expect(await createFolderAction({ name: "ABC", parentId: parent.id })).toMatchObject({ ok: false, error: { code: "CONFLICT", message: "A folder named “ABC” already exists in this folder." } });
    const q1 = await db().folder.findFirstOrThrow({ where: { parentId: parent.id, name: "a%" } });
    expect(await renameFolderAction({ folderId: q1.id, name: "A_C" })).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
  });

  it("an asset name ending in a backslash is compared as text: the second one is a 409, not a 500", async () => {
    const folder = await makeFolder();
    expect(await createAssetAction({ folderId: folder.id, type: "TEXT", name: "abc\\", plainValue: "x" })).toMatchObject({ ok: true });
    expect(await createAssetAction({ folderId: folder.id, type: "TEXT", name: "ABC\\", plainValue: "y" })).toMatchObject({
      ok: false,
      error: { code: "CONFLICT", message: "An asset named “ABC\\” already exists in this folder." },
    });
    expect(await createAssetAction({ folderId: folder.id, type: "TEXT", name: "abc", plainValue: "z" })).toMatchObject({ ok: true });
  });

  it("every table's check compares lower(name) within its scope, and skips the row being renamed", async () => {
    const owner = await makeUser();
    const [f1, f2] = [await makeFolder(), await makeFolder()];
    const child = await makeFolder("x_y", f1.id);
    const asset = await db().credentialAsset.create({ data: { folderId: f1.id, name: "x_y", type: "TEXT", plainValue: "v" } });
    await db().connection.create({ data: { folderId: f1.id, name: "x_y", connectorKind: "http", status: "FAILED", ownerId: owner.id } });
    const tag = f1.id.slice(0, 8);
    await db().credentialStore.create({ data: { name: `st_${tag}`, kind: "hashicorp", mode: "READ_ONLY", config: {} } });
    await db().serviceAccount.create({ data: { name: `sa_${tag}`, createdById: owner.id } });

    expect(await nameTaken(db(), "folders", "X_Y", { scope: f1.id })).toBe(true);
    expect(await nameTaken(db(), "folders", "xay", { scope: f1.id })).toBe(false);
    expect(await nameTaken(db(), "folders", "x_y", { scope: f2.id })).toBe(false);
    expect(await nameTaken(db(), "folders", "x_y", { scope: f1.id, exceptId: child.id })).toBe(false);
    expect(await nameTaken(db(), "credential_assets", "X_Y", { scope: f1.id })).toBe(true);
    expect(await nameTaken(db(), "credential_assets", "x%", { scope: f1.id })).toBe(false);
    expect(await nameTaken(db(), "credential_assets", "x_y", { scope: f1.id, exceptId: asset.id })).toBe(false);
    expect(await nameTaken(db(), "connections", "X_y", { scope: f1.id })).toBe(true);
    expect(await nameTaken(db(), "connections", "x_y", { scope: f2.id })).toBe(false);
    expect(await nameTaken(db(), "credential_stores", `ST_${tag}`)).toBe(true);
    expect(await nameTaken(db(), "credential_stores", `stX${tag}`)).toBe(false);
    expect(await nameTaken(db(), "service_accounts", `SA_${tag}`)).toBe(true);
    expect(await nameTaken(db(), "service_accounts", `sa%`)).toBe(false);
  });

  it("search finds “a_c” and “%” as typed, not as patterns", async () => {
    const admin = await makeUser({ isAdmin: true });
    const folder = await makeFolder();
    for (const name of ["abc", "a_c", "100% done", "back\\slash"]) await db().credentialAsset.create({ data: { folderId: folder.id, name, type: "TEXT", plainValue: "v" } });
    const search = async (q: string) => (await listAssets(admin, folder.id, { q, page: 1, pageSize: 50 } as never)).rows.map((r) => r.name).sort();
    expect(await search("a_c")).toEqual(["a_c"]);
    expect(await search("%")).toEqual(["100% done"]);
    expect(await search("k\\s")).toEqual(["back\\slash"]);
    expect(await search("A")).toEqual(["a_c", "abc", "back\\slash"]);
  });
});

import { beforeEach, describe, expect, it, vi } from "vitest";
import { grant, latchStore, makeFolder, makeUser, rowCounts, signInAs } from "@/test/fixtures";
import { createAssetAction } from "@/lib/assets/actions";
import { DELETED_MEANWHILE_MESSAGE } from "@/lib/db/errors";
import { db } from "@/lib/db";
import {
  createFolderAction,
  deleteFolderAction,
  moveFolderAction,
  removeFolderMemberAction,
  renameFolderAction,
  setFolderMemberAction,
} from "./actions";
import { stillContainsMessage } from "./contents";
import { FOLDER_MAX_DEPTH } from "./schemas";
import { listMembers, listVisibleFolders } from "./queries";
import * as folderRoute from "@/app/api/v1/folders/[folderId]/route";
import * as membersRoute from "@/app/api/v1/folders/[folderId]/members/route";
import { request, routeContext } from "@/test/tokens";
import { whileAnotherSession } from "@/test/races";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

describe("folders", () => {
  beforeEach(() => signInAs(null));

  it("creates nested folders and writes one audit event per change, in the same transaction", async () => {
    const admin = await makeUser({ isAdmin: true });
    signInAs(admin);
    const root = await createFolderAction({ name: "Finance", parentId: null });
    expect(root.ok).toBe(true);
    if (!root.ok) return;
    const child = await createFolderAction({ name: "Payroll", parentId: root.data.id });
    expect(child.ok && child.data.parentId).toBe(root.data.id);
    const events = await db().auditEvent.findMany({ where: { actorId: admin.id, action: "folder.create" } });
    expect(events.map((e) => e.targetLabel).sort()).toEqual(["Finance", "Payroll"]);
    expect(events.every((e) => e.requestId === "test-request-id" && e.outcome === "SUCCESS")).toBe(true);
  });

  it("someone who is not a tenant administrator is told the top level is for administrators (404, naming no folder), creating or moving", async () => {
    const editor = await makeUser();
    const folder = await makeFolder("Team");
    await grant(folder.id, editor, "FOLDER_ADMIN");
    const child = await makeFolder("Team child", folder.id);
    signInAs(editor);
    const refused = { ok: false, error: { code: "NOT_FOUND", message: "Only a tenant administrator can put a folder at the top level: give a parent folder you manage (parentId)." } };
    expect(await createFolderAction({ name: "Mine", parentId: null })).toMatchObject(refused);
    expect(await moveFolderAction({ folderId: child.id, parentId: null })).toMatchObject(refused);
    // Under a folder they manage, both work.
    expect(await createFolderAction({ name: "Mine", parentId: folder.id })).toMatchObject({ ok: true });
  });

  it("roles are inherited by subfolders, and the highest role wins", async () => {
    const [admin, viewer] = [await makeUser({ isAdmin: true }), await makeUser()];
    const top = await makeFolder();
    const mid = await makeFolder("Mid", top.id);
    const leaf = await makeFolder("Leaf", mid.id);
    await grant(top.id, viewer, "VIEWER");
    await grant(mid.id, viewer, "FOLDER_ADMIN");
    const visible = new Map((await listVisibleFolders(viewer)).map((f) => [f.id, f.role]));
    expect(visible.get(top.id)).toBe("VIEWER");
    expect(visible.get(leaf.id)).toBe("FOLDER_ADMIN");
    signInAs(viewer);
    expect((await renameFolderAction({ folderId: top.id, name: "Nope" })).ok).toBe(false);
    expect((await renameFolderAction({ folderId: leaf.id, name: "Leaf renamed" })).ok).toBe(true);
    const members = await listMembers(admin, leaf.id, { q: "", page: 1, pageSize: 20 });
    expect(members.rows.find((m) => m.userId === viewer.id)).toMatchObject({ role: "FOLDER_ADMIN", inheritedFrom: { id: mid.id }, directRole: null });
  });

  it("a parent the person cannot see is not named by id: null in the list, the folder, a rename and a delete", async () => {
    const person = await makeUser();
    const hidden = await makeFolder();
    const [mine, other] = [await makeFolder("Mine", hidden.id), await makeFolder("Other", hidden.id)];
    const inner = await makeFolder("Inner", mine.id);
    await grant(mine.id, person, "FOLDER_ADMIN");
    await grant(other.id, person, "FOLDER_ADMIN");
    const visible = new Map((await listVisibleFolders(person)).map((f) => [f.id, f.parentId]));
    expect(visible).toEqual(new Map([[mine.id, null], [other.id, null], [inner.id, mine.id]]));

    signInAs(person);
    const get = async (id: string) => (await (await folderRoute.GET(request("GET", `/api/v1/folders/${id}`), routeContext({ folderId: id }))).json()) as { folder: { parentId: string | null } };
    expect((await get(mine.id)).folder.parentId).toBeNull();
    expect((await get(inner.id)).folder.parentId).toBe(mine.id);
    const renamed = await folderRoute.PATCH(request("PATCH", `/api/v1/folders/${mine.id}`, { body: { name: "Mine renamed" } }), routeContext({ folderId: mine.id }));
    expect(await renamed.json()).toEqual({ folder: { id: mine.id, name: "Mine renamed", parentId: null } });
    expect(await renameFolderAction({ folderId: mine.id, name: "Mine again" })).toEqual({ ok: true, data: { id: mine.id, name: "Mine again" } });
    expect(await deleteFolderAction({ folderId: other.id })).toEqual({ ok: true, data: { id: other.id } });
    // Nothing they received holds the hidden folder's id.
    expect(JSON.stringify([[...visible], await get(mine.id), await get(inner.id)])).not.toContain(hidden.id);
  });

  it("a role given here stays visible and removable beside a higher inherited one", async () => {
    const [admin, alice] = [await makeUser({ isAdmin: true }), await makeUser()];
    const parent = await makeFolder();
    const sub = await makeFolder("Sub", parent.id);
    await grant(parent.id, alice, "EDITOR");
    await grant(sub.id, alice, "VIEWER");
    const row = (await listMembers(admin, sub.id, { q: "", page: 1, pageSize: 20 })).rows.find((m) => m.userId === alice.id);
    expect(row).toMatchObject({ role: "EDITOR", inheritedFrom: { id: parent.id }, directRole: "VIEWER" });
    signInAs(admin);
    expect(await removeFolderMemberAction({ folderId: sub.id, userId: alice.id })).toMatchObject({ ok: true });
    expect((await listMembers(admin, sub.id, { q: "", page: 1, pageSize: 20 })).rows.find((m) => m.userId === alice.id)).toMatchObject({ role: "EDITOR", directRole: null });
  });

  it("refuses bad names, duplicate sibling names (any case) and moves into a descendant, with clear messages", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const a = await makeFolder();
    const b = await makeFolder("Child", a.id);
    const c = await makeFolder("Grandchild", b.id);
    const before = await rowCounts();

    const empty = await createFolderAction({ name: "   ", parentId: a.id });
    expect(empty).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { name: ["Enter a folder name."] } } });
    const long = await createFolderAction({ name: "x".repeat(101), parentId: a.id });
    expect(long).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { name: ["Folder names can be at most 100 characters."] } } });
    const dup = await createFolderAction({ name: "child", parentId: a.id });
    expect(dup).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    expect(!dup.ok && dup.error.message).toContain("already exists in this folder");
    const cycle = await moveFolderAction({ folderId: a.id, parentId: c.id });
    expect(cycle).toMatchObject({ ok: false, error: { code: "VALIDATION", message: "A folder cannot be moved into itself or one of its subfolders." } });
    const self = await moveFolderAction({ folderId: b.id, parentId: b.id });
    expect(self.ok).toBe(false);
    const wrongType = await createFolderAction({ name: 42 as unknown as string, parentId: null });
    expect(wrongType).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    // An empty or malformed parent is an unknown folder, not the top level and not a 500.
    for (const parentId of ["", "not-a-uuid"]) {
      expect(await createFolderAction({ name: "Orphan", parentId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      expect(await moveFolderAction({ folderId: b.id, parentId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    }

    expect(await rowCounts()).toEqual(before);
  });

  it("delete refuses while the folder holds subfolders and says what it holds", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const parent = await makeFolder("Parent with kids");
    await makeFolder("Kid 1", parent.id);
    await makeFolder("Kid 2", parent.id);
    const result = await deleteFolderAction({ folderId: parent.id });
    expect(result).toMatchObject({ ok: false, error: { code: "CONFLICT", message: "“Parent with kids” still contains 2 subfolders. Move or delete them first." } });
    expect(await db().folder.findUnique({ where: { id: parent.id } })).not.toBeNull();
  });

  it("delete refuses while the folder holds a connection: a 409 that says so, not a foreign-key failure", async () => {
    const admin = await makeUser({ isAdmin: true });
    signInAs(admin);
    const folder = await makeFolder("Holds a connection");
    await db().connection.create({ data: { folderId: folder.id, name: "Payroll DB", connectorKind: "postgres", config: {}, status: "FAILED", ownerId: admin.id } });
    expect(await deleteFolderAction({ folderId: folder.id })).toMatchObject({
      ok: false,
      error: { code: "CONFLICT", message: "“Holds a connection” still contains 1 connection. Delete it first." },
    });
    const res = await folderRoute.DELETE(request("DELETE", `/api/v1/folders/${folder.id}`), routeContext({ folderId: folder.id }));
    expect(res.status).toBe(409);
    expect(await db().folder.findUnique({ where: { id: folder.id } })).not.toBeNull();
  });

  it("a refused delete says what to do with each kind of content: subfolders and stores move, assets and connections only go", () => {
    const held = (subfolders: number, assets: number, connections: number, stores: number) =>
      [
        { count: subfolders, one: "subfolder", many: "subfolders", movable: true },
        { count: assets, one: "credential asset", many: "credential assets", movable: false },
        { count: connections, one: "connection", many: "connections", movable: false },
        { count: stores, one: "credential store", many: "credential stores", movable: true },
      ].filter((c) => c.count > 0);
    expect(stillContainsMessage("F", held(0, 3, 0, 0))).toBe("“F” still contains 3 credential assets. Delete them first.");
    expect(stillContainsMessage("F", held(0, 0, 0, 1))).toBe("“F” still contains 1 credential store. Move or delete it first.");
    expect(stillContainsMessage("F", held(2, 1, 0, 0))).toBe("“F” still contains 2 subfolders, 1 credential asset. Move or delete the subfolders, and delete the credential asset first.");
    expect(stillContainsMessage("F", held(1, 2, 1, 1))).toBe(
      "“F” still contains 1 subfolder, 2 credential assets, 1 connection, 1 credential store. Move or delete the subfolder and credential store, and delete the credential assets and connection first.",
    );
    expect(stillContainsMessage("F", held(0, 1, 4, 0))).toBe("“F” still contains 1 credential asset, 4 connections. Delete the credential asset and connections first.");
  });

  it("delete meets a connection added after it counted the contents: a 409, not a foreign-key 500", async () => {
    const admin = await makeUser({ isAdmin: true });
    signInAs(admin);
    const folder = await makeFolder("Filled meanwhile");
    // Another session adds a connection and has not committed yet: the delete's count cannot see it,
    // and the delete then waits for that session (whose writes hold rows it needs) to finish.
    const added = `INSERT INTO connections (id, folder_id, name, connector_kind, config, status, owner_id, updated_at)
      VALUES (gen_random_uuid(), $1::uuid, 'Added meanwhile', 'postgres', '{}', 'FAILED', $2::uuid, now())`;
    expect(await whileAnotherSession(added, [folder.id, admin.id], () => deleteFolderAction({ folderId: folder.id }))).toMatchObject({
      ok: false,
      error: { code: "CONFLICT", message: expect.stringContaining("added to this folder while it was being deleted") },
    });
    expect(await db().folder.findUnique({ where: { id: folder.id } })).not.toBeNull();
  });

  it("a change that loses a race with its folder's delete answers 409 and leaves nothing behind, not a foreign-key 500", async () => {
    const admin = await makeUser({ isAdmin: true });
    const member = await makeUser();
    signInAs(admin);
    const store = await latchStore();
    // Another session deletes the folder and has not committed: the change passes its checks, then waits on the row.
    const racingDelete = <T,>(folderId: string, change: () => Promise<T>) => whileAnotherSession("DELETE FROM folders WHERE id = $1::uuid", [folderId], change);

    // A server action: an asset whose typed value goes to the Latch store before its row is inserted.
    const assets = await makeFolder("Deleted under an asset");
    const secretsBefore = await db().latchSecret.count();
    const created = await racingDelete(assets.id, () =>
      createAssetAction({ folderId: assets.id, type: "CREDENTIAL", name: "Payroll DB", storeId: store.id, source: "value", username: "payroll_app", secretValue: "never-kept-1" }),
    );
    expect(created).toMatchObject({ ok: false, error: { code: "CONFLICT", message: DELETED_MEANWHILE_MESSAGE } });
    expect(await db().credentialAsset.count({ where: { name: "Payroll DB", folderId: assets.id } })).toBe(0);
    // No value reached the store (it is written after the row), and the failure is in the trail as a conflict.
    expect(await db().latchSecret.count()).toBe(secretsBefore);
    const failure = await db().auditEvent.findFirst({ where: { action: "asset.create", folderId: assets.id }, orderBy: { occurredAt: "desc" } });
    expect(failure).toMatchObject({ outcome: "FAILURE", details: expect.objectContaining({ failure: "conflict" }) });
    expect(failure?.details).not.toHaveProperty("valueWritten");

    // A route: adding a member to a folder that goes meanwhile.
    const members = await makeFolder("Deleted under a member");
    const res = await racingDelete(members.id, () =>
      membersRoute.PUT(request("PUT", `/api/v1/folders/${members.id}/members`, { body: { email: member.email, role: "VIEWER" } }), routeContext({ folderId: members.id })),
    );
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: "CONFLICT", message: DELETED_MEANWHILE_MESSAGE } });
    expect(await db().folderMember.count({ where: { folderId: members.id } })).toBe(0);
  });

  it("PATCH /folders/{id}: a move with a rename lands whole or not at all, and the name is checked where the folder ends up", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const [from, to] = [await makeFolder(), await makeFolder()];
    const moving = await makeFolder("Moving", from.id);
    await makeFolder("Taken", to.id);
    await makeFolder("Moving", to.id);
    const patch = (body: unknown) => folderRoute.PATCH(request("PATCH", `/api/v1/folders/${moving.id}`, { body }), routeContext({ folderId: moving.id }));
    const audited = () => db().auditEvent.count({ where: { targetId: moving.id, action: { in: ["folder.move", "folder.rename"] } } });

    // The new name is taken in the new parent: refused, and not moved either.
    const clash = await patch({ parentId: to.id, name: "Taken" });
    expect(clash.status).toBe(409);
    expect(await clash.json()).toMatchObject({ error: { code: "CONFLICT", fieldErrors: { name: [expect.stringContaining("“Taken” already exists")] } } });
    expect(await db().folder.findUniqueOrThrow({ where: { id: moving.id } })).toMatchObject({ parentId: from.id, name: "Moving" });
    expect(await audited()).toBe(0);

    // Its old name is taken there, its new one is free: both changes land.
    const moved = await patch({ parentId: to.id, name: "Fresh" });
    expect(moved.status).toBe(200);
    expect(await moved.json()).toEqual({ folder: { id: moving.id, name: "Fresh", parentId: to.id } });
    expect(await db().folder.findUniqueOrThrow({ where: { id: moving.id } })).toMatchObject({ parentId: to.id, name: "Fresh" });
    expect(await audited()).toBe(2);
  });

  it("an id in upper case is the same id: no move into a subfolder, no move recorded to where the folder already is", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const top = await makeFolder();
    const a = await makeFolder("A", top.id);
    const b = await makeFolder("B", a.id);
    expect(await moveFolderAction({ folderId: a.id, parentId: b.id.toUpperCase() })).toMatchObject({ ok: false, error: { code: "VALIDATION", message: "A folder cannot be moved into itself or one of its subfolders." } });
    const patched = await folderRoute.PATCH(request("PATCH", `/api/v1/folders/${a.id.toUpperCase()}`, { body: { parentId: a.id.toUpperCase() } }), routeContext({ folderId: a.id.toUpperCase() }));
    expect(patched.status).toBe(422);
    expect(await db().folder.findUniqueOrThrow({ where: { id: a.id } })).toMatchObject({ parentId: top.id });
    expect(await moveFolderAction({ folderId: a.id, parentId: top.id.toUpperCase() })).toMatchObject({ ok: true, data: { parentId: top.id } });
    expect(await db().auditEvent.count({ where: { targetId: a.id, action: "folder.move" } })).toBe(0);
  });

  it("a Folder Admin of a subfolder alone cannot take it out from under its parent, away from the parent's people", async () => {
    const [subAdmin, parentAdmin] = [await makeUser(), await makeUser()];
    const parent = await makeFolder();
    const sub = await makeFolder("Sub", parent.id);
    const elsewhere = await makeFolder();
    await grant(sub.id, subAdmin, "FOLDER_ADMIN");
    await grant(elsewhere.id, subAdmin, "FOLDER_ADMIN");
    await grant(parent.id, parentAdmin, "FOLDER_ADMIN");
    await grant(elsewhere.id, parentAdmin, "FOLDER_ADMIN");
    signInAs(subAdmin);
    expect(await moveFolderAction({ folderId: sub.id, parentId: elsewhere.id })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", fieldErrors: { parentId: ["You do not manage a folder it would leave."] } },
    });
    expect((await db().folder.findUniqueOrThrow({ where: { id: sub.id } })).parentId).toBe(parent.id);
    // Renaming stays theirs, and so does a move that keeps it under its parent (into a sibling they manage).
    expect(await renameFolderAction({ folderId: sub.id, name: "Sub renamed" })).toMatchObject({ ok: true });
    const sibling = await makeFolder("Sibling", parent.id);
    await grant(sibling.id, subAdmin, "FOLDER_ADMIN");
    expect(await moveFolderAction({ folderId: sub.id, parentId: sibling.id })).toMatchObject({ ok: true, data: { parentId: sibling.id } });
    // Nor in two steps: from the sibling they manage, out of the parent they do not.
    expect(await moveFolderAction({ folderId: sub.id, parentId: elsewhere.id })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect((await db().folder.findUniqueOrThrow({ where: { id: sub.id } })).parentId).toBe(sibling.id);
    // Someone who manages both places may take it out.
    signInAs(parentAdmin);
    expect(await moveFolderAction({ folderId: sub.id, parentId: elsewhere.id })).toMatchObject({ ok: true, data: { parentId: elsewhere.id } });
  });

  it("folders nest at most FOLDER_MAX_DEPTH levels, by creating or by moving", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const chain = [await makeFolder()];
    for (let level = 2; level <= FOLDER_MAX_DEPTH; level++) chain.push(await makeFolder(`Level ${level}`, chain.at(-1)!.id));
    const deepest = chain.at(-1)!;
    const tooDeep = `Folders can be nested at most ${FOLDER_MAX_DEPTH} levels deep.`;
    expect(await createFolderAction({ name: "One too many", parentId: deepest.id })).toMatchObject({ ok: false, error: { code: "VALIDATION", message: tooDeep } });
    const pair = await makeFolder();
    await makeFolder("Below", pair.id);
    expect(await moveFolderAction({ folderId: pair.id, parentId: deepest.id })).toMatchObject({ ok: false, error: { code: "VALIDATION", message: tooDeep } });
    // Two levels fit under level 8, not under level 9.
    expect(await moveFolderAction({ folderId: pair.id, parentId: chain[FOLDER_MAX_DEPTH - 2]!.id })).toMatchObject({ ok: false, error: { message: tooDeep } });
    expect(await moveFolderAction({ folderId: pair.id, parentId: chain[FOLDER_MAX_DEPTH - 3]!.id })).toMatchObject({ ok: true });
  });

  it("moves a folder with its subtree and records the move", async () => {
    const admin = await makeUser({ isAdmin: true });
    signInAs(admin);
    const src = await makeFolder();
    const dst = await makeFolder();
    const moving = await makeFolder("Moving", src.id);
    await makeFolder("Below", moving.id);
    expect((await moveFolderAction({ folderId: moving.id, parentId: dst.id })).ok).toBe(true);
    expect((await db().folder.findUnique({ where: { id: moving.id } }))?.parentId).toBe(dst.id);
    expect(await db().auditEvent.count({ where: { action: "folder.move", targetId: moving.id } })).toBe(1);
  });

  it("adds, changes and removes members; only active users can be added", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const folder = await makeFolder();
    const person = await makeUser();
    const gone = await makeUser({ active: false });
    expect((await setFolderMemberAction({ folderId: folder.id, email: person.email.toUpperCase(), role: "VIEWER" })).ok).toBe(true);
    expect((await setFolderMemberAction({ folderId: folder.id, email: person.email, role: "EDITOR" })).ok).toBe(true);
    expect(await db().folderMember.findUnique({ where: { folderId_userId: { folderId: folder.id, userId: person.id } } })).toMatchObject({ role: "EDITOR" });
    const inactive = await setFolderMemberAction({ folderId: folder.id, email: gone.email, role: "VIEWER" });
    expect(inactive).toMatchObject({ ok: false, error: { fieldErrors: { email: ["There is no active user with that e-mail address. People are added, and deactivated ones restored, under Users by an administrator."] } } });
    expect((await removeFolderMemberAction({ folderId: folder.id, userId: person.id })).ok).toBe(true);
    const actions = (await db().auditEvent.findMany({ where: { folderId: folder.id }, orderBy: { occurredAt: "asc" } })).map((e) => e.action);
    expect(actions).toEqual(["folder.member.add", "folder.member.update", "folder.member.remove"]);
  });

  it("a role change from the member list does not add back someone removed meanwhile", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const folder = await makeFolder();
    const person = await makeUser();
    expect((await setFolderMemberAction({ folderId: folder.id, email: person.email, role: "EDITOR", mode: "add" })).ok).toBe(true);
    expect((await setFolderMemberAction({ folderId: folder.id, email: person.email, role: "VIEWER", mode: "update" })).ok).toBe(true);
    // Another administrator removes them; a list loaded before still offers to change their role.
    expect((await removeFolderMemberAction({ folderId: folder.id, userId: person.id })).ok).toBe(true);
    const stale = await setFolderMemberAction({ folderId: folder.id, email: person.email, role: "FOLDER_ADMIN", mode: "update" });
    expect(stale).toMatchObject({ ok: false, error: { code: "CONFLICT", fieldErrors: { email: [expect.stringContaining("is no longer a member of this folder")] } } });
    expect(await db().folderMember.findUnique({ where: { folderId_userId: { folderId: folder.id, userId: person.id } } })).toBeNull();

    // A Folder Admin learns no one's name this way: the refusal names the e-mail address they sent.
    const folderAdmin = await makeUser();
    await grant(folder.id, folderAdmin, "FOLDER_ADMIN");
    signInAs(folderAdmin);
    const probe = await setFolderMemberAction({ folderId: folder.id, email: person.email, role: "VIEWER", mode: "update" });
    expect(probe).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringMatching(new RegExp(`^${person.email.replace(/[.+]/g, "\\$&")} is no longer a member`)) } });
    expect(JSON.stringify(probe)).not.toContain(person.name);
  });

  it("Add member refuses someone who already has a role here instead of replacing it", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const parent = await makeFolder();
    const folder = await makeFolder("Child", parent.id);
    const person = await makeUser();
    expect((await setFolderMemberAction({ folderId: folder.id, email: person.email, role: "FOLDER_ADMIN", mode: "add" })).ok).toBe(true);
    const again = await setFolderMemberAction({ folderId: folder.id, email: person.email, role: "VIEWER", mode: "add" });
    expect(again).toMatchObject({ ok: false, error: { code: "CONFLICT", fieldErrors: { email: [expect.stringContaining("already a member of this folder, as Folder Admin")] } } });
    expect(await db().folderMember.findUnique({ where: { folderId_userId: { folderId: folder.id, userId: person.id } } })).toMatchObject({ role: "FOLDER_ADMIN" });
    // A role inherited from the parent is no role here: adding gives one.
    const inheriting = await makeUser();
    expect((await setFolderMemberAction({ folderId: parent.id, email: inheriting.email, role: "VIEWER", mode: "add" })).ok).toBe(true);
    expect((await setFolderMemberAction({ folderId: folder.id, email: inheriting.email, role: "EDITOR", mode: "add" })).ok).toBe(true);
    expect(await db().auditEvent.count({ where: { folderId: folder.id, action: "folder.member.update" } })).toBe(0);

    // Two people adding the same person at once: one is added, the other is told; nothing is replaced.
    const contested = await makeUser();
    const results = await Promise.all(
      (["VIEWER", "FOLDER_ADMIN"] as const).map((role) => setFolderMemberAction({ folderId: folder.id, email: contested.email, role, mode: "add" })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    const winner = results.findIndex((r) => r.ok) === 0 ? "VIEWER" : "FOLDER_ADMIN";
    expect(await db().folderMember.findUnique({ where: { folderId_userId: { folderId: folder.id, userId: contested.id } } })).toMatchObject({ role: winner });
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { db } from "@/lib/db";
import { grant, makeFolder, makeUser } from "@/test/fixtures";
import {
  assertCanOnFolder,
  assertTenant,
  can,
  canTenant,
  getFolderAccess,
  listFolderIdsWith,
  listFolderPermissions,
  listFolderRoles,
  type Actor,
  type FolderPermission,
  type TenantPermission,
} from "./index";

/** How lib/authz reads an Actor that carries an API token's scope. */
let owner: Actor, admin: Actor;
let x: { id: string }, xChild: { id: string }, xGrandchild: { id: string }, y: { id: string }, yChild: { id: string };

beforeAll(async () => {
  owner = await makeUser();
  admin = await makeUser({ isAdmin: true });
  x = await makeFolder();
  xChild = await makeFolder("X child", x.id);
  xGrandchild = await makeFolder("X grandchild", xChild.id);
  y = await makeFolder();
  yChild = await makeFolder("Y child", y.id);
  await grant(x.id, owner, "EDITOR");
  await grant(y.id, owner, "FOLDER_ADMIN");
});

function tokenActor(base: Actor, kind: "personal" | "service", folders: [string, FolderPermission[]][], ownerIsAdmin = false): Actor {
  return {
    ...base,
    isAdmin: false,
    scope: { kind, folders: new Map(folders.map(([id, p]) => [id, new Set(p)])), tokenId: "00000000-0000-4000-8000-000000000001", tokenPrefix: "lt_testtest", ownerIsAdmin },
  };
}

describe("a token's scope in lib/authz", () => {
  it("reaches the scoped folder and its subfolders, and nothing else, even where the owner could", async () => {
    const actor = tokenActor(owner, "personal", [[x.id, ["folders.read", "connections.use"]]]);
    for (const id of [x.id, xChild.id, xGrandchild.id]) {
      const access = await getFolderAccess(db(), actor, id);
      expect(access, id).not.toBeNull();
      expect(can(access!, "connections.use")).toBe(true);
      // The owner is an editor here, but the token was not given these.
      expect(can(access!, "assets.write")).toBe(false);
      expect(can(access!, "connections.read")).toBe(false);
      expect(access!.isTenantAdmin).toBe(false);
    }
    // The owner administers Y; the token does not reach it.
    expect(await getFolderAccess(db(), actor, y.id)).toBeNull();
    expect(await getFolderAccess(db(), actor, yChild.id)).toBeNull();
    await expect(assertCanOnFolder(db(), actor, "folders.read", y.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(assertCanOnFolder(db(), actor, "folders.manage", x.id)).rejects.toMatchObject({ code: "NOT_FOUND" });

    expect(new Set((await listFolderRoles(db(), actor)).keys())).toEqual(new Set([x.id, xChild.id, xGrandchild.id]));
    expect(new Set(await listFolderIdsWith(db(), actor, "connections.use"))).toEqual(new Set([x.id, xChild.id, xGrandchild.id]));
    expect(await listFolderIdsWith(db(), actor, "members.manage")).toEqual([]);
  });

  it("a subfolder grant adds to what an ancestor grant gives", async () => {
    const actor = tokenActor(owner, "personal", [
      [x.id, ["folders.read"]],
      [xChild.id, ["folders.read", "assets.read"]],
    ]);
    expect(can((await getFolderAccess(db(), actor, x.id))!, "assets.read")).toBe(false);
    expect(can((await getFolderAccess(db(), actor, xChild.id))!, "assets.read")).toBe(true);
    expect(can((await getFolderAccess(db(), actor, xGrandchild.id))!, "assets.read")).toBe(true);
    const perms = await listFolderPermissions(db(), actor);
    expect(perms.get(x.id)?.has("assets.read")).toBe(false);
    expect(perms.get(xGrandchild.id)?.has("assets.read")).toBe(true);
  });

  it("a personal token is bounded by the owner's current roles", async () => {
    const viewer = await makeUser();
    await grant(x.id, viewer, "VIEWER");
    const actor = tokenActor(viewer, "personal", [[x.id, ["folders.read", "connections.read", "connections.use"]]]);
    const access = (await getFolderAccess(db(), actor, x.id))!;
    expect(can(access, "connections.read")).toBe(true);
    // Viewers cannot use connections; a token of theirs cannot either, whatever its scope says.
    expect(can(access, "connections.use")).toBe(false);
    expect(await listFolderIdsWith(db(), actor, "connections.use")).toEqual([]);

    await db().folderMember.delete({ where: { folderId_userId: { folderId: x.id, userId: viewer.id } } });
    expect(await getFolderAccess(db(), actor, x.id)).toBeNull();
    expect((await listFolderRoles(db(), actor)).size).toBe(0);
  });

  it("an administrator's personal token holds its scope, no more: no other folder, no tenant permission", async () => {
    const actor = tokenActor(admin, "personal", [[x.id, ["folders.read", "connections.use"]]], true);
    expect(can((await getFolderAccess(db(), actor, xChild.id))!, "connections.use")).toBe(true);
    expect(await getFolderAccess(db(), actor, y.id)).toBeNull();
    // Token actors carry isAdmin false (lib/tokens/authenticate.ts); the scope holds even were it true.
    const flagged = { ...actor, isAdmin: true };
    expect(await getFolderAccess(db(), flagged, y.id)).toBeNull();
    for (const permission of ["users.manage", "stores.manage", "audit.read.all", "folders.create.root", "tokens.manage"] satisfies TenantPermission[]) {
      for (const a of [actor, flagged]) {
        expect(canTenant(a, permission)).toBe(false);
        expect(() => assertTenant(a, permission)).toThrow(expect.objectContaining({ code: "NOT_FOUND" }));
      }
    }
    expect(canTenant(admin, "tokens.manage")).toBe(true);
  });

  it("a service account has no roles: exactly its scope", async () => {
    const account = await db().serviceAccount.create({ data: { name: `sa-${Date.now()}` } });
    const actor = tokenActor({ id: account.id, email: `service-account:${account.name}`, name: account.name, isAdmin: false }, "service", [
      [y.id, ["folders.read", "connections.read"]],
    ]);
    const access = (await getFolderAccess(db(), actor, yChild.id))!;
    expect(can(access, "connections.read")).toBe(true);
    expect(can(access, "connections.use")).toBe(false);
    // The role reported is one the scope fully covers: a role-based check never exceeds the scope.
    expect(access.role).toBeNull();
    expect(await getFolderAccess(db(), actor, x.id)).toBeNull();
    expect(new Set((await listFolderRoles(db(), actor)).keys())).toEqual(new Set([y.id, yChild.id]));
  });

  it("the role reported for a token is the highest one its permissions cover", async () => {
    const actor = tokenActor(owner, "personal", [[x.id, ["folders.read", "assets.read", "connections.read", "connections.use"]]]);
    const access = (await getFolderAccess(db(), actor, x.id))!;
    expect(access.role).toBe("VIEWER");
    expect(can({ role: access.role, isTenantAdmin: false }, "connections.use")).toBe(false);
  });

  it("sessions keep their behaviour: roles and tenant administrators", async () => {
    const access = (await getFolderAccess(db(), owner, y.id))!;
    expect(access.role).toBe("FOLDER_ADMIN");
    expect(can(access, "members.manage")).toBe(true);
    const adminAccess = (await getFolderAccess(db(), admin, yChild.id))!;
    expect(adminAccess).toMatchObject({ role: null, isTenantAdmin: true });
    expect(can(adminAccess, "folders.manage")).toBe(true);
    expect(can({ role: "VIEWER", isTenantAdmin: false }, "connections.use")).toBe(false);
    expect(can({ role: "EDITOR", isTenantAdmin: false }, "connections.use")).toBe(true);
  });
});

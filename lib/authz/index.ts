import "server-only";
import type { Folder, FolderRole } from "@prisma/client";
import { cache } from "react";
import { db, type Db } from "@/lib/db";
import { notFound } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import {
  highestRole,
  roleGrants,
  type FolderPermission,
  type TenantPermission,
} from "./permissions";

export * from "./permissions";

/** The signed-in person (or, later, a token's owner) on whose behalf code runs. */
export type Actor = { id: string; email: string; name: string; isAdmin: boolean };

export type FolderAccess = {
  folder: Folder;
  /** Highest role held on this folder or an ancestor; null for a tenant administrator with no role. */
  role: FolderRole | null;
  isTenantAdmin: boolean;
};

export function can(access: Pick<FolderAccess, "role" | "isTenantAdmin">, permission: FolderPermission): boolean {
  return access.isTenantAdmin || roleGrants(access.role, permission);
}

export function canTenant(actor: Actor, _permission: TenantPermission): boolean {
  return actor.isAdmin;
}

/** Tenant-level checks answer "not found" too, so admin areas do not reveal themselves. */
export function assertTenant(actor: Actor, permission: TenantPermission, what = "That page"): void {
  if (!canTenant(actor, permission)) throw notFound(what);
}

/** Roles the actor holds on the folder and every ancestor, walking up from the folder's own row. */
async function rolesOnChain(db: Db, userId: string, folderId: string): Promise<FolderRole[]> {
  const rows = await db.$queryRaw<{ role: FolderRole }[]>`
    WITH RECURSIVE chain AS (
      SELECT id, parent_id, 0 AS depth FROM folders WHERE id = ${folderId}::uuid
      UNION ALL
      SELECT f.id, f.parent_id, c.depth + 1 FROM folders f JOIN chain c ON f.id = c.parent_id WHERE c.depth < 64
    )
    SELECT m.role::text AS role FROM chain JOIN folder_members m ON m.folder_id = chain.id AND m.user_id = ${userId}::uuid`;
  return rows.map((r) => r.role);
}

export async function getFolderAccess(db: Db, actor: Actor, folderId: string): Promise<FolderAccess | null> {
  if (!isUuid(folderId)) return null;
  const folder = await db.folder.findUnique({ where: { id: folderId } });
  if (!folder) return null;
  const role = highestRole(await rolesOnChain(db, actor.id, folder.id));
  const access = { folder, role, isTenantAdmin: actor.isAdmin };
  return can(access, "folders.read") ? access : null;
}

/**
 * Loads the folder and checks the permission, deriving rights from the folder's own row and its
 * ancestors. Absent, malformed and forbidden all throw the same "not found".
 */
export async function assertCanOnFolder(
  db: Db,
  actor: Actor,
  permission: FolderPermission,
  folderId: string,
  what = "Folder",
): Promise<FolderAccess> {
  const access = await getFolderAccess(db, actor, folderId);
  if (!access || !can(access, permission)) throw notFound(what);
  return access;
}

/**
 * Every folder the actor can see, with the highest role that reaches it (tenant admins: all, role
 * null). A page asks this several times (tree, audit link, breadcrumbs), so reads outside a
 * transaction are memoised for the render; transactions always read afresh.
 */
export function listFolderRoles(client: Db, actor: Actor): Promise<Map<string, FolderRole | null>> {
  return client === db() ? rolesForRender(actor.id, actor.isAdmin) : computeFolderRoles(client, actor);
}

const rolesForRender = cache((id: string, isAdmin: boolean) => computeFolderRoles(db(), { id, isAdmin }));

async function computeFolderRoles(client: Db, actor: Pick<Actor, "id" | "isAdmin">): Promise<Map<string, FolderRole | null>> {
  if (actor.isAdmin) {
    const [folders, granted] = await Promise.all([
      client.folder.findMany({ select: { id: true } }),
      grantedRoles(client, actor.id),
    ]);
    return new Map(folders.map((f) => [f.id, granted.get(f.id) ?? null]));
  }
  return grantedRoles(client, actor.id);
}

async function grantedRoles(db: Db, userId: string): Promise<Map<string, FolderRole>> {
  const rows = await db.$queryRaw<{ id: string; role: FolderRole }[]>`
    WITH RECURSIVE granted AS (
      SELECT m.folder_id AS id, m.role, 0 AS depth FROM folder_members m WHERE m.user_id = ${userId}::uuid
      UNION ALL
      SELECT f.id, g.role, g.depth + 1 FROM folders f JOIN granted g ON f.parent_id = g.id WHERE g.depth < 64
    )
    SELECT id::text AS id, role::text AS role FROM granted`;
  const out = new Map<string, FolderRole>();
  for (const { id, role } of rows) out.set(id, highestRole([role, ...(out.has(id) ? [out.get(id)!] : [])])!);
  return out;
}

/** Folder ids where the actor holds the permission (for filtering lists such as the audit log). */
export async function listFolderIdsWith(db: Db, actor: Actor, permission: FolderPermission): Promise<string[]> {
  const roles = await listFolderRoles(db, actor);
  return [...roles].filter(([, role]) => can({ role, isTenantAdmin: actor.isAdmin }, permission)).map(([id]) => id);
}

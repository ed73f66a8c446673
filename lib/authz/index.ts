import "server-only";
import type { Folder, FolderRole } from "@prisma/client";
import { cache } from "react";
import { db, sql, type Db } from "@/lib/db";
import { notFound } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import {
  FOLDER_PERMISSIONS,
  highestRole,
  ROLE_PERMISSIONS,
  ROLE_RANK,
  roleGrants,
  type FolderPermission,
  type TenantPermission,
} from "./permissions";

export * from "./permissions";

/**
 * What an API token lets its bearer do. A grant on a folder reaches its subfolders, like a role.
 * Personal tokens are further bounded by the owner's current roles; service accounts hold no roles,
 * so their scope is their whole access. Tenant permissions are never granted through a token.
 */
export type ActorScope = {
  kind: "personal" | "service";
  folders: ReadonlyMap<string, ReadonlySet<FolderPermission>>;
  tokenId: string;
  /** Shown in lists and logs ("lt_ab12cd34"); not secret. */
  tokenPrefix: string;
  /** Personal tokens: the owner is a tenant administrator (holds every folder permission everywhere). */
  ownerIsAdmin: boolean;
};

/**
 * On whose behalf code runs: a signed-in person, or the owner (person or service account) of the API
 * token presented. For token actors `isAdmin` is always false, so code that looks at it directly
 * fails closed; the owner's status lives in `scope.ownerIsAdmin`.
 */
export type Actor = {
  id: string;
  email: string;
  name: string;
  isAdmin: boolean;
  scope?: ActorScope;
  /** A signed-in person's own server-side session (absent for token actors). */
  sessionId?: string;
};

export type FolderAccess = {
  folder: Folder;
  /**
   * Highest role held on this folder or an ancestor; null for a tenant administrator with no role.
   * For token actors: the highest role whose permissions all lie within `granted` (display only).
   */
  role: FolderRole | null;
  isTenantAdmin: boolean;
  /** Every permission the actor holds here: what `can` consults. */
  granted: ReadonlySet<FolderPermission>;
};

const ALL: ReadonlySet<FolderPermission> = new Set(FOLDER_PERMISSIONS);
const NONE: ReadonlySet<FolderPermission> = new Set();

function permissionsOf(role: FolderRole | null, isTenantAdmin: boolean): ReadonlySet<FolderPermission> {
  return isTenantAdmin ? ALL : role ? ROLE_PERMISSIONS[role] : NONE;
}

function intersect(a: ReadonlySet<FolderPermission>, b: ReadonlySet<FolderPermission>): Set<FolderPermission> {
  return new Set([...a].filter((p) => b.has(p)));
}

/** The highest role a token's permissions fully cover, so role-based checks on it never over-grant. */
function roleWithin(granted: ReadonlySet<FolderPermission>): FolderRole | null {
  let best: FolderRole | null = null;
  for (const [role, perms] of Object.entries(ROLE_PERMISSIONS) as [FolderRole, ReadonlySet<FolderPermission>][]) {
    if ([...perms].every((p) => granted.has(p)) && (!best || ROLE_RANK[role] > ROLE_RANK[best])) best = role;
  }
  return best;
}

/**
 * `granted` decides when present (every FolderAccess has it); the role form remains for callers that
 * build `{ role, isTenantAdmin }` from listFolderRoles, whose token roles are within the scope.
 */
export function can(
  access: Pick<FolderAccess, "role" | "isTenantAdmin"> & { granted?: ReadonlySet<FolderPermission> },
  permission: FolderPermission,
): boolean {
  if (access.granted) return access.granted.has(permission);
  return access.isTenantAdmin || roleGrants(access.role, permission);
}

/** Admin areas stay with signed-in people: no token ever holds a tenant permission. */
export function canTenant(actor: Actor, _permission: TenantPermission): boolean {
  return !actor.scope && actor.isAdmin;
}

/** Tenant-level checks answer "not found" too, so admin areas do not reveal themselves. */
export function assertTenant(actor: Actor, permission: TenantPermission, what = "That page"): void {
  if (!canTenant(actor, permission)) throw notFound(what);
}

/** One folder of a chain (the folder itself at depth 0, then its ancestors) with the role the chain's user holds there. */
export type FolderChain = { id: string; role: FolderRole | null; depth: number; name: string; parentId: string | null; createdAt: Date | string; updatedAt: Date | string }[];

/**
 * SQL for a folder's chain as one JSON array (FolderChain), to embed in a statement that also reads
 * what lives in the folder: a check then costs no round trip of its own. `folder` and `user` are SQL
 * expressions (a column, a `$n::uuid` placeholder); `user` is chainUserFor(actor), bound as a value.
 */
export function folderChainSql(folder: string, user: string): string {
  return `(WITH RECURSIVE chain AS (
      SELECT id, parent_id, name, created_at, updated_at, 0 AS depth FROM folders WHERE id = ${folder}
      UNION ALL
      SELECT f.id, f.parent_id, f.name, f.created_at, f.updated_at, c.depth + 1 FROM folders f JOIN chain c ON f.id = c.parent_id WHERE c.depth < 64
    )
    SELECT coalesce(json_agg(json_build_object('id', chain.id, 'role', m.role, 'depth', chain.depth, 'name', chain.name, 'parentId', chain.parent_id,
      'createdAt', chain.created_at, 'updatedAt', chain.updated_at)), '[]'::json)
    FROM chain LEFT JOIN folder_members m ON m.folder_id = chain.id AND m.user_id = ${user})`;
}

/** Whom a token's scope is intersected with: a non-admin personal owner's roles; nobody otherwise. */
const boundingUser = (actor: Actor): string | null =>
  actor.scope?.kind === "personal" && !actor.scope.ownerIsAdmin ? actor.id : null;

/** The user whose roles a chain must carry for `actor`'s check: the person, a personal token's bounding owner, or nobody (service accounts). */
export const chainUserFor = (actor: Actor): string | null => (actor.scope ? boundingUser(actor) : actor.id);

function folderOf(chain: FolderChain): Folder | null {
  const own = chain.find((c) => c.depth === 0);
  return own ? { id: own.id, name: own.name, parentId: own.parentId, createdAt: new Date(own.createdAt), updatedAt: new Date(own.updatedAt) } : null;
}

/**
 * The actor's access to a folder, from its chain read with chainUserFor(actor)'s roles (an empty
 * chain: the folder does not exist). Null when the actor may not even see it.
 */
export function accessFromChain(actor: Actor, chain: FolderChain): FolderAccess | null {
  const folder = folderOf(chain);
  if (!folder) return null;
  const roles = chain.flatMap((c) => (c.role ? [c.role] : []));
  let access: FolderAccess;
  if (actor.scope) {
    const { scope } = actor;
    const fromScope = new Set(chain.flatMap((c) => [...(scope.folders.get(c.id) ?? [])]));
    const owner = boundingUser(actor) ? permissionsOf(highestRole(roles), false) : ALL;
    const granted = intersect(fromScope, owner);
    access = { folder, role: roleWithin(granted), isTenantAdmin: false, granted };
  } else {
    const role = highestRole(roles);
    access = { folder, role, isTenantAdmin: actor.isAdmin, granted: permissionsOf(role, actor.isAdmin) };
  }
  return can(access, "folders.read") ? access : null;
}

/** accessFromChain plus the permission: absent, malformed and forbidden all throw the same "not found". */
export function assertCanFromChain(actor: Actor, permission: FolderPermission, chain: FolderChain, what = "Folder"): FolderAccess {
  const access = accessFromChain(actor, chain);
  if (!access || !can(access, permission)) throw notFound(what);
  return access;
}

export async function getFolderAccess(db: Db, actor: Actor, folderId: string): Promise<FolderAccess | null> {
  if (!isUuid(folderId)) return null;
  const [row] = await sql<{ chain: FolderChain }>(db, `SELECT ${folderChainSql("$1::uuid", "$2::uuid")} AS chain`, [folderId, chainUserFor(actor)]);
  return accessFromChain(actor, row?.chain ?? []);
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
 * null; token actors: the role their scope fully covers). A page asks this several times (tree, audit
 * link, breadcrumbs), so session reads outside a transaction are memoised for the render;
 * transactions always read afresh.
 */
export async function listFolderRoles(client: Db, actor: Actor): Promise<Map<string, FolderRole | null>> {
  if (actor.scope) {
    const granted = await scopedPermissions(client, actor, actor.scope);
    return new Map([...granted].map(([id, perms]) => [id, roleWithin(perms)]));
  }
  return client === db() ? rolesForRender(actor.id, actor.isAdmin) : computeFolderRoles(client, actor);
}

/** Every folder the actor can see, with every permission the actor holds there. */
export async function listFolderPermissions(client: Db, actor: Actor): Promise<Map<string, ReadonlySet<FolderPermission>>> {
  if (actor.scope) return scopedPermissions(client, actor, actor.scope);
  const roles = await listFolderRoles(client, actor);
  return new Map([...roles].map(([id, role]) => [id, permissionsOf(role, actor.isAdmin)]));
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

/** A token's scope spread down to subfolders, bounded by a personal owner's roles; visible folders only. */
async function scopedPermissions(client: Db, actor: Actor, scope: ActorScope): Promise<Map<string, ReadonlySet<FolderPermission>>> {
  const roots = [...scope.folders.keys()].filter(isUuid);
  if (roots.length === 0) return new Map();
  const rows = await client.$queryRaw<{ id: string; root: string }[]>`
    WITH RECURSIVE scoped AS (
      SELECT id, id AS root, 0 AS depth FROM folders WHERE id = ANY(${roots}::uuid[])
      UNION ALL
      SELECT f.id, s.root, s.depth + 1 FROM folders f JOIN scoped s ON f.parent_id = s.id WHERE s.depth < 64
    )
    SELECT id::text AS id, root::text AS root FROM scoped`;
  const fromScope = new Map<string, Set<FolderPermission>>();
  for (const { id, root } of rows) {
    const perms = fromScope.get(id) ?? new Set<FolderPermission>();
    for (const p of scope.folders.get(root) ?? []) perms.add(p);
    fromScope.set(id, perms);
  }
  const bounding = boundingUser(actor);
  const ownerRoles = bounding ? await grantedRoles(client, bounding) : null;
  const out = new Map<string, ReadonlySet<FolderPermission>>();
  for (const [id, perms] of fromScope) {
    const granted = ownerRoles ? intersect(perms, permissionsOf(ownerRoles.get(id) ?? null, false)) : perms;
    if (granted.has("folders.read")) out.set(id, granted);
  }
  return out;
}

/** Folder ids where the actor holds the permission (for filtering lists such as the audit log). */
export async function listFolderIdsWith(db: Db, actor: Actor, permission: FolderPermission): Promise<string[]> {
  const permissions = await listFolderPermissions(db, actor);
  return [...permissions].filter(([, granted]) => granted.has(permission)).map(([id]) => id);
}

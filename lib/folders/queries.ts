import "server-only";
import type { FolderRole } from "@prisma/client";
import { ROLE_RANK, can, getFolderAccess, listFolderRoles, type Actor, type FolderAccess } from "@/lib/authz";
import { db, type Db } from "@/lib/db";
import { notFound } from "@/lib/errors";
import type { ListQuery } from "./schemas";

/** `parentId` is null at the top level and under a folder the actor cannot see (its id is not theirs to know). */
export type FolderNode = { id: string; name: string; parentId: string | null; role: FolderRole | null };

/** Every folder the actor may see: the sidebar tree and pickers. */
export async function listVisibleFolders(actor: Actor, client: Db = db()): Promise<FolderNode[]> {
  const roles = await listFolderRoles(client, actor);
  if (roles.size === 0) return [];
  const folders = await client.folder.findMany({
    where: { id: { in: [...roles.keys()] } },
    select: { id: true, name: true, parentId: true },
    // Two folders may share a name (under different parents): the id keeps their order the same every time.
    orderBy: [{ name: "asc" }, { id: "asc" }],
  });
  return folders.map((f) => ({ ...f, parentId: f.parentId && roles.has(f.parentId) ? f.parentId : null, role: roles.get(f.id) ?? null }));
}

/** Ancestors from the root down, each marked with whether the actor may open it. */
export async function listAncestors(folderId: string, actor: Actor, client: Db = db()) {
  const rows = await client.$queryRaw<{ id: string; name: string; depth: number }[]>`
    WITH RECURSIVE chain AS (
      SELECT id, parent_id, name, 0 AS depth FROM folders WHERE id = ${folderId}::uuid
      UNION ALL
      SELECT f.id, f.parent_id, f.name, c.depth + 1 FROM folders f JOIN chain c ON f.id = c.parent_id WHERE c.depth < 64
    )
    SELECT id::text AS id, name, depth FROM chain WHERE depth > 0 ORDER BY depth DESC`;
  const roles = await listFolderRoles(client, actor);
  // Ancestors the actor cannot see are left out entirely: their names are not the actor's business.
  return rows.filter((r) => roles.has(r.id)).map(({ id, name }) => ({ id, name }));
}

export type FolderView = FolderAccess & {
  /** The parent, when the actor may see it; null at the top level and under a hidden folder. Never access.folder.parentId outward. */
  parentId: string | null;
  ancestors: { id: string; name: string }[];
  permissions: { manage: boolean; manageMembers: boolean; readAudit: boolean };
};

export async function getFolderViewOrThrow(actor: Actor, folderId: string): Promise<FolderView> {
  const access = await getFolderAccess(db(), actor, folderId);
  if (!access) throw notFound("Folder");
  const ancestors = await listAncestors(access.folder.id, actor);
  return {
    ...access,
    parentId: access.folder.parentId !== null && ancestors.at(-1)?.id === access.folder.parentId ? access.folder.parentId : null,
    ancestors,
    permissions: {
      manage: can(access, "folders.manage"),
      manageMembers: can(access, "members.manage"),
      readAudit: can(access, "audit.read"),
    },
  };
}

export type FolderRow = { id: string; name: string; subfolderCount: number; memberCount: number; updatedAt: Date };

/** Children of a folder (or the visible top level when parentId is null), searched and paged. */
export async function listSubfolders(actor: Actor, parentId: string | null, query: ListQuery) {
  const visible = await listVisibleFolders(actor);
  const visibleIds = new Set(visible.map((f) => f.id));
  const children = visible.filter((f) =>
    parentId ? f.parentId === parentId : f.parentId === null || !visibleIds.has(f.parentId),
  );
  const q = query.q.toLowerCase();
  const matched = q ? children.filter((f) => f.name.toLowerCase().includes(q)) : children;
  const pageRows = matched.slice((query.page - 1) * query.pageSize, query.page * query.pageSize);
  const counts = await db().folder.findMany({
    where: { id: { in: pageRows.map((f) => f.id) } },
    select: { id: true, updatedAt: true, _count: { select: { children: true, members: true } } },
  });
  const byId = new Map(counts.map((c) => [c.id, c]));
  const rows: FolderRow[] = pageRows.map((f) => ({
    id: f.id,
    name: f.name,
    subfolderCount: byId.get(f.id)?._count.children ?? 0,
    memberCount: byId.get(f.id)?._count.members ?? 0,
    updatedAt: byId.get(f.id)?.updatedAt ?? new Date(0),
  }));
  return { rows, total: matched.length };
}

export type MemberRow = {
  userId: string;
  name: string;
  email: string;
  role: FolderRole;
  active: boolean;
  /** Set when the role comes from an ancestor folder. */
  inheritedFrom: { id: string | null; name: string } | null;
  /** The role given on this folder itself, if any: lower than an inherited one, it still exists and can be changed or removed here. */
  directRole: FolderRole | null;
};

/** Direct members plus those whose role reaches this folder from an ancestor. */
export async function listMembers(actor: Actor, folderId: string, query: ListQuery) {
  const access = await getFolderAccess(db(), actor, folderId);
  if (!access) throw notFound("Folder");
  const rows = await db().$queryRaw<
    { user_id: string; name: string; email: string; active: boolean; role: FolderRole; folder_id: string; folder_name: string; depth: number }[]
  >`
    WITH RECURSIVE chain AS (
      SELECT id, parent_id, name, 0 AS depth FROM folders WHERE id = ${access.folder.id}::uuid
      UNION ALL
      SELECT f.id, f.parent_id, f.name, c.depth + 1 FROM folders f JOIN chain c ON f.id = c.parent_id WHERE c.depth < 64
    )
    SELECT u.id::text AS user_id, u.name, u.email, u.active, m.role::text AS role,
           chain.id::text AS folder_id, chain.name AS folder_name, chain.depth
    FROM chain JOIN folder_members m ON m.folder_id = chain.id JOIN users u ON u.id = m.user_id
    ORDER BY chain.depth ASC, u.name ASC, u.id ASC`;
  // Show each person's effective (highest) role and the nearest folder it comes from.
  const visible = await listFolderRoles(db(), actor);
  const byUser = new Map<string, MemberRow>();
  const direct = new Map(rows.filter((r) => r.depth === 0).map((r) => [r.user_id, r.role]));
  for (const r of rows) {
    const current = byUser.get(r.user_id);
    if (current && ROLE_RANK[current.role] >= ROLE_RANK[r.role]) continue;
    byUser.set(r.user_id, {
      userId: r.user_id,
      name: r.name,
      email: r.email,
      active: r.active,
      role: r.role,
      inheritedFrom:
        r.depth === 0
          ? null
          : visible.has(r.folder_id)
            ? { id: r.folder_id, name: r.folder_name }
            : { id: null, name: "a parent folder" },
      directRole: direct.get(r.user_id) ?? null,
    });
  }
  const q = query.q.toLowerCase();
  const all = [...byUser.values()].filter(
    (m) => !q || m.name.toLowerCase().includes(q) || m.email.includes(q),
  );
  return { rows: all.slice((query.page - 1) * query.pageSize, query.page * query.pageSize), total: all.length, access };
}

/** Visible folders labelled with their visible path ("Finance / Payroll"), sorted by path. */
export async function listFolderOptions(actor: Actor, filter: (f: FolderNode, isInside: (id: string, ancestorId: string) => boolean) => boolean = () => true) {
  const visible = await listVisibleFolders(actor);
  const byId = new Map(visible.map((f) => [f.id, f]));
  const isInside = (id: string, ancestorId: string): boolean => {
    for (let cur = byId.get(id), n = 0; cur && n < 64; cur = cur.parentId ? byId.get(cur.parentId) : undefined, n++) if (cur.id === ancestorId) return true;
    return false;
  };
  const pathOf = (id: string): string => {
    const names: string[] = [];
    for (let cur = byId.get(id); cur && names.length < 64; cur = cur.parentId ? byId.get(cur.parentId) : undefined) names.unshift(cur.name);
    return names.join(" / ");
  };
  return visible
    .filter((f) => filter(f, isInside))
    .map((f) => ({ id: f.id, label: pathOf(f.id) }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

/** Folders the actor may move `folderId` into. The server re-checks on move. */
export function listMoveDestinations(actor: Actor, folderId: string) {
  return listFolderOptions(actor, (f, isInside) => can({ role: f.role, isTenantAdmin: actor.isAdmin }, "folders.manage") && !isInside(f.id, folderId));
}

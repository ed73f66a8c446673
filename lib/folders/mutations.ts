import "server-only";
import type { FolderRole } from "@prisma/client";
import type { ActionContext } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { assertCanOnFolder, can, canTenant, getFolderAccess, ROLE_LABELS } from "@/lib/authz";
import { lockFolderTree } from "./tree-lock";
import { folderContents, stillContainsMessage } from "./contents";
import { db, type Tx } from "@/lib/db";
import { AppError, conflict, notFound } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { FOLDER_MAX_DEPTH } from "./schemas";
import { isForeignKeyViolation, isUniqueViolation } from "@/lib/db/errors";
import { nameTaken } from "@/lib/db/names";

type Ctx = Pick<ActionContext, "actor" | "requestId">;

/**
 * How folder events name another folder (a parent, where a move came from and went): its name then,
 * and its id, so the log can hide it from a reader who may not see that folder (lib/audit/queries).
 */
type FolderRef = { id: string; name: string };
const TOP_LEVEL = "(top level)";

/**
 * Every folder change is audited against the folder itself, so folder admins see it in their log; a
 * deletion against its parent (`auditIn`), since nobody holds a role on a folder that is gone.
 */
function auditFolder(tx: Tx, ctx: Ctx, action: string, folder: { id: string; name: string }, details?: Record<string, unknown>, auditIn = folder.id) {
  return recordAuditEvent(tx, {
    actor: ctx.actor,
    action,
    target: { type: "folder", id: folder.id, label: folder.name },
    folderId: auditIn,
    requestId: ctx.requestId,
    details,
  });
}


/** Ids of the folder and the folders above it, nearest first (its depth is their number). */
async function chainIds(tx: Tx, folderId: string): Promise<string[]> {
  const rows = await tx.$queryRaw<{ id: string }[]>`
    WITH RECURSIVE chain AS (
      SELECT id, parent_id, 0 AS depth FROM folders WHERE id = ${folderId}::uuid
      UNION ALL
      SELECT f.id, f.parent_id, c.depth + 1 FROM folders f JOIN chain c ON f.id = c.parent_id WHERE c.depth < 64
    )
    SELECT id::text AS id FROM chain ORDER BY depth`;
  return rows.map((r) => r.id);
}

/** Ids of the folder and everything below it. */
async function subtreeIds(tx: Tx, folderId: string): Promise<{ id: string; depth: number }[]> {
  return tx.$queryRaw<{ id: string; depth: number }[]>`
    WITH RECURSIVE sub AS (
      SELECT id, 1 AS depth FROM folders WHERE id = ${folderId}::uuid
      UNION ALL
      SELECT f.id, s.depth + 1 FROM folders f JOIN sub s ON f.parent_id = s.id WHERE s.depth < 64
    )
    SELECT id::text AS id, depth FROM sub`;
}

async function assertUniqueSiblingName(tx: Tx, parentId: string | null, name: string, exceptId?: string) {
  if (await nameTaken(tx, "folders", name, { scope: parentId, exceptId })) {
    const where = parentId ? "in this folder" : "at the top level";
    throw conflict(`A folder named “${name}” already exists ${where}.`, { name: [`A folder named “${name}” already exists ${where}.`] });
  }
}

/** A unique-index race that slipped past the pre-check still gets the friendly message. */
function mapUniqueViolation(error: unknown, name: string): never {
  if (isUniqueViolation(error, "folders_sibling_name_key")) {
    throw conflict(`A folder named “${name}” already exists here.`, { name: [`A folder named “${name}” already exists here.`] });
  }
  throw error;
}

const TOP_LEVEL_REFUSED = "Only a tenant administrator can put a folder at the top level: give a parent folder you manage (parentId).";

export async function createFolder(ctx: Ctx, input: { name: string; parentId: string | null }) {
  try {
    return await db().$transaction(async (tx) => {
      await lockFolderTree(tx);
      let parent: FolderRef | null = null;
      // Null is the top level; any string, "" included, must name a folder the actor may manage.
      if (input.parentId !== null) {
        const { folder } = await assertCanOnFolder(tx, ctx.actor, "folders.manage", input.parentId);
        parent = { id: folder.id, name: folder.name };
        if ((await chainIds(tx, input.parentId)).length + 1 > FOLDER_MAX_DEPTH) {
          throw new AppError("VALIDATION", `Folders can be nested at most ${FOLDER_MAX_DEPTH} levels deep.`);
        }
      } else if (!canTenant(ctx.actor, "folders.create.root")) {
        // 404 as for any refusal, but no folder was named: "Folder was not found" would puzzle. Says nothing of what exists.
        throw new AppError("NOT_FOUND", TOP_LEVEL_REFUSED);
      }
      await assertUniqueSiblingName(tx, input.parentId, input.name);
      const folder = await tx.folder.create({ data: { name: input.name, parentId: input.parentId } });
      await auditFolder(tx, ctx, "folder.create", folder, { parent: parent ?? TOP_LEVEL });
      return { id: folder.id, name: folder.name, parentId: folder.parentId };
    });
  } catch (error) {
    mapUniqueViolation(error, input.name);
  }
}

/**
 * Moves and/or renames a folder in one transaction: either every change lands, each authorised and
 * audited, or none does. The new name must be free in the new place, whatever the old one clashes with.
 */
export async function updateFolder(ctx: Ctx, input: { folderId: string; name?: string; parentId?: string | null }) {
  let name = input.name ?? "";
  try {
    return await db().$transaction(async (tx) => {
      await lockFolderTree(tx);
      const { folder } = await assertCanOnFolder(tx, ctx.actor, "folders.manage", input.folderId);
      // Compared as text below: PostgreSQL's spelling of the id, whatever case the caller used.
      const parentId = input.parentId === undefined ? folder.parentId : (input.parentId?.toLowerCase() ?? null);
      name = input.name ?? folder.name;
      const moved = parentId !== folder.parentId ? await checkMove(tx, ctx, folder, parentId, name) : null;
      const renamed = name !== folder.name;
      if (!moved && renamed) await assertUniqueSiblingName(tx, parentId, name, folder.id);
      // One statement: the unique sibling-name index must not see the folder half changed.
      if (moved || renamed) await tx.folder.update({ where: { id: folder.id }, data: { parentId, name } });
      if (moved) await auditFolder(tx, ctx, "folder.move", folder, moved);
      if (renamed) await auditFolder(tx, ctx, "folder.rename", { id: folder.id, name }, { from: folder.name, to: name });
      // The parent only when the caller named it: after a rename alone it may be a folder they cannot see.
      return { id: folder.id, name, ...(input.parentId !== undefined ? { parentId } : {}) };
    });
  } catch (error) {
    mapUniqueViolation(error, name);
  }
}

/** Whether the folder may move to `parentId` under the name `name`; what the audit event says of the move. */
async function checkMove(tx: Tx, ctx: Ctx, folder: { id: string; parentId: string | null }, parentId: string | null, name: string) {
  const subtree = await subtreeIds(tx, folder.id);
  let destination: FolderRef | typeof TOP_LEVEL = TOP_LEVEL;
  if (parentId !== null) {
    // Same answer as an unknown destination when the actor cannot manage it.
    const { folder: found } = await assertCanOnFolder(tx, ctx.actor, "folders.manage", parentId, "Destination folder");
    destination = { id: found.id, name: found.name };
    if (subtree.some((f) => f.id === parentId)) {
      throw new AppError("VALIDATION", "A folder cannot be moved into itself or one of its subfolders.", {
        parentId: ["Choose a folder outside the one you are moving."],
      });
    }
    const height = Math.max(...subtree.map((f) => f.depth));
    if ((await chainIds(tx, parentId)).length + height > FOLDER_MAX_DEPTH) {
      throw new AppError("VALIDATION", `Folders can be nested at most ${FOLDER_MAX_DEPTH} levels deep.`);
    }
  } else if (!canTenant(ctx.actor, "folders.create.root")) {
    throw new AppError("NOT_FOUND", TOP_LEVEL_REFUSED);
  }
  // Taking a folder out from under a folder takes it, its assets and connections away from that
  // folder's people: only someone who manages that folder may. The folders left are those above it
  // that are not above the destination; managing the highest of them covers the rest (roles inherit).
  if (folder.parentId !== null) {
    const kept = new Set(parentId === null ? [] : await chainIds(tx, parentId));
    const left = (await chainIds(tx, folder.parentId)).filter((id) => !kept.has(id));
    const highest = left.at(-1);
    const access = highest ? await getFolderAccess(tx, ctx.actor, highest) : null;
    if (highest && (!access || !can(access, "folders.manage"))) {
      throw new AppError("VALIDATION", "Moving a folder out from under a folder needs Folder Admin on that folder too. Ask one of its administrators to move it.", {
        parentId: ["You do not manage a folder it would leave."],
      });
    }
  }
  await assertUniqueSiblingName(tx, parentId, name, folder.id);
  await assertAssetsKeepStores(tx, subtree.map((f) => f.id), parentId);
  const source = folder.parentId ? await tx.folder.findUnique({ where: { id: folder.parentId }, select: { id: true, name: true } }) : null;
  return { from: source ?? TOP_LEVEL, to: destination };
}

/**
 * Assets may use stores owned by their folder's ancestors. A move that takes assets away from such a
 * store's folder would break them, so it is refused with their names.
 */
async function assertAssetsKeepStores(tx: Tx, subtreeIds: string[], newParentId: string | null) {
  const stranded = await tx.$queryRaw<{ asset: string; folder: string; store: string }[]>`
    WITH RECURSIVE chain AS (
      SELECT id, parent_id, 0 AS depth FROM folders WHERE id = ${newParentId}::uuid
      UNION ALL
      SELECT f.id, f.parent_id, c.depth + 1 FROM folders f JOIN chain c ON f.id = c.parent_id WHERE c.depth < 64
    )
    SELECT a.name AS asset, f.name AS folder, s.name AS store
    FROM credential_assets a
    JOIN credential_stores s ON s.id = a.store_id
    JOIN folders f ON f.id = a.folder_id
    WHERE a.folder_id = ANY(${subtreeIds}::uuid[])
      AND s.folder_id IS NOT NULL
      AND NOT (s.folder_id = ANY(${subtreeIds}::uuid[]))
      AND s.folder_id NOT IN (SELECT id FROM chain)
    ORDER BY a.name LIMIT 6`;
  if (stranded.length === 0) return;
  const names = stranded.slice(0, 5).map((r) => `“${r.asset}” (in ${r.folder}, store “${r.store}”)`).join(", ");
  throw conflict(
    `Moving there would cut assets off from the folder-owned stores they use: ${names}${stranded.length > 5 ? " and more" : ""}. Point them at another store first.`,
    { parentId: ["Assets inside use a store that belongs to the current location."] },
  );
}

export async function deleteFolder(ctx: Ctx, input: { folderId: string }) {
  try {
    return await deleteFolderChecked(ctx, input);
  } catch (error) {
    // Something was added to the folder after deleteFolderChecked counted its contents.
    if (isForeignKeyViolation(error)) throw conflict("Something was added to this folder while it was being deleted. Look at it again and empty it first.");
    throw error;
  }
}

function deleteFolderChecked(ctx: Ctx, input: { folderId: string }) {
  return db().$transaction(async (tx) => {
    await lockFolderTree(tx);
    const { folder } = await assertCanOnFolder(tx, ctx.actor, "folders.manage", input.folderId);
    const held = (await folderContents(tx, folder.id)).filter((c) => c.count > 0);
    if (held.length > 0) throw conflict(stillContainsMessage(folder.name, held));
    await tx.folder.delete({ where: { id: folder.id } });
    await auditFolder(tx, ctx, "folder.delete", folder, undefined, folder.parentId ?? folder.id);
    return { id: folder.id };
  });
}

export async function setFolderMember(ctx: Ctx, input: { folderId: string; email: string; role: FolderRole; mode?: "add" | "update" | "change" }) {
  try {
    return await setFolderMemberChecked(ctx, input);
  } catch (error) {
    // Added by another request between the check and the insert ("add" inserts, so it cannot replace that role).
    if (input.mode === "add" && isUniqueViolation(error)) {
      const message = "This person was added to the folder at the same moment by someone else. Look at the member list.";
      throw conflict(message, { email: [message] });
    }
    throw error;
  }
}

/**
 * A role change from a member list shown before the person was removed (mode "update"). Named by the
 * e-mail sent: the caller need not be shown the name of anyone who is not a member.
 */
function noLongerMember(email: string) {
  const message = `${email} is no longer a member of this folder: someone removed them meanwhile. Add them again if they should have a role here.`;
  return conflict(message, { email: [message] });
}

function setFolderMemberChecked(ctx: Ctx, input: { folderId: string; email: string; role: FolderRole; mode?: "add" | "update" | "change" }) {
  return db().$transaction(async (tx) => {
    const { folder } = await assertCanOnFolder(tx, ctx.actor, "members.manage", input.folderId);
    const user = await tx.user.findUnique({ where: { email: input.email } });
    if (!user || !user.active) {
      throw new AppError("VALIDATION", "There is no active user with that e-mail address. People are added, and deactivated ones restored, under Users by an administrator.", {
        email: ["There is no active user with that e-mail address. People are added, and deactivated ones restored, under Users by an administrator."],
      });
    }
    const existing = await tx.folderMember.findUnique({ where: { folderId_userId: { folderId: folder.id, userId: user.id } } });
    // Adding someone who is already here would silently replace the role they have (a lower one, too).
    if (existing && input.mode === "add") {
      const message = `${user.name} is already a member of this folder, as ${ROLE_LABELS[existing.role]}. Change their role from the member list.`;
      throw conflict(message, { email: [message] });
    }
    // Removed meanwhile (another administrator, another tab): a role change from a list shown before is not an add.
    if (!existing && input.mode === "update") {
      throw noLongerMember(input.email);
    }
    if (existing?.role === input.role) return { userId: user.id, role: input.role };
    if (input.mode === "add") await tx.folderMember.create({ data: { folderId: folder.id, userId: user.id, role: input.role } });
    else if (input.mode === "update") {
      // Not an upsert: a removal that commits between the read above and this write must not be undone.
      const { count } = await tx.folderMember.updateMany({ where: { folderId: folder.id, userId: user.id }, data: { role: input.role } });
      if (count === 0) {
        throw noLongerMember(input.email);
      }
    } else
      await tx.folderMember.upsert({
        where: { folderId_userId: { folderId: folder.id, userId: user.id } },
        create: { folderId: folder.id, userId: user.id, role: input.role },
        update: { role: input.role },
      });
    await auditFolder(tx, ctx, existing ? "folder.member.update" : "folder.member.add", folder, {
      member: user.email,
      role: ROLE_LABELS[input.role],
      previousRole: existing ? ROLE_LABELS[existing.role] : null,
    });
    return { userId: user.id, role: input.role };
  });
}

export async function removeFolderMember(ctx: Ctx, input: { folderId: string; userId: string }) {
  return db().$transaction(async (tx) => {
    const { folder } = await assertCanOnFolder(tx, ctx.actor, "members.manage", input.folderId);
    const member = isUuid(input.userId)
      ? await tx.folderMember.findUnique({
          where: { folderId_userId: { folderId: folder.id, userId: input.userId } },
          include: { user: true },
        })
      : null;
    if (!member) throw notFound("Member");
    await tx.folderMember.delete({ where: { folderId_userId: { folderId: folder.id, userId: member.userId } } });
    await auditFolder(tx, ctx, "folder.member.remove", folder, { member: member.user.email, role: ROLE_LABELS[member.role] });
    return { userId: member.userId };
  });
}

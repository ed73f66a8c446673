import { z } from "zod";
import { apiHandler } from "@/lib/api/handler";
import { deleteFolder, moveFolder, renameFolder } from "@/lib/folders/mutations";
import { getFolderViewOrThrow } from "@/lib/folders/queries";
import { folderNameSchema, idSchema } from "@/lib/folders/schemas";

export const dynamic = "force-dynamic";

const params = z.object({ folderId: idSchema });

export const GET = apiHandler({ params }, async ({ actor, params }) => {
  const view = await getFolderViewOrThrow(actor, params.folderId);
  return {
    folder: { id: view.folder.id, name: view.folder.name, parentId: view.folder.parentId, createdAt: view.folder.createdAt, updatedAt: view.folder.updatedAt },
    role: view.role,
    path: view.ancestors,
  };
});

const patchBody = z
  .object({ name: folderNameSchema.optional(), parentId: idSchema.nullable().optional() })
  .strict()
  .refine((b) => b.name !== undefined || b.parentId !== undefined, "Send a new name, a new parentId, or both.");

/** Rename and/or move; each change is authorised and audited on its own. */
export const PATCH = apiHandler({ params, body: patchBody }, async (ctx) => {
  const { folderId } = ctx.params;
  if (ctx.body.parentId !== undefined) await moveFolder(ctx, { folderId, parentId: ctx.body.parentId });
  if (ctx.body.name !== undefined) await renameFolder(ctx, { folderId, name: ctx.body.name });
  const view = await getFolderViewOrThrow(ctx.actor, folderId);
  return { folder: { id: view.folder.id, name: view.folder.name, parentId: view.folder.parentId } };
});

export const DELETE = apiHandler({ params }, async (ctx) => {
  await deleteFolder(ctx, { folderId: ctx.params.folderId });
  return undefined;
});

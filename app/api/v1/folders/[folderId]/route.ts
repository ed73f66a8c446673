import { z } from "zod";
import { defineRoute } from "@/lib/api/route";
import { folderResponseSchema, folderUpdatedResponseSchema } from "@/lib/folders/dto";
import { deleteFolder, updateFolder } from "@/lib/folders/mutations";
import { getFolderViewOrThrow } from "@/lib/folders/queries";
import { folderNameSchema, idSchema } from "@/lib/folders/schemas";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

const paramsSchema = z.object({ folderId: idSchema });

export const GET = defineRoute(
  {
    method: "GET",
    path: "/folders/{folderId}",
    summary: "Get a folder",
    tags: ["Folders"],
    access: { kind: "folder", permission: "folders.read", on: "folder" },
    params: paramsSchema,
    response: folderResponseSchema,
  },
  async ({ actor, params }) => {
    const view = await getFolderViewOrThrow(actor, params.folderId);
    return {
      folder: { id: view.folder.id, name: view.folder.name, parentId: view.parentId, createdAt: view.folder.createdAt, updatedAt: view.folder.updatedAt },
      role: view.role,
      path: view.ancestors,
    };
  },
);

const patchBody = z
  .object({ name: folderNameSchema.optional(), parentId: idSchema.nullable().optional() })
  .strict()
  .refine((b) => b.name !== undefined || b.parentId !== undefined, "Send a new name, a new parentId, or both.");

/** Rename and/or move, in one transaction: both changes land or neither does. */
export const PATCH = defineRoute(
  {
    method: "PATCH",
    path: "/folders/{folderId}",
    summary: "Rename or move a folder",
    description:
      "Send a new name, a new parentId (null: top level), or both. Both changes are made together or not at all; each is authorised and audited. The new name must be free in the new parent.",
    tags: ["Folders"],
    // Moving also needs folders.manage on the new parent (checkMove).
    access: { kind: "session", permission: "folders.manage", on: "folder" },
    params: paramsSchema,
    body: patchBody,
    response: folderUpdatedResponseSchema,
    errors: [409],
  },
  async (ctx) => {
    const { folderId } = ctx.params;
    await updateFolder(ctx, { folderId, name: ctx.body.name, parentId: ctx.body.parentId });
    const view = await getFolderViewOrThrow(ctx.actor, folderId);
    return { folder: { id: view.folder.id, name: view.folder.name, parentId: view.parentId } };
  },
);

export const DELETE = defineRoute(
  {
    method: "DELETE",
    path: "/folders/{folderId}",
    summary: "Delete a folder",
    tags: ["Folders"],
    access: { kind: "session", permission: "folders.manage", on: "folder" },
    params: paramsSchema,
    response: "empty",
    errors: [409],
  },
  async (ctx) => {
    await deleteFolder(ctx, { folderId: ctx.params.folderId });
    return undefined;
  },
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { POST, PUT, OPTIONS } = otherMethods("GET", "PATCH", "DELETE");

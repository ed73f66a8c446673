import { z } from "zod";
import { defineRoute } from "@/lib/api/route";
import { memberListResponseSchema, memberSetResponseSchema } from "@/lib/folders/dto";
import { removeFolderMember, setFolderMember } from "@/lib/folders/mutations";
import { listMembers } from "@/lib/folders/queries";
import { idSchema, listQuerySchema, setMemberSchema } from "@/lib/folders/schemas";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

const paramsSchema = z.object({ folderId: idSchema });

export const GET = defineRoute(
  {
    method: "GET",
    path: "/folders/{folderId}/members",
    summary: "List a folder's members",
    description: "Direct members and those whose role reaches the folder from an ancestor, each with their effective role.",
    tags: ["Folders"],
    // Whoever may see the folder sees its members, as a Viewer does in the console.
    access: { kind: "folder", permission: "folders.read", on: "folder" },
    params: paramsSchema,
    query: listQuerySchema,
    response: memberListResponseSchema,
  },
  async ({ actor, params, query }) => {
    const { rows, total } = await listMembers(actor, params.folderId, query);
    return { members: rows, total, page: query.page, pageSize: query.pageSize };
  },
);

/** Add a member or change their role (idempotent). */
export const PUT = defineRoute(
  {
    method: "PUT",
    path: "/folders/{folderId}/members",
    summary: "Add a member or change their role",
    description:
      "Idempotent. The person is named by e-mail and must be an active user. With `mode: \"add\"`, someone who already has a role on this folder is refused with 409 instead of having it replaced.",
    tags: ["Folders"],
    access: { kind: "session", permission: "members.manage", on: "folder" },
    params: paramsSchema,
    body: setMemberSchema.omit({ folderId: true }),
    response: memberSetResponseSchema,
    errors: [409],
  },
  async (ctx) => ({
    member: await setFolderMember(ctx, { folderId: ctx.params.folderId, ...ctx.body }),
  }),
);

export const DELETE = defineRoute(
  {
    method: "DELETE",
    path: "/folders/{folderId}/members",
    summary: "Remove a member",
    tags: ["Folders"],
    access: { kind: "session", permission: "members.manage", on: "folder" },
    params: paramsSchema,
    query: z.object({ userId: idSchema }),
    response: "empty",
  },
  async (ctx) => {
    await removeFolderMember(ctx, { folderId: ctx.params.folderId, userId: ctx.query.userId });
    return undefined;
  },
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { POST, PATCH, OPTIONS } = otherMethods("GET", "PUT", "DELETE");

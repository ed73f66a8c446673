import { z } from "zod";
import { apiHandler } from "@/lib/api/handler";
import { removeFolderMember, setFolderMember } from "@/lib/folders/mutations";
import { listMembers } from "@/lib/folders/queries";
import { idSchema, listQuerySchema, setMemberSchema } from "@/lib/folders/schemas";

export const dynamic = "force-dynamic";

const params = z.object({ folderId: idSchema });

export const GET = apiHandler({ params, query: listQuerySchema }, async ({ actor, params, query }) => {
  const { rows, total } = await listMembers(actor, params.folderId, query);
  return { members: rows, total, page: query.page, pageSize: query.pageSize };
});

/** Add a member or change their role (idempotent). */
export const PUT = apiHandler({ params, body: setMemberSchema.omit({ folderId: true }) }, async (ctx) => ({
  member: await setFolderMember(ctx, { folderId: ctx.params.folderId, ...ctx.body }),
}));

export const DELETE = apiHandler(
  { params, query: z.object({ userId: idSchema }) },
  async (ctx) => {
    await removeFolderMember(ctx, { folderId: ctx.params.folderId, userId: ctx.query.userId });
    return undefined;
  },
);

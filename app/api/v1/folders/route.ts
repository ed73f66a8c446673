import { apiHandler } from "@/lib/api/handler";
import { createFolder } from "@/lib/folders/mutations";
import { listVisibleFolders } from "@/lib/folders/queries";
import { createFolderSchema } from "@/lib/folders/schemas";

export const dynamic = "force-dynamic";

/** Every folder the caller may read, with the caller's effective role on each. */
export const GET = apiHandler({}, async ({ actor }) => ({ folders: await listVisibleFolders(actor) }));

export const POST = apiHandler({ body: createFolderSchema }, async (ctx) => ({ folder: await createFolder(ctx, ctx.body) }), {
  status: 201,
});

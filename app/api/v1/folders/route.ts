import { defineRoute } from "@/lib/api/route";
import { folderCreatedResponseSchema, folderListResponseSchema } from "@/lib/folders/dto";
import { createFolder } from "@/lib/folders/mutations";
import { listVisibleFolders } from "@/lib/folders/queries";
import { createFolderSchema } from "@/lib/folders/schemas";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

/** Every folder the caller may read, with the caller's effective role on each. */
export const GET = defineRoute(
  {
    method: "GET",
    path: "/folders",
    summary: "List folders",
    description: "Every folder you may read, with your effective role on each.",
    tags: ["Folders"],
    access: { kind: "list", permission: "folders.read" },
    response: folderListResponseSchema,
  },
  async ({ actor }) => ({ folders: await listVisibleFolders(actor) }),
);

export const POST = defineRoute(
  {
    method: "POST",
    path: "/folders",
    summary: "Create a folder",
    description: "A top-level folder (parentId null) needs a tenant administrator; a subfolder needs Folder Admin on the parent.",
    tags: ["Folders"],
    access: { kind: "session", permission: "folders.manage", on: "parent" },
    body: createFolderSchema,
    response: folderCreatedResponseSchema,
    status: 201,
    errors: [404, 409],
  },
  async (ctx) => ({ folder: await createFolder(ctx, ctx.body) }),
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET", "POST");

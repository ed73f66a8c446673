import { z } from "zod";
import { nameSchema } from "@/lib/names";

export const FOLDER_NAME_MAX = 100;
/** Deep trees are hard to reason about and every permission check walks the chain. */
export const FOLDER_MAX_DEPTH = 10;

export const folderNameSchema = nameSchema({
  max: FOLDER_NAME_MAX,
  empty: "Enter a folder name.",
  tooLong: `Folder names can be at most ${FOLDER_NAME_MAX} characters.`,
}).refine((name) => !/[/\\]/.test(name), "Folder names cannot contain / or \\.");

/**
 * Every id that comes in. Not validated as a UUID here: a malformed id is answered like any unknown
 * id ("not found"). Lower-cased, PostgreSQL's spelling, since ids are compared as text once read.
 */
export const idSchema = z.string({ error: "An id is required." }).max(100, "Not a valid id.").toLowerCase();

export const createFolderSchema = z.object({
  name: folderNameSchema,
  parentId: idSchema.nullable().default(null),
});

export const renameFolderSchema = z.object({ folderId: idSchema, name: folderNameSchema });

export const moveFolderSchema = z.object({ folderId: idSchema, parentId: idSchema.nullable() });

export const deleteFolderSchema = z.object({ folderId: idSchema });

export const folderRoleSchema = z.enum(["FOLDER_ADMIN", "EDITOR", "VIEWER"], {
  error: "Choose Folder Admin, Editor or Viewer.",
});

export const setMemberSchema = z.object({
  folderId: idSchema,
  email: z.string().trim().toLowerCase().pipe(z.email("Enter a valid e-mail address.")),
  role: folderRoleSchema,
  /**
   * "add" (the Add member dialog) refuses someone who already has a role here; "update" (the member
   * list) refuses someone who no longer has one, rather than adding back a person just removed;
   * "change" sets it either way.
   */
  mode: z.enum(["add", "update", "change"]).default("change"),
});

export const removeMemberSchema = z.object({ folderId: idSchema, userId: idSchema });


export type CreateFolderInput = z.infer<typeof createFolderSchema>;
export { listQuerySchema, type ListQuery } from "@/lib/list-query";

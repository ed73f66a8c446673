import { z } from "zod";
import { dateTimeSchema } from "@/lib/api/openapi";
import { ROLE_PERMISSIONS } from "@/lib/authz/permissions";
import { folderRoleSchema } from "./schemas";

/** Wire shapes of the folder routes: documented in the OpenAPI document and checked by the tests. */

const folderRefSchema = z.object({ id: z.string(), name: z.string() });
const parentIdSchema = z.string().nullable().meta({ description: "The parent folder; null at the top level and when you cannot see the parent." });

/** What `role` means to a person and to an API token, whose permissions need not be a role's. */
const ROLE_DESCRIPTION =
  "Your highest role here, given here or on a folder above; null for a tenant administrator without one. " +
  `For an API token, the highest role all of whose permissions the token holds (${(["VIEWER", "EDITOR"] as const).map((role) => `${role}: ${[...ROLE_PERMISSIONS[role]].join(", ")}`).join("; ")}), else null: ` +
  "a token with connections.use alone shows null, yet may invoke. A token holds the permissions it was created with, listed with it under API tokens in the console.";

/** A role on a folder, as the console and the API show it. */
export type FolderRole = z.output<typeof folderRoleSchema>;

export const folderNodeSchema = z.object({ id: z.string(), name: z.string(), parentId: parentIdSchema, role: folderRoleSchema.nullable().meta({ description: ROLE_DESCRIPTION }) });

export const folderListResponseSchema = z.object({ folders: z.array(folderNodeSchema) });

export const folderCreatedResponseSchema = z.object({ folder: z.object({ id: z.string(), name: z.string(), parentId: z.string().nullable() }) });

export const folderResponseSchema = z.object({
  folder: z.object({ id: z.string(), name: z.string(), parentId: parentIdSchema, createdAt: dateTimeSchema, updatedAt: dateTimeSchema }),
  role: folderRoleSchema.nullable().meta({ description: ROLE_DESCRIPTION }),
  path: z.array(folderRefSchema).meta({ description: "Ancestors you may see, from the top down." }),
});

export const folderUpdatedResponseSchema = z.object({ folder: z.object({ id: z.string(), name: z.string(), parentId: parentIdSchema }) });

export const memberListResponseSchema = z.object({
  members: z.array(
    z.object({
      userId: z.string(),
      name: z.string(),
      email: z.string(),
      role: folderRoleSchema,
      active: z.boolean(),
      inheritedFrom: z.object({ id: z.string().nullable(), name: z.string() }).nullable(),
      directRole: folderRoleSchema.nullable().meta({ description: "The role given on this folder itself, when the effective role is inherited from a higher one or is this one." }),
    }),
  ),
  total: z.number().int(),
  page: z.number().int(),
  pageSize: z.number().int(),
});

export const memberSetResponseSchema = z.object({ member: z.object({ userId: z.string(), role: folderRoleSchema }) });

import { z } from "zod";
import { TOKEN_PERMISSIONS, TOKEN_TENANT_PERMISSIONS, type TokenPermission } from "@/lib/authz/permissions";
import { idSchema } from "@/lib/folders/schemas";
import { nameSchema } from "@/lib/names";
import { fromDecimalText } from "@/lib/whole-number";

export const TOKEN_MAX_DAYS = 365;
export const TOKEN_EXPIRY_CHOICES = [7, 30, 90, 180, 365] as const;
export const TOKEN_MAX_SCOPES = 50;

/** Token and service-account names. */
export const tokenNameSchema = nameSchema({ max: 100, tooLong: "Use at most 100 characters." });

/** Seeing the folder comes with any other grant on it, as it does with every role. */
export const tokenScopeSchema = z.object({
  folderId: idSchema,
  permissions: z
    .array(z.enum(TOKEN_PERMISSIONS, { error: "Choose permissions from the list." }))
    .max(TOKEN_PERMISSIONS.length)
    .transform((perms): TokenPermission[] => TOKEN_PERMISSIONS.filter((p) => p === "folders.read" || perms.includes(p))),
});

export const tokenScopesSchema = z
  .array(tokenScopeSchema)
  .min(1, "Add at least one folder.")
  .max(TOKEN_MAX_SCOPES, `A token can name at most ${TOKEN_MAX_SCOPES} folders.`)
  .refine((scopes) => new Set(scopes.map((s) => s.folderId)).size === scopes.length, "Each folder can appear only once.");

const tokenFields = {
  name: tokenNameSchema,
  expiresInDays: z.preprocess(
    fromDecimalText,
    z
      .number({ error: "Choose when the token expires." })
      .int("Choose a whole number of days.")
      .min(1, "A token must be valid for at least a day.")
      .max(TOKEN_MAX_DAYS, `A token can be valid for at most ${TOKEN_MAX_DAYS} days.`),
  ),
  scopes: tokenScopesSchema,
};

export const createPersonalTokenSchema = z.object(tokenFields);
/** A service account's token may also (or only) carry tenant-wide permissions, such as reading metrics. */
export const createServiceAccountTokenSchema = z
  .object({
    serviceAccountId: idSchema,
    ...tokenFields,
    scopes: z.array(tokenScopeSchema).max(TOKEN_MAX_SCOPES, `A token can name at most ${TOKEN_MAX_SCOPES} folders.`),
    tenantPermissions: z
      .array(z.enum(TOKEN_TENANT_PERMISSIONS, { error: "Choose permissions from the list." }))
      .max(TOKEN_TENANT_PERMISSIONS.length)
      .default([])
      .transform((perms) => TOKEN_TENANT_PERMISSIONS.filter((p) => perms.includes(p))),
  })
  .superRefine((input, ctx) => {
    if (input.scopes.length === 0 && input.tenantPermissions.length === 0) ctx.addIssue({ code: "custom", path: ["scopes"], message: "Add at least one folder, or allow reading metrics." });
    if (new Set(input.scopes.map((s) => s.folderId)).size !== input.scopes.length) ctx.addIssue({ code: "custom", path: ["scopes"], message: "Each folder can appear only once." });
  });
export const revokeTokenSchema = z.object({ tokenId: idSchema });

export const serviceAccountFieldsSchema = z.object({
  name: tokenNameSchema,
  description: z.string().trim().max(500, "Use at most 500 characters.").default(""),
});
export const createServiceAccountSchema = serviceAccountFieldsSchema;
export const updateServiceAccountSchema = serviceAccountFieldsSchema.extend({ serviceAccountId: idSchema });
export const setServiceAccountDisabledSchema = z.object({ serviceAccountId: idSchema, disabled: z.boolean() });
export const serviceAccountIdSchema = z.object({ serviceAccountId: idSchema });

export type TokenScopeInput = z.infer<typeof tokenScopeSchema>;
export type CreatePersonalTokenInput = z.infer<typeof createPersonalTokenSchema>;
export type CreateServiceAccountTokenInput = z.infer<typeof createServiceAccountTokenSchema>;

import { z } from "zod";
import { idSchema } from "@/lib/folders/schemas";
import { nameSchema } from "@/lib/names";

/** How one secret field gets its value. */
export const secretSourceSchema = z.discriminatedUnion("mode", [
  /** Resolved from a Credential/Secret asset at every use; never stored. */
  z.object({ mode: z.literal("asset"), assetId: idSchema }),
  /** Typed in the form; stored sealed with the envelope key. Not trimmed: spaces may belong to it. */
  z.object({ mode: z.literal("value"), value: z.string().min(1, "Enter a value.").max(10_000, "The value can be at most 10,000 characters.") }),
  /** Editing: keep what the connection already has for this field. */
  z.object({ mode: z.literal("keep") }),
  /** Left empty (optional fields only). */
  z.object({ mode: z.literal("none") }),
]);
export type SecretSource = z.output<typeof secretSourceSchema>;

export const saveConnectionSchema = z
  .object({
    /** Null to create a connection in folderId. */
    connectionId: idSchema.nullable().default(null),
    folderId: idSchema,
    /** Required, but checked with the connector's settings (mutations.ts plan()), so an empty form gets every error at once. */
    name: nameSchema({ max: 100, required: false }),
    kind: z.string().max(32),
    config: z.record(z.string().max(64), z.unknown()).default({}),
    secrets: z.record(z.string().max(64), secretSourceSchema).default({}),
    /** Secret fields whose connector username field is filled from the same Credential asset. */
    usernameFromAsset: z.array(z.string().max(64)).max(10).default([]),
    /**
     * Editing: the settings version the editor loaded; a later edit by someone else is a conflict. Optional
     * for other callers, whose save is still refused if the connection is edited while it is tested.
     */
    expectedVersion: z.number().int().min(0).optional(),
  })
  .superRefine((input, ctx) => {
    // Only a credential asset carries a username: a typed or empty secret field cannot fill one.
    // (That the asset is a Credential, not a Secret, is checked on the server once the asset is authorised.)
    for (const field of input.usernameFromAsset) {
      const mode = input.secrets[field]?.mode;
      if (mode !== "asset" && mode !== "keep") {
        ctx.addIssue({ code: "custom", path: ["secrets", field], message: "Only a Credential asset can fill the username: choose one for this field, or fill the username in yourself." });
      }
    }
  });
export type SaveConnectionInput = z.output<typeof saveConnectionSchema>;

export const connectionIdSchema = z.object({ connectionId: idSchema });

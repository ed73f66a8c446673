import { X509Certificate } from "node:crypto";
import { z } from "zod";
import { idSchema } from "@/lib/folders/schemas";
import { nameSchema } from "@/lib/names";
import { certificateBlocks } from "./common-fields";
import { EXTERNAL_STORE_KINDS } from "@/lib/vault/registry";
import { fromDecimalText } from "@/lib/whole-number";

export const STORE_NAME_MAX = 100;

const pemBundle = z
  .string()
  .max(200_000, "The CA bundle is too large (200 KB at most).")
  .refine((v) => v.trim() === "" || /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(v), "Paste one or more PEM certificates (-----BEGIN CERTIFICATE-----).")
  .refine((v) => !/PRIVATE KEY-----/.test(v), "A CA bundle holds certificates only; remove the private key.")
  // Node's TLS quietly skips a block it cannot read, and the store would then fail as "not trusted".
  .superRefine((v, ctx) => {
    const blocks = certificateBlocks(v);
    blocks.forEach((block, index) => {
      try {
        new X509Certificate(block);
      } catch {
        ctx.addIssue({ code: "custom", message: `Certificate ${index + 1} of ${blocks.length} in the CA bundle cannot be read: paste it again, whole, from its PEM file.` });
      }
    });
  });

export const storeCommonSchema = z.object({
  name: nameSchema({ max: STORE_NAME_MAX }),
  /** null: every folder may use the store; otherwise only this folder and its subfolders. */
  folderId: idSchema.nullable().default(null),
  mode: z.enum(["READ_ONLY", "READ_WRITE"], { error: "Choose read-only or read-write." }).default("READ_ONLY"),
  caBundle: pemBundle.optional().default(""),
  timeoutMs: z.preprocess(fromDecimalText, z.number({ error: "Enter a whole number of milliseconds." }).int("Enter a whole number of milliseconds.").min(1000, "At least 1000 ms.").max(120_000, "At most 120000 ms.").default(10_000)),
  /** Read-only stores: an optional secret the connection test reads to prove access. */
  probeSecret: z.string().trim().max(500, "The probe secret's name can be at most 500 characters.").optional().default(""),
});

/** Config and secrets are checked against the chosen provider's own schemas in lib/stores/mutations.ts. */
const providerInput = {
  config: z.record(z.string(), z.unknown()).default({}),
  /** Write-only values; a key that is absent (or empty) on edit keeps the stored value. Unknown keys are ignored. */
  secrets: z.record(z.string(), z.unknown()).default({}),
  /** Optional write-only values to clear (a required one is replaced, never removed). */
  removeSecrets: z.array(z.string().max(64)).max(32).default([]),
};

/** The kinds come from the registry: a new provider folder and its registry line are all it takes. */
export const externalKindSchema = z.enum(EXTERNAL_STORE_KINDS, { error: "Choose a store kind." });

export const createStoreSchema = storeCommonSchema.extend({ kind: externalKindSchema, ...providerInput });
/** `expectedVersion`: the settings version the editor loaded; a later edit by someone else is a conflict. Optional for other callers. */
export const updateStoreSchema = storeCommonSchema.extend({ storeId: idSchema, expectedVersion: z.number().int().min(0).optional(), ...providerInput });
export const testDraftSchema = createStoreSchema.extend({ storeId: idSchema.nullable().default(null) });
export const storeIdSchema = z.object({ storeId: idSchema });
/** The console's Create and Save after a test of the same settings: the saved store is tested too, so its page shows its health at once. */
const testAfterSave = { testAfterSave: z.boolean().optional() };
export const createStoreActionSchema = createStoreSchema.extend(testAfterSave);
export const updateStoreActionSchema = updateStoreSchema.extend(testAfterSave);

export type CreateStoreInput = z.infer<typeof createStoreSchema>;
export type UpdateStoreInput = z.infer<typeof updateStoreSchema>;

export { PROXY_SECRET_KEY, proxyUrlSchema } from "./common-fields";

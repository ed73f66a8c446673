import { z } from "zod";
import { idSchema } from "@/lib/folders/schemas";
import { nameSchema } from "@/lib/names";
import { searchTextSchema } from "@/lib/list-query";
import { VERSION_KINDS } from "@/lib/vault/reference";
import { fromDecimalText } from "@/lib/whole-number";

export const ASSET_TYPES = ["CREDENTIAL", "SECRET", "TEXT", "INTEGER", "BOOLEAN"] as const;
export type AssetType = (typeof ASSET_TYPES)[number];

export const ASSET_TYPE_LABELS: Record<AssetType, string> = {
  CREDENTIAL: "Credential",
  SECRET: "Secret",
  TEXT: "Text",
  INTEGER: "Integer",
  BOOLEAN: "Boolean",
};

export const ASSET_TYPE_DESCRIPTIONS: Record<AssetType, string> = {
  CREDENTIAL: "A username and password kept in a credential store.",
  SECRET: "One secret value (API key, token, client secret) kept in a credential store.",
  TEXT: "A plain text setting, stored as is.",
  INTEGER: "A whole number setting, stored as is.",
  BOOLEAN: "A true/false setting, stored as is.",
};

/** Only these can back a secret-type connection field. */
export const SECRET_ASSET_TYPES: readonly AssetType[] = ["CREDENTIAL", "SECRET"];
export const isSecretType = (type: AssetType) => SECRET_ASSET_TYPES.includes(type);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const text = (max: number, label: string) => z.string().trim().max(max, `${label} can be at most ${max} characters.`).default("");

const fields = {
  name: nameSchema({ max: 100 }),
  description: text(500, "The description"),
  storeId: z.string().trim().toLowerCase().default(""),
  /** "value": the person types the value and Latch writes it to the store; "reference": an existing secret. */
  source: z.enum(["value", "reference"]).default("reference"),
  secretName: text(500, "The secret name"),
  secretVersion: text(256, "The version"),
  /** AWS: whether `secretVersion` is a staging label or a version id (see reference.ts). */
  versionKind: z.enum(VERSION_KINDS).optional(),
  usernameKey: text(200, "The key"),
  valueKey: text(200, "The key"),
  username: text(300, "The username"),
  /** Write-only: never echoed back, never pre-filled. Not trimmed: spaces may be part of a secret. */
  secretValue: z.string().max(10_000, "The value can be at most 10,000 characters.").default(""),
  plainValue: z.string().max(4000, "The value can be at most 4,000 characters.").default(""),
};

type Fields = z.output<z.ZodObject<typeof fields>>;

/** Per-type rules. `creating` decides whether a blank write-only value is missing or "keep it". */
function checkByType(type: AssetType, input: Fields, ctx: z.RefinementCtx, creating: boolean) {
  const issue = (path: keyof Fields, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  if (isSecretType(type)) {
    if (!input.storeId) issue("storeId", "Choose the credential store that holds the secret.");
    // The name and version are checked against the store kind's rules once the store is known (reference.ts).
    if (input.source === "value" && creating && input.secretValue === "") {
      issue("secretValue", type === "CREDENTIAL" ? "Enter the password." : "Enter the value.");
    }
    if (input.source === "value" && input.secretVersion) issue("secretVersion", "A value you type is always the latest version; leave the version empty.");
    if (type === "CREDENTIAL" && input.source === "value" && creating && !input.username) issue("username", "Enter the username.");
    else if (type === "CREDENTIAL" && input.source === "value" && !input.usernameKey && !input.username) {
      issue("username", "Enter the username, or the key of the secret that holds it.");
    }
    // A referenced Credential's username rule depends on whether the store's secrets have keys: planSecret.
    return;
  }
  if (type === "INTEGER") {
    const v = input.plainValue.trim();
    if (!/^-?\d{1,19}$/.test(v) || BigInt(v) < INT64_MIN || BigInt(v) > INT64_MAX) issue("plainValue", "Enter a whole number, such as 42 or -7.");
  }
  if (type === "BOOLEAN" && input.plainValue !== "true" && input.plainValue !== "false") issue("plainValue", "Choose true or false.");
}

/** Text/Integer/Boolean values as stored (integers normalised, e.g. "007" → "7"). */
export function normalisePlainValue(type: AssetType, value: string): string | null {
  if (type === "INTEGER") return BigInt(value.trim()).toString();
  if (type === "TEXT" || type === "BOOLEAN") return value;
  return null;
}

export const createAssetSchema = z
  .object({ folderId: idSchema, type: z.enum(ASSET_TYPES, "Choose a type."), ...fields })
  .superRefine((input, ctx) => checkByType(input.type, input, ctx, true));
export type CreateAssetInput = z.output<typeof createAssetSchema>;

/**
 * The type of an asset is fixed at creation. Blank write-only fields keep what the store holds.
 * `expectedUpdatedAt`: when the editor loaded the asset; a later change by someone else is a conflict.
 */
export const updateAssetSchema = z.object({ assetId: idSchema, expectedUpdatedAt: z.iso.datetime({ offset: true }).optional(), ...fields });
export type UpdateAssetInput = z.output<typeof updateAssetSchema>;
export const checkUpdate = (type: AssetType, input: UpdateAssetInput) => {
  const result = z
    .object(fields)
    .superRefine((v, ctx) => checkByType(type, v, ctx, false))
    .safeParse(input);
  return result;
};

export const assetIdSchema = z.object({ assetId: idSchema });

export const assetListQuerySchema = z.object({
  q: searchTextSchema(200).optional().default(""),
  type: z.enum(ASSET_TYPES).optional(),
  page: z.preprocess(fromDecimalText, z.number().int().min(1).max(100000).default(1)),
  pageSize: z.preprocess(fromDecimalText, z.number().int().min(1).max(100).default(20)),
});
export type AssetListQuery = z.output<typeof assetListQuerySchema>;

import { z } from "zod";
import { dateTimeSchema } from "@/lib/api/openapi";
import { PROVIDERS } from "@/lib/vault/registry";
import type { AssetRow, AssetView } from "./queries";
import { ASSET_TYPES, isSecretType } from "./schemas";

/**
 * What the REST API says about an asset: metadata only. A secret's value never leaves the stores; a
 * Credential's username is left out too. Text/Integer/Boolean values are settings and are returned.
 */

/** How each store kind pins a version, from the kinds' own reference rules. */
function versionDescription(): string {
  const kinds = Object.values(PROVIDERS);
  const labels = (mode: string) => kinds.filter((p) => p.reference.version.mode === mode).map((p) => p.label);
  const stageOrId = labels("stageOrId");
  const none = labels("none");
  return [
    "The pinned version; null follows the latest.",
    stageOrId.length ? `${stageOrId.join(", ")}: "stage:<staging label>" or "id:<version id>".` : "",
    none.length ? `${none.join(", ")}: always null.` : "",
  ]
    .filter(Boolean)
    .join(" ");
}

const lastResolveSchema = z
  .object({ at: dateTimeSchema, ok: z.boolean() })
  .nullable()
  .meta({ description: "The last time Latch read the asset's secret from its store, and whether that worked." });

export const assetSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  type: z.enum(ASSET_TYPES),
  store: z.object({ id: z.string(), name: z.string(), kindLabel: z.string() }).nullable(),
  reference: z.string().nullable().meta({ description: "The secret's name or path in its store, with \" @ version\" when pinned." }),
  updatedAt: dateTimeSchema,
  lastResolve: lastResolveSchema,
});
export type AssetSummaryDto = z.output<typeof assetSummarySchema>;

export const assetListResponseSchema = z.object({
  assets: z.array(assetSummarySchema),
  total: z.number().int(),
  page: z.number().int(),
  pageSize: z.number().int(),
});

export const assetSchema = assetSummarySchema.extend({
  store: z.object({ id: z.string(), name: z.string(), kind: z.string(), kindLabel: z.string() }).nullable(),
  folder: z.object({ id: z.string(), name: z.string() }),
  secretName: z.string().nullable(),
  secretVersion: z
    .string()
    .nullable()
    .meta({ description: versionDescription() }),
  usernameKey: z.string().nullable().meta({ description: "Credential: the key of the stored secret that holds the username." }),
  valueKey: z.string().nullable().meta({ description: "The key of the stored secret that holds the value." }),
  ownsSecret: z.boolean().meta({ description: "Latch wrote the secret (a value typed in the console) rather than referencing an existing one." }),
  value: z.string().nullable().meta({ description: "Text, Integer and Boolean assets: the setting as stored. Always null for Credential and Secret." }),
  createdAt: dateTimeSchema,
  permissions: z.object({ write: z.boolean(), use: z.boolean() }),
});
export type AssetDto = z.output<typeof assetSchema>;

export const assetResponseSchema = z.object({ asset: assetSchema });

export function toAssetSummaryDto(row: AssetRow): AssetSummaryDto {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    type: row.type,
    store: row.store ? { id: row.store.id, name: row.store.name, kindLabel: row.store.kindLabel } : null,
    reference: row.reference,
    updatedAt: row.updatedAt.toISOString(),
    lastResolve: row.lastResolve ? { at: row.lastResolve.at.toISOString(), ok: row.lastResolve.ok } : null,
  };
}

export function toAssetDto(view: AssetView): AssetDto {
  return {
    ...toAssetSummaryDto(view),
    store: view.store && view.storeOption ? { id: view.store.id, name: view.store.name, kind: view.storeOption.kind, kindLabel: view.store.kindLabel } : null,
    folder: view.folder,
    secretName: view.secretName,
    secretVersion: view.secretVersion,
    usernameKey: view.usernameKey,
    valueKey: view.valueKey,
    ownsSecret: view.ownsSecret,
    // Belt and braces: plainValue is only ever set on the plain types, but a secret type never answers one.
    value: isSecretType(view.type) ? null : view.plainValue,
    createdAt: view.createdAt.toISOString(),
    permissions: view.permissions,
  };
}

export const assetRefreshResponseSchema = z.object({ refreshed: z.literal(true), assetId: z.string() });

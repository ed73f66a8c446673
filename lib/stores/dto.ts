import { z } from "zod";
import { dateTimeSchema } from "@/lib/api/openapi";
import { STORE_KINDS } from "@/lib/vault/registry";
import type { StoreSummary } from "./queries";

/** What the REST API says about a credential store: metadata and health, never its configuration. */

export const storeSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(STORE_KINDS),
  kindLabel: z.string(),
  scope: z.enum(["tenant", "folder"]).meta({ description: "tenant: usable by every folder; folder: by one folder and its subfolders." }),
  folder: z.object({ id: z.string(), name: z.string() }).nullable(),
  mode: z.enum(["READ_ONLY", "READ_WRITE"]),
  isBuiltIn: z.boolean(),
  health: z
    .object({ at: dateTimeSchema, ok: z.boolean(), message: z.string() })
    .nullable()
    .meta({ description: "The last connection test; null if it was never tested." }),
  assetCount: z.number().int(),
  updatedAt: dateTimeSchema,
});
export type StoreDto = z.output<typeof storeSchema>;

export const storeListResponseSchema = z.object({ stores: z.array(storeSchema) });
export const storeResponseSchema = z.object({ store: storeSchema });

export function toStoreDto(store: StoreSummary): StoreDto {
  return {
    id: store.id,
    name: store.name,
    kind: store.kind,
    kindLabel: store.kindLabel,
    scope: store.folder ? "folder" : "tenant",
    folder: store.folder,
    mode: store.mode,
    isBuiltIn: store.isBuiltIn,
    health: store.lastTest ? { at: store.lastTest.at.toISOString(), ok: store.lastTest.ok, message: store.lastTest.message } : null,
    assetCount: store.assetCount,
    updatedAt: store.updatedAt.toISOString(),
  };
}

export const storeRefreshResponseSchema = z.object({ refreshed: z.literal(true), storeId: z.string() });

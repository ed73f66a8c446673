import "server-only";
import type { Db } from "@/lib/db";

/** Something that references an asset: shown on the asset page, and the reason a delete is refused. */
export type AssetUsage = { kind: "connection"; id: string; name: string; folder: { id: string; name: string } };

/**
 * What references the asset. Connections (the only things that can reference an asset) arrive with
 * the connections feature, which adds its query here; until then nothing can hold a reference.
 */
export async function listAssetUsages(_client: Db, _assetId: string): Promise<AssetUsage[]> {
  return [];
}

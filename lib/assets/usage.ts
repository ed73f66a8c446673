import "server-only";
import type { Db } from "@/lib/db";

/** Something that references an asset: shown on the asset page, and the reason a delete is refused. */
export type AssetUsage = { kind: "connection"; id: string; name: string; folder: { id: string; name: string } };

/** Connections whose fields reference the asset (its secret or, for credentials, its username). */
export async function listAssetUsages(client: Db, assetId: string): Promise<AssetUsage[]> {
  const connections = await client.connection.findMany({
    where: { secrets: { some: { assetId } } },
    select: { id: true, name: true, folder: { select: { id: true, name: true } } },
    orderBy: { name: "asc" },
  });
  return connections.map((c) => ({ kind: "connection" as const, ...c }));
}

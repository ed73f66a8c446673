import "server-only";
import { getFolderAccess, can, type Actor } from "@/lib/authz";
import type { Db } from "@/lib/db";

/** Something that references an asset: shown on the asset page, and the reason a delete is refused. */
export type AssetUsage = { kind: "connection"; id: string; name: string; folder: { id: string; name: string } };

/**
 * What the viewer may know of an asset's users: connections they may read, by name; the others (in
 * folders they cannot see, e.g. a subfolder they hold no role on) only as a count.
 */
export type AssetUsages = { visible: AssetUsage[]; hidden: number };

/** Connections whose fields reference the asset (its secret or, for credentials, its username). */
export async function listAssetUsages(client: Db, assetId: string, viewer: Actor): Promise<AssetUsages> {
  const connections = await client.connection.findMany({
    where: { secrets: { some: { assetId } } },
    select: { id: true, name: true, folder: { select: { id: true, name: true } } },
    orderBy: [{ name: "asc" }, { id: "asc" }],
  });
  const readable = new Map<string, boolean>();
  for (const folderId of new Set(connections.map((c) => c.folder.id))) {
    const access = await getFolderAccess(client, viewer, folderId);
    readable.set(folderId, !!access && can(access, "connections.read"));
  }
  const visible = connections.filter((c) => readable.get(c.folder.id)).map((c) => ({ kind: "connection" as const, ...c }));
  return { visible, hidden: connections.length - visible.length };
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many.replace("#", String(n)));

/** "Sync job (in Finance), and 2 connections in folders you cannot see" — for the delete refusal. */
export function describeUsages({ visible, hidden }: AssetUsages): string {
  const named = visible.map((u) => `${u.name} (in ${u.folder.name})`);
  if (hidden > 0) named.push(plural(hidden, "1 connection in a folder you cannot see", "# connections in folders you cannot see"));
  if (named.length <= 1) return named.join("");
  return `${named.slice(0, -1).join(", ")} and ${named.at(-1)}`;
}

import "server-only";
import { can, getFolderAccess, type Actor } from "@/lib/authz";
import { db, sql } from "@/lib/db";
import { logger } from "@/lib/log";
import { ResolveError } from "@/lib/secrets/resolver";
import { STORE_ERROR_TITLES, type StoreErrorKind } from "@/lib/vault/errors";

/**
 * A credential store's failure names what only people who can open the asset's folder may see: the
 * secret's path and keys, the store's name and address. Someone who may use or read a connection
 * without that (a runner's token with connections.use, a Viewer of the connection's folder) learns
 * what went wrong, not where.
 */
export function hiddenStoreFailure(kind: string): string {
  const title = Object.hasOwn(STORE_ERROR_TITLES, kind) ? STORE_ERROR_TITLES[kind as StoreErrorKind] : "Store failure";
  return `The credential store could not provide a value this connection needs (${title}). The details are shown to people who can open its credential assets.`;
}

/** The kind of a recorded store failure ("store_not_found" → "not_found"; any kind, even one no longer known), or null for any other outcome. */
const storeKindOf = (lastErrorKind: string | null): string | null => (lastErrorKind?.startsWith("store_") ? lastErrorKind.slice("store_".length) : null);

/**
 * Whether the actor may read every one of these assets (their folders); true when there are none.
 * Fails closed: an asset gone meanwhile, or a failure to check, counts as unreadable.
 */
export async function mayReadAssets(actor: Actor, assetIds: readonly (string | null | undefined)[]): Promise<boolean> {
  const ids = [...new Set(assetIds.filter((id): id is string => !!id))];
  if (ids.length === 0) return true;
  try {
    const rows = await sql<{ id: string; folder_id: string }>(db(), `SELECT id, folder_id FROM credential_assets WHERE id = ANY($1::uuid[])`, [ids]);
    if (rows.length < ids.length) return false;
    for (const folderId of new Set(rows.map((r) => r.folder_id))) {
      const access = await getFolderAccess(db(), actor, folderId);
      if (!access || !can(access, "assets.read")) return false;
    }
    return true;
  } catch (error) {
    // On a failure path already (the store failed): the caller gets that failure, in general terms, not a 500.
    logger().warn({ err: error }, "could not check who may read a store failure's details");
    return false;
  }
}

/** A connection's recorded outcome as this reader may see it: a store failure in general terms unless `readable`. */
export function lastMessageFor(row: { lastMessage: string | null; lastErrorKind: string | null }, readable: boolean): string | null {
  const kind = storeKindOf(row.lastErrorKind);
  return kind !== null && !readable ? hiddenStoreFailure(kind) : row.lastMessage;
}

/** A store failure met on the caller's behalf, told in general terms unless the caller may read every asset involved. */
export async function storeFailureFor(actor: Actor, assetIds: readonly (string | null | undefined)[], error: ResolveError): Promise<ResolveError> {
  if (await mayReadAssets(actor, assetIds)) return error;
  return new ResolveError(error.kind, hiddenStoreFailure(error.kind), error.retryAfterSeconds);
}

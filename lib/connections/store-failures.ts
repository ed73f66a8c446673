import "server-only";
import { can, getFolderAccess, type Actor } from "@/lib/authz";
import { db, sql } from "@/lib/db";
import { ResolveError } from "@/lib/secrets/resolver";
import { STORE_ERROR_TITLES, type StoreErrorKind } from "@/lib/vault/errors";

/**
 * A credential store's failure names what only people who can open the asset's folder may see: the
 * secret's path and keys, the store's name and address. Someone who may use or read a connection
 * without that (a runner's token with connections.use, a Viewer of the connection's folder) learns
 * what went wrong, not where.
 */
export function hiddenStoreFailure(kind: StoreErrorKind): string {
  return `The credential store could not provide a value this connection needs (${STORE_ERROR_TITLES[kind]}). The details are shown to people who can open its credential assets.`;
}

const STORE_KIND = /^store_(.+)$/;

/** The kind of a recorded store failure ("store_not_found" → "not_found"), or null for any other outcome. */
function storeKindOf(lastErrorKind: string | null): StoreErrorKind | null {
  const kind = lastErrorKind?.match(STORE_KIND)?.[1];
  return kind && Object.hasOwn(STORE_ERROR_TITLES, kind) ? (kind as StoreErrorKind) : null;
}

/** Whether the actor may read every one of these assets (their folders); true when there are none. */
export async function mayReadAssets(actor: Actor, assetIds: readonly (string | null | undefined)[]): Promise<boolean> {
  const ids = [...new Set(assetIds.filter((id): id is string => !!id))];
  if (ids.length === 0) return true;
  const rows = await sql<{ folder_id: string }>(db(), `SELECT DISTINCT folder_id FROM credential_assets WHERE id = ANY($1::uuid[])`, [ids]);
  for (const { folder_id } of rows) {
    const access = await getFolderAccess(db(), actor, folder_id);
    if (!access || !can(access, "assets.read")) return false;
  }
  return true;
}

/** A connection's recorded outcome as this reader may see it: a store failure in general terms unless `readable`. */
export function lastMessageFor(row: { lastMessage: string | null; lastErrorKind: string | null }, readable: boolean): string | null {
  const kind = storeKindOf(row.lastErrorKind);
  return kind && !readable ? hiddenStoreFailure(kind) : row.lastMessage;
}

/** A store failure met on the caller's behalf, told in general terms unless the caller may read every asset involved. */
export async function storeFailureFor(actor: Actor, assetIds: readonly (string | null | undefined)[], error: ResolveError): Promise<ResolveError> {
  if (await mayReadAssets(actor, assetIds)) return error;
  return new ResolveError(error.kind, hiddenStoreFailure(error.kind), error.retryAfterSeconds);
}

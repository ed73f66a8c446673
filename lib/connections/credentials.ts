import "server-only";
import { decrypt } from "@/lib/crypto/envelope";
import type { Actor } from "@/lib/authz";
import { ConnectorError } from "@/lib/connectors/types";
import { resolve } from "@/lib/secrets/resolver";

/**
 * Where each secret field of a connection gets its value: an asset (resolved through lib/secrets at
 * every use) or a typed value sealed in connection_secrets. Values exist only on this stack.
 */
export type FieldSource =
  | { field: string; part: "VALUE" | "USERNAME"; assetId: string }
  | { field: string; part: "VALUE"; sealed: { ciphertext: Uint8Array; dataKeyId: string }; aad: string }
  | { field: string; part: "VALUE"; typed: string };

export type Resolved = {
  /** Secret field → value. */
  secrets: Record<string, string>;
  /** Username field → username taken from a Credential asset. */
  usernames: Record<string, string>;
  /** Whether any asset value came from the cache (only then can a refetch change anything). */
  fromCache: boolean;
  /** The fetch each asset's value came from, to ask for a newer one after a rejection. */
  fetchSeqs: Map<string, number>;
};

export const typedValueAad = (connectionId: string, field: string) => `connection_secrets:${connectionId}:${field}`;

async function resolveAll(sources: FieldSource[], ctx: { actor: Actor; requestId?: string | null; purpose: string }, rejected?: Resolved): Promise<Resolved> {
  const out: Resolved = { secrets: {}, usernames: {}, fromCache: false, fetchSeqs: new Map() };
  // One resolve per asset per pass: a Credential can fill both a password and a username field.
  const byAsset = new Map<string, Awaited<ReturnType<typeof resolve>>>();
  for (const source of sources) {
    if ("assetId" in source) {
      const r = byAsset.get(source.assetId) ?? (await resolve({ assetId: source.assetId }, { ...ctx, newerThan: rejected?.fetchSeqs.get(source.assetId) }));
      byAsset.set(source.assetId, r);
      out.fetchSeqs.set(source.assetId, r.meta.fetchSeq);
      out.fromCache ||= r.meta.fromCache;
      if (source.part === "USERNAME") {
        if (r.type !== "CREDENTIAL" || !r.username) throw new ConnectorError("config", "The asset chosen for the username is not a Credential asset with a username.");
        out.usernames[source.field] = r.username;
      } else {
        out.secrets[source.field] = r.type === "CREDENTIAL" ? r.password : r.value;
      }
    } else if ("sealed" in source) {
      out.secrets[source.field] = await decrypt(source.sealed, source.aad);
    } else {
      out.secrets[source.field] = source.typed;
    }
  }
  return out;
}

function sameValues(a: Resolved, b: Resolved): boolean {
  const keys = new Set([...Object.keys(a.secrets), ...Object.keys(b.secrets), ...Object.keys(a.usernames), ...Object.keys(b.usernames)]);
  for (const k of keys) if (a.secrets[k] !== b.secrets[k] || a.usernames[k] !== b.usernames[k]) return false;
  return true;
}

/**
 * Runs one step with the connection's credentials. If the target rejects credentials that came from
 * the cache (they may have been rotated), the values are fetched afresh once and the step retried
 * once; a fresh value equal to the old one, or a second rejection, ends it: no loop.
 */
export async function withCredentials<T>(
  sources: FieldSource[],
  ctx: { actor: Actor; requestId?: string | null; purpose: string },
  step: (resolved: Resolved) => Promise<T>,
  hooks: { onRotation?: (outcome: "retried" | "unchanged") => Promise<void> | void } = {},
): Promise<T> {
  const first = await resolveAll(sources, ctx);
  try {
    return await step(first);
  } catch (error) {
    if (!(error instanceof ConnectorError && error.kind === "credentials_rejected" && first.fromCache)) throw error;
    const fresh = await resolveAll(sources, ctx, first);
    if (sameValues(first, fresh)) {
      await hooks.onRotation?.("unchanged");
      throw error;
    }
    await hooks.onRotation?.("retried");
    return step(fresh);
  }
}

import "server-only";
import { decrypt } from "@/lib/crypto/envelope";
import { db } from "@/lib/db";
import { rememberValue } from "@/lib/log/known-values";
import { AppError } from "@/lib/errors";
import type { Actor } from "@/lib/authz";
import { ConnectorError, USER_FROM_ASSET, type UserSource } from "@/lib/connectors/types";
import { ensureCurrent } from "@/lib/secrets/broadcast";
import { resolve } from "@/lib/secrets/resolver";
import { SECRET_TTL_MS } from "@/lib/secrets/cache";

/**
 * Where each secret field of a connection gets its value: an asset (resolved through lib/secrets at
 * every use) or a typed value sealed in connection_secrets. Values exist only on this stack.
 */
export type FieldSource =
  /** `label`: the field's label, for messages (the field's name otherwise). */
  | { field: string; part: "VALUE" | "USERNAME"; assetId: string; label?: string }
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
  /** Per asset: whether its value came from this instance's cache or from its store. */
  cache: Map<string, "hit" | "miss">;
  /** Per asset: the store its value came from (a store refresh drains clients built from it). */
  stores: Map<string, string>;
  /** When the first of the asset values reaches the end of its hour (ms since the epoch); null: none came from a store. */
  expiresAt: number | null;
};

/**
 * The config a connector opens its client with (and classifies its errors by): the connection's
 * settings and the usernames resolved from its assets, marked as such, so that messages name where a
 * username came from instead of quoting what the store holds (see USER_FROM_ASSET).
 */
export function targetConfig<C extends Record<string, unknown>>(config: C, resolved: Pick<Resolved, "usernames">): C & UserSource {
  return Object.keys(resolved.usernames).length > 0 ? { ...config, ...resolved.usernames, [USER_FROM_ASSET]: true } : config;
}

/** Whom a resolve is for, and (when that is someone else) who set it off. */
export type ResolveFor = {
  actor: Actor;
  requestId?: string | null;
  purpose: string;
  triggeredBy?: { id: string; email: string; via?: { kind: string; prefix: string } };
  auditCacheHits?: boolean;
};

/**
 * Connections resolve their assets as their owner, whose assets.use the resolver re-checks at every
 * resolution, whoever triggers the use (an invoke, a test): a caller needs connections.use only.
 */
export async function runtimeActorFor(connection: { ownerId: string }): Promise<Actor> {
  return runtimeActorFrom(await db().user.findUnique({ where: { id: connection.ownerId }, select: { id: true, email: true, name: true, isAdmin: true, active: true } }));
}

/** The same, from an owner row already read (the invoke reads it with the connection). */
export function runtimeActorFrom(owner: { id: string; email: string; name: string; isAdmin: boolean; active: boolean } | null): Actor {
  if (!owner || !owner.active) throw new OwnerCannotResolve("The person who owns this connection is deactivated. Someone who may edit it and use its credential assets can save it again to take it over.");
  return { id: owner.id, email: owner.email, name: owner.name, isAdmin: owner.isAdmin };
}

/** The caller, as a resolve's audit event names them when it runs as the connection's owner. */
export function triggerOf(actor: Actor): NonNullable<ResolveFor["triggeredBy"]> {
  return { id: actor.id, email: actor.email, ...(actor.scope ? { via: { kind: actor.scope.kind, prefix: actor.scope.tokenPrefix } } : {}) };
}

/**
 * The connection cannot resolve its assets as its owner (deactivated, or no longer allowed to use one):
 * a state of the connection to put right (409), and a failed status when a test meets it.
 */
export class OwnerCannotResolve extends AppError {
  static override readonly brand = "latch.OwnerCannotResolve";
  /** `forStatus`: the words the connection's status keeps, read by anyone who opens it later (not "you"). */
  constructor(
    message: string,
    readonly forStatus: string = message,
  ) {
    super("CONFLICT", message);
  }
}

export const typedValueAad = (connectionId: string, field: string) => `connection_secrets:${connectionId}:${field}`;

async function resolveAll(sources: FieldSource[], ctx: ResolveFor, rejected?: Resolved): Promise<Resolved> {
  // Before a cached value is used: refreshes another instance sent while this one could not hear are applied first.
  if (!rejected && sources.some((s) => "assetId" in s)) await ensureCurrent();
  const out: Resolved = { secrets: {}, usernames: {}, fromCache: false, fetchSeqs: new Map(), cache: new Map(), stores: new Map(), expiresAt: null };
  // One resolve per asset per pass: a Credential can fill both a password and a username field.
  const byAsset = new Map<string, Awaited<ReturnType<typeof resolve>>>();
  for (const source of sources) {
    if ("assetId" in source) {
      const r = byAsset.get(source.assetId) ?? (await resolve({ assetId: source.assetId }, { ...ctx, newerThan: rejected?.fetchSeqs.get(source.assetId) }).catch((error: unknown) => {
        // Run as the connection's owner on a caller's behalf (invoke, test: triggeredBy is set), "not
        // found" is the owner's, not the caller's, and the asset cannot have gone (connections hold it):
        // a state of the connection to put right, as a deactivated owner is. A save or an OAuth callback
        // resolves as the person acting, whose refusal stays a 404.
        if (ctx.triggeredBy && error instanceof AppError && error.code === "NOT_FOUND") {
          const field = source.label ?? source.field;
          const forAnyone = `This connection's owner may no longer use the credential asset chosen for its “${field}” field. An administrator of the asset's folder can let them use it again, or someone who may edit the connection and use the asset can save it again to take it over.`;
          // The owner asking (Reconnect) is told as themself, with what they can do; the status keeps the words for anyone.
          throw new OwnerCannotResolve(
            ctx.triggeredBy.id === ctx.actor.id
              ? `You may no longer use the credential asset chosen for “${field}”: choose another one for it (Edit), or ask an administrator of the asset's folder to let you use it again.`
              : forAnyone,
            forAnyone,
          );
        }
        throw error;
      }));
      byAsset.set(source.assetId, r);
      out.fetchSeqs.set(source.assetId, r.meta.fetchSeq);
      out.fromCache ||= r.meta.fromCache;
      out.cache.set(source.assetId, r.meta.fromCache ? "hit" : "miss");
      out.stores.set(source.assetId, r.meta.storeId);
      const ends = r.meta.fetchedAt.getTime() + SECRET_TTL_MS;
      out.expiresAt = out.expiresAt === null ? ends : Math.min(out.expiresAt, ends);
      if (source.part === "USERNAME") {
        if (r.type !== "CREDENTIAL" || !r.username) throw new ConnectorError("config", "The asset chosen for the username is not a Credential asset with a username.");
        out.usernames[source.field] = r.username;
      } else {
        out.secrets[source.field] = r.type === "CREDENTIAL" ? r.password : r.value;
      }
    } else {
      const value = "sealed" in source ? await decrypt(source.sealed, source.aad) : source.typed;
      // As for resolved values: should an error ever quote it, the log masks it.
      rememberValue(value);
      out.secrets[source.field] = value;
    }
  }
  return out;
}

function sameValues(a: Resolved, b: Resolved): boolean {
  const keys = new Set([...Object.keys(a.secrets), ...Object.keys(b.secrets), ...Object.keys(a.usernames), ...Object.keys(b.usernames)]);
  for (const k of keys) if (a.secrets[k] !== b.secrets[k] || a.usernames[k] !== b.usernames[k]) return false;
  return true;
}

/** How a rotation ended: the retry worked, was rejected again, failed otherwise, the store had nothing new, or could not be read. */
export type RotationOutcome = "recovered" | "rejected_again" | "retry_failed" | "unchanged" | "refetch_failed";
/** `refetch` names the fetch that brought the new values: invokes rejected together share it. */
export type RotationEvent = { outcome: RotationOutcome; refetch: string };

/** Which fetches the values came from: "<asset>:<seq>,…". */
const fetchKey = (resolved: Resolved) =>
  [...resolved.fetchSeqs]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([asset, seq]) => `${asset}:${seq}`)
    .join(",");

/** How long values that a refetch after a rejection found unchanged are not fetched again for another rejection. */
export const CONFIRMED_UNCHANGED_MS = 10_000;
/** fetchKey → when a refetch found those values unchanged (this instance; on globalThis, shared by its bundles). */
const confirmedHolder = globalThis as unknown as { latchConfirmedUnchanged?: Map<string, number> };
const confirmed = (confirmedHolder.latchConfirmedUnchanged ??= new Map());

function recentlyConfirmed(key: string): boolean {
  const now = Date.now();
  for (const [k, at] of confirmed) if (now - at >= CONFIRMED_UNCHANGED_MS) confirmed.delete(k);
  return confirmed.has(key);
}

/**
 * Runs one step with the connection's credentials. If the target rejects credentials that came from
 * the cache (they may have been rotated), the values are fetched afresh once and the step retried
 * once; a fresh value equal to the old one, or a second rejection, ends it: no loop. Values found
 * unchanged are not fetched again for another rejection within CONFIRMED_UNCHANGED_MS. The hook
 * hears how it ended, after the retry.
 */
export async function withCredentials<T>(
  sources: FieldSource[],
  ctx: ResolveFor,
  step: (resolved: Resolved) => Promise<T>,
  hooks: {
    onRotation?: (event: RotationEvent) => Promise<void> | void;
    /** Just before values a target rejected are fetched again: drop what was built with them (a pooled client). */
    onRefetch?: () => void;
    /**
     * Fetch again after a rejection even if a refetch just found the values unchanged: for a test a
     * person asked for (Connect, Reconnect), who may have put the new value in the store seconds ago.
     * Tests are rate-limited (LATCH_REFRESH_RATE_PER_SECOND), so this cannot turn into a stream of reads.
     */
    evenIfJustConfirmed?: boolean;
  } = {},
): Promise<T> {
  const first = await resolveAll(sources, ctx);
  try {
    return await step(first);
  } catch (error) {
    if (!(error instanceof ConnectorError && error.kind === "credentials_rejected" && error.refetch && first.fromCache)) throw error;
    // Values a refetch for a rejection just confirmed: asking the store again cannot help yet, and a
    // target that keeps refusing (a path that always answers 401) must not turn invokes into store reads.
    if (!hooks.evenIfJustConfirmed && recentlyConfirmed(fetchKey(first))) throw error;
    hooks.onRefetch?.();
    let fresh: Resolved;
    try {
      fresh = await resolveAll(sources, ctx, first);
    } catch (storeError) {
      // The store could not say whether the values changed: the rejection stands, recorded as a rotation
      // that failed (the rejected value is already out of the cache), and the store's failure is the answer.
      // Keyed apart from the fetch's own rotation event (the rejected values often came from a rotation).
      await hooks.onRotation?.({ outcome: "refetch_failed", refetch: `failed:${fetchKey(first)}` });
      throw storeError;
    }
    const refetch = fetchKey(fresh);
    if (sameValues(first, fresh)) {
      confirmed.set(refetch, Date.now());
      await hooks.onRotation?.({ outcome: "unchanged", refetch });
      throw error;
    }
    let result: T;
    try {
      result = await step(fresh);
    } catch (retryError) {
      const again = retryError instanceof ConnectorError && retryError.kind === "credentials_rejected";
      await hooks.onRotation?.({ outcome: again ? "rejected_again" : "retry_failed", refetch });
      throw retryError;
    }
    await hooks.onRotation?.({ outcome: "recovered", refetch });
    return result;
  }
}

import "server-only";
import type { CredentialAsset, CredentialStore } from "@prisma/client";
import { recordAuditEvent } from "@/lib/audit/record";
import { assertCanOnFolder, type Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { AppError, conflict, notFound, type AppErrorCode } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { rememberValue } from "@/lib/log/known-values";
import { metrics, registerCacheMetrics } from "@/lib/metrics";
import { onRefresh } from "./broadcast";
import { clientForStore } from "@/lib/stores/client";
import { isStoreUsableByFolder } from "@/lib/stores/queries";
import { STORE_ERROR_TITLES, StoreError, classifyNetworkError, type StoreErrorKind } from "@/lib/vault/errors";
import { SecretCache, type CacheKey, type CachedSecret } from "./cache";

/**
 * The only path by which Latch reads a secret value. Every call re-checks that the person acting (or
 * the connection's owner) still holds assets.use on the asset's folder, reads through the process
 * cache (sealed, one hour from fetch), and audits who resolved which asset from which store, with
 * the outcome and duration, never the value. The value goes back on the caller's stack only.
 */

export type ResolveContext = {
  /** The person acting, or the owner of the connection that is running. */
  actor: Actor;
  requestId?: string | null;
  /** Why: shown in the audit trail ("resolve_test", "connection_test", "invoke", …). */
  purpose: string;
  /** Skip the cached value and fetch afresh (Resolve test). */
  fresh?: boolean;
  /** A value the target rejected: accept only one fetched after it (shared by concurrent rejections). */
  newerThan?: number;
  /** Who set this resolve off when it runs on someone else's behalf (a runner's invoke resolves as the connection's owner); recorded with it. */
  triggeredBy?: { id: string; email: string; via?: { kind: string; prefix: string } };
  /** false: cache hits are not audited here, because the caller records the use in its own event (an invoke names the assets it used). Store reads always are. */
  auditCacheHits?: boolean;
};

export type ResolveMeta = {
  assetId: string;
  storeId: string;
  version: string | null;
  updatedAt: Date | null;
  /** Keys present in the secret (names only). */
  keys: string[];
  fromCache: boolean;
  fetchedAt: Date;
  /** Identifies this fetch, for `newerThan` after a rejection. */
  fetchSeq: number;
};

export type ResolvedSecret =
  | { type: "CREDENTIAL"; username: string | null; password: string; meta: ResolveMeta }
  | { type: "SECRET"; value: string; meta: ResolveMeta };

/** A store or reference failure, in words a person can act on; carries the StoreError kind. */
export class ResolveError extends AppError {
  constructor(
    readonly kind: StoreErrorKind,
    message: string,
  ) {
    super(httpCodeFor(kind), message);
  }
}

function httpCodeFor(kind: StoreErrorKind): AppErrorCode {
  if (kind === "timeout") return "UPSTREAM_TIMEOUT";
  if (kind === "unavailable" || kind === "throttled" || kind === "tcp" || kind === "dns") return "UPSTREAM_UNAVAILABLE";
  return "UPSTREAM_FAILED";
}

const globalForCache = globalThis as unknown as { latchSecretCache?: SecretCache };

/** The process's cache; one per server process (kept on globalThis so dev reloads do not fork it). */
export function secretCache(): SecretCache {
  if (!globalForCache.latchSecretCache) {
    const cache = new SecretCache({ maxEntries: env().LATCH_SECRET_CACHE_MAX_ENTRIES });
    globalForCache.latchSecretCache = cache;
    registerCacheMetrics(() => cache.stats());
    // Edits and refreshes on any instance drop this instance's entries, whatever else runs here.
    onRefresh((message) => {
      if (message.kind === "store") cache.invalidateStore(message.id);
      else for (const assetId of message.kind === "asset" ? [message.id] : message.assetIds) cache.invalidateAsset(assetId);
    });
  }
  return globalForCache.latchSecretCache;
}

type AssetWithStore = CredentialAsset & { store: CredentialStore | null };

export function cacheKeyFor(asset: Pick<CredentialAsset, "storeId" | "secretName" | "secretVersion">): CacheKey {
  return { storeId: asset.storeId!, name: asset.secretName!, version: asset.secretVersion || null };
}

function pick(values: Record<string, string>, key: string | null, what: string, assetName: string): string {
  if (key) {
    const v = values[key];
    if (typeof v !== "string") {
      throw new ResolveError("not_found", `The secret behind “${assetName}” has no key “${key}” for the ${what} (keys present: ${Object.keys(values).sort().join(", ") || "none"}).`);
    }
    return v;
  }
  const keys = Object.keys(values);
  if (keys.length === 1) return values[keys[0]!]!;
  if (typeof values.value === "string") return values.value;
  throw new ResolveError("not_found", `The secret behind “${assetName}” has several keys (${keys.sort().join(", ")}); edit the asset and choose which one holds the ${what}.`);
}

async function fetchFromStore(store: CredentialStore, key: CacheKey): Promise<CachedSecret> {
  const client = await clientForStore(store);
  const timer = metrics().vaultCalls.startTimer({ store_kind: store.kind, store_id: store.id });
  let outcome = "error";
  try {
    const secret = await client.getSecret({ name: key.name, ...(key.version ? { version: key.version } : {}) });
    outcome = "ok";
    return { values: secret.values, version: secret.version, updatedAt: secret.updatedAt };
  } finally {
    timer({ outcome });
    await client.close?.().catch(() => {});
  }
}

function asResolveError(error: unknown, store: CredentialStore): ResolveError | null {
  if (error instanceof ResolveError) return error;
  const known = error instanceof StoreError ? error : classifyNetworkError(error, store.name);
  return known ? new ResolveError(known.kind, known.message) : null;
}

/**
 * Resolves a Credential or Secret asset. Throws "not found" when the asset is absent or the actor may
 * not use it, a ResolveError (with a 502/503/504 code) when the store fails, and a conflict when the
 * asset cannot back a secret or its store is no longer open to its folder.
 */
export async function resolve(ref: { assetId: string }, ctx: ResolveContext): Promise<ResolvedSecret> {
  const started = performance.now();
  let asset: AssetWithStore | null = null;
  let store: CredentialStore | null = null;
  let cacheHit = false;
  try {
    // Inside the audited block: a refusal (absent, forbidden, not a secret) is recorded too.
    asset = isUuid(ref.assetId) ? await db().credentialAsset.findUnique({ where: { id: ref.assetId }, include: { store: true } }) : null;
    if (!asset) throw notFound("Credential asset");
    await assertCanOnFolder(db(), ctx.actor, "assets.use", asset.folderId, "Credential asset");
    if ((asset.type !== "CREDENTIAL" && asset.type !== "SECRET") || !asset.store || !asset.secretName) {
      throw conflict(`“${asset.name}” is a ${asset.type.toLowerCase()} setting; only Credential and Secret assets hold secrets.`);
    }
    store = asset.store;
    const secretName = asset.secretName;
    // Values typed into an asset live under assets/<that asset's id>; no other asset may read them.
    if (store.isBuiltIn && secretName.startsWith("assets/") && secretName !== `assets/${asset.id}`) {
      throw new ResolveError("permission", `“${secretName}” holds the value typed into another asset; only that asset can use it.`);
    }
    if (!(await isStoreUsableByFolder(store, asset.folderId))) {
      throw new ResolveError("config", `The store “${store.name}” is no longer available to this asset's folder. Edit the asset and choose another store.`);
    }
    const key = cacheKeyFor(asset);
    const from = store;
    const got = await secretCache().get(key, () => fetchFromStore(from, key), { assetId: asset.id, fresh: ctx.fresh, newerThan: ctx.newerThan });
    cacheHit = got.fromCache;
    const meta: ResolveMeta = {
      assetId: asset.id,
      storeId: store.id,
      version: got.version,
      updatedAt: got.updatedAt,
      keys: Object.keys(got.values).sort(),
      fromCache: got.fromCache,
      fetchedAt: got.fetchedAt,
      fetchSeq: got.fetchSeq,
    };
    let result: ResolvedSecret;
    if (asset.type === "CREDENTIAL") {
      const password = pick(got.values, asset.valueKey, "password", asset.name);
      const username = asset.usernameKey ? pick(got.values, asset.usernameKey, "username", asset.name) : asset.username;
      result = { type: "CREDENTIAL", username, password, meta };
      rememberValue(password);
    } else {
      result = { type: "SECRET", value: pick(got.values, asset.valueKey, "value", asset.name), meta };
      rememberValue(result.value);
    }
    metrics().resolves.inc({ store_kind: store.kind, store_id: store.id, outcome: "ok", cache: cacheHit ? "hit" : "miss" });
    if (!(cacheHit && ctx.auditCacheHits === false)) await audit(ctx, ref, asset, store, "SUCCESS", started, { cache: cacheHit ? "hit" : "miss", version: got.version });
    return result;
  } catch (error) {
    const failure = store ? asResolveError(error, store) : error instanceof ResolveError ? error : null;
    if (store) metrics().resolves.inc({ store_kind: store.kind, store_id: store.id, outcome: failure?.kind ?? "unexpected", cache: cacheHit ? "hit" : "miss" });
    // Absent and forbidden answer the caller alike; the audit trail tells them apart.
    const refused = error instanceof AppError && error.code === "NOT_FOUND" && !failure;
    const reason = failure?.kind ?? (refused ? (asset ? "access_denied" : "asset_not_found") : error instanceof AppError ? "not_a_secret" : "unexpected");
    await audit(ctx, ref, asset, store, refused && asset ? "DENIED" : "FAILURE", started, { ...(store ? { cache: cacheHit ? "hit" : "miss" } : {}), failure: reason });
    throw failure ?? error;
  }
}

async function audit(
  ctx: ResolveContext,
  ref: { assetId: string },
  asset: CredentialAsset | null,
  store: CredentialStore | null,
  outcome: "SUCCESS" | "FAILURE" | "DENIED",
  started: number,
  extra: Record<string, unknown>,
) {
  await recordAuditEvent(db(), {
    actor: ctx.actor,
    action: "asset.resolve",
    target: { type: "asset", id: asset?.id ?? String(ref.assetId).slice(0, 64), label: asset?.name ?? null },
    folderId: asset?.folderId ?? null,
    outcome,
    requestId: ctx.requestId,
    details: {
      purpose: ctx.purpose,
      ...(store ? { storeId: store.id, store: store.name, storeKind: store.kind } : { storeId: asset?.storeId ?? null }),
      durationMs: Math.round(performance.now() - started),
      ...(ctx.triggeredBy ? { triggeredBy: ctx.triggeredBy } : {}),
      ...extra,
    },
  });
}

/**
 * Whether a secret exists in the store, for the rule that Latch never overwrites a secret it did not
 * create. The value read is dropped here. Failures other than "not found" are thrown as ResolveError.
 */
export async function secretExists(store: CredentialStore, name: string): Promise<boolean> {
  try {
    await fetchFromStore(store, { storeId: store.id, name, version: null });
    return true;
  } catch (error) {
    const failure = asResolveError(error, store);
    if (failure?.kind === "not_found") return false;
    throw failure ?? error;
  }
}

export type ResolveTestResult =
  | {
      ok: true;
      version: string | null;
      updatedAt: Date | null;
      keys: string[];
      /** Credential assets only: the username is metadata; the password never leaves resolve(). */
      username: string | null;
      durationMs: number;
    }
  | { ok: false; kind: StoreErrorKind; title: string; message: string; durationMs: number };

/**
 * The asset page's Resolve test: a fresh read through resolve(), reduced to metadata here so no
 * value crosses into the action that calls it.
 */
export async function resolveTest(ref: { assetId: string }, ctx: Omit<ResolveContext, "purpose" | "fresh">): Promise<ResolveTestResult> {
  const started = performance.now();
  const durationMs = () => Math.round(performance.now() - started);
  try {
    const resolved = await resolve(ref, { ...ctx, purpose: "resolve_test", fresh: true });
    const { version, updatedAt, keys } = resolved.meta;
    const username = resolved.type === "CREDENTIAL" ? resolved.username : null;
    await recordLastResolve(resolved.meta.assetId, true);
    return { ok: true, version, updatedAt, keys, username, durationMs: durationMs() };
  } catch (error) {
    if (!(error instanceof ResolveError)) throw error;
    await recordLastResolve(ref.assetId, false);
    return { ok: false, kind: error.kind, title: STORE_ERROR_TITLES[error.kind], message: error.userMessage, durationMs: durationMs() };
  }
}

/**
 * The Resolve test's outcome, written with plain SQL: Prisma's @updatedAt would otherwise mark the
 * asset as changed (its "Updated" time, and the edit form's check that nobody else changed it).
 */
async function recordLastResolve(assetId: string, ok: boolean) {
  await db().$executeRaw`UPDATE credential_assets SET last_resolve_at = now(), last_resolve_ok = ${ok} WHERE id = ${assetId}::uuid`;
}

/** Explicit invalidation (asset edited or deleted, store changed, a refresh request). */
export const invalidateAsset = (assetId: string) => secretCache().invalidateAsset(assetId);
export const invalidateStore = (storeId: string) => secretCache().invalidateStore(storeId);
export const invalidateKey = (key: CacheKey) => secretCache().invalidateKey(key);

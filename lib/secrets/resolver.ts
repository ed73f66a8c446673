import "server-only";
import type { CredentialAsset, CredentialStore } from "@prisma/client";
import { recordAuditEvent } from "@/lib/audit/record";
import { firstThisMinute, refusalKey } from "@/lib/audit/throttle";
import { EPOCH_COLUMN, EpochMemo } from "@/lib/authz/epoch";
import { assertCanFromChain, chainUserFor, folderChainSql, type Actor, type FolderChain } from "@/lib/authz";
import { db, sql, type Db } from "@/lib/db";
import { env } from "@/lib/env";
import { AppError, conflict, notFound, type AppErrorCode } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { rememberValue } from "@/lib/log/known-values";
import { metrics, registerCacheMetrics } from "@/lib/metrics";
import { onRefresh } from "./broadcast";
import { forgetStoreClient, withStoreClient } from "@/lib/stores/client";
import { STORE_ERROR_TITLES, StoreError, classifyNetworkError, type StoreErrorKind } from "@/lib/vault/errors";
import { getProviderOrThrow } from "@/lib/vault/registry";
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
  static override readonly brand = "latch.ResolveError";
  constructor(
    readonly kind: StoreErrorKind,
    message: string,
    /** The store's own Retry-After, passed on to the caller of a 503. */
    storeRetryAfterSeconds?: number,
  ) {
    const code = httpCodeFor(kind);
    super(code, message, undefined, code === "UPSTREAM_UNAVAILABLE" ? storeRetryAfterSeconds : undefined);
  }
  /** "store_" and the kind, as a connection's lastErrorKind records a store failure. */
  override get reason(): string {
    return `store_${this.kind}`;
  }
}

function httpCodeFor(kind: StoreErrorKind): AppErrorCode {
  if (kind === "timeout") return "UPSTREAM_TIMEOUT";
  if (kind === "unavailable" || kind === "throttled" || kind === "tcp" || kind === "dns") return "UPSTREAM_UNAVAILABLE";
  return "UPSTREAM_FAILED";
}

const globalForCache = globalThis as unknown as { latchSecretCache?: SecretCache };

const CACHE_SWEEP_MS = 60_000;

/** The process's cache; one per server process (kept on globalThis so dev reloads do not fork it). */
export function secretCache(): SecretCache {
  if (!globalForCache.latchSecretCache) {
    const cache = new SecretCache({ maxEntries: env().LATCH_SECRET_CACHE_MAX_ENTRIES });
    globalForCache.latchSecretCache = cache;
    registerCacheMetrics(() => cache.stats());
    // Values are held for their hour and no longer, looked up again or not.
    setInterval(() => cache.sweepExpired(), CACHE_SWEEP_MS).unref();
    // Edits and refreshes on any instance drop this instance's entries (broadcast.ts's deliver()), and
    // a refreshed or edited store logs in again with its current settings. Registering starts the listener.
    onRefresh((message) => {
      if (message.kind === "store") forgetStoreClient(message.id);
    });
  }
  return globalForCache.latchSecretCache;
}

type AssetRow = Pick<CredentialAsset, "id" | "folderId" | "name" | "type" | "storeId" | "secretName" | "secretVersion" | "usernameKey" | "valueKey" | "username">;
/** What a resolve needs of the store before it knows whether the cache has the value; the rest (config, sealed settings) is read on a miss. */
type StoreSummary = Pick<CredentialStore, "id" | "name" | "kind" | "folderId" | "isBuiltIn">;

type LoadedAsset = AssetRow & { store: StoreSummary | null; chain: FolderChain };

/** What loadAsset read, per asset and chain user, while the authorisation epoch stands (lib/authz/epoch.ts). */
const assets = new EpochMemo<LoadedAsset>();

/**
 * The asset, its store's summary and its folder's chain with the actor's roles, in one round trip
 * (every invoke resolves its assets); lib/authz decides assets.use from the chain, at every resolve.
 * Kept between resolves while the authorisation epoch stands: a change to the asset, its store, its
 * folders or their members bumps it.
 */
async function loadAsset(assetId: string, actor: Actor): Promise<LoadedAsset | null> {
  if (!isUuid(assetId)) return null;
  const chainUser = chainUserFor(actor);
  return assets.load(`${assetId}|${chainUser ?? ""}`, () => readAsset(assetId, chainUser));
}

async function readAsset(assetId: string, chainUser: string | null): Promise<{ value: LoadedAsset; epoch: number } | null> {
  const [row] = await sql<{
      authz_epoch: number;
      id: string;
      folder_id: string;
      name: string;
      type: CredentialAsset["type"];
      store_id: string | null;
      secret_name: string | null;
      secret_version: string | null;
      username_key: string | null;
      value_key: string | null;
      username: string | null;
      store_name: string | null;
      store_kind: string | null;
      store_folder_id: string | null;
      store_is_built_in: boolean | null;
      chain: FolderChain;
    }>(
    db(),
    `
    SELECT a.id::text AS id, a.folder_id::text AS folder_id, a.name, a.type::text AS type, a.store_id::text AS store_id, a.secret_name, a.secret_version,
      a.username_key, a.value_key, a.username,
      s.name AS store_name, s.kind AS store_kind, s.folder_id::text AS store_folder_id, s.is_built_in AS store_is_built_in,
      ${folderChainSql("a.folder_id", "$2::uuid")} AS chain, ${EPOCH_COLUMN}
    FROM credential_assets a LEFT JOIN credential_stores s ON s.id = a.store_id
    WHERE a.id = $1::uuid`,
    [assetId, chainUser],
  );
  if (!row) return null;
  const value: LoadedAsset = {
    id: row.id,
    folderId: row.folder_id,
    name: row.name,
    type: row.type,
    storeId: row.store_id,
    secretName: row.secret_name,
    secretVersion: row.secret_version,
    usernameKey: row.username_key,
    valueKey: row.value_key,
    username: row.username,
    chain: row.chain,
    store: row.store_id && row.store_kind !== null ? { id: row.store_id, name: row.store_name!, kind: row.store_kind, folderId: row.store_folder_id, isBuiltIn: !!row.store_is_built_in } : null,
  };
  return { value, epoch: row.authz_epoch };
}

/** A cache miss: the store's full row (settings, sealed secrets) and one read through its provider. */
async function fetchStoreOf(summary: StoreSummary, key: CacheKey): Promise<CachedSecret> {
  const store = await db().credentialStore.findUnique({ where: { id: summary.id } });
  if (!store) throw new ResolveError("config", `The store “${summary.name}” no longer exists. Edit the asset and choose another store.`);
  return fetchFromStore(store, key);
}

function cacheKeyFor(asset: Pick<CredentialAsset, "storeId" | "secretName" | "secretVersion">): CacheKey {
  return { storeId: asset.storeId!, name: asset.secretName!, version: asset.secretVersion || null };
}

/** The key a store kind's secrets usually keep their value under (CyberArk's and Vault's "password", Azure's "value"). */
const usualValueKey = (storeKind: string) => getProviderOrThrow(storeKind).reference.defaultKeys.password;

/**
 * The key a value is read from when the asset names none: the secret's only key, else one called
 * "value", else the store kind's usual one (a CyberArk account always has several properties beside
 * its password). Null when none of these is there.
 */
function unnamedValueKey(values: Record<string, string>, usual: string): string | null {
  const keys = Object.keys(values);
  if (keys.length === 1) return keys[0]!;
  if (typeof values.value === "string") return "value";
  return typeof values[usual] === "string" ? usual : null;
}

/** The key pick() takes the password from. */
function passwordKeyOf(values: Record<string, string>, key: string | null, usual: string): string | null {
  return key || unnamedValueKey(values, usual);
}

function pick(values: Record<string, string>, key: string | null, what: string, assetName: string, usual: string): string {
  if (key) {
    const v = values[key];
    if (typeof v !== "string") {
      throw new ResolveError("not_found", `The secret behind “${assetName}” has no key “${key}” for the ${what} (keys present: ${Object.keys(values).sort().join(", ") || "none"}). Edit the asset to name the key that holds it, or add “${key}” to the secret in the store.`);
    }
    return v;
  }
  const unnamed = unnamedValueKey(values, usual);
  if (unnamed !== null) return values[unnamed]!;
  // The secret is there: what is missing is the asset's choice of key.
  throw new ResolveError("config", `The secret behind “${assetName}” has several keys (${Object.keys(values).sort().join(", ")}); edit the asset and choose which one holds the ${what}.`);
}

/** `session`: what reads the store's sealed settings, should a client have to be built (a caller inside a transaction passes its own). */
async function fetchFromStore(store: CredentialStore, key: CacheKey, session?: Db): Promise<CachedSecret> {
  const timer = metrics().vaultCalls.startTimer({ store_kind: store.kind, store_id: store.id });
  let outcome = "error";
  try {
    const secret = await withStoreClient(
      store,
      // Only the store's own call is classified as the store's failure, named by the host it dials:
      // Latch's database (the store's row, its sealed settings) failing is not "Vault reset the connection".
      (client) =>
        client.getSecret({ name: key.name, ...(key.version ? { version: key.version } : {}) }).catch((error: unknown) => {
          throw classifyNetworkError(error, client.host ?? store.name) ?? error;
        }),
      session,
    );
    outcome = "ok";
    return { values: secret.values, version: secret.version, updatedAt: secret.updatedAt };
  } finally {
    timer({ outcome });
  }
}

function asResolveError(error: unknown): ResolveError | null {
  if (error instanceof ResolveError) return error;
  return error instanceof StoreError ? new ResolveError(error.kind, error.message, error.retryAfterSeconds) : null;
}

type Got = CachedSecret & { fromCache: boolean; fetchedAt: Date; fetchSeq: number };

/** How old a cached copy must be before a key missing from it is looked for in the store again. */
const MISSING_KEY_RECHECK_MS = 1000;

/** What the asset reads from the secret's keys; a ResolveError when a key it names is not there. */
function valueOf(asset: LoadedAsset, store: StoreSummary, got: Got): ResolvedSecret {
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
  const usual = usualValueKey(store.kind);
  if (asset.type !== "CREDENTIAL") return { type: "SECRET", value: pick(got.values, asset.valueKey, "value", asset.name, usual), meta };
  const password = pick(got.values, asset.valueKey, "password", asset.name, usual);
  // One key for both would hand the password on as a username: into targets' logs ("login failed for user …").
  if (asset.usernameKey && asset.usernameKey === passwordKeyOf(got.values, asset.valueKey, usual)) {
    throw new ResolveError("config", `“${asset.name}” reads its username and its password from the same key “${asset.usernameKey}”. Edit the asset and choose the key that holds the username.`);
  }
  const username = asset.usernameKey ? pick(got.values, asset.usernameKey, "username", asset.name, usual) : asset.username;
  return { type: "CREDENTIAL", username, password, meta };
}

/**
 * Resolves a Credential or Secret asset. Throws "not found" when the asset is absent or the actor may
 * not use it, a ResolveError (with a 502/503/504 code) when the store fails, and a conflict when the
 * asset cannot back a secret or its store is no longer open to its folder.
 */
export async function resolve(ref: { assetId: string }, ctx: ResolveContext): Promise<ResolvedSecret> {
  const started = performance.now();
  let asset: Awaited<ReturnType<typeof loadAsset>> = null;
  let store: StoreSummary | null = null;
  let cacheHit = false;
  try {
    // Inside the audited block: a refusal (absent, forbidden, not a secret) is recorded too.
    asset = await loadAsset(ref.assetId, ctx.actor);
    if (!asset) throw notFound("Credential asset");
    assertCanFromChain(ctx.actor, "assets.use", asset.chain, "Credential asset");
    if ((asset.type !== "CREDENTIAL" && asset.type !== "SECRET") || !asset.store || !asset.secretName) {
      throw conflict(`“${asset.name}” is a ${asset.type.toLowerCase()} setting; only Credential and Secret assets hold secrets.`);
    }
    store = asset.store;
    const secretName = asset.secretName;
    // Values typed into an asset live under assets/<that asset's id>; no other asset may read them.
    if (store.isBuiltIn && secretName.startsWith("assets/") && secretName !== `assets/${asset.id}`) {
      throw new ResolveError("permission", `“${secretName}” holds the value typed into another asset; only that asset can use it.`);
    }
    // Tenant-wide, or owned by the asset's folder or an ancestor (the chain just read).
    if (store.folderId && !asset.chain.some((f) => f.id === store!.folderId)) {
      throw new ResolveError("config", `The store “${store.name}” is no longer available to this asset's folder. Edit the asset and choose another store.`);
    }
    const key = cacheKeyFor(asset);
    const from = store;
    const read = async (opts: { fresh?: boolean; newerThan?: number }) => {
      try {
        return await secretCache().get(key, () => fetchStoreOf(from, key), { assetId: asset!.id, ...opts });
      } catch (error) {
        throw asResolveError(error) ?? error;
      }
    };
    let got = await read({ fresh: ctx.fresh, newerThan: ctx.newerThan });
    let result: ResolvedSecret;
    try {
      result = valueOf(asset, from, got);
    } catch (error) {
      // A key missing from a cached copy may have been added to the secret since, as the message
      // advises: one read of the store before saying so, not an hour of the same advice. Not for a
      // copy read just now, so a runner retrying a broken asset in a loop reads the store at most once a second.
      if (!(got.fromCache && error instanceof ResolveError && Date.now() - got.fetchedAt.getTime() >= MISSING_KEY_RECHECK_MS)) throw error;
      got = await read({ newerThan: got.fetchSeq });
      result = valueOf(asset, from, got);
    }
    cacheHit = got.fromCache;
    rememberValue(result.type === "CREDENTIAL" ? result.password : result.value);
    metrics().resolves.inc({ store_kind: store.kind, store_id: store.id, outcome: "ok", cache: cacheHit ? "hit" : "miss" });
    if (!(cacheHit && ctx.auditCacheHits === false)) await audit(ctx, ref, asset, store, "SUCCESS", started, { cache: cacheHit ? "hit" : "miss", version: got.version });
    return result;
  } catch (error) {
    const failure = error instanceof ResolveError ? error : null;
    if (store) metrics().resolves.inc({ store_kind: store.kind, store_id: store.id, outcome: failure?.kind ?? "unexpected", cache: cacheHit ? "hit" : "miss" });
    // Absent and forbidden answer the caller alike; the audit trail tells them apart.
    const refused = error instanceof AppError && error.code === "NOT_FOUND" && !failure;
    const reason = failure?.kind ?? (refused ? (asset ? "access_denied" : "asset_not_found") : error instanceof AppError ? "not_a_secret" : "unexpected");
    // Repeated refusals by one caller are recorded once a minute (unknown ids once in all), as for connections.
    if (refused && !firstThisMinute(refusalKey(ctx, "asset.resolve", asset?.id ?? null))) throw error;
    await audit(ctx, ref, asset, store, refused && asset ? "DENIED" : "FAILURE", started, { ...(store ? { cache: cacheHit ? "hit" : "miss" } : {}), failure: reason });
    throw failure ?? error;
  }
}

async function audit(
  ctx: ResolveContext,
  ref: { assetId: string },
  asset: Pick<CredentialAsset, "id" | "name" | "folderId" | "storeId"> | null,
  store: StoreSummary | null,
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
 * A caller inside a transaction passes it as `session`: it must not wait for a second pooled session.
 */
export async function secretExists(store: CredentialStore, name: string, session?: Db): Promise<boolean> {
  try {
    await fetchFromStore(store, { storeId: store.id, name, version: null }, session);
    return true;
  } catch (error) {
    const failure = asResolveError(error);
    if (failure?.kind === "not_found") return false;
    throw failure ?? error;
  }
}

/**
 * Whether a reference resolves, before an asset in use is pointed at it: the secret (and version)
 * is there with the keys named. Read from the store, not the cache; the values are dropped here.
 * Returns what is wrong, in a sentence, or null.
 */
export async function referenceProblem(store: CredentialStore, ref: { name: string; version: string | null; usernameKey: string | null; valueKey: string | null }): Promise<string | null> {
  let values: Record<string, string>;
  try {
    values = (await fetchFromStore(store, { storeId: store.id, name: ref.name, version: ref.version })).values;
  } catch (error) {
    const failure = asResolveError(error);
    if (!failure) throw error;
    return failure.userMessage;
  }
  const present = Object.keys(values).sort();
  const missing = [ref.usernameKey, ref.valueKey].filter((key): key is string => !!key && typeof values[key] !== "string");
  if (missing.length) return `The secret has no key ${missing.map((k) => `“${k}”`).join(" or ")} (keys present: ${present.join(", ") || "none"}).`;
  // No key named: the key pick() would read the value from.
  if (!ref.valueKey && unnamedValueKey(values, usualValueKey(store.kind)) === null) {
    return `The secret has several keys (${present.join(", ")}) and none is named for the value: enter the key that holds it.`;
  }
  return null;
}

export type ResolveTestResult =
  | {
      ok: true;
      version: string | null;
      updatedAt: Date | null;
      keys: string[];
      /**
       * Credential assets only, and only a username typed into the asset (metadata). One read from a
       * key of the secret is a value from the store like any other, and is not shown: the key is.
       */
      username: string | null;
      usernameKey: string | null;
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
    // A username typed into the asset is shown (Latch wrote it into its own secret, if at all); one a
    // reference reads from a key is named by its key.
    const asset = await db().credentialAsset.findUnique({ where: { id: resolved.meta.assetId }, select: { username: true, usernameKey: true, ownsSecret: true } });
    const credential = resolved.type === "CREDENTIAL" && asset;
    const fromKey = credential && !asset.ownsSecret ? asset.usernameKey : null;
    const username = credential && !fromKey ? asset.username : null;
    await recordLastResolve(resolved.meta.assetId, true);
    return { ok: true, version, updatedAt, keys, username, usernameKey: fromKey, durationMs: durationMs() };
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

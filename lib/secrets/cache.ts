import "server-only";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** Fixed by the product, not configurable: nothing older than this is ever served. */
export const SECRET_TTL_MS = 60 * 60 * 1000;

export type CacheKey = { storeId: string; name: string; version: string | null };

/** What a store returned, as the cache keeps it (values sealed; the rest is metadata). */
export type CachedSecret = {
  values: Record<string, string>;
  version: string | null;
  updatedAt: Date | null;
};

/** A fetch under way, and the assets whose callers wait for it (an invalidation of any of them makes it stale). */
type Fetch = { k: string; storeId: string; assetIds: Set<string>; stale: boolean; seq: number };

type Entry = {
  iv: Buffer;
  sealed: Buffer;
  tag: Buffer;
  version: string | null;
  updatedAt: number | null;
  fetchedAt: number;
  /** Order in which fetches began: lets a caller ask for "a value newer than the one that was rejected". */
  seq: number;
  expiresAt: number;
  /** The same hour on the wall clock: whichever clock says it has passed first ends the entry. */
  wallExpiresAt: number;
  storeId: string;
  assetIds: Set<string>;
};

export type CacheStats = { hits: number; misses: number; evictions: number; expirations: number; fetches: number; size: number };

export type SecretCacheOptions = {
  maxEntries?: number;
  /** Injected for tests (as both clocks); defaults to a monotonic clock and Date.now. */
  now?: () => number;
};

export function cacheKeyString(key: CacheKey): string {
  // NUL cannot appear in store ids, and separates names that would otherwise run together.
  return `${key.storeId}\u0000${key.name}\u0000${key.version ?? ""}`;
}

/**
 * Milliseconds since the epoch from a clock that never jumps back: the process's start time plus its
 * monotonic clock. An entry ends when either it or the wall clock says its hour has passed: the wall
 * clock set back (an NTP step) would stretch the hour, and the monotonic one stands still while the
 * machine is suspended or its VM paused, when the wall clock catches up on resume.
 */
const monotonicNow = () => performance.timeOrigin + performance.now();

/**
 * The process-local cache of resolved values. Entries are sealed with AES-256-GCM under a key made at
 * construction and held only in this object; each lives exactly one hour from the moment its fetch
 * began (the clock read before the vault call, so lifetime can only be shorter), and an expired entry
 * is never served, whatever the vault's state. Concurrent misses for one key share one fetch. The
 * Map's insertion order is the LRU order: a hit moves the entry to the end, eviction takes the front.
 */
export class SecretCache {
  readonly #key = randomBytes(32);
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, { job: Fetch; promise: Promise<Entry> }>();
  readonly #byAsset = new Map<string, Set<string>>();
  /** Fetches under way; invalidation marks them stale so a value read before it is not cached after it. */
  readonly #pending = new Set<Fetch>();
  readonly #max: number;
  readonly #now: () => number;
  readonly #wall: () => number;
  readonly #stats = { hits: 0, misses: 0, evictions: 0, expirations: 0, fetches: 0 };

  constructor(options: SecretCacheOptions = {}) {
    this.#max = Math.max(1, options.maxEntries ?? 10_000);
    this.#now = options.now ?? monotonicNow;
    this.#wall = options.now ?? Date.now;
  }

  #seq = 0;

  /**
   * The cached value for the key, or the result of `fetch` (one call however many callers miss at
   * once). `fresh` skips the cached value (a Resolve test) and replaces it. `newerThan` (a `fetchSeq`
   * a caller saw rejected) accepts only a value fetched after that one: twenty callers whose value
   * was rejected together share one new fetch.
   */
  async get(
    key: CacheKey,
    fetch: () => Promise<CachedSecret>,
    opts: { assetId?: string; fresh?: boolean; newerThan?: number } = {},
  ): Promise<CachedSecret & { fromCache: boolean; fetchedAt: Date; fetchSeq: number }> {
    const k = cacheKeyString(key);
    const newEnough = (seq: number) => opts.newerThan === undefined || seq > opts.newerThan;
    if (!opts.fresh) {
      const hit = this.#live(k);
      if (hit && newEnough(hit.seq)) {
        this.#stats.hits++;
        if (opts.assetId) this.#link(k, hit, opts.assetId);
        return { ...this.#open(k, hit), fromCache: true, fetchedAt: new Date(hit.fetchedAt), fetchSeq: hit.seq };
      }
      // The value a target rejected goes now, before the new fetch: should that fetch fail, no one
      // else may be handed it again (each use a failed login, towards locking the account).
      if (hit) this.#remove(k);
    }
    this.#stats.misses++;
    const inflight = this.#inflight.get(k);
    let pending = opts.fresh || !inflight || !newEnough(inflight.job.seq) ? undefined : inflight.promise;
    if (pending && opts.assetId) inflight!.job.assetIds.add(opts.assetId);
    if (!pending) {
      // A fresh read supersedes fetches of this key already under way.
      if (opts.fresh || opts.newerThan !== undefined) this.#markStale((job) => job.k === k && (opts.fresh || !newEnough(job.seq)));
      const job: Fetch = { k, storeId: key.storeId, assetIds: new Set(opts.assetId ? [opts.assetId] : []), stale: false, seq: ++this.#seq };
      const promise = this.#fetch(job, fetch);
      if (!opts.fresh) this.#inflight.set(k, { job, promise });
      promise
        .finally(() => {
          if (this.#inflight.get(k)?.job === job) this.#inflight.delete(k);
        })
        .catch(() => {});
      pending = promise;
    }
    const entry = await pending;
    if (opts.assetId) this.#link(k, entry, opts.assetId);
    return { ...this.#open(k, entry), fromCache: false, fetchedAt: new Date(entry.fetchedAt), fetchSeq: entry.seq };
  }

  async #fetch(job: Fetch, fetch: () => Promise<CachedSecret>): Promise<Entry> {
    const fetchedAt = { mono: this.#now(), wall: this.#wall() };
    this.#stats.fetches++;
    this.#pending.add(job);
    try {
      const entry = this.#seal(job.k, job.storeId, await fetch(), fetchedAt, job.seq);
      // Invalidated while the fetch was in flight: hand the value to these callers, keep it out of the cache.
      if (!job.stale) this.#store(job.k, entry);
      return entry;
    } finally {
      this.#pending.delete(job);
    }
  }

  #markStale(match: (job: Fetch) => boolean) {
    for (const job of this.#pending) {
      if (!match(job)) continue;
      job.stale = true;
      // Later callers must not join a fetch that began before the invalidation.
      if (this.#inflight.get(job.k)?.job === job) this.#inflight.delete(job.k);
    }
  }

  #live(k: string): Entry | undefined {
    const entry = this.#entries.get(k);
    if (!entry) return undefined;
    if (this.#expired(entry)) {
      this.#remove(k);
      this.#stats.expirations++;
      return undefined;
    }
    this.#entries.delete(k);
    this.#entries.set(k, entry);
    return entry;
  }

  #store(k: string, entry: Entry) {
    const previous = this.#entries.get(k);
    // A slower, older fetch never replaces a newer value (e.g. one a fresh read just brought in).
    if (previous && previous.seq > entry.seq) return;
    if (previous) for (const id of previous.assetIds) entry.assetIds.add(id);
    this.#entries.delete(k);
    this.#entries.set(k, entry);
    for (const id of entry.assetIds) this.#indexAsset(id, k);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#remove(oldest);
      this.#stats.evictions++;
    }
  }

  #link(k: string, entry: Entry, assetId: string) {
    entry.assetIds.add(assetId);
    if (this.#entries.get(k) === entry) this.#indexAsset(assetId, k);
  }

  #indexAsset(assetId: string, k: string) {
    let keys = this.#byAsset.get(assetId);
    if (!keys) this.#byAsset.set(assetId, (keys = new Set()));
    keys.add(k);
  }

  #remove(k: string) {
    const entry = this.#entries.get(k);
    if (!entry) return;
    // Not zeroed: callers of a shared fetch may still be opening this entry; it is ciphertext anyway.
    this.#entries.delete(k);
    for (const id of entry.assetIds) {
      const keys = this.#byAsset.get(id);
      keys?.delete(k);
      if (keys?.size === 0) this.#byAsset.delete(id);
    }
  }

  #expired(entry: Entry): boolean {
    return this.#now() >= entry.expiresAt || this.#wall() >= entry.wallExpiresAt;
  }

  #seal(k: string, storeId: string, secret: CachedSecret, fetchedAt: { mono: number; wall: number }, seq: number): Entry {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(k));
    const plain = Buffer.from(JSON.stringify(secret.values));
    const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
    plain.fill(0);
    return {
      iv,
      sealed,
      tag: cipher.getAuthTag(),
      version: secret.version,
      updatedAt: secret.updatedAt ? secret.updatedAt.getTime() : null,
      fetchedAt: fetchedAt.wall,
      seq,
      expiresAt: fetchedAt.mono + SECRET_TTL_MS,
      wallExpiresAt: fetchedAt.wall + SECRET_TTL_MS,
      storeId,
      assetIds: new Set(),
    };
  }

  #open(k: string, entry: Entry): CachedSecret {
    const decipher = createDecipheriv("aes-256-gcm", this.#key, entry.iv);
    decipher.setAAD(Buffer.from(k));
    decipher.setAuthTag(entry.tag);
    const plain = Buffer.concat([decipher.update(entry.sealed), decipher.final()]);
    try {
      return {
        values: JSON.parse(plain.toString("utf8")) as Record<string, string>,
        version: entry.version,
        updatedAt: entry.updatedAt === null ? null : new Date(entry.updatedAt),
      };
    } finally {
      plain.fill(0);
    }
  }

  /** Drops one key. Returns how many entries went. */
  invalidateKey(key: CacheKey): number {
    const k = cacheKeyString(key);
    this.#markStale((job) => job.k === k);
    const had = this.#entries.has(k);
    this.#remove(k);
    return had ? 1 : 0;
  }

  /** Drops every entry an asset has been resolved from (all versions it was seen with). */
  invalidateAsset(assetId: string): number {
    const keys = [...(this.#byAsset.get(assetId) ?? [])];
    this.#markStale((job) => job.assetIds.has(assetId) || keys.includes(job.k));
    for (const k of keys) this.#remove(k);
    return keys.length;
  }

  /** Drops every entry read from one store. */
  invalidateStore(storeId: string): number {
    this.#markStale((job) => job.storeId === storeId);
    let n = 0;
    for (const [k, entry] of this.#entries) {
      if (entry.storeId === storeId) {
        this.#remove(k);
        n++;
      }
    }
    return n;
  }

  /**
   * Drops every entry past its hour. An expired entry is never served, but without this one nobody
   * looks up again would stay in memory (sealed) until the size bound pushed it out. Returns how many.
   */
  sweepExpired(): number {
    let n = 0;
    for (const [k, entry] of this.#entries) {
      if (!this.#expired(entry)) continue;
      this.#remove(k);
      this.#stats.expirations++;
      n++;
    }
    return n;
  }

  clear(): void {
    this.#markStale(() => true);
    for (const k of [...this.#entries.keys()]) this.#remove(k);
  }

  stats(): CacheStats {
    return { ...this.#stats, size: this.#entries.size };
  }
}

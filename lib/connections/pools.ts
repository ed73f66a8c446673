import "server-only";
import type { Connector } from "@/lib/connectors/types";

/**
 * The run time's open clients to targets, one per connection *and* credential version: steady-state
 * invokes reuse a client without logging in again, and new credentials (a refresh, a rotation) get a
 * client of their own while the old one drains. Draining is graceful: the client gets no new work,
 * the invokes already using it finish, then it closes.
 *
 * What a client holds: the drivers keep the resolved password (or token) in memory for as long as
 * the client is open, because a pool logs in new sessions with it. That is the price of not logging
 * in per invoke; it is bounded by draining on refresh (of the connection, or of an asset or store its
 * values came from), rejection, a newer version, idleness, and the end of its values' hour: a client
 * is not handed out past the hour its first store value was fetched in, as the cache would not be.
 */
export type PoolEntry = {
  readonly connectionId: string;
  /** Keyed hash of the resolved credentials (never a value): tells versions apart. */
  readonly version: string;
  /** How recent the settings and values are: a lower rank never displaces a newer version's client. */
  readonly rank: Rank;
  readonly connector: Connector;
  /** The assets and stores its values came from, and when the first of those values' hours ends (null: none). */
  readonly uses: Uses;
  readonly client: Promise<unknown>;
  inFlight: number;
  lastUsed: number;
  draining: boolean;
  closed: Promise<void> | null;
  /** While draining with invokes still in flight: closes the client anyway after FORCE_CLOSE_MS. */
  forceClose?: NodeJS.Timeout;
};

type Opened = { client: Promise<unknown> };

export type Uses = { readonly assetIds: ReadonlySet<string>; readonly storeIds: ReadonlySet<string>; readonly expiresAt: number | null };
const USES_NOTHING: Uses = { assetIds: new Set(), storeIds: new Set(), expiresAt: null };
const expired = (entry: PoolEntry, now: number) => entry.uses.expiresAt !== null && now >= entry.uses.expiresAt;

/**
 * The connection's settings version (an edit raises it), then the newest fetch among its values. Values
 * fetched later are newer only under the same settings: after an edit that picks another asset, or a
 * typed value, the new settings' client is the newer one whenever its values were fetched.
 */
export type Rank = { readonly settings: number; readonly fetched: number };
const compareRanks = (a: Rank, b: Rank) => a.settings - b.settings || a.fetched - b.fetched;

/**
 * After this long draining, a client closes even if an invoke still holds it: past the longest time
 * an invoke may take (an HTTP request may ask for 120 s), so its own deadline has passed by then.
 */
const FORCE_CLOSE_MS = 150_000;

export class Pools {
  readonly #byConnection = new Map<string, Map<string, PoolEntry>>();
  readonly #resolved = new WeakMap<PoolEntry, unknown>();

  /** Whether the entry's client has opened (its promise has settled with a client). */
  isOpen(entry: PoolEntry): boolean {
    return this.#resolved.has(entry);
  }

  /**
   * The client for this connection and credential version, opened by `open` if there is none (one
   * open however many invokes arrive together). The caller must `release` it when done.
   */
  acquire(connectionId: string, version: string, rank: Rank, connector: Connector, open: () => Opened, uses: Uses | (() => Uses) = USES_NOTHING): PoolEntry {
    const existing = this.#byConnection.get(connectionId)?.get(version);
    if (existing && !existing.draining && this.#healthy(existing) && !expired(existing, Date.now())) {
      existing.inFlight++;
      existing.lastUsed = Date.now();
      return existing;
    }
    if (existing) this.drain(existing);
    // Looked up after the drain, which drops a connection's map once it is empty.
    let versions = this.#byConnection.get(connectionId);
    if (!versions) {
      versions = new Map();
      this.#byConnection.set(connectionId, versions);
    }
    // A thunk is only called here: an invoke that reuses a client builds nothing.
    const entry: PoolEntry = { connectionId, version, rank, connector, uses: typeof uses === "function" ? uses() : uses, client: Promise.resolve(), inFlight: 1, lastUsed: Date.now(), draining: false, closed: null };
    const opened = open();
    (entry as { client: Promise<unknown> }).client = opened.client.then(
      (client) => {
        this.#resolved.set(entry, client);
        return client;
      },
      (error: unknown) => {
        // Nothing to close; the next invoke opens afresh.
        entry.draining = true;
        entry.closed = Promise.resolve();
        this.#forget(entry);
        throw error;
      },
    );
    entry.client.catch(() => {});
    // Values whose hour ended between their resolve and now (a cache hit a moment before it): served
    // once and closed, so that each invoke in that moment does not replace the last one's client.
    if (expired(entry, Date.now())) entry.draining = true;
    else if ([...versions.values()].some((e) => compareRanks(rank, e.rank) < 0)) {
      // Values older than a version already open (an invoke that resolved just before a refetch):
      // served once, then closed, so it never displaces the newer client.
      entry.draining = true;
    } else {
      versions.set(version, entry);
      for (const other of [...versions.values()]) if (other !== entry) this.drain(other);
    }
    return entry;
  }

  release(entry: PoolEntry): void {
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    entry.lastUsed = Date.now();
    if (entry.draining && entry.inFlight === 0) this.#close(entry);
  }

  /** Stops handing out this client (this version only); it closes when its last invoke is done. */
  drain(entry: PoolEntry): void {
    if (!entry.draining) {
      entry.draining = true;
      this.#forget(entry);
    }
    if (entry.inFlight === 0) this.#close(entry);
    // One timer per client, however many rejected invokes drain it together.
    else if (!entry.forceClose && !entry.closed) {
      entry.forceClose = setTimeout(() => this.#close(entry), FORCE_CLOSE_MS);
      entry.forceClose.unref();
    }
  }

  /** Every version of a connection's clients (a refresh, a deletion). */
  drainConnection(connectionId: string): void {
    for (const entry of [...(this.#byConnection.get(connectionId)?.values() ?? [])]) this.drain(entry);
  }

  /** Every client built with a value of these assets, or of this store (an asset or store refresh). */
  drainUsing(refreshed: { assetIds?: readonly string[]; storeId?: string }): void {
    const assets = new Set(refreshed.assetIds ?? []);
    for (const versions of [...this.#byConnection.values()]) {
      for (const entry of [...versions.values()]) {
        if ((refreshed.storeId !== undefined && entry.uses.storeIds.has(refreshed.storeId)) || [...entry.uses.assetIds].some((id) => assets.has(id))) this.drain(entry);
      }
    }
  }

  /**
   * Drains every client. Resolves once each client that had no invoke left has closed (at shutdown,
   * all of them); one still in use closes after its last invoke, or FORCE_CLOSE_MS, unawaited.
   */
  drainAll(): Promise<void> {
    const entries = [...this.#byConnection.values()].flatMap((versions) => [...versions.values()]);
    for (const entry of entries) this.drain(entry);
    return Promise.all(entries.flatMap((entry) => entry.closed ?? [])).then(() => undefined);
  }

  /** Drains clients nobody has used for `idleMs`, and those whose values' hour has ended. */
  sweep(idleMs: number, now = Date.now()): void {
    for (const versions of [...this.#byConnection.values()]) {
      for (const entry of [...versions.values()]) if ((entry.inFlight === 0 && now - entry.lastUsed > idleMs) || expired(entry, now)) this.drain(entry);
    }
  }

  /** What is open, for tests and diagnostics: never a value, the version only as its first characters. */
  list(connectionId?: string): { connectionId: string; version: string; inFlight: number; draining: boolean }[] {
    const out = [];
    for (const [id, versions] of this.#byConnection) {
      if (connectionId && id !== connectionId) continue;
      for (const e of versions.values()) out.push({ connectionId: id, version: e.version.slice(0, 8), inFlight: e.inFlight, draining: e.draining });
    }
    return out;
  }

  #healthy(entry: PoolEntry): boolean {
    if (!this.#resolved.has(entry)) return true; // still opening: join it
    return entry.connector.healthy?.(this.#resolved.get(entry) as never) ?? true;
  }

  #forget(entry: PoolEntry) {
    const versions = this.#byConnection.get(entry.connectionId);
    if (versions?.get(entry.version) === entry) versions.delete(entry.version);
    if (versions && versions.size === 0) this.#byConnection.delete(entry.connectionId);
  }

  #close(entry: PoolEntry) {
    // A pending timer would keep the closed client, and the credentials its driver holds, in memory.
    clearTimeout(entry.forceClose);
    entry.forceClose = undefined;
    entry.closed ??= entry.client.then((client) => entry.connector.close(client)).catch(() => {});
  }
}

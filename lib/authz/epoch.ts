import "server-only";
import { AsyncLocalStorage } from "node:async_hooks";
import { db, sql } from "@/lib/db";

/**
 * What the invoke path reads to decide access (the token and its scopes, the connection with its
 * folder's chain and roles, the asset with its store), kept in memory between requests without
 * giving up "a change applies to the next request".
 *
 * The database keeps an authorisation epoch: triggers add one to it, at commit, in the same
 * transaction as any change to the tables those reads use (migration 20261203120000_authz_epoch).
 * Every kept read selects the epoch in the same statement, so an entry carries the epoch of the
 * snapshot its rows came from. Before an entry is used, the current epoch is read by a statement
 * that started after the caller asked: if it is still the entry's, nothing the entry depends on has
 * changed since, on any instance. So a revocation, a role change or a refresh committed before a
 * request arrives always applies to it, as when everything was read afresh.
 *
 * That check is one tiny statement, made once per request (withFreshnessFrom), and requests share
 * it: a read sent after a request arrived answers for it, so under load one round trip answers every
 * request that arrived before it was sent (as the audit group shares its INSERT).
 */
export const EPOCH_COLUMN = `(SELECT epoch FROM authz_epoch)::float8 AS authz_epoch`;

type Waiter = { resolve: (epoch: number) => void; reject: (error: unknown) => void };
type Read = { sentAt: number; epoch: Promise<number> };

/**
 * Reads the epoch for everyone waiting; whoever needs a read sent after an instant that the read on
 * its way does not cover waits for the next one. Instants are performance.now() values.
 */
class EpochReader {
  #waiting: Waiter[] = [];
  #inFlight: Read | null = null;
  #last: { sentAt: number; epoch: number } | null = null;

  /** The committed epoch, read by a statement sent at or after `since`. */
  current(since: number): Promise<number> {
    if (this.#last && this.#last.sentAt >= since) return Promise.resolve(this.#last.epoch);
    if (this.#inFlight && this.#inFlight.sentAt >= since) return this.#inFlight.epoch;
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      if (!this.#inFlight) this.#next();
    });
  }

  #next(): void {
    const group = this.#waiting.splice(0);
    if (group.length === 0) return;
    const sentAt = performance.now();
    const epoch = sql<{ epoch: number }>(db(), `SELECT epoch::float8 AS epoch FROM authz_epoch`, []).then(([row]) => {
      if (!row) throw new Error("authz_epoch has no row: migration 20261203120000_authz_epoch has not been applied");
      return row.epoch;
    });
    const read: Read = { sentAt, epoch };
    this.#inFlight = read;
    epoch.then(
      (value) => {
        if (!this.#last || this.#last.sentAt < sentAt) this.#last = { sentAt, epoch: value };
        for (const w of group) w.resolve(value);
      },
      (error: unknown) => {
        for (const w of group) w.reject(error);
      },
    ).finally(() => {
      if (this.#inFlight === read) this.#inFlight = null;
      this.#next();
    });
  }
}

type Scope = { since: number };
const holder = globalThis as unknown as { latchEpochReader?: EpochReader; latchEpochScope?: AsyncLocalStorage<Scope> };
const reader = () => (holder.latchEpochReader ??= new EpochReader());
const scope = () => (holder.latchEpochScope ??= new AsyncLocalStorage<Scope>());

/**
 * Runs `fn` as one request that arrived at `since` (performance.now()): every kept read it uses is
 * checked against changes committed before then, and one epoch read serves all of them (the API
 * wrapper, lib/api/handler.ts). Outside such a scope each use checks against "now".
 */
export function withFreshnessFrom<T>(since: number, fn: () => T): T {
  return scope().run({ since }, fn);
}

/** The committed authorisation epoch as of now (for tests and diagnostics). */
export const currentEpoch = (): Promise<number> => reader().current(performance.now());

/**
 * A bounded map of reads, each kept with the epoch its statement saw. `load` answers a kept entry
 * only if the epoch is unchanged since; otherwise it reads afresh through `read` (which must select
 * EPOCH_COLUMN) and keeps that. A null value (not found) is never kept: random ids must not push
 * real entries out.
 */
export class EpochMemo<V> {
  readonly #entries = new Map<string, { value: V; epoch: number }>();
  constructor(readonly maxEntries = 10_000) {}

  async load(key: string, read: () => Promise<{ value: V; epoch: number } | null>): Promise<V | null> {
    const kept = this.#entries.get(key);
    if (kept) {
      if (kept.epoch === (await reader().current(scope().getStore()?.since ?? performance.now()))) return kept.value;
      this.#entries.delete(key);
    }
    const fresh = await read();
    if (!fresh) return null;
    this.#entries.delete(key);
    this.#entries.set(key, fresh);
    if (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    return fresh.value;
  }

  get size(): number {
    return this.#entries.size;
  }
}

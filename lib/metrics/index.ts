import "server-only";
import { createHash, timingSafeEqual } from "node:crypto";
import client from "prom-client";
import { env } from "@/lib/env";

/**
 * Prometheus metrics for this instance (scraped at /api/metrics). Labels are kinds, ids and outcomes
 * only: never a secret, a secret name or a user.
 */
type Metrics = {
  registry: client.Registry;
  resolves: client.Counter<"store_kind" | "store_id" | "outcome" | "cache">;
  vaultCalls: client.Histogram<"store_kind" | "store_id" | "outcome">;
  rotations: client.Counter<"connector" | "outcome">;
  invokes: client.Counter<"connector" | "outcome">;
  invokeDuration: client.Histogram<"connector" | "outcome">;
  refreshes: client.Counter<"kind" | "direction">;
};

const holder = globalThis as unknown as { latchMetrics?: Metrics };

export function metrics(): Metrics {
  if (holder.latchMetrics) return holder.latchMetrics;
  const registry = new client.Registry();
  // "latch_" + prom-client's own names: latch_process_cpu_seconds_total, latch_nodejs_eventloop_lag_seconds…
  client.collectDefaultMetrics({ register: registry, prefix: "latch_" });
  const m: Metrics = {
    registry,
    resolves: new client.Counter({ name: "latch_secret_resolves_total", help: "Secret resolutions by store and outcome, and whether the cache answered.", labelNames: ["store_kind", "store_id", "outcome", "cache"], registers: [registry] }),
    vaultCalls: new client.Histogram({
      name: "latch_vault_call_duration_seconds",
      help: "Duration of reads from credential stores (cache misses), per store.",
      labelNames: ["store_kind", "store_id", "outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    rotations: new client.Counter({ name: "latch_rotations_total", help: "Credentials a target rejected that were fetched afresh: retried, or unchanged in the store.", labelNames: ["connector", "outcome"], registers: [registry] }),
    invokes: new client.Counter({ name: "latch_invokes_total", help: "Connection invokes by connector and outcome.", labelNames: ["connector", "outcome"], registers: [registry] }),
    invokeDuration: new client.Histogram({
      name: "latch_invoke_duration_seconds",
      help: "Invoke latency by connector and outcome.",
      labelNames: ["connector", "outcome"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    refreshes: new client.Counter({ name: "latch_refresh_broadcasts_total", help: "Cache refreshes sent to, or received from, other instances.", labelNames: ["kind", "direction"], registers: [registry] }),
  };
  holder.latchMetrics = m;
  return m;
}

/** The cache's counters by their label (singular, as Prometheus labels usually are). */
const CACHE_EVENTS = [["hit", "hits"], ["miss", "misses"], ["eviction", "evictions"], ["expiration", "expirations"]] as const;

/** Cache figures are read from the cache itself at scrape time. */
export function registerCacheMetrics(stats: () => { hits: number; misses: number; evictions: number; expirations: number; fetches: number; size: number }) {
  const m = metrics();
  if (m.registry.getSingleMetric("latch_secret_cache_events_total")) return;
  new client.Counter({
    name: "latch_secret_cache_events_total",
    help: "Secret cache hits, misses, LRU evictions and expirations on this instance.",
    labelNames: ["event"],
    registers: [m.registry],
    collect() {
      const s = stats();
      this.reset();
      for (const [event, count] of CACHE_EVENTS) this.inc({ event }, s[count]);
    },
  });
  new client.Gauge({
    name: "latch_secret_cache_entries",
    help: "Sealed entries in the secret cache on this instance.",
    registers: [m.registry],
    collect() {
      this.set(stats().size);
    },
  });
}

const digest = (v: string) => createHash("sha256").update(v).digest();

/** Whether an Authorization header carries the static LATCH_METRICS_TOKEN (compared in constant time). */
export function metricsTokenMatches(authorization: string): boolean {
  const configured = env().LATCH_METRICS_TOKEN;
  const presented = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization)?.[1];
  return !!configured && !!presented && timingSafeEqual(digest(presented), digest(configured));
}

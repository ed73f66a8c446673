/**
 * `npm run bench`: SecretCache against the loopback HashiCorp Vault emulator. Prints a Markdown
 * table and writes bench/results/secret-cache.json. A benchmark, not a test: it never fails on a
 * missed target, it reports it. See bench/README.md.
 */
import { randomBytes } from "node:crypto";
import { cpus } from "node:os";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SecretCache, type CacheKey, type CachedSecret } from "@/lib/secrets/cache";
import { hashicorpConfigSchema, hashicorpProvider } from "@/lib/vault/providers/hashicorp";
import { startHashicorpEmulator } from "@/test/emulators/hashicorp";
import { createTestPki } from "@/test/emulators/tls";

// The egress policy parses lib/env.ts on the first outbound call, which demands these; nothing connects to them.
process.env.DATABASE_URL ??= "postgresql://bench:bench@127.0.0.1:1/bench";
process.env.NEXTAUTH_SECRET ??= "bench-placeholder-secret-not-used-for-anything";

const HIT_WARMUP = 2_000;
const FETCH_WARMUP = 200;
// Hits and fetches alternate in rounds so drift (JIT, GC, CPU frequency) lands on both alike.
const ROUNDS = 10;
const HITS_PER_ROUND = 2_000;
const FETCHES_PER_ROUND = 200;
const CONCURRENT = 200;
const CONCURRENT_ROUNDS = 10;
const DIRECT_ROUNDS = 3;
const MEMORY_ENTRIES = 10_000;

const TARGET = { ratioP50: 30, hitP99Us: 50, concurrentVaultCalls: 1, memoryBytes: 20 * 1024 * 1024 };

const STORE_ID = "clx0bench0store0vault0001";
const SECRET_PATH = "bench/payroll-db";
const VAULT_READS = `/v1/secret/data/${SECRET_PATH}`;

type Summary = { n: number; p50: number; p99: number; min: number; max: number; mean: number };

/** Nearest-rank percentiles, in microseconds, of samples taken in nanoseconds. */
function summarise(ns: Float64Array): Summary {
  const s = Float64Array.from(ns).sort();
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]! / 1000;
  let sum = 0;
  for (const v of s) sum += v;
  return { n: s.length, p50: at(50), p99: at(99), min: s[0]! / 1000, max: s[s.length - 1]! / 1000, mean: sum / s.length / 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const randomValue = () => randomBytes(24).toString("base64url"); // 32 characters
const elapsedMs = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

function collectGarbage() {
  const gc = globalThis.gc;
  if (!gc) throw new Error("Run with --expose-gc (npm run bench does): the memory figure needs a forced GC.");
  for (let i = 0; i < 4; i++) gc();
}

/** heapUsed + external; external already includes arrayBuffers (Buffers' backing stores). */
function memory() {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, total: m.heapUsed + m.external };
}

async function settle() {
  await new Promise((r) => setImmediate(r));
  collectGarbage();
  await new Promise((r) => setImmediate(r));
  collectGarbage();
}

async function benchMemory() {
  let cache: SecretCache | null = new SecretCache({ maxEntries: MEMORY_ENTRIES });
  await settle();
  const before = memory();
  for (let i = 0; i < MEMORY_ENTRIES; i++) {
    const key: CacheKey = { storeId: STORE_ID, name: `prod/service-${String(i).padStart(5, "0")}/db`, version: null };
    await cache.get(key, async () => ({ values: { username: randomValue(), password: randomValue() }, version: "1", updatedAt: new Date() }));
  }
  await settle();
  const after = memory();
  const stats = cache.stats();
  cache = null;
  await settle();
  const released = memory();
  const delta = {
    heapUsed: after.heapUsed - before.heapUsed,
    external: after.external - before.external,
    arrayBuffers: after.arrayBuffers - before.arrayBuffers,
    total: after.total - before.total,
  };
  return { entries: stats.size, evictions: stats.evictions, before, after, released, delta, bytesPerEntry: delta.total / MEMORY_ENTRIES, reclaimedOnDrop: after.total - released.total };
}

async function main() {
  const memoryResult = await benchMemory();

  const pki = createTestPki();
  const emu = await startHashicorpEmulator({ pki });
  const token = emu.createToken({ ttlSeconds: 3600 });
  const seeded = { username: randomValue(), password: randomValue() };
  emu.seedSecret({ path: SECRET_PATH, data: seeded });
  const client = hashicorpProvider.create({
    storeId: STORE_ID,
    config: hashicorpConfigSchema.parse({ address: emu.url, auth: "token", kvVersion: "2" }),
    secrets: hashicorpProvider.secretSchema.parse({ token }),
    common: { caBundle: pki.caCert, timeoutMs: 10_000 },
  });
  const ref = { name: SECRET_PATH };
  const key: CacheKey = { storeId: STORE_ID, name: SECRET_PATH, version: null };
  const vaultReads = () => emu.count(VAULT_READS, "GET");

  try {
    const cache = new SecretCache();
    let unexpectedFetches = 0;
    const mustHit = async (): Promise<CachedSecret> => {
      unexpectedFetches++;
      return client.getSecret(ref);
    };
    const first = await cache.get(key, () => client.getSecret(ref));
    if (first.values.password !== seeded.password) throw new Error("The emulator returned a different value than was seeded.");

    for (let i = 0; i < HIT_WARMUP; i++) await cache.get(key, mustHit);
    for (let i = 0; i < FETCH_WARMUP; i++) await client.getSecret(ref);

    const hitNs = new Float64Array(ROUNDS * HITS_PER_ROUND);
    const fetchNs = new Float64Array(ROUNDS * FETCHES_PER_ROUND);
    let readsDuringHits = 0;
    let readsDuringFetches = 0;
    for (let r = 0; r < ROUNDS; r++) {
      let reads = vaultReads();
      for (let i = 0; i < HITS_PER_ROUND; i++) {
        const t0 = process.hrtime.bigint();
        await cache.get(key, mustHit);
        hitNs[r * HITS_PER_ROUND + i] = Number(process.hrtime.bigint() - t0);
      }
      readsDuringHits += vaultReads() - reads;
      reads = vaultReads();
      for (let i = 0; i < FETCHES_PER_ROUND; i++) {
        const t0 = process.hrtime.bigint();
        await client.getSecret(ref);
        fetchNs[r * FETCHES_PER_ROUND + i] = Number(process.hrtime.bigint() - t0);
      }
      readsDuringFetches += vaultReads() - reads;
    }
    const hit = summarise(hitNs);
    const fetch = summarise(fetchNs);
    const hitStats = cache.stats();

    const concurrent: { vaultCalls: number; fetchCallbacks: number; cacheFetches: number; fromCache: number; ms: number; allSame: boolean }[] = [];
    for (let r = 0; r < CONCURRENT_ROUNDS; r++) {
      const cold = new SecretCache();
      let callbacks = 0;
      const fetchOnce = async (): Promise<CachedSecret> => {
        callbacks++;
        return client.getSecret(ref);
      };
      const reads = vaultReads();
      const t0 = process.hrtime.bigint();
      const results = await Promise.all(Array.from({ length: CONCURRENT }, () => cold.get(key, fetchOnce)));
      const ms = elapsedMs(t0);
      concurrent.push({
        vaultCalls: vaultReads() - reads,
        fetchCallbacks: callbacks,
        cacheFetches: cold.stats().fetches,
        fromCache: results.filter((x) => x.fromCache).length,
        ms,
        allSame: results.every((x) => x.values.password === seeded.password),
      });
    }

    // Context only: the same burst with no cache in front, one vault read per caller.
    const direct: { vaultCalls: number; ms: number }[] = [];
    for (let r = 0; r < DIRECT_ROUNDS; r++) {
      const reads = vaultReads();
      const t0 = process.hrtime.bigint();
      await Promise.all(Array.from({ length: CONCURRENT }, () => client.getSecret(ref)));
      direct.push({ ms: elapsedMs(t0), vaultCalls: vaultReads() - reads });
    }

    const cpu = cpus();
    const result = {
      meta: {
        date: new Date().toISOString(),
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        cpus: cpu.length,
        cpuModel: cpu[0]?.model ?? "unknown",
        unit: "latencies in microseconds unless named ms; memory in bytes",
      },
      hitVsFetch: {
        samples: { hits: hit.n, fetches: fetch.n, hitWarmup: HIT_WARMUP, fetchWarmup: FETCH_WARMUP, rounds: ROUNDS },
        hit,
        fetch,
        ratioP50: fetch.p50 / hit.p50,
        ratioP99: fetch.p99 / hit.p99,
        vaultReadsDuringHits: readsDuringHits,
        vaultReadsDuringFetches: readsDuringFetches,
        unexpectedFetches,
        cacheStats: hitStats,
      },
      concurrentCold: {
        callers: CONCURRENT,
        rounds: concurrent,
        maxVaultCalls: Math.max(...concurrent.map((c) => c.vaultCalls)),
        maxFetchCallbacks: Math.max(...concurrent.map((c) => c.fetchCallbacks)),
        medianMs: median(concurrent.map((c) => c.ms)),
        maxMs: Math.max(...concurrent.map((c) => c.ms)),
        directWithoutCache: { rounds: direct, minMs: Math.min(...direct.map((d) => d.ms)), maxMs: Math.max(...direct.map((d) => d.ms)), vaultCalls: Math.max(...direct.map((d) => d.vaultCalls)) },
      },
      memory: { ...memoryResult, valueShape: "{username, password}, 32 random characters each; version and updatedAt set" },
      targets: {
        ratioP50: { target: `>= ${TARGET.ratioP50}x`, met: fetch.p50 / hit.p50 >= TARGET.ratioP50 },
        hitP99: { target: `<= ${TARGET.hitP99Us} us`, met: hit.p99 <= TARGET.hitP99Us },
        concurrentVaultCalls: { target: `${TARGET.concurrentVaultCalls}`, met: concurrent.every((c) => c.vaultCalls === 1 && c.fetchCallbacks === 1) },
        memory: { target: `<= ${TARGET.memoryBytes} bytes for ${MEMORY_ENTRIES} entries`, met: memoryResult.delta.total <= TARGET.memoryBytes },
      },
    };

    const outDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "results");
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, "secret-cache.json"), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${table(result)}\n`);
  } finally {
    await client.close?.();
    await emu.close();
    rmSync(pki.dir, { recursive: true, force: true });
  }
}

const us = (v: number) => `${v.toFixed(1)} µs`;
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MB`;
const mark = (met: boolean) => (met ? "✅" : "❌");

function table(r: {
  meta: { date: string; node: string; cpus: number; cpuModel: string };
  hitVsFetch: { hit: Summary; fetch: Summary; ratioP50: number; ratioP99: number; vaultReadsDuringHits: number; vaultReadsDuringFetches: number; unexpectedFetches: number };
  concurrentCold: { callers: number; rounds: unknown[]; maxVaultCalls: number; maxFetchCallbacks: number; medianMs: number; maxMs: number; directWithoutCache: { minMs: number; maxMs: number; vaultCalls: number } };
  memory: { entries: number; delta: { heapUsed: number; external: number; total: number }; bytesPerEntry: number; reclaimedOnDrop: number };
  targets: Record<"ratioP50" | "hitP99" | "concurrentVaultCalls" | "memory", { met: boolean }>;
}): string {
  const h = r.hitVsFetch;
  const c = r.concurrentCold;
  const m = r.memory;
  const rows = [
    ["Cache hit (`SecretCache.get`, warm)", `p50 ${us(h.hit.p50)} · p99 ${us(h.hit.p99)} (n=${h.hit.n})`, "p99 ≤ 50 µs", mark(r.targets.hitP99.met)],
    ["Vault read every time (`getSecret`)", `p50 ${us(h.fetch.p50)} · p99 ${us(h.fetch.p99)} (n=${h.fetch.n})`, "", ""],
    ["Fetch ÷ hit", `p50 ${h.ratioP50.toFixed(0)}× · p99 ${h.ratioP99.toFixed(0)}×`, "≥ 30× at p50", mark(r.targets.ratioP50.met)],
    ["Vault reads during hit / fetch phases", `${h.vaultReadsDuringHits} / ${h.vaultReadsDuringFetches} (fetch callback on a hit: ${h.unexpectedFetches})`, "0 / n", ""],
    [`${c.callers} concurrent cold resolves, vault calls`, `max ${c.maxVaultCalls} (fetch callbacks: max ${c.maxFetchCallbacks}) over ${c.rounds.length} rounds`, "1", mark(r.targets.concurrentVaultCalls.met)],
    [`${c.callers} concurrent cold resolves, total time`, `median ${c.medianMs.toFixed(2)} ms · max ${c.maxMs.toFixed(2)} ms (no cache, ${c.directWithoutCache.vaultCalls} vault calls: ${c.directWithoutCache.minMs.toFixed(0)}–${c.directWithoutCache.maxMs.toFixed(0)} ms)`, "", ""],
    [`Memory, ${m.entries.toLocaleString("en")} entries`, `${mb(m.delta.total)} (heap ${mb(m.delta.heapUsed)} + external ${mb(m.delta.external)}) · ${Math.round(m.bytesPerEntry)} B/entry`, "≤ 20 MB", mark(r.targets.memory.met)],
  ];
  return [
    `SecretCache benchmark — ${r.meta.date} · Node ${r.meta.node} · ${r.meta.cpus} × ${r.meta.cpuModel}`,
    "",
    "| Measure | Result | Target | Met |",
    "| --- | --- | --- | --- |",
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);

/**
 * What the run-time benchmarks (invoke, rotation, refresh) share: the production build under
 * server.mjs (as `npm start`) on a throwaway, migrated and seeded database, the Vault emulator, the people, folders,
 * store, asset, connection and token made through the real lib functions, and how figures are
 * summarised and recorded. See bench/README.md.
 *
 * Order matters: `startConsole` sets DATABASE_URL (and the keys) in this process before anything
 * imports lib/, because lib/db reads lib/env.ts on first use. Import lib only through `latch()`.
 */
import { execSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { createServer } from "node:net";
import path from "node:path";
import pg from "pg";
import { seed } from "../prisma/seed";
import { createThrowawayDatabase, type ThrowawayDatabase } from "../scripts/test-db";

export const ROOT = process.cwd();
export const RESULTS = path.join(ROOT, "bench", "results");
/** Server logs and CPU profiles of the last run (not committed). */
export const OUTPUT = path.join(ROOT, "bench", ".output");

/** Ports this benchmark family may use (3120–3129). */
export const PORTS = { instances: [3120, 3121, 3122], bare: 3125, proxy: 3126, targetProxy: 3127 } as const;

/**
 * The per-token invoke and refresh rate limits (LATCH_INVOKE_RATE_PER_SECOND, default 50/s, and
 * LATCH_REFRESH_RATE_PER_SECOND, default 2/s, per token and instance): raised to their maximum for
 * the benchmarks, or they would measure the limiter's 429s.
 */
export const INVOKE_RATE = "100000";

// ---------------------------------------------------------------------------------------------
// Figures

export type Summary = { n: number; p50: number; p90: number; p99: number; min: number; max: number; mean: number };

/** Nearest-rank percentiles, in whatever unit the samples are (ms here). */
export function summarise(samples: number[]): Summary {
  const s = Float64Array.from(samples).sort();
  if (s.length === 0) return { n: 0, p50: NaN, p90: NaN, p99: NaN, min: NaN, max: NaN, mean: NaN };
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  let sum = 0;
  for (const v of s) sum += v;
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { n: s.length, p50: r(at(50)), p90: r(at(90)), p99: r(at(99)), min: r(s[0]!), max: r(s[s.length - 1]!), mean: r(sum / s.length) };
}

export const elapsedMs = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
export const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(digits)) : "—");
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round2 = (v: number) => Math.round(v * 100) / 100;

function git(args: string): string {
  try {
    return execSync(`git ${args}`, { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    return "unknown";
  }
}

/** The machine and moment a result belongs to. */
export function machine() {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpu[0]?.model ?? "unknown",
    cores: cpu.length,
    memoryGiB: round2(totalmem() / 2 ** 30),
    loadAverage: loadavg().map(round2),
    commit: git("rev-parse --short HEAD"),
    commitSubject: git("log -1 --format=%s"),
    dirty: git("status --porcelain --untracked-files=no") !== "",
  };
}

export const load1 = () => round2(loadavg()[0]!);

const CLOCK_TICKS = (() => {
  try {
    return Number(execSync("getconf CLK_TCK").toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU time (user + system) a process has used so far, in ms, from /proc (Linux). Unlike wall-clock
 * figures, it does not grow when other work on the machine delays the process. null elsewhere.
 */
export function cpuMsOf(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

export function writeResult(name: string, data: unknown) {
  mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, name);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return path.relative(ROOT, file);
}

export function log(message: string) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// The console under test: the production build on a throwaway database

export type Instance = { port: number; origin: string; child: ChildProcess; stop(): Promise<void> };

export type Console = {
  database: ThrowawayDatabase;
  databaseSource: string;
  /** What every instance shares (and this process uses for lib/); values are throwaway. */
  env: Record<string, string>;
  instances: Instance[];
  /** Another instance; `nodeArgs` go to node itself (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  start(port: number, extraEnv?: Record<string, string>, nodeArgs?: string[]): Promise<Instance>;
  stop(): Promise<void>;
};

/**
 * A throwaway migrated database (scripts/test-db.ts: TEST_DATABASE_URL, else DATABASE_URL, else the
 * embedded PostgreSQL), seeded as a first start would be, and server.mjs on each port with the same
 * database and keys, as replicas behind a load balancer. The caller must call stop().
 */
export async function startConsole(opts: { ports: readonly number[]; env?: Record<string, string> }): Promise<Console> {
  if (!existsSync(path.join(ROOT, ".next", "BUILD_ID"))) {
    throw new Error("No production build: run `npm run build` first (see bench/README.md).");
  }
  const databaseSource = process.env.TEST_DATABASE_URL ? "TEST_DATABASE_URL" : process.env.DATABASE_URL ? "DATABASE_URL" : "embedded PostgreSQL (scripts/embedded-pg.ts)";
  const database = await createThrowawayDatabase({ log });
  const instances: Instance[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // This process's own refresh listener (started by lib calls that broadcast) goes before its database does.
    if (process.env.DATABASE_URL === database.url) await import("@/lib/secrets/broadcast").then((b) => b.stopListening()).catch(() => {});
    await Promise.allSettled(instances.map((i) => i.stop()));
    await database.drop().catch((error: unknown) => log(`could not drop the bench database: ${(error as Error).message}`));
  };
  try {
    await seed(database.url, { adminEmail: "admin@bench.latch.test", adminPassword: randomBytes(18).toString("base64url") });
    const env: Record<string, string> = {
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      DATABASE_URL: database.url,
      NEXTAUTH_SECRET: randomBytes(48).toString("base64url"),
      LATCH_MASTER_KEY: randomBytes(32).toString("base64"),
      NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      LATCH_ADMIN_PASSWORD: "",
      LATCH_INVOKE_RATE_PER_SECOND: INVOKE_RATE,
      LATCH_REFRESH_RATE_PER_SECOND: INVOKE_RATE,
      LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
      ...opts.env,
    };
    // This process uses lib/ against the same database, with the same master key (it seals the store token).
    process.env.DATABASE_URL = env.DATABASE_URL;
    process.env.NEXTAUTH_SECRET = env.NEXTAUTH_SECRET;
    process.env.LATCH_MASTER_KEY = env.LATCH_MASTER_KEY;
    process.env.LOG_LEVEL = env.LOG_LEVEL;

    const start = async (port: number, extraEnv: Record<string, string> = {}, nodeArgs: string[] = []) => {
      const instance = await startInstance(port, { ...env, ...extraEnv }, nodeArgs);
      instances.push(instance);
      return instance;
    };
    await Promise.all(opts.ports.map((port) => start(port)));
    return { database, databaseSource, env, instances, start, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// Servers still running when this process exits for any reason (a crash included) get SIGTERM.
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
});

/** Refuses a port something already listens on: a server left from an interrupted run would answer the readiness probe and be measured instead. */
async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new Error(`port ${port} is in use (a server left from an earlier run? \`ss -ltnp | grep ${port}\`); stop it and run again`) : error),
    );
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}

async function startInstance(port: number, env: Record<string, string>, nodeArgs: string[]): Promise<Instance> {
  await assertPortFree(port);
  mkdirSync(OUTPUT, { recursive: true });
  const origin = `http://127.0.0.1:${port}`;
  const base = { ...process.env };
  // tsx's own loader flags are not for the server.
  delete base.NODE_OPTIONS;
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, "server.mjs"), "-p", String(port), "-H", "127.0.0.1"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...base, ...env, NEXTAUTH_URL: origin } as NodeJS.ProcessEnv,
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const out = createWriteStream(path.join(OUTPUT, `server-${port}.log`), { flags: "w" });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      if ((await fetch(`${origin}/api/ready`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`server.mjs on ${origin} did not become ready; see bench/.output/server-${port}.log`);
    }
    await sleep(250);
  }
  return {
    port,
    origin,
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Stops everything on Ctrl-C too, so no server or throwaway database is left behind. */
export function stopOnSignal(stop: () => Promise<void>) {
  const handler = () => {
    log("interrupted: stopping servers and dropping the bench database");
    void stop().finally(() => process.exit(130));
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
}

// ---------------------------------------------------------------------------------------------
// lib/, imported only after startConsole has set the environment

export async function latch() {
  const [{ db }, fixtures, tokens, stores, storeSchemas, assets, assetSchemas, connections, connectionSchemas] = await Promise.all([
    import("@/lib/db"),
    import("@/test/fixtures"),
    import("@/test/tokens"),
    import("@/lib/stores/mutations"),
    import("@/lib/stores/schemas"),
    import("@/lib/assets/mutations"),
    import("@/lib/assets/schemas"),
    import("@/lib/connections/mutations"),
    import("@/lib/connections/schemas"),
  ]);
  return {
    db,
    makeUser: fixtures.makeUser,
    makeFolder: fixtures.makeFolder,
    grant: fixtures.grant,
    serviceToken: tokens.serviceToken,
    createStore: stores.createStore,
    createStoreSchema: storeSchemas.createStoreSchema,
    createAsset: assets.createAsset,
    createAssetSchema: assetSchemas.createAssetSchema,
    saveConnection: connections.saveConnection,
    deleteConnection: connections.deleteConnection,
    saveConnectionSchema: connectionSchemas.saveConnectionSchema,
  };
}
export type Latch = Awaited<ReturnType<typeof latch>>;

/**
 * The shape a runner meets: an editor who owns the connection (folder "Apps") and may use the asset
 * (folder "Secrets"), a HashiCorp Vault store (the emulator, KV v2, over HTTPS with its test CA), and
 * a service-account token scoped to "Apps" with connections.use.
 */
export async function makeWorld(l: Latch, vault: { url: string; caCert: string; token: string }) {
  const admin = await l.makeUser({ isAdmin: true, name: "Bench admin" });
  const editor = await l.makeUser({ name: "Bench editor" });
  const apps = await l.makeFolder(`Apps ${randomUUID().slice(0, 6)}`);
  const secrets = await l.makeFolder(`Secrets ${randomUUID().slice(0, 6)}`);
  await l.grant(apps.id, editor, "EDITOR");
  await l.grant(secrets.id, editor, "EDITOR");
  const store = await l.createStore(
    { actor: admin, requestId: "bench" },
    l.createStoreSchema.parse({ name: `Vault ${randomUUID().slice(0, 6)}`, kind: "hashicorp", mode: "READ_ONLY", config: { address: vault.url, kvVersion: "2" }, secrets: { token: vault.token }, caBundle: vault.caCert, timeoutMs: 10_000 }),
  );
  const token = await l.serviceToken(admin, [{ folderId: apps.id, permissions: ["connections.use"] }]);
  return { admin, editor, apps, secrets, storeId: store.id, token: token.token };
}
export type World = Awaited<ReturnType<typeof makeWorld>>;

/** A Credential asset pointing at `secretPath` in the Vault store (username and password keys). */
export async function makeAsset(l: Latch, world: World, secretPath: string, name = `Login ${randomUUID().slice(0, 6)}`) {
  const created = await l.createAsset(
    { actor: world.editor, requestId: "bench" },
    l.createAssetSchema.parse({ folderId: world.secrets.id, type: "CREDENTIAL", name, storeId: world.storeId, source: "reference", secretName: secretPath, usernameKey: "username", valueKey: "password" }),
  );
  return created!.id;
}

/** A PostgreSQL connection whose user and password come from the asset ("Use credential asset"). */
export async function makePostgresConnection(l: Latch, world: World, assetId: string, target: { host: string; port: number; database: string }, name = `Postgres ${randomUUID().slice(0, 6)}`) {
  const outcome = await l.saveConnection(
    { actor: world.editor, requestId: "bench" },
    l.saveConnectionSchema.parse({
      connectionId: null,
      folderId: world.apps.id,
      name,
      kind: "postgres",
      config: { host: target.host, port: target.port, database: target.database, tlsMode: "disable" },
      secrets: { password: { mode: "asset", assetId } },
      usernameFromAsset: ["password"],
    }),
  );
  if (!outcome.ok || !("connectionId" in outcome) || !outcome.connectionId) throw new Error(`could not create the bench connection: ${JSON.stringify(outcome)}`);
  return outcome.connectionId;
}

export async function deleteConnection(l: Latch, world: World, connectionId: string) {
  await l.deleteConnection({ actor: world.editor, requestId: "bench" }, { connectionId });
}

// ---------------------------------------------------------------------------------------------
// Calling the API

/** One POST with a kept-alive connection; the time is measured around the whole exchange. */
export async function post(origin: string, route: string, token: string, body?: unknown): Promise<{ status: number; ms: number; json: Record<string, unknown> }> {
  const t0 = process.hrtime.bigint();
  const res = await fetch(`${origin}/api/v1${route}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const ms = elapsedMs(t0);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text.slice(0, 200) };
  }
  return { status: res.status, ms, json };
}

export const invokeBody = (sql: string, params: unknown[] = []) => ({ operation: "query", input: { sql, params } });

/** The rows of a query invoke's answer. */
export const rowsOf = (json: Record<string, unknown>) => ((json.result as { rows?: unknown[][] } | undefined)?.rows ?? []) as unknown[][];

// ---------------------------------------------------------------------------------------------
// PostgreSQL targets

/** The machine's PostgreSQL (trust auth), where the throughput and refresh benchmarks' targets live. */
export const TARGET_ADMIN_URL = process.env.BENCH_TARGET_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** A login role on the target server for the benchmark (dropped by the returned function). */
export async function createTargetRole(adminUrl: string, name: string, password: string): Promise<() => Promise<void>> {
  await withPg(adminUrl, (c) => c.query(`CREATE ROLE ${c.escapeIdentifier(name)} LOGIN PASSWORD ${c.escapeLiteral(password)}`));
  return () =>
    withPg(adminUrl, async (c) => {
      await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [name]);
      await c.query(`DROP ROLE IF EXISTS ${c.escapeIdentifier(name)}`);
    });
}

export function targetOf(url: string) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5432), database: decodeURIComponent(u.pathname.slice(1)) || "postgres" };
}

export const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, "utf8")) as T;

/**
 * `npm run bench:invoke`: `SELECT 1` through POST /api/v1/connections/{id}/invoke on the production
 * build (token auth, warm cache, pooled) against a bare node:http server running the same pooled
 * query on the same PostgreSQL, in the same run at the same concurrency. Then, for diagnosis, the
 * statements each invoke sends to Latch's own database and a CPU profile of the server under load.
 * Prints Markdown; writes bench/results/invoke.json. A benchmark, not a test. See bench/README.md.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import autocannon from "autocannon";
import { startHashicorpEmulator } from "@/test/emulators/hashicorp";
import { createTestPki } from "@/test/emulators/tls";
import { inclusiveMatching, summariseProfile } from "./cpu-profile";
import {
  INVOKE_RATE,
  OUTPUT,
  cpuMsOf,
  PORTS,
  ROOT,
  TARGET_ADMIN_URL,
  createTargetRole,
  elapsedMs,
  fmt,
  invokeBody,
  latch,
  load1,
  log,
  machine,
  makeAsset,
  makePostgresConnection,
  makeWorld,
  post,
  sleep,
  startConsole,
  stopOnSignal,
  summarise,
  targetOf,
  withPg,
  writeResult,
  type Summary,
} from "./harness";
import { perUnit, startCensus } from "./pg-census";

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const CONNECTIONS = num("INVOKE_BENCH_CONNECTIONS", 50);
const SECONDS = num("INVOKE_BENCH_SECONDS", 10); // per measured phase at CONNECTIONS
const LATENCY_SECONDS = num("INVOKE_BENCH_LATENCY_SECONDS", 5); // per measured phase at 1 connection
const ROUNDS = num("INVOKE_BENCH_ROUNDS", 3); // bare and Latch alternate, so drift lands on both
const WARMUP_SECONDS = 5;
const CENSUS_INVOKES = 200;
const PROFILE_SECONDS = 15;
const DIAGNOSE = process.env.INVOKE_BENCH_DIAGNOSE !== "0";
const SQL = "SELECT 1";
const TARGET = { throughputRatio: 0.5, addedP50Ms: 2 };

type Phase = { side: "bare" | "latch"; connections: number; seconds: number; requests: number; ok: number; non2xx: number; errors: number; timeouts: number; latenciesMs: number[]; serverCpuMs?: number | null };

/** One autocannon run; every response time is kept (autocannon's own histogram rounds to whole ms). */
function cannon(side: Phase["side"], url: string, headers: Record<string, string>, connections: number, seconds: number, accept = (status: number) => status >= 200 && status < 300): Promise<Phase> {
  return new Promise((resolve, reject) => {
    const latenciesMs: number[] = [];
    let non2xx = 0;
    const instance = autocannon(
      { url, method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(invokeBody(SQL)), connections, duration: seconds, pipelining: 1, timeout: 30 },
      (error, result) => {
        if (error) return reject(error);
        resolve({ side, connections, seconds, requests: latenciesMs.length + non2xx, ok: latenciesMs.length, non2xx, errors: result.errors, timeouts: result.timeouts, latenciesMs });
      },
    );
    // The emitted arguments are (client, statusCode, bytes, responseTime in ms as a float).
    (instance as unknown as NodeJS.EventEmitter).on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (accept(status)) latenciesMs.push(ms);
      else non2xx++;
    });
  });
}

type Side = { phases: number; requestsPerSecond: number; ok: number; non2xx: number; errors: number; latency: Summary; serverCpuMsPerRequest: number | null };
function combine(phases: Phase[]): Side {
  const seconds = phases.reduce((s, p) => s + p.seconds, 0);
  const ok = phases.reduce((s, p) => s + p.ok, 0);
  return {
    phases: phases.length,
    requestsPerSecond: Math.round((ok / seconds) * 10) / 10,
    ok,
    non2xx: phases.reduce((s, p) => s + p.non2xx, 0),
    errors: phases.reduce((s, p) => s + p.errors + p.timeouts, 0),
    latency: summarise(phases.flatMap((p) => p.latenciesMs)),
    serverCpuMsPerRequest: phases.every((p) => typeof p.serverCpuMs === "number") ? Math.round((phases.reduce((s, p) => s + p.serverCpuMs!, 0) / ok) * 1000) / 1000 : null,
  };
}

function startBare(targetUrl: string, poolMax: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(ROOT, "bench", "bare-server.mjs"), [], {
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", BARE_PORT: String(PORTS.bare), BARE_TARGET_URL: targetUrl, BARE_POOL_MAX: String(poolMax) } as NodeJS.ProcessEnv,
      execArgv: [],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    child.once("message", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`the bare server exited (${code})`)));
  });
}

async function main() {
  const startedAt = machine();
  log(`invoke benchmark: ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per side (and ${LATENCY_SECONDS} s at 1 connection); load ${startedAt.loadAverage.join(" ")}`);
  const pki = createTestPki();
  const vault = await startHashicorpEmulator({ pki });
  const role = `latch_bench_${randomBytes(4).toString("hex")}`;
  const password = randomBytes(18).toString("base64url");
  const dropRole = await createTargetRole(TARGET_ADMIN_URL, role, password);
  const target = targetOf(TARGET_ADMIN_URL);
  const targetUrl = (() => {
    const u = new URL(TARGET_ADMIN_URL);
    u.username = role;
    u.password = password;
    return u.toString();
  })();
  let bare: ChildProcess | undefined;
  let console_: Awaited<ReturnType<typeof startConsole>> | undefined;
  const stop = async () => {
    bare?.kill("SIGTERM");
    await console_?.stop();
    await vault.close();
    await dropRole().catch(() => {});
  };
  stopOnSignal(stop);
  try {
    console_ = await startConsole({ ports: [PORTS.instances[0]] });
    const [instance] = console_.instances;
    const l = await latch();
    const world = await makeWorld(l, { url: vault.url, caCert: pki.caCert, token: vault.createToken({ ttlSeconds: 6 * 3600 }) });
    const secretPath = "bench/invoke";
    vault.seedSecret({ path: secretPath, data: { username: role, password } });
    const assetId = await makeAsset(l, world, secretPath);
    const connectionId = await makePostgresConnection(l, world, assetId, target);
    const route = `/connections/${connectionId}/invoke`;
    const latchUrl = `${instance!.origin}/api/v1${route}`;
    const auth = { authorization: `Bearer ${world.token}` };

    // Warm: the cache holds the value, the pool is open, the server's code paths are compiled.
    const first = await post(instance!.origin, route, world.token, invokeBody(SQL));
    if (first.status !== 200) throw new Error(`the first invoke failed: ${first.status} ${JSON.stringify(first.json)}`);
    for (let i = 0; i < 200; i++) await post(instance!.origin, route, world.token, invokeBody(SQL));
    await cannon("latch", latchUrl, auth, CONNECTIONS, WARMUP_SECONDS);
    const latchSessions = await withPg(TARGET_ADMIN_URL, async (c) => Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1 AND application_name = 'Latch'`, [role])).rows[0]!.n));
    const poolMax = num("INVOKE_BENCH_BARE_POOL", Math.max(1, latchSessions));
    log(`Latch holds ${latchSessions} session(s) to the target after warm-up; the bare server's pool gets ${poolMax}`);
    bare = await startBare(targetUrl, poolMax);
    const bareUrl = `http://127.0.0.1:${PORTS.bare}/invoke`;
    await cannon("bare", bareUrl, {}, CONNECTIONS, WARMUP_SECONDS);

    const readsBefore = vault.count(`/data/${secretPath}`, "GET");
    const loadStart = load1();
    const phases: Phase[] = [];
    const run = async (side: Phase["side"], connections: number, seconds: number) => {
      const pid = side === "bare" ? bare!.pid : instance!.child.pid;
      const cpu0 = cpuMsOf(pid);
      const p = await cannon(side, side === "bare" ? bareUrl : latchUrl, side === "bare" ? {} : auth, connections, seconds);
      const cpu1 = cpuMsOf(pid);
      p.serverCpuMs = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
      log(`${side.padEnd(5)} ×${connections}: ${Math.round(p.ok / seconds)} req/s, p50 ${fmt(summarise(p.latenciesMs).p50)} ms, server CPU ${p.serverCpuMs === null ? "?" : fmt(p.serverCpuMs / p.ok, 3)} ms/request, non-2xx ${p.non2xx}, errors ${p.errors + p.timeouts}`);
      phases.push(p);
    };
    for (let r = 0; r < ROUNDS; r++) {
      const order: Phase["side"][] = r % 2 === 0 ? ["bare", "latch"] : ["latch", "bare"];
      for (const side of order) await run(side, CONNECTIONS, SECONDS);
    }
    for (let r = 0; r < ROUNDS; r++) {
      const order: Phase["side"][] = r % 2 === 0 ? ["bare", "latch"] : ["latch", "bare"];
      for (const side of order) await run(side, 1, LATENCY_SECONDS);
    }
    const loadEnd = load1();
    const vaultReadsDuringMeasurement = vault.count(`/data/${secretPath}`, "GET") - readsBefore;
    const latchSessionsAfter = await withPg(TARGET_ADMIN_URL, async (c) => Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1 AND application_name = 'Latch'`, [role])).rows[0]!.n));

    const pick = (side: Phase["side"], connections: number) => combine(phases.filter((p) => p.side === side && p.connections === connections));
    const loaded = { bare: pick("bare", CONNECTIONS), latch: pick("latch", CONNECTIONS) };
    const single = { bare: pick("bare", 1), latch: pick("latch", 1) };
    const ratio = Math.round((loaded.latch.requestsPerSecond / loaded.bare.requestsPerSecond) * 1000) / 1000;
    const addedP50Loaded = Math.round((loaded.latch.latency.p50 - loaded.bare.latency.p50) * 1000) / 1000;
    const addedP50Single = Math.round((single.latch.latency.p50 - single.bare.latency.p50) * 1000) / 1000;
    bare.kill("SIGTERM");
    bare = undefined;
    await instance!.stop();

    let diagnosis: Record<string, unknown> | null = null;
    // The census invokes a second connection, the same but for its host: a counting proxy in front
    // of the target, so what each invoke sends the target is counted too.
    const viaProxy = (port: number) => makePostgresConnection(l, world, assetId, { ...target, host: "127.0.0.1", port }, "Postgres via the census proxy");
    if (DIAGNOSE) diagnosis = await diagnose(console_, route, target, viaProxy, world.token);

    const result = {
      benchmark: "invoke",
      machine: startedAt,
      loadAverage1m: { start: loadStart, end: loadEnd },
      finishedAt: new Date().toISOString(),
      setup: {
        latchDatabase: console_.databaseSource,
        target: `${target.host}:${target.port}/${target.database} (PostgreSQL ${await withPg(TARGET_ADMIN_URL, async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v)}), login role ${"latch_bench_*"}`,
        invokeRatePerSecond: Number(INVOKE_RATE),
        sql: SQL,
        connections: CONNECTIONS,
        rounds: ROUNDS,
        secondsPerPhase: { loaded: SECONDS, single: LATENCY_SECONDS },
        latchTargetSessions: { afterWarmUp: latchSessions, afterMeasurement: latchSessionsAfter },
        barePoolMax: poolMax,
        vaultReadsDuringMeasurement,
        loadGenerator: `autocannon ${autocannonVersion()} in the benchmark process, same machine`,
      },
      loaded,
      single,
      throughputRatio: ratio,
      addedP50Ms: { atConnections: addedP50Loaded, atOneConnection: addedP50Single },
      target: TARGET,
      met: { throughputRatio: ratio >= TARGET.throughputRatio, addedP50AtConnections: addedP50Loaded <= TARGET.addedP50Ms, addedP50AtOneConnection: addedP50Single <= TARGET.addedP50Ms },
      phases: phases.map(({ latenciesMs, ...p }) => ({ ...p, latency: summarise(latenciesMs) })),
      diagnosis,
    };
    const file = writeResult("invoke.json", result);
    process.stdout.write(`${report(result)}\n\nFull figures: ${file}\n`);
  } finally {
    await stop();
  }
}

function autocannonVersion(): string {
  return (createRequire(import.meta.url)("autocannon/package.json") as { version: string }).version;
}

/**
 * Where an invoke's time goes: (1) the statements it sends to Latch's own database and to the target,
 * each counted by a proxy in front of that database; (2) a CPU profile of a server under the same load.
 */
async function diagnose(
  console_: NonNullable<Awaited<ReturnType<typeof startConsole>>>,
  route: string,
  target: { host: string; port: number },
  connectionVia: (port: number) => Promise<string>,
  token: string,
) {
  const db = new URL(console_.env.DATABASE_URL!);
  const census = await startCensus({ host: db.hostname, port: Number(db.port || 5432) }, PORTS.proxy);
  const targetCensus = await startCensus(target, PORTS.targetProxy);
  const censusRoute = `/connections/${await connectionVia(PORTS.targetProxy)}/invoke`;
  const proxied = new URL(db);
  proxied.hostname = "127.0.0.1";
  proxied.port = String(PORTS.proxy);
  let sql: ReturnType<typeof perUnit> | null = null;
  let sqlUnderLoad: (ReturnType<typeof perUnit> & { invokes: number }) | null = null;
  let targetSql: ReturnType<typeof perUnit> | null = null;
  let targetSqlUnderLoad: (ReturnType<typeof perUnit> & { invokes: number }) | null = null;
  const censusInstance = await console_.start(PORTS.instances[1], { DATABASE_URL: proxied.toString() });
  try {
    for (let i = 0; i < 50; i++) await post(censusInstance.origin, censusRoute, token, invokeBody(SQL));
    await sleep(200);
    const before = census.snapshot();
    const targetBefore = targetCensus.snapshot();
    const times: number[] = [];
    for (let i = 0; i < CENSUS_INVOKES; i++) {
      const r = await post(censusInstance.origin, censusRoute, token, invokeBody(SQL));
      if (r.status !== 200) throw new Error(`census invoke failed: ${r.status}`);
      times.push(r.ms);
    }
    sql = perUnit(before, census.snapshot(), CENSUS_INVOKES);
    targetSql = perUnit(targetBefore, targetCensus.snapshot(), CENSUS_INVOKES);
    log(`census: ${sql.statementsPerUnit} statements and ${sql.roundTripsPerUnit} round trips to Latch's database per invoke; invoke p50 through the proxy ${fmt(summarise(times).p50)} ms`);
    for (const s of sql.statements) log(`  ${s.perUnit} × ${s.sql.slice(0, 200)}`);
    log(`census: ${targetSql.statementsPerUnit} statements and ${targetSql.roundTripsPerUnit} round trips to the target per invoke`);
    for (const s of targetSql.statements) log(`  ${s.perUnit} × ${s.sql.slice(0, 200)}`);
    // The same count at the benchmark's concurrency: statements that requests share (the epoch
    // check, the audit group) are sent once for several invokes; the target gets exactly one each,
    // unless a session's statement limit has to be set again.
    const url = `${censusInstance.origin}/api/v1${censusRoute}`;
    await cannon("latch", url, { authorization: `Bearer ${token}` }, CONNECTIONS, WARMUP_SECONDS);
    const beforeLoad = census.snapshot();
    const targetBeforeLoad = targetCensus.snapshot();
    const loaded = await cannon("latch", url, { authorization: `Bearer ${token}` }, CONNECTIONS, SECONDS);
    sqlUnderLoad = { ...perUnit(beforeLoad, census.snapshot(), loaded.ok), invokes: loaded.ok };
    targetSqlUnderLoad = { ...perUnit(targetBeforeLoad, targetCensus.snapshot(), loaded.ok), invokes: loaded.ok };
    log(`census at ${CONNECTIONS} connections: ${sqlUnderLoad.statementsPerUnit} statements per invoke to Latch's database, ${targetSqlUnderLoad.statementsPerUnit} to the target, over ${loaded.ok} invokes`);
  } finally {
    await censusInstance.stop();
    await census.close();
    await targetCensus.close();
  }

  // The framework's floor: the same route and load with a malformed token, refused with 401 by the
  // handler wrapper before any database work: what no change to the invoke path itself goes below.
  // Measured as autocannon sends it (no Accept-Encoding) and as fetch() and most HTTP libraries do
  // (Next compresses the answer then).
  const floor: Record<string, unknown>[] = [];
  {
    const plain = await console_.start(PORTS.instances[1]);
    try {
      const url = `${plain.origin}/api/v1${route}`;
      const refused = (status: number) => status === 401;
      for (const encoding of [null, "gzip, deflate, br"]) {
        const headers: Record<string, string> = { authorization: "Bearer not-a-token", ...(encoding ? { "accept-encoding": encoding } : {}) };
        await cannon("latch", url, headers, CONNECTIONS, WARMUP_SECONDS, refused);
        const cpu0 = cpuMsOf(plain.child.pid);
        const p = await cannon("latch", url, headers, CONNECTIONS, SECONDS, refused);
        const cpu1 = cpuMsOf(plain.child.pid);
        const f = {
          what: `POST invoke with a malformed bearer token, ${encoding ? `Accept-Encoding: ${encoding}` : "no Accept-Encoding"}: 401 from the handler wrapper, no database`,
          acceptEncoding: encoding,
          requestsPerSecond: Math.round(p.ok / SECONDS),
          latency: summarise(p.latenciesMs),
          serverCpuMsPerRequest: cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) / p.ok) * 1000) / 1000 : null,
          other: p.non2xx + p.errors + p.timeouts,
        };
        floor.push(f);
        log(`floor (401, no database, ${encoding ?? "identity"}): ${f.requestsPerSecond} req/s, server CPU ${f.serverCpuMsPerRequest} ms/request`);
      }
    } finally {
      await plain.stop();
    }
  }

  const dir = path.join(OUTPUT, `cpu-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const profiled = await console_.start(PORTS.instances[2], {}, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
  const url = `${profiled.origin}/api/v1${route}`;
  for (let i = 0; i < 200; i++) await post(profiled.origin, route, token, invokeBody(SQL));
  await cannon("latch", url, { authorization: `Bearer ${token}` }, CONNECTIONS, WARMUP_SECONDS);
  const loadStarted = process.hrtime.bigint();
  const cpu0 = cpuMsOf(profiled.child.pid);
  const underLoad = await cannon("latch", url, { authorization: `Bearer ${token}` }, CONNECTIONS, PROFILE_SECONDS);
  const cpu1 = cpuMsOf(profiled.child.pid);
  const loadEndedAgoStart = process.hrtime.bigint();
  const loadMs = Number(loadEndedAgoStart - loadStarted) / 1e6;
  await profiled.stop();
  const shutdownMs = elapsedMs(loadEndedAgoStart);
  const profiles = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).map((f) => path.join(dir, f));
  // `next start` may run the server in a child process: the busiest profile is the server's.
  const file = profiles.sort((a, b) => statSync(b).size - statSync(a).size)[0];
  let cpu: Record<string, unknown> | null = null;
  if (file) {
    const window = { fromEndMs: shutdownMs + loadMs, toEndMs: shutdownMs };
    const summary = summariseProfile(file, 30, window);
    const prismaWasm = inclusiveMatching(file, (f) => /query_compiler|wasm|QueryCompiler/i.test(`${f.url} ${f.functionName}`), window);
    const prisma = inclusiveMatching(file, (f) => f.url.includes("node_modules/@prisma/") || f.url.includes("node_modules/.prisma/"), window);
    cpu = {
      profile: path.relative(ROOT, file),
      requestsPerSecondWhileProfiled: Math.round(underLoad.ok / PROFILE_SECONDS),
      // Process CPU time (all threads, /proc) per invoke while profiled; the profile's shares are of the main thread's busy time.
      cpuMsPerInvoke: cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) / underLoad.ok) * 1000) / 1000 : null,
      ...summary,
      inclusive: { prisma, prismaQueryCompiler: prismaWasm },
    };
  }
  return { sql, sqlUnderLoad, targetSql, targetSqlUnderLoad, floor, cpu };
}

function report(r: {
  machine: ReturnType<typeof machine>;
  loadAverage1m: { start: number; end: number };
  setup: Record<string, unknown>;
  loaded: { bare: Side; latch: Side };
  single: { bare: Side; latch: Side };
  throughputRatio: number;
  addedP50Ms: { atConnections: number; atOneConnection: number };
  diagnosis: Record<string, unknown> | null;
}): string {
  const mark = (ok: boolean) => (ok ? "✅" : "❌");
  const row = (label: string, s: Side) => `| ${label} | ${s.requestsPerSecond} | ${fmt(s.latency.p50)} | ${fmt(s.latency.p90)} | ${fmt(s.latency.p99)} | ${fmt(s.latency.max)} | ${s.serverCpuMsPerRequest === null ? "—" : fmt(s.serverCpuMsPerRequest, 3)} | ${s.ok} | ${s.non2xx + s.errors} |`;
  const out = [
    `## Invoke \`${SQL}\`: Latch vs bare node:http (${r.machine.date}, ${r.machine.cpu} × ${r.machine.cores}, Node ${r.machine.node}, load ${r.loadAverage1m.start} → ${r.loadAverage1m.end}, commit ${r.machine.commit})`,
    "",
    "| Side | req/s | p50 ms | p90 ms | p99 ms | max ms | server CPU ms/request | 2xx | other |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    row(`bare, ${CONNECTIONS} connections`, r.loaded.bare),
    row(`Latch, ${CONNECTIONS} connections`, r.loaded.latch),
    row("bare, 1 connection", r.single.bare),
    row("Latch, 1 connection", r.single.latch),
    "",
    `Throughput ratio (Latch ÷ bare, ${CONNECTIONS} connections): **${r.throughputRatio}** (target ≥ ${TARGET.throughputRatio}) ${mark(r.throughputRatio >= TARGET.throughputRatio)}`,
    `Added p50 at ${CONNECTIONS} connections: **${fmt(r.addedP50Ms.atConnections)} ms**; at 1 connection: **${fmt(r.addedP50Ms.atOneConnection)} ms** (target ≤ ${TARGET.addedP50Ms} ms) ${mark(r.addedP50Ms.atConnections <= TARGET.addedP50Ms)} / ${mark(r.addedP50Ms.atOneConnection <= TARGET.addedP50Ms)}`,
    `Setup: ${JSON.stringify(r.setup)}`,
  ];
  const d = r.diagnosis as { sql?: ReturnType<typeof perUnit> | null; cpu?: { cpuMsPerInvoke: number; parts: { part: string; ms: number; pctOfBusy: number }[]; topFunctions: { fn: string; pctOfBusy: number }[]; requestsPerSecondWhileProfiled: number } | null } | null;
  if (d?.sql) {
    out.push("", `### Latch database per invoke: ${d.sql.statementsPerUnit} statements, ${d.sql.roundTripsPerUnit} round trips`, "", "| per invoke | statement |", "| --- | --- |");
    for (const s of d.sql.statements) out.push(`| ${s.perUnit} | \`${s.sql.length > 160 ? `${s.sql.slice(0, 157)}…` : s.sql}\` |`);
  }
  const loaded = (r.diagnosis as { sqlUnderLoad?: (ReturnType<typeof perUnit> & { invokes: number }) | null } | null)?.sqlUnderLoad;
  if (loaded) {
    out.push("", `At ${CONNECTIONS} connections (${loaded.invokes} invokes through the proxy): ${loaded.statementsPerUnit} statements in ${loaded.roundTripsPerUnit} round trips per invoke.`, "", "| per invoke | statement |", "| --- | --- |");
    for (const s of loaded.statements) out.push(`| ${s.perUnit} | \`${s.sql.length > 160 ? `${s.sql.slice(0, 157)}…` : s.sql}\` |`);
  }
  const targets = r.diagnosis as { targetSql?: ReturnType<typeof perUnit> | null; targetSqlUnderLoad?: (ReturnType<typeof perUnit> & { invokes: number }) | null } | null;
  for (const [label, t] of [["one at a time", targets?.targetSql], [`at ${CONNECTIONS} connections`, targets?.targetSqlUnderLoad]] as const) {
    if (!t) continue;
    out.push("", `### Target per invoke, ${label}: ${t.statementsPerUnit} statements, ${t.roundTripsPerUnit} round trips`, "", "| per invoke | statement |", "| --- | --- |");
    for (const s of t.statements) out.push(`| ${s.perUnit} | \`${s.sql.length > 160 ? `${s.sql.slice(0, 157)}…` : s.sql}\` |`);
  }
  const floor = (r.diagnosis as { floor?: { acceptEncoding: string | null; requestsPerSecond: number; serverCpuMsPerRequest: number | null; latency: Summary }[] } | null)?.floor ?? [];
  for (const f of floor) out.push("", `Framework floor (401 before any database work, ${CONNECTIONS} connections, ${f.acceptEncoding ? `Accept-Encoding: ${f.acceptEncoding}` : "no Accept-Encoding"}): ${f.requestsPerSecond} req/s, p50 ${fmt(f.latency.p50)} ms, ${f.serverCpuMsPerRequest ?? "?"} ms of server CPU per request.`);
  if (d?.cpu) {
    out.push("", `### CPU under load (${d.cpu.requestsPerSecondWhileProfiled} req/s while profiled): ${d.cpu.cpuMsPerInvoke} ms of server CPU per invoke`, "", "| part | % of busy |", "| --- | --- |");
    for (const p of d.cpu.parts.slice(0, 15)) out.push(`| ${p.part} | ${p.pctOfBusy} |`);
    out.push("", "| function (self time) | % of busy |", "| --- | --- |");
    for (const f of d.cpu.topFunctions.slice(0, 20)) out.push(`| \`${f.fn}\` | ${f.pctOfBusy} |`);
  }
  return out.join("\n");
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);

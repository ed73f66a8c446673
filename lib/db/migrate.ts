import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";

/**
 * Applies prisma/migrations/<name>/migration.sql with plain `pg`, recording them in Prisma's own
 * `_prisma_migrations` table so `prisma migrate status` and this module agree.
 * `prisma migrate deploy` is not used: with the adapter-pg config it cannot run (prisma/orm#27403).
 * No `server-only` import: scripts (migrate, up, test setup) use this module too.
 */

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateOptions {
  /** Migrations directory; defaults to `<cwd>/prisma/migrations`. */
  dir?: string;
  log?: (msg: string) => void;
}

/** Anything with pg's `query`: a `pg.Client`, `pg.PoolClient` or `pg.Pool`. */
export type Queryable = Pick<pg.Pool, "query">;

// The key Prisma Migrate itself uses, so this runner and `prisma migrate` never overlap.
const LOCK_KEY = 72707369;

// Prisma's DDL for its bookkeeping table, verbatim apart from IF NOT EXISTS.
const MIGRATIONS_TABLE_DDL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export function defaultMigrationsDir(): string {
  return path.join(/*turbopackIgnore: true*/ process.cwd(), "prisma", "migrations");
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** Migration folders sorted by name (byte order, like Prisma). */
export async function readMigrations(dir = defaultMigrationsDir()): Promise<MigrationFile[]> {
  let entries;
  try {
    entries = await readdir(/*turbopackIgnore: true*/ dir, { withFileTypes: true });
  } catch (err) {
    throw new Error(`Cannot read migrations directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name, "migration.sql");
      let sql: string;
      try {
        sql = await readFile(/*turbopackIgnore: true*/ file, "utf8");
      } catch (err) {
        throw new Error(`Migration ${name} has no readable migration.sql (${file})`, { cause: err });
      }
      return { name, sql, checksum: sha256(sql) };
    }),
  );
}

// Prisma also accepts a checksum taken before a CRLF/LF conversion (e.g. a Windows checkout).
function checksumMatches(file: MigrationFile, recorded: string): boolean {
  return (
    recorded === file.checksum ||
    recorded === sha256(file.sql.replace(/\r\n/g, "\n")) ||
    recorded === sha256(file.sql.replace(/\r?\n/g, "\r\n"))
  );
}

/**
 * The SQL's top-level statements, with what is not a statement blanked out: comments (nested block
 * comments too), string literals (E'' ones with their backslash escapes), quoted identifiers,
 * dollar-quoted bodies (a DO block's BEGIN … END, a procedure's COMMIT) and SQL-standard function
 * bodies (BEGIN ATOMIC … END). Whitespace is collapsed, so a pattern can match word by word.
 */
function statementsOf(sql: string): string[] {
  let code = "";
  let i = 0;
  const identifierChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
  const dollarTag = /\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/y;
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    dollarTag.lastIndex = i;
    // $tag$ opens a dollar-quoted string unless it continues an identifier (a$b$ is one name).
    const tag = c === "$" && !identifierChar(sql[i - 1]) ? dollarTag.exec(sql)?.[0] : undefined;
    if (c === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? sql.length : end;
      code += " ";
    } else if (c === "/" && next === "*") {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (depth > 0 && i < sql.length) {
        if (sql.startsWith("/*", i)) {
          depth++;
          i += 2;
        } else if (sql.startsWith("*/", i)) {
          depth--;
          i += 2;
        } else i++;
      }
      code += " ";
    } else if (c === "'") {
      // E'…' (escape syntax): a backslash escapes the next character, a quote included.
      const escapes = /[Ee]/.test(sql[i - 1] ?? "") && !identifierChar(sql[i - 2]);
      for (i++; i < sql.length; i++) {
        if (escapes && sql[i] === "\\") i++;
        else if (sql[i] === "'" && sql[i + 1] === "'") i++;
        else if (sql[i] === "'") break;
      }
      i++;
      code += "''";
    } else if (c === '"') {
      for (i++; i < sql.length; i++) {
        if (sql[i] === '"' && sql[i + 1] === '"') i++;
        else if (sql[i] === '"') break;
      }
      i++;
      code += '""';
    } else if (tag) {
      const end = sql.indexOf(tag, i + tag.length);
      i = end === -1 ? sql.length : end + tag.length;
      code += " ";
    } else {
      code += c;
      i++;
    }
  }
  return withoutAtomicBodies(code)
    .split(";")
    .map((statement) => statement.replace(/\s+/g, " ").trim())
    .filter(Boolean);
}

/**
 * Whether the SQL has a top-level transaction-control statement (BEGIN, COMMIT, ROLLBACK, START
 * TRANSACTION, END, with TRANSACTION/WORK or options).
 */
function controlsTransaction(sql: string): boolean {
  return statementsOf(sql).some((statement) => /^(BEGIN|COMMIT|ROLLBACK|START TRANSACTION|END|ABORT)\b( (TRANSACTION|WORK)\b)?( ISOLATION\b| READ\b| (NOT )?DEFERRABLE\b|$)/i.test(statement));
}

/**
 * Statements PostgreSQL refuses inside a transaction block ("cannot run inside a transaction block"),
 * each with how the refusal names it. A file with one would fail in the runner's transaction anyway,
 * but only after the migrations before it were applied; refused up front, nothing is.
 */
const OUTSIDE_TRANSACTION_ONLY: [RegExp, string][] = [
  [/^CREATE (UNIQUE )?INDEX CONCURRENTLY\b/i, "CREATE INDEX CONCURRENTLY"],
  [/^DROP INDEX CONCURRENTLY\b/i, "DROP INDEX CONCURRENTLY"],
  [/^REINDEX ?(\([^)]*\) ?)?(INDEX|TABLE) CONCURRENTLY\b/i, "REINDEX CONCURRENTLY"],
  [/^REINDEX ?(\([^)]*\) ?)?(SCHEMA|DATABASE|SYSTEM)\b/i, "REINDEX SCHEMA, DATABASE or SYSTEM"],
  [/^ALTER TABLE\b.* DETACH PARTITION\b.* CONCURRENTLY\b/i, "ALTER TABLE … DETACH PARTITION … CONCURRENTLY"],
  [/^(CREATE|DROP) DATABASE\b/i, "CREATE or DROP DATABASE"],
  [/^ALTER DATABASE\b.* SET TABLESPACE\b/i, "ALTER DATABASE … SET TABLESPACE"],
  [/^(CREATE|DROP) TABLESPACE\b/i, "CREATE or DROP TABLESPACE"],
  [/^VACUUM\b/i, "VACUUM"],
  [/^ALTER SYSTEM\b/i, "ALTER SYSTEM"],
  [/^CLUSTER( VERBOSE| ?\([^)]*\))?$/i, "CLUSTER without a table"],
  [/^DISCARD ALL$/i, "DISCARD ALL"],
  [/^(COMMIT|ROLLBACK) PREPARED\b/i, "COMMIT or ROLLBACK PREPARED"],
  [/^PREPARE TRANSACTION\b/i, "PREPARE TRANSACTION"],
];

/** What the first statement of the SQL that cannot run inside a transaction block is, for the message; undefined if none. */
function outsideTransactionOnly(sql: string): string | undefined {
  for (const statement of statementsOf(sql)) {
    for (const [pattern, name] of OUTSIDE_TRANSACTION_ONLY) if (pattern.test(statement)) return name;
  }
  return undefined;
}

/**
 * A SQL-standard function body (`BEGIN ATOMIC stmt; …; END`) holds statements of its own, and its END
 * is not a COMMIT: blanked out, counting the CASE … END expressions inside so the body's own END is found.
 */
function withoutAtomicBodies(code: string): string {
  const start = /\bBEGIN\s+ATOMIC\b/gi;
  let out = "";
  let from = 0;
  for (let m = start.exec(code); m; m = start.exec(code)) {
    out += code.slice(from, m.index);
    const words = /\b(CASE|END)\b/gi;
    words.lastIndex = m.index + m[0].length;
    let depth = 1;
    let end = code.length;
    for (let w = words.exec(code); w; w = words.exec(code)) {
      depth += w[1]!.toUpperCase() === "CASE" ? 1 : -1;
      if (depth === 0) {
        end = w.index + w[0].length;
        break;
      }
    }
    out += " ";
    from = end;
    start.lastIndex = end;
  }
  return out + code.slice(from);
}

/** name → checksum of migrations recorded as finished (and not rolled back). Empty if the table is absent. */
async function recordedMigrations(db: Queryable): Promise<Map<string, string>> {
  const present = await db.query<{ present: boolean }>(
    `SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`,
  );
  if (!present.rows[0]?.present) return new Map();
  const { rows } = await db.query<{ migration_name: string; checksum: string }>(
    `SELECT migration_name, checksum FROM "_prisma_migrations"
      WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL
      ORDER BY started_at`,
  );
  return new Map(rows.map((r) => [r.migration_name, r.checksum]));
}

/**
 * How long a connection of the scripts' own (migrations, seed, start-up and readiness checks) may take
 * to open: TCP, TLS and authentication. A server that accepts TCP and never answers must end in an
 * error naming it, not a hang; ten seconds leaves room for a busy or distant server.
 */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Where a connection string points (host, port, database), for messages: never the user or password. */
function databaseShown(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.hostname || "localhost"}:${url.port || "5432"}${url.pathname}`;
  } catch {
    return "DATABASE_URL";
  }
}

/**
 * A client of a script's own, not connected yet. keepAlive: a session whose server vanished without a
 * word (a dropped route, a failed-over host) fails eventually instead of waiting on it for ever.
 */
export function scriptClient(connectionString: string, connectTimeoutMs = CONNECT_TIMEOUT_MS, extra: pg.ClientConfig = {}): pg.Client {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true, keepAliveInitialDelayMillis: 30_000, ...extra });
  // A dropped connection must surface as a rejected query, not crash the process.
  client.on("error", () => {});
  return client;
}

/** client.connect(), with pg's "timeout expired" told in words that name the server and what to check. */
export async function connectClient(client: pg.Client, connectionString: string, connectTimeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
  try {
    await client.connect();
  } catch (error) {
    if (!/timeout/i.test((error as Error).message)) throw error;
    throw new Error(
      `The database at ${databaseShown(connectionString)} did not accept a session within ${connectTimeoutMs / 1000} s ` +
        "(the connection was opened, or attempted, but PostgreSQL never answered). Check that DATABASE_URL points at a running PostgreSQL server and that nothing in between holds the connection.",
      { cause: error },
    );
  }
}

/**
 * Why a session to DATABASE_URL could not be used, in words that say what to check (the user and
 * password are never shown). For what PostgreSQL or the network answered; anything else by its message.
 */
export function describeDatabaseFailure(error: unknown, connectionString: string): string {
  const at = databaseShown(connectionString);
  const code = String((error as { code?: unknown })?.code ?? "");
  switch (code) {
    case "3D000":
      return `the database named in DATABASE_URL (${at}) does not exist: create it, or correct the name`;
    case "28P01":
      return `PostgreSQL at ${at} refused the password of the user in DATABASE_URL`;
    case "28000":
      return `PostgreSQL at ${at} refused the user in DATABASE_URL: it does not exist, or pg_hba.conf does not let it in from this address`;
    case "42501":
      return `the user in DATABASE_URL lacks a privilege Latch needs on ${at}`;
    case "ECONNREFUSED":
      return `nothing is listening at ${at}: check that PostgreSQL runs there and DATABASE_URL's host and port`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `the host in DATABASE_URL (${at}) does not resolve`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `the database at ${at} could not be used (${message})`;
}

/**
 * One connection of its own for `fn`, ended afterwards (scripts, the readiness probe). Connecting
 * gives up after CONNECT_TIMEOUT_MS; with `timeoutMs`, the whole of it (connecting, every query)
 * gives up after that long, and the connection is closed, instead of waiting on a silent server one
 * step at a time. Without it, the queries themselves are not bounded (a migration may take long).
 */
export async function withDatabaseClient<T>(connectionString: string, fn: (client: pg.Client) => Promise<T>, timeoutMs?: number): Promise<T> {
  const connectTimeoutMs = timeoutMs ? Math.min(timeoutMs, CONNECT_TIMEOUT_MS) : CONNECT_TIMEOUT_MS;
  const client = scriptClient(connectionString, connectTimeoutMs, timeoutMs ? { query_timeout: timeoutMs } : {});
  const work = (async () => {
    await connectClient(client, connectionString, connectTimeoutMs);
    // Where the Prisma client looks ("public"), not the role's own schema that the default
    // search_path ("$user", public) would put the tables in when one exists.
    await client.query("SET search_path TO public");
    return fn(client);
  })();
  let timer: NodeJS.Timeout | undefined;
  const deadline = timeoutMs
    ? new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`The database did not answer within ${timeoutMs} ms.`)), timeoutMs);
      })
    : null;
  try {
    return await (deadline ? Promise.race([work, deadline]) : work);
  } finally {
    clearTimeout(timer);
    work.catch(() => {}); // settles after end() when the deadline won
    await client.end().catch(() => {});
  }
}

/**
 * Names of migrations on disk that the database has not applied, in order (checksums not compared).
 * Pass a connection string, or an existing client/pool (e.g. from GET /api/ready) to reuse its connection.
 */
export async function listPendingMigrations(
  db: string | Queryable,
  opts: Pick<MigrateOptions, "dir"> & { timeoutMs?: number } = {},
): Promise<string[]> {
  if (typeof db === "string") return withDatabaseClient(db, (client) => listPendingMigrations(client, opts), opts.timeoutMs);
  const [files, recorded] = await Promise.all([readMigrations(opts.dir), recordedMigrations(db)]);
  return files.filter((f) => !recorded.has(f.name)).map((f) => f.name);
}

/**
 * Applies every pending migration, each in its own transaction, under an advisory lock so concurrent
 * runners serialise. Refuses to run if an applied migration's file has changed. Idempotent.
 */
export async function applyMigrations(
  connectionString: string,
  opts: MigrateOptions = {},
): Promise<{ applied: string[] }> {
  const log = opts.log ?? (() => {});
  const files = await readMigrations(opts.dir);

  return withDatabaseClient(connectionString, async (client) => {
    const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [LOCK_KEY]);
    if (!rows[0]?.ok) {
      log("Waiting for another migration run to finish…");
      await client.query("SELECT pg_advisory_lock($1)", [LOCK_KEY]);
    }
    try {
      await client.query(MIGRATIONS_TABLE_DDL);
      const recorded = await recordedMigrations(client);

      // Applied here but not shipped with this build: a newer Latch migrated this database (an upgrade rolled
      // back to an older build). Its schema is ahead of this code; said, as `prisma migrate status` would.
      const shipped = new Set(files.map((f) => f.name));
      const unknown = [...recorded.keys()].filter((name) => !shipped.has(name)).sort();
      if (unknown.length > 0) {
        log(
          `Warning: the database has ${unknown.length} migration${unknown.length > 1 ? "s" : ""} this build does not ship (${unknown.join(", ")}): ` +
            "a newer Latch migrated it. Run that version, or restore the database from before the upgrade; this build may fail against its schema.",
        );
      }

      const modified = files.filter((f) => recorded.has(f.name) && !checksumMatches(f, recorded.get(f.name)!));
      if (modified.length > 0) {
        throw new Error(
          `Migration${modified.length > 1 ? "s" : ""} ${modified.map((f) => f.name).join(", ")} changed after ` +
            "being applied (checksum mismatch). Restore the original migration.sql and put the change in a new migration.",
        );
      }

      // Each file runs in the runner's own transaction. One that ends it (BEGIN; … COMMIT;, as
      // `prisma migrate diff` writes for an enum change) would be left half applied on failure.
      const ending = files.filter((f) => !recorded.has(f.name) && controlsTransaction(f.sql));
      if (ending.length > 0) {
        throw new Error(
          `Migration${ending.length > 1 ? "s" : ""} ${ending.map((f) => f.name).join(", ")} control${ending.length > 1 ? "" : "s"} the transaction itself ` +
            "(a BEGIN, COMMIT, ROLLBACK or START TRANSACTION statement). Each migration already runs in one transaction: remove those statements.",
        );
      }
      // Checked for every pending file before the first runs: refused halfway, a run would leave the
      // migrations before the file applied and a deployment between two schemas.
      const refused = files.flatMap((f) => {
        const statement = recorded.has(f.name) ? undefined : outsideTransactionOnly(f.sql);
        return statement ? [`${f.name} (${statement})`] : [];
      });
      if (refused.length > 0) {
        throw new Error(
          `Migration${refused.length > 1 ? "s" : ""} ${refused.join(", ")} ${refused.length > 1 ? "have statements" : "has a statement"} that PostgreSQL ` +
            "cannot run inside a transaction block, and each migration runs in one. No migration was applied. Write the change so it can " +
            "(CREATE INDEX without CONCURRENTLY, which blocks writes to the table while it builds), or run that statement by hand outside the migrations.",
        );
      }

      const applied: string[] = [];
      for (const file of files) {
        if (recorded.has(file.name)) continue;
        log(`Applying migration ${file.name}`);
        try {
          await client.query("BEGIN");
          await client.query(file.sql);
          await client.query(
            `INSERT INTO "_prisma_migrations"
               (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
             VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
            [randomUUID(), file.checksum, file.name],
          );
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => {});
          const detail = err instanceof Error ? err.message : String(err);
          throw new Error(`Migration ${file.name} failed and was rolled back: ${detail}`, { cause: err });
        }
        applied.push(file.name);
      }
      return { applied };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]).catch(() => {});
    }
  });
}

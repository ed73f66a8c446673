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
 * Whether the SQL has a top-level transaction-control statement (BEGIN, COMMIT, ROLLBACK, START
 * TRANSACTION, END, with TRANSACTION/WORK or options). Comments, string literals and dollar-quoted
 * bodies (a DO block's BEGIN … END, a procedure's COMMIT) are left out first: they are not statements.
 */
function controlsTransaction(sql: string): boolean {
  const code = sql
    .replace(/\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$/g, " ")
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/--[^\n]*/g, " ")
    .replace(/'(?:[^']|'')*'/g, "''");
  return withoutAtomicBodies(code).split(";").some((statement) => /^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION|END|ABORT)\b(\s+(TRANSACTION|WORK)\b)?(\s+ISOLATION\b|\s+READ\b|\s+(NOT\s+)?DEFERRABLE\b|\s*$)/i.test(statement));
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
 * One connection of its own for `fn`, ended afterwards (scripts, the readiness probe). With
 * `timeoutMs`, the whole of it (connecting, every query) gives up after that long, and the
 * connection is closed, instead of waiting on a silent server one step at a time.
 */
export async function withDatabaseClient<T>(connectionString: string, fn: (client: pg.Client) => Promise<T>, timeoutMs?: number): Promise<T> {
  const client = new pg.Client({ connectionString, ...(timeoutMs ? { connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs } : {}) });
  // A dropped connection must surface as a rejected query, not crash the process.
  client.on("error", () => {});
  const work = (async () => {
    await client.connect();
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

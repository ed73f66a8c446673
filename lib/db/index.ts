import "server-only";
import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient } from "@prisma/client";
import pg from "pg";
import { CONNECT_TIMEOUT_MS } from "@/lib/db/migrate";
import { env } from "@/lib/env";
import { logger } from "@/lib/log";

// One pool and one client per process; the globals survive dev-mode module reloads.
const holder = globalThis as unknown as { latchPrisma?: PrismaClient; latchPool?: pg.Pool };

function pool(): pg.Pool {
  if (!holder.latchPool) {
    const created = new pg.Pool({
      connectionString: env().DATABASE_URL,
      max: 10,
      // Bounds opening a session and waiting for a free one: a server that accepts TCP and never
      // answers (or a pool held by stuck statements) fails requests after this, instead of hanging them.
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // A session whose server vanished mid-statement (a dropped route, a failed-over host) errors once
      // the probes go unanswered; at the OS default of two hours of quiet it would wait all that time first.
      keepAlive: true,
      keepAliveInitialDelayMillis: 30_000,
      // No query_timeout: pg's would only stop waiting, leaving the statement running on a session the
      // pool hands out again, and would cut long legitimate statements. Paths with a latency budget
      // bound their statements on the server instead (statement_timeout, transactionWithin below).
    });
    // An idle session the server ended (restart, failover) must not take the process down; the pool opens another.
    created.on("error", (error) => logger().warn({ err: error }, "database pool: an idle session failed; it will be replaced"));
    holder.latchPool = created;
  }
  return holder.latchPool;
}

/**
 * Ends the pool's sessions once nothing uses them (pg waits for checked-out sessions to come back).
 * For shutdown: server.mjs calls it, through the hook instrumentation.ts registers, after the requests
 * in flight are done. The pool is left ended, not replaced: a late caller gets an error, not a new session.
 */
export async function closeDatabase(): Promise<void> {
  const pool = holder.latchPool;
  if (!pool || pool.ended || pool.ending) return;
  await pool.end();
}

function createClient() {
  return new PrismaClient({ adapter: new PrismaPg(pool()) });
}

export function db(): PrismaClient {
  holder.latchPrisma ??= createClient();
  return holder.latchPrisma;
}

export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];
export type Db = PrismaClient | Tx;

/**
 * Hand-written SQL for the few statements every API request runs (the token, the connection, the
 * permission chain, the asset, the audit row). Outside a transaction it goes straight to the pool
 * Prisma's adapter also uses, skipping Prisma's per-call query planning, which cost about half a
 * millisecond of CPU per statement (bench/README.md); inside one, through the transaction's client.
 * Values are always bound as $1…$n, never spliced into the text. Write the SQL so both paths return
 * the same shapes: cast bigint to text or float8 (pg returns strings, Prisma BigInt).
 */
export async function sql<T>(client: Db, text: string, values: readonly unknown[]): Promise<T[]> {
  if (isRootClient(client)) return (await pool().query<T & pg.QueryResultRow>(text, values as unknown[])).rows;
  return client.$queryRaw<T[]>(boundSql(text, values));
}

/** Whether `client` is the process's own client (not a transaction's): its statements commit on their own. */
export const isRootClient = (client: Db): boolean => client === holder.latchPrisma;

/** sql() for a statement whose rows are not needed (INSERT, UPDATE). */
export async function execute(client: Db, text: string, values: readonly unknown[]): Promise<void> {
  if (isRootClient(client)) await pool().query(text, values as unknown[]);
  else await client.$executeRaw(boundSql(text, values));
}

/** The same statement as Prisma's bound SQL (its own placeholders, in the order they appear), for a transaction's client. */
function boundSql(text: string, values: readonly unknown[]): Prisma.Sql {
  const strings: string[] = [];
  const bound: unknown[] = [];
  let last = 0;
  for (const match of text.matchAll(/\$(\d+)/g)) {
    const n = Number(match[1]);
    if (n < 1 || n > values.length) throw new Error(`SQL placeholder $${n} has no value (${values.length} given)`);
    strings.push(text.slice(last, match.index));
    bound.push(values[n - 1]);
    last = match.index + match[0].length;
  }
  strings.push(text.slice(last));
  // Prisma.sql is the tagged-template function; called with the parts and values, it binds the same way.
  return Prisma.sql(strings, ...(bound as Prisma.Sql["values"]));
}

/** Latch's own database had no session free, or held the statement, for longer than the caller could wait. */
export class DatabaseBusyError extends Error {
  override name = "DatabaseBusyError";
}

/**
 * Runs `work` in a transaction of its own, waiting no longer than `waitMs` in all: for a session
 * of the pool, and then for the statements (statement_timeout, which bounds their waits for row
 * locks too). Prisma's `maxWait` does not bound the wait for a session when it goes through the
 * driver adapter, so the session is taken here; one that arrives after the limit goes straight back.
 */
export async function transactionWithin<T>(waitMs: number, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const deadline = Date.now() + Math.max(1, Math.ceil(waitMs));
  const connecting = pool().connect();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseBusyError(`no database session was free within ${Math.ceil(waitMs)} ms`)), deadline - Date.now());
  });
  let client: pg.PoolClient;
  try {
    client = await Promise.race([connecting, late]);
  } catch (error) {
    connecting.then((arrived) => arrived.release(), () => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    await client.query("SELECT set_config('statement_timeout', $1, true)", [`${Math.max(1, deadline - Date.now())}ms`]);
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
    throw (error as { code?: string }).code === "57014" ? new DatabaseBusyError(`the statement waited longer than ${Math.ceil(waitMs)} ms`) : error;
  } finally {
    // A session whose rollback failed is closed, not handed to the next caller.
    client.release(broken);
  }
}

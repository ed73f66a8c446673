import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import pg from "pg";
import { applyMigrations } from "../lib/db/migrate";
import { EmbeddedPgBusyError, startEmbeddedPostgres, type EmbeddedPg } from "./embedded-pg";

/**
 * Throwaway databases for tests (vitest global setup, the Playwright web server).
 *
 *   const db = await createThrowawayDatabase();   // db.url: migrated, empty database
 *   ...
 *   await db.drop();                              // drops it; stops an embedded server we started
 *
 * Server: TEST_DATABASE_URL, else DATABASE_URL (a database `latch_test_<ms>_<hex>` is created beside
 * the one named), else an embedded PostgreSQL under .data/test-postgres on a free port, shared by
 * every throwaway database of this process and stopped when the last one is dropped.
 * Long-running users (a Playwright web server) should call drop() on SIGTERM; Playwright sends SIGKILL
 * unless `webServer.gracefulShutdown` is set. Databases left by killed runs are dropped the next time
 * the embedded server starts (never on a server you supplied).
 */

export interface ThrowawayDatabase {
  url: string;
  drop(): Promise<void>;
}

export interface ThrowawayOptions {
  /** Apply prisma/migrations (default true); false gives an empty database. */
  migrate?: boolean;
  log?: (msg: string) => void;
}

export async function createThrowawayDatabase(opts: ThrowawayOptions = {}): Promise<ThrowawayDatabase> {
  const log = opts.log ?? (() => {});
  const name = `latch_test_${Date.now()}_${randomBytes(4).toString("hex")}`;
  const serverUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  const server = serverUrl ? { url: serverUrl, release: async () => {} } : await acquireEmbedded(log);

  let url: string;
  try {
    url = await createDatabase(server.url, name);
  } catch (err) {
    await server.release();
    throw err;
  }

  let dropped: Promise<void> | undefined;
  const drop = () =>
    (dropped ??= (async () => {
      try {
        await withAdminClient(server.url, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`));
      } finally {
        await server.release();
      }
    })());

  if (opts.migrate !== false) {
    try {
      await applyMigrations(url, { log });
    } catch (err) {
      await drop().catch(() => {});
      throw err;
    }
  }
  return { url, drop };
}

/** Same server, credentials and query string; another database name. */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

// Connects to the database the URL names, or to `postgres` if that one does not exist yet.
async function withAdminClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  let client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    if ((err as { code?: string }).code !== "3D000") throw err; // invalid_catalog_name
    client = new pg.Client({ connectionString: withDatabase(url, "postgres") });
    client.on("error", () => {});
    await client.connect();
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function createDatabase(serverUrl: string, name: string): Promise<string> {
  await withAdminClient(serverUrl, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  return withDatabase(serverUrl, name);
}

// One embedded server per process, reference-counted across throwaway databases.
interface Shared {
  server: Promise<EmbeddedPg>;
  refs: number;
  cleanup?: () => void;
}
let embedded: Shared | undefined;

async function acquireEmbedded(log: (msg: string) => void): Promise<{ url: string; release(): Promise<void> }> {
  if (!embedded) {
    const state = { refs: 0 } as Shared;
    state.server = startTestServer(log, state);
    embedded = state;
  }
  const state = embedded;
  state.refs++;
  let server: EmbeddedPg;
  try {
    server = await state.server;
  } catch (err) {
    if (embedded === state) embedded = undefined;
    throw err;
  }
  let released = false;
  return {
    url: server.url,
    release: async () => {
      if (released) return;
      released = true;
      if (--state.refs > 0) return;
      if (embedded === state) embedded = undefined;
      await server.stop();
      state.cleanup?.();
    },
  };
}

async function startTestServer(log: (msg: string) => void, state: Shared): Promise<EmbeddedPg> {
  const shared = path.join(process.cwd(), ".data", "test-postgres");
  const opts = { port: await freePort(), database: "postgres", log };
  let server: EmbeddedPg;
  try {
    server = await startEmbeddedPostgres({ ...opts, dataDir: shared });
  } catch (err) {
    if (!(err instanceof EmbeddedPgBusyError)) throw err;
    // Another test run holds the shared cluster: use a private one and delete it afterwards.
    const dataDir = `${shared}-${process.pid}`;
    log(`${shared} is in use by another run; using ${dataDir}`);
    state.cleanup = () => fs.rmSync(dataDir, { recursive: true, force: true });
    server = await startEmbeddedPostgres({ ...opts, dataDir });
  }
  // We just started this cluster, so no other run is using it: drop what killed runs left behind.
  try {
    await withAdminClient(server.url, async (c) => {
      const { rows } = await c.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE 'latch\\_test\\_%'`,
      );
      for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(datname)} WITH (FORCE)`);
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

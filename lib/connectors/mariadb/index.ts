import "server-only";
import net from "node:net";
import { inspect } from "node:util";
import mysql from "mysql2";
import { z } from "zod";
import { AddressWatch } from "@/lib/net/address-watch";
import { resolveTargetAddress } from "@/lib/net/egress";
import { blankToUndefined, booleanish, caBundle, hostSchema, socketClosed, statementLimitMs, within, portSchema } from "../socket-shared";
import { socketDestination, markRaisedByStatement, OperationInputError, USER_FROM_ASSET, type Connector, type Operation, type UserSource } from "../types";
import { megabytes } from "@/lib/utils";
import { MAX_ANSWER_BYTES, OpenTransactionError, parameterCountError, parseJsonKeepingNumbers, queryOutputSchema, RESET_WAIT_MS, ResultRows, RowTooLargeError, sessionsBusy, sqlQueryInputSchema, watchRowBytes, type QueryOutput } from "../sql-shared";
import { classifyMariadbError, mariadbTimeout, prop, toMariadbError, where, type MariadbTarget } from "./classify";


export const mariadbConfigSchema = z.object({
  host: hostSchema("db.example.com"),
  port: portSchema(3306),
  database: z.preprocess(blankToUndefined, z.string().trim().max(256).optional()),
  user: z.string({ error: "Enter the user name." }).trim().min(1, "Enter the user name.").max(256),
  tls: booleanish(true),
  caCertificate: z.preprocess(
    blankToUndefined,
    z.string().trim().max(200_000).refine((v) => v.includes("-----BEGIN CERTIFICATE-----"), "Paste the CA certificate in PEM form (-----BEGIN CERTIFICATE----- …).").optional(),
  ),
});

type Config = z.output<typeof mariadbConfigSchema>;
/** One borrowed session. */
type Client = mysql.Connection;

/**
 * A pool of authenticated sessions to one server with one set of credentials: concurrent invokes run
 * on their own sessions, and a statement that times out costs only its session. The driver keeps the
 * password in memory for the pool's life, to log in new sessions: the run time drains a pool when its
 * credentials are refreshed, rejected or idle.
 */
export class MariadbPool {
  #ended: Promise<void> | null = null;
  /** The address its sessions dial, rechecked against DNS when sessions fail (see healthy). */
  address: AddressWatch | null = null;
  /** Sessions that have logged in (mysql2 counts those still connecting too); closed ones are dropped as they are found. */
  readonly #connected = new Set<Client>();
  constructor(
    readonly pool: mysql.Pool,
    readonly target: MariadbTarget,
    /** The statement limit a session is given after each reset (the sessions of one pool share one). */
    readonly sessionLimitMs: number,
    /** A session of the same user outside the pool (to kill a statement the pool's session was cut from). */
    readonly openSide: () => Client,
  ) {
    pool.on("connection", (session) => void this.#connected.add(session as unknown as Client));
  }

  /** Borrows a session within the deadline; a slot granted after the deadline is handed straight back. */
  acquire(timeoutMs: number): Promise<mysql.PoolConnection> {
    // Full of logged-in sessions, none free, from the start to the end of the wait: it was for a session
    // other invokes held. A session still connecting means the target is (also) what was waited for.
    const fullAtStart = this.#full();
    const pending = new Promise<mysql.PoolConnection>((resolve, reject) => this.pool.getConnection((error, conn) => (error ? reject(error) : resolve(conn))));
    const got = within(pending, timeoutMs, () => {
      pending.then((late) => late.release(), () => {});
      return fullAtStart && this.#full() ? sessionsBusy(where(this.target), this.#max(), timeoutMs) : mariadbTimeout(this.target, timeoutMs);
    });
    // No session: the host may have moved (a DNS failover).
    got.catch(() => this.address?.suspect());
    return got;
  }

  // mysql2 has no public counts; its own fields, read defensively (unknown: not full, the plain timeout).
  #max(): number {
    return (this.pool as unknown as { config?: { connectionLimit?: number } }).config?.connectionLimit ?? 0;
  }

  #full(): boolean {
    const free = (this.pool as unknown as { _freeConnections?: { length: number } })._freeConnections;
    for (const session of this.#connected) if (streamOf(session)?.destroyed) this.#connected.delete(session);
    const max = this.#max();
    return max > 0 && free?.length === 0 && this.#connected.size >= max;
  }

  /**
   * Ends every session politely, and cuts those whose socket is not closed within 2 s: mysql2 sends
   * COM_QUIT and leaves the closing to the server, which a target that stopped answering never does,
   * and the socket (with the driver holding the password) would stay open.
   */
  end(): Promise<void> {
    this.#ended ??= (async () => {
      const sessions = this.#sessions();
      const closed = Promise.all([new Promise<void>((resolve) => this.pool.end(() => resolve())), ...sessions.map((s) => socketClosed(streamOf(s)))]);
      await within(closed, 2000, () => new Error("end timed out")).catch(() => {
        for (const session of sessions) cut(session);
      });
    })();
    return this.#ended;
  }

  #sessions(): Client[] {
    const all = (this.pool as unknown as { _allConnections?: { length: number; get(i: number): Client } })._allConnections;
    return all ? Array.from({ length: all.length }, (_, i) => all.get(i)) : [];
  }

  toJSON() {
    return { host: this.target.host, port: this.target.port, database: this.target.database ?? null };
  }

  [inspect.custom]() {
    return `MariadbPool(${this.target.host}:${this.target.port})`;
  }
}

// The statement time limit last set on each session, to skip the SET when it is unchanged.
const statementTimeouts = new WeakMap<Client, number>();
// Sessions whose default database a statement changed (USE): a reset keeps it, so they are closed instead.
const schemaChanged = new WeakSet<Client>();
// The role each session had at login (its user's default role, or none). COM_RESET_CONNECTION keeps a
// role that SET ROLE (also inside a procedure) took, so a session that no longer has it is closed.
const loginRoles = new WeakMap<Client, Promise<string | null>>();
const currentRole = async (client: Client) => ((await exec(client, "SELECT CURRENT_ROLE() AS role")) as { role?: string | null }[])[0]?.role ?? null;
// Which server each session is on (host name and server id), so a kill sent from another session
// reaches the same server's thread, not a namesake on another node behind a load balancer.
const serverOf = new WeakMap<Client, Promise<string | null>>();
const SERVER_IDENTITY = "CONCAT(@@hostname, '/', @@server_id)";
const serverIdentity = async (client: Client) => ((await exec(client, `SELECT ${SERVER_IDENTITY} AS server`)) as { server?: string | null }[])[0]?.server ?? null;
/** How long after the server's own statement limit the client gives up on a session it cannot hear from. */
const CLIENT_GRACE_MS = 2000;

/** Verified TLS only; a CA bundle adds to the system roots (as lib/net/egress does). */
function sslOptions(ca: string | undefined): mysql.SslOptions {
  // mysql2 checks the certificate against `host` (the name entered), while the socket dials the resolved IP.
  const options: mysql.SslOptions = { rejectUnauthorized: true, verifyIdentity: true };
  if (!ca) return options;
  return { ...options, ca: caBundle(ca) };
}

/**
 * The server's refusal of LOAD DATA LOCAL INFILE when the client lacks the capability: MariaDB's
 * ER_LOAD_INFILE_CAPABILITY_DISABLED, MySQL's ER_CLIENT_LOCAL_FILES_DISABLED, and the older servers' ER_NOT_ALLOWED_COMMAND.
 */
const LOCAL_INFILE_REFUSED = new Set<unknown>([4166, 3948, 1148]);
const loadDataLocalRefused = () =>
  new OperationInputError(
    "sql",
    "LOAD DATA LOCAL INFILE reads a file on the client's side, and an invoke carries no file: nothing was loaded. Use LOAD DATA INFILE for a file on the database server, or INSERT … VALUES with parameters.",
  );

// Server status flags of an OK packet (MySQL protocol).
const IN_TRANSACTION = 0x0001;
const AUTOCOMMIT = 0x0002;

// Objects and arrays go in as JSON text; mysql2 has no placeholder type for them.
const bindValue = (v: unknown) => (v !== null && typeof v === "object" ? JSON.stringify(v) : v);

/** mysql2's Types.JSON. */
const MYSQL_TYPE_JSON = 245;

/** A JSON cell as the server sent it; text that is not JSON (a CHECK-less alias column) stays text. */
function parseJsonCell(text: string): unknown {
  try {
    return parseJsonKeepingNumbers(text);
  } catch {
    return text;
  }
}

/** Streams the first result set and keeps the first rowLimit rows, so a large result never sits in memory. */
function streamExecute(client: Client, sql: string, params: unknown[], rowLimit: number): Promise<QueryOutput> {
  return new Promise((resolve, reject) => {
    const rows = new ResultRows(rowLimit);
    let columns: string[] | null = null;
    // Columns holding JSON (MySQL's JSON type, MariaDB's alias), which arrive as text (jsonStrings) and are parsed here.
    let jsonColumns: number[] = [];
    let affected: number | null = null;
    let inTransaction = false;
    // mysql2 reads each row whole before handing it over: a huge value is cut off on the wire instead.
    let tooLarge = false;
    let moreResults = false;
    const stream = (client as unknown as { stream: net.Socket }).stream;
    const watch = watchRowBytes(stream, () => {
      tooLarge = true;
      watch.stop();
      // mysql2's destroy() only ends the writing side, and the command never hears of a socket
      // closed on purpose: the socket is destroyed too, and the statement refused here.
      client.destroy();
      stream.destroy();
      reject(new RowTooLargeError());
    });
    // A prepared statement: one statement per call, parameters never spliced into the SQL.
    const command = client.execute({ sql, values: params.map(bindValue), rowsAsArray: true });
    command.on("fields", (fields: { name: string; columnType?: number; extendedFormat?: string }[] | undefined, index?: number) => {
      if (fields && !index && columns === null) {
        columns = fields.map((f) => f.name);
        jsonColumns = fields.flatMap((f, i) => (f.columnType === MYSQL_TYPE_JSON || f.extendedFormat === "json" ? [i] : []));
      }
      // A CALL whose procedure selects twice: only the first result is returned, and the answer says rows were left out.
      if (fields && index) moreResults = true;
    });
    command.on("result", (row: unknown, index?: number) => {
      if (Array.isArray(row)) {
        watch.rowDone();
        if (index) return;
        for (const i of jsonColumns) if (typeof row[i] === "string") row[i] = parseJsonCell(row[i] as string);
        rows.add(row);
      } else if (row && typeof row === "object") {
        const header = row as { affectedRows?: unknown; serverStatus?: unknown; stateChanges?: { schema?: unknown } };
        if (header.stateChanges?.schema) schemaChanged.add(client);
        if (affected === null && typeof header.affectedRows === "number") affected = header.affectedRows;
        // BEGIN, START TRANSACTION, SET autocommit = 0…: the OK packet says the session is now in a transaction.
        if (typeof header.serverStatus === "number" && (header.serverStatus & IN_TRANSACTION || !(header.serverStatus & AUTOCOMMIT))) inTransaction = true;
      }
    });
    command.on("error", (error: Error) => {
      watch.stop();
      reject(tooLarge ? new RowTooLargeError() : LOCAL_INFILE_REFUSED.has(prop(error, "errno")) ? loadDataLocalRefused() : error);
    });
    command.on("end", () => {
      watch.stop();
      if (inTransaction) return reject(new OpenTransactionError());
      if (rows.failure) return reject(rows.failure);
      const cols: string[] = columns ?? [];
      resolve({ columns: cols, rows: rows.rows, rowCount: cols.length > 0 ? rows.seen : (affected ?? 0), truncated: rows.truncated || moreResults });
    });
  });
}

function exec(client: Client, sql: string): Promise<unknown> {
  return new Promise((resolve, reject) => client.query(sql, (error, result) => (error ? reject(error) : resolve(result))));
}

/** Server-side limit too, so a statement outliving the caller's patience does not keep running. */
async function limitStatementTime(client: Client, ms: number) {
  if (statementTimeouts.get(client) === ms) return;
  try {
    await exec(client, `SET SESSION max_statement_time = ${(Math.max(1, Math.floor(ms)) / 1000).toFixed(3)}`); // MariaDB, seconds
  } catch {
    await exec(client, `SET SESSION max_execution_time = ${Math.max(1, Math.floor(ms))}`).catch(() => {}); // MySQL, ms, SELECT only
  }
  statementTimeouts.set(client, ms);
}

/**
 * MariaDB binds only as many values as the statement has placeholders and ignores the rest, so a
 * mismatch is checked against the server's own count (the prepared statement is cached for execute).
 */
async function assertParameterCount(client: Client, sql: string, given: number) {
  const statement = await new Promise<{ parameters?: unknown[] }>((resolve, reject) =>
    (client.prepare as unknown as (options: { sql: string; rowsAsArray: boolean }, cb: (error: Error | null, stmt: unknown) => void) => void)({ sql, rowsAsArray: true }, (error, stmt) => (error ? reject(error) : resolve(stmt as unknown as { parameters?: unknown[] }))),
  );
  const expected = statement.parameters?.length ?? 0;
  if (expected !== given) {
    throw parameterCountError(expected, given, "?");
  }
}

const streamOf = (client: Client) => (client as unknown as { stream?: net.Socket }).stream;

/** Closes a session for good: mysql2's destroy() only ends the writing side of its socket. */
function cut(client: Client) {
  client.destroy();
  streamOf(client)?.destroy();
}

const KILL_WAIT_MS = 5000;

/**
 * The server notices a closed socket only when it next writes, so a statement the client gave up on
 * (one that lifted its own limit with SET STATEMENT max_statement_time=0 FOR …, or any statement on
 * MySQL, whose limit covers SELECT only) would run on. It is killed from another session of the same
 * user, best effort: a server that cannot be heard from has nothing to kill.
 */
async function killStatement(handle: MariadbPool, client: Client): Promise<void> {
  const threadId = client.threadId;
  if (!Number.isSafeInteger(threadId)) return;
  // Its own connection, not the pool's: a pool full of retrying runners would queue the kill behind them.
  let side: Client | undefined;
  try {
    const server = await serverOf.get(client);
    if (!server) return;
    side = handle.openSide();
    side.on("error", () => {});
    const kill = async (other: Client) => {
      // Behind a load balancer the new session may be on another node, where the same thread id is someone else's.
      if ((await serverIdentity(other)) !== server) return;
      await exec(other, `KILL QUERY ${threadId}`);
    };
    await within(kill(side), KILL_WAIT_MS, () => new Error("kill timed out"));
  } catch {
    // Best effort: the statement ended by itself (unknown thread id), or the server cannot be heard from.
  } finally {
    if (side) cut(side);
  }
}

/**
 * Runs `work` on a borrowed session. The server stops a statement that outlives the deadline
 * (max_statement_time); if the server cannot be heard from at all, only this session is cut.
 *
 * With `reset`, the session is handed back only after COM_RESET_CONNECTION and its statement limit
 * set again: whatever the caller's statement left behind (user variables, SET SESSION values such as
 * sql_mode, LOCK TABLES, GET_LOCK, temporary tables, prepared statements) would otherwise reach the
 * next invoke that borrows it, which may be another runner's. It runs after the answer is ready.
 */
async function withSession<T>(handle: MariadbPool, timeoutMs: number, work: (client: mysql.PoolConnection) => Promise<T>, { reset = false } = {}): Promise<T> {
  const started = Date.now();
  const client = await handle.acquire(timeoutMs);
  let broken = false;
  try {
    const left = Math.max(1, timeoutMs - (Date.now() - started));
    return await within(
      (async () => {
        await limitStatementTime(client, statementLimitMs(left));
        return work(client);
      })().catch((error: unknown) => {
        markRaisedByStatement(error);
        // A lost session, or a server now read-only (a demoted primary: 1290, 1792): the host may have moved.
        const { fatal, errno } = (error ?? {}) as { fatal?: unknown; errno?: unknown };
        if (fatal || errno === 1290 || errno === 1792) handle.address?.suspect();
        throw error;
      }),
      left + CLIENT_GRACE_MS,
      () => {
        broken = true;
        cut(client);
        void killStatement(handle, client);
        return mariadbTimeout(handle.target, timeoutMs);
      },
    );
  } catch (error) {
    // A fatal error (lost connection, protocol) leaves the session unusable; closing one inside a transaction rolls it back.
    if ((error as { fatal?: unknown })?.fatal || error instanceof OpenTransactionError || error instanceof RowTooLargeError) broken = true;
    throw error;
  } finally {
    if (broken || (reset && schemaChanged.has(client))) cut(client);
    else if (!reset) client.release();
    else {
      const reset = new Promise<void>((resolve, reject) => client.reset((error) => (error ? reject(error) : resolve()))).then(async () => {
        statementTimeouts.delete(client);
        await limitStatementTime(client, handle.sessionLimitMs);
        return (await currentRole(client)) === (await loginRoles.get(client));
      });
      // A server that cannot be heard from does not hold the pool's slot: the session is closed.
      within(reset, RESET_WAIT_MS, () => new Error("reset timed out")).then(
        (sameRole) => (sameRole ? client.release() : cut(client)),
        () => cut(client),
      );
    }
  }
}

const query: Operation<MariadbPool, typeof sqlQueryInputSchema, QueryOutput> = {
  label: "Run a SQL statement",
  description:
    `Runs one SQL statement as a prepared statement with ? placeholders and returns at most rowLimit rows, and no more than ${megabytes(MAX_ANSWER_BYTES)} of them (each an array in column order; binary as base64; dates as the server prints them; BIGINT and DECIMAL as text; JSON parsed, with any number a double cannot hold exactly as text). A CALL returns the first result set its procedure produces, with truncated true when there were more. A single row over ${megabytes(MAX_ANSWER_BYTES)} is refused. The limits cap the answer, not the work: add LIMIT to the SQL for large tables. Each invoke runs on a pooled session that is reset before the next invoke borrows it (user variables, SET SESSION values, temporary tables, locks and prepared statements do not carry over), and a statement that leaves a transaction open (BEGIN) is rolled back and refused: put a transaction in one statement.`,
  input: sqlQueryInputSchema,
  output: queryOutputSchema,
  async run(handle, input, { timeoutMs }) {
    try {
      return await withSession(
        handle,
        timeoutMs,
        async (client) => {
          await assertParameterCount(client, input.sql, input.params.length);
          return streamExecute(client, input.sql, input.params, input.rowLimit);
        },
        { reset: true },
      );
    } catch (error) {
      throw toMariadbError(error, handle.target);
    }
  },
};

export const mariadbConnector: Connector<typeof mariadbConfigSchema, MariadbPool> = {
  kind: "mariadb",
  label: "MariaDB / MySQL",
  description: "A MariaDB or MySQL database (also Amazon RDS/Aurora MySQL, Azure, Cloud SQL, PlanetScale…), reached with a user name and password.",
  fields: [
    { name: "host", label: "Host", type: "text", required: true, placeholder: "db.example.com", help: "Host name or IP address of the server, without scheme or port." },
    { name: "port", label: "Port", type: "number", default: 3306 },
    { name: "database", label: "Database", type: "text", placeholder: "shop", help: "The default database. Optional: statements can name databases themselves." },
    { name: "user", label: "User", type: "text", required: true, placeholder: "latch_app" },
    { name: "password", label: "Password", type: "secret", required: true, usernameField: "user", help: "From a credential asset: read from its store when Latch connects, never kept. Typed: stored encrypted." },
    { name: "tls", label: "Use TLS", type: "boolean", default: true, help: "The server's certificate must be valid for the host name; there is no unverified mode. Turn TLS off only on a network you trust." },
    {
      name: "caCertificate",
      label: "CA certificate (PEM)",
      type: "text",
      showWhen: { field: "tls", equals: ["true"] },
      placeholder: "-----BEGIN CERTIFICATE-----",
      help: "Only if a private CA issued the server's certificate (e.g. the RDS CA bundle). Added to the system's trusted roots.",
    },
  ],
  configSchema: mariadbConfigSchema,

  async open({ config, secrets, timeoutMs, pool: sizing }) {
    const deadline = Date.now() + timeoutMs;
    const ssl = config.tls ? sslOptions(config.caCertificate) : undefined;
    let address: string;
    try {
      address = await within(resolveTargetAddress(config.host), timeoutMs, () => mariadbTimeout(config, timeoutMs));
    } catch (error) {
      throw toMariadbError(error, config);
    }
    const options: mysql.ConnectionOptions = {
      // `host` stays the name entered (TLS server name and identity check); the socket below dials the checked IP.
      host: config.host,
      port: config.port,
      // With a stream of its own, mysql2 ignores enableKeepAlive: the socket asks for keep-alive itself.
      stream: () => net.connect({ host: address, port: config.port, noDelay: true, keepAlive: true }),
      user: config.user,
      password: secrets.password,
      database: config.database,
      ssl,
      connectTimeout: Math.max(1, timeoutMs),
      charset: "utf8mb4",
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      // JSON as the server's text, parsed by parseJsonCell: mysql2's JSON.parse would round 20-digit numbers.
      jsonStrings: true,
      multipleStatements: false,
      // LOAD DATA LOCAL INFILE asks the client for a file: mysql2 sends none without a stream factory,
      // but it then ends the statement as a success with 0 rows and the server's answer arrives after,
      // which breaks the session. Without the capability the server refuses the statement itself
      // (loadDataLocalRefused), and a server cannot ask Latch's host for a file of its choosing.
      flags: ["-LOCAL_FILES"],
      connectAttributes: { program_name: "Latch" },
    };
    const pool = mysql.createPool({
      ...options,
      connectionLimit: sizing?.max ?? 1,
      maxIdle: sizing?.max ?? 1,
      idleTimeout: sizing?.idleMs ?? 10_000,
    });
    // Without a listener, a socket error on an idle session would crash the process.
    pool.on("connection", (conn) => {
      conn.on("error", () => {});
      // Asked before any caller's statement (the pool hands the session out only after this event):
      // its role at login, and which server it is on.
      const facts = exec(conn as unknown as Client, `SELECT CURRENT_ROLE() AS role, ${SERVER_IDENTITY} AS server`).then((rows) => (rows as { role?: string | null; server?: string | null }[])[0]);
      const role = facts.then((f) => f?.role ?? null);
      const server = facts.then((f) => f?.server ?? null);
      for (const p of [role, server]) p.catch(() => {});
      loginRoles.set(conn as unknown as Client, role);
      serverOf.set(conn as unknown as Client, server);
    });
    const target: MariadbTarget = { host: config.host, port: config.port, database: config.database, user: config.user, [USER_FROM_ASSET]: (config as UserSource)[USER_FROM_ASSET] };
    const handle = new MariadbPool(pool, target, statementLimitMs(timeoutMs), () => mysql.createConnection(options));
    handle.address = new AddressWatch(config.host, address);
    // One login now proves the credentials; the session stays in the pool for the first operation.
    try {
      const first = await handle.acquire(Math.max(1, deadline - Date.now()));
      first.release();
    } catch (error) {
      void handle.end();
      throw toMariadbError(error, config);
    }
    return handle;
  },

  async check(handle, { config, timeoutMs }) {
    try {
      const rows = (await withSession(handle, timeoutMs, (client) => exec(client, "SELECT VERSION() AS version, DATABASE() AS db"))) as { version?: string; db?: string | null }[];
      const raw = String(rows[0]?.version ?? "");
      // VERSION() reads like "10.11.19-MariaDB-0+deb12u1" or "8.0.36".
      const product = /mariadb/i.test(raw) ? "MariaDB" : "MySQL";
      const version = raw.split("-")[0] || "(version unknown)";
      const db = rows[0]?.db;
      return { message: `${product} ${version} · ${db ? `database ${db}` : "no default database"}` };
    } catch (error) {
      throw toMariadbError(error, config);
    }
  },

  async close(handle) {
    await handle.end();
  },

  // After a DNS failover the pool would keep dialling the old host: it is replaced, and resolves afresh.
  healthy: (handle) => handle.address?.holds() ?? true,

  destination: (config) => socketDestination(config, 3306, config.tls !== false),

  classify(error, config: Config) {
    return classifyMariadbError(error, config);
  },

  operations: { query },
};

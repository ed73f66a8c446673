import "server-only";
import type { Socket } from "node:net";
import { inspect } from "node:util";
import pg from "pg";
import { z } from "zod";
import { AddressWatch } from "@/lib/net/address-watch";
import { resolveTargetAddress } from "@/lib/net/egress";
import { blankToUndefined, hostSchema, socketClosed, statementLimitMs, tlsOptions, within, portSchema } from "../socket-shared";
import { socketDestination, markRaisedByStatement, markSessionWait, OperationInputError, USER_FROM_ASSET, type Connector, type Operation, type UserSource } from "../types";
import { megabytes } from "@/lib/utils";
import { MAX_ANSWER_BYTES, OpenTransactionError, parameterCountError, parseJsonKeepingNumbers, queryOutputSchema, RESET_WAIT_MS, ResultRows, RowTooLargeError, sessionsBusy, sqlQueryInputSchema, watchRowBytes, type QueryOutput } from "../sql-shared";
import { classifyPostgresError, postgresTimeout, toPostgresError, where, type PostgresTarget } from "./classify";



export const postgresConfigSchema = z.object({
  host: hostSchema("db.example.com"),
  port: portSchema(5432),
  database: z.string({ error: "Enter the database name." }).trim().min(1, "Enter the database name.").max(256),
  user: z.string({ error: "Enter the user name." }).trim().min(1, "Enter the user name.").max(256),
  tlsMode: z.enum(["verify-full", "disable"]).default("verify-full"),
  caCertificate: z.preprocess(
    blankToUndefined,
    z.string().trim().max(200_000).refine((v) => v.includes("-----BEGIN CERTIFICATE-----"), "Paste the CA certificate in PEM form (-----BEGIN CERTIFICATE----- …).").optional(),
  ),
});

type Config = z.output<typeof postgresConfigSchema>;

/**
 * A pool of authenticated sessions to one database with one set of credentials. Each operation
 * borrows its own session, so concurrent invokes run side by side and a statement that times out
 * costs only its own session. The driver keeps the password in memory for the pool's life, to log
 * in new sessions: the run time drains a pool when its credentials are refreshed, rejected or idle.
 */
export class PostgresPool {
  #ended: Promise<void> | null = null;
  /** The address its sessions dial, rechecked against DNS when sessions fail (see healthy). */
  address: AddressWatch | null = null;
  /** Sessions that have logged in and not left the pool: pg-pool's own counts include those still connecting. */
  readonly #connected = new Set<pg.Client>();
  constructor(
    readonly pool: pg.Pool,
    readonly target: PostgresTarget,
    /** The statement_timeout every session starts with (sent at login) and returns to after DISCARD ALL. */
    readonly sessionLimitMs: number,
  ) {
    pool.on("connect", (client) => void this.#connected.add(client as pg.Client));
    pool.on("remove", (client) => void this.#connected.delete(client as pg.Client));
  }

  /** Borrows a session within the deadline; a slot granted after the deadline is handed straight back. */
  acquire(timeoutMs: number): Promise<pg.PoolClient> {
    // Full of logged-in sessions, none idle, from the start to the end of the wait: it was for a session
    // other invokes held. A session still connecting means the target is (also) what was waited for.
    const max = this.pool.options.max ?? 10;
    const full = () => this.pool.idleCount === 0 && this.#connected.size >= max;
    const fullAtStart = full();
    const pending = this.pool.connect();
    const got = within(pending, timeoutMs, () => {
      pending.then((late) => late.release(), () => {});
      return fullAtStart && full() ? sessionsBusy(where(this.target), max, timeoutMs) : postgresTimeout(this.target, timeoutMs);
    });
    // No session: the host may have moved (a DNS failover).
    got.catch(() => this.address?.suspect());
    return got;
  }

  /**
   * Ends every session politely, and cuts those whose socket is not closed within 2 s. pg-pool ends an
   * idle session by sending Terminate and a FIN, and the socket (with the driver holding the password)
   * stays open until the server closes its side: a target that stopped answering never does.
   */
  end(): Promise<void> {
    this.#ended ??= (async () => {
      const clients = [...((this.pool as unknown as { _clients?: pg.Client[] })._clients ?? [])];
      const closed = Promise.all([this.pool.end(), ...clients.map((c) => socketClosed(streamOf(c)))]);
      await within(closed, 2000, () => new Error("end timed out")).catch(() => {
        for (const c of clients) destroy(c);
      });
    })();
    return this.#ended;
  }

  toJSON() {
    return { host: this.target.host, port: this.target.port, database: this.target.database };
  }

  [inspect.custom]() {
    return `PostgresPool(${this.target.host}:${this.target.port}/${this.target.database})`;
  }
}

// The statement_timeout each session has now, when it is not the pool's sessionLimitMs: the SET is skipped when unchanged.
const statementTimeouts = new WeakMap<pg.ClientBase, number>();

/** How long after the server's own statement_timeout the client gives up on a session it cannot hear from. */
const CLIENT_GRACE_MS = 2000;

const streamOf = (client: pg.ClientBase) => (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;

/** Ends the socket at once: for a session that stopped answering. */
function destroy(client: pg.ClientBase) {
  try {
    streamOf(client)?.destroy();
  } catch {
    // Already gone.
  }
}

// Dates, timestamps and intervals as PostgreSQL prints them: a JS Date would shift a date by the time zone.
const RAW_TEXT_TYPES = new Set([1082, 1114, 1184, 1186]);
const rawText = (v: string) => v;
// pg-types' array parser (its type declaration says otherwise): an array's text into nested arrays, NULL as null.
const arrayParser = pg.types.arrayParser as unknown as { create(source: string, transform: (entry: string) => unknown): { parse(): unknown[] } };
const arrayOf = (element: (entry: string) => unknown) => (v: string) => arrayParser.create(v, element).parse();
/**
 * Where pg-types' own parsers lose something: arrays of dates, timestamps and intervals (text, as the
 * single values; pg-types would leave the whole array as one string), numeric arrays (text, as a numeric;
 * pg-types would round each element to a double), and json/jsonb, single or in arrays (numbers a double
 * cannot hold exactly as text, as numerics; JSON.parse would round them).
 */
const OWN_PARSERS = new Map<number, (v: string) => unknown>([
  [1182, arrayOf(rawText)], // date[]
  [1115, arrayOf(rawText)], // timestamp[]
  [1185, arrayOf(rawText)], // timestamptz[]
  [1187, arrayOf(rawText)], // interval[]
  [1231, arrayOf(rawText)], // numeric[]
  [114, parseJsonKeepingNumbers], // json
  [3802, parseJsonKeepingNumbers], // jsonb
  [199, arrayOf(parseJsonKeepingNumbers)], // json[]
  [3807, arrayOf(parseJsonKeepingNumbers)], // jsonb[]
]);
const resultTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    RAW_TEXT_TYPES.has(oid) ? rawText : (OWN_PARSERS.get(oid) ?? pg.types.getTypeParser(oid, format as "text"))) as typeof pg.types.getTypeParser,
};


/**
 * PostgreSQL refuses a statement given more or fewer values than its $n placeholders at the protocol
 * level (08P01, "bind message supplies 2 parameters, but prepared statement "" requires 0"): the
 * caller's input, said in its terms. Only the two counts are read from the server's (English) text.
 */
function parameterMismatch(error: unknown): ReturnType<typeof parameterCountError> | null {
  if ((error as { code?: unknown })?.code !== "08P01") return null;
  const counts = /^bind message supplies (\d{1,5}) parameters?, but prepared statement "" requires (\d{1,5})$/.exec(String((error as { message?: unknown }).message ?? ""));
  if (!counts) return null;
  const [given, expected] = [Number(counts[1]), Number(counts[2])];
  return parameterCountError(expected, given, "$1, $2, …");
}

/** Streams the result and keeps the first rowLimit rows, so a large result never sits in memory. */
function streamQuery(client: pg.ClientBase, sql: string, params: unknown[], rowLimit: number): Promise<QueryOutput> {
  return new Promise((resolve, reject) => {
    const rows = new ResultRows(rowLimit);
    // pg reads each row whole before handing it over: a huge value is cut off on the wire instead.
    let tooLarge = false;
    const connection = (client as unknown as { connection: NodeJS.EventEmitter & { stream: NodeJS.EventEmitter } }).connection;
    const watch = watchRowBytes(connection.stream, () => {
      tooLarge = true;
      // end(), not destroy(): with a query running it cuts the socket too, and marks the close as
      // intended, so pg fails the query instead of raising an 'error' no one listens for.
      (client as pg.Client).end().catch(() => {});
    });
    // Every whole message ends a count, not only rows: RAISE NOTICE, COPY … TO STDOUT data, and
    // the notifications of a LISTEN the caller ran earlier on this session can add up to megabytes.
    // COPY … FROM STDIN / TO STDOUT move their data beside the statement's result: pg fails the first
    // with a "cancelled" 57014 (read as a timeout) and drops the second's rows, answering success.
    let copying: "in" | "out" | null = null;
    const messageDone = (message: { name?: string }) => {
      watch.rowDone();
      if (message.name === "copyInResponse") copying = "in";
      else if (message.name === "copyOutResponse" || message.name === "copyBothResponse") copying = "out";
    };
    connection.on("message", messageDone);
    const stopWatching = () => {
      watch.stop();
      connection.off("message", messageDone);
    };
    // Extended protocol even without parameters: one statement per call, as with parameters.
    const query = new pg.Query({ text: sql, values: params, rowMode: "array", types: resultTypes, queryMode: "extended" } as pg.QueryArrayConfig);
    query.on("row", (row: unknown[]) => {
      watch.rowDone();
      rows.add(row);
    });
    query.on("error", (error: Error) => {
      stopWatching();
      reject(tooLarge ? new RowTooLargeError() : copying ? copyRefused(copying) : error);
    });
    query.on("end", (result: pg.QueryResultBase) => {
      stopWatching();
      if (rows.failure) return reject(rows.failure);
      if (copying) return reject(copyRefused(copying));
      const columns = (result.fields ?? []).map((f) => f.name);
      const rowCount = columns.length > 0 ? rows.seen : (result.rowCount ?? rows.seen);
      resolve({ columns, rows: rows.rows, rowCount, truncated: rows.truncated });
    });
    client.query(query);
  });
}

/**
 * COPY to or from the client (the caller), which an invoke has no channel for (a server-side file is
 * another matter). Copying out, the statement has run (and committed, if it changed anything): the
 * message says so, so that nobody runs it again thinking it was refused.
 */
const copyRefused = (direction: "in" | "out") =>
  new OperationInputError(
    "sql",
    direction === "in"
      ? "COPY … FROM STDIN takes its data outside the statement, which an invoke does not carry: nothing was copied in. Use INSERT … VALUES with parameters."
      : "COPY … TO STDOUT sends its data outside the statement's result, which an invoke does not carry: the statement ran, but its rows are not returned. Use SELECT (or … RETURNING) instead.",
  );

/**
 * Runs `work` on a borrowed session. The server cancels a statement that outlives the deadline
 * (statement_timeout, so the session stays usable); if the server cannot be heard from at all, only
 * this session is cut, never its siblings.
 *
 * With `reset`, the session is handed back only after DISCARD ALL: whatever the caller's statement
 * left behind (SET and set_config values, SET ROLE, advisory locks, temporary tables, prepared
 * statements, LISTEN) would otherwise reach the next invoke that borrows it, which may be another
 * runner's. It runs after the answer is ready, so it costs the caller no time.
 */
/** A wait for a pooled session this long is part of why a statement ran out of time. */
const SESSION_WAIT_WORTH_SAYING_MS = 1000;

async function withSession<T>(handle: PostgresPool, timeoutMs: number, work: (client: pg.PoolClient) => Promise<T>, { reset = false } = {}): Promise<T> {
  const started = Date.now();
  const client = await handle.acquire(timeoutMs);
  const waited = Date.now() - started;
  let broken = false;
  try {
    const left = Math.max(1, timeoutMs - waited);
    const limit = statementLimitMs(left);
    const limited = async () => {
      if ((statementTimeouts.get(client) ?? handle.sessionLimitMs) !== limit) {
        await client.query(`SET statement_timeout = ${limit}`);
        statementTimeouts.set(client, limit);
      }
      return work(client);
    };
    try {
      // Setting the limit is a round trip too: a server that goes silent then is bounded like the statement.
      const result = await within(limited(), left + CLIENT_GRACE_MS, () => {
        broken = true;
        destroy(client);
        return postgresTimeout(handle.target, timeoutMs);
      });
      if (client.getTransactionStatus() !== "I") {
        broken = true;
        throw new OpenTransactionError();
      }
      return result;
    } catch (error) {
      markRaisedByStatement(error);
      if (waited >= SESSION_WAIT_WORTH_SAYING_MS) markSessionWait(error, waited);
      // A lost session, or a server now read-only (a demoted primary): the host may have moved.
      const code = (error as { code?: unknown })?.code;
      if (code === undefined || code === "25006") handle.address?.suspect();
      throw error;
    }
  } catch (error) {
    // A session that failed mid-protocol, or is inside a transaction, is not handed to the next caller.
    if (!broken && ((error as { code?: unknown })?.code === undefined || client.getTransactionStatus() !== "I")) broken = true;
    throw error;
  } finally {
    if (broken || !reset) client.release(broken || undefined);
    else {
      // A server that cannot be heard from does not hold the pool's slot: the session is cut.
      within(client.query("DISCARD ALL"), RESET_WAIT_MS, () => new Error("reset timed out")).then(
        () => {
          statementTimeouts.delete(client);
          client.release();
        },
        () => {
          destroy(client);
          client.release(true);
        },
      );
    }
  }
}

const query: Operation<PostgresPool, typeof sqlQueryInputSchema, QueryOutput> = {
  label: "Run a SQL statement",
  description:
    `Runs one SQL statement with positional parameters ($1, $2, …) and returns at most rowLimit rows, and no more than ${megabytes(MAX_ANSWER_BYTES)} of them (each an array in column order; bytea as base64; dates and timestamps as PostgreSQL prints them; bigint and numeric as text; arrays of built-in types as JSON arrays, of enums and other types of your own as PostgreSQL's array text; json and jsonb parsed, with any number a double cannot hold exactly as text). A single row over ${megabytes(MAX_ANSWER_BYTES)} is refused. The limits cap the answer, not the work: add LIMIT to the SQL for large tables. Each invoke runs on a pooled session that is reset before the next invoke borrows it (SET values, temporary tables, advisory locks, prepared statements and LISTEN do not carry over), and a statement that leaves a transaction open (BEGIN) is rolled back and refused: put a transaction in one statement.`,
  input: sqlQueryInputSchema,
  output: queryOutputSchema,
  async run(handle, input, { timeoutMs }) {
    // PostgreSQL cannot take one anywhere in a statement's text (it would answer 08P01 protocol_violation);
    // MariaDB can, in a string literal, so the shared input schema lets it through.
    if (input.sql.includes("\u0000")) throw new OperationInputError("sql", "The SQL contains a NUL character (\\u0000), which PostgreSQL cannot take in a statement's text. Pass such data as a parameter.");
    try {
      return await withSession(handle, timeoutMs, (client) => streamQuery(client, input.sql, input.params, input.rowLimit), { reset: true });
    } catch (error) {
      // Mapped here, after withSession: the server's own error (with its code) tells it the session is fine.
      throw parameterMismatch(error) ?? toPostgresError(error, handle.target);
    }
  },
};

export const postgresConnector: Connector<typeof postgresConfigSchema, PostgresPool> = {
  kind: "postgres",
  label: "PostgreSQL",
  description: "A PostgreSQL database (also Amazon RDS/Aurora, Azure, Cloud SQL, Supabase, Neon…), reached with a user name and password.",
  fields: [
    { name: "host", label: "Host", type: "text", required: true, placeholder: "db.example.com", help: "Host name or IP address of the server, without scheme or port." },
    { name: "port", label: "Port", type: "number", default: 5432 },
    { name: "database", label: "Database", type: "text", required: true, placeholder: "payroll" },
    { name: "user", label: "User", type: "text", required: true, placeholder: "latch_app" },
    { name: "password", label: "Password", type: "secret", required: true, usernameField: "user", help: "From a credential asset: read from its store when Latch connects, never kept. Typed: stored encrypted." },
    {
      name: "tlsMode",
      label: "TLS",
      type: "select",
      default: "verify-full",
      options: [
        { value: "verify-full", label: "Required: certificate and host name verified (verify-full)" },
        { value: "disable", label: "Off: only on a network you trust" },
      ],
      help: "With TLS on, the server's certificate must be valid for the host name; there is no unverified mode.",
    },
    {
      name: "caCertificate",
      label: "CA certificate (PEM)",
      type: "text",
      showWhen: { field: "tlsMode", equals: ["verify-full"] },
      placeholder: "-----BEGIN CERTIFICATE-----",
      help: "Only if a private CA issued the server's certificate (e.g. the RDS or Cloud SQL CA bundle). Added to the system's trusted roots.",
    },
  ],
  configSchema: postgresConfigSchema,

  async open({ config, secrets, timeoutMs, pool: sizing }) {
    const deadline = Date.now() + timeoutMs;
    const ssl = config.tlsMode === "verify-full" ? tlsOptions(config.host, config.caCertificate) : false;
    let address: string;
    try {
      address = await within(resolveTargetAddress(config.host), timeoutMs, () => postgresTimeout(config, timeoutMs));
    } catch (error) {
      throw toPostgresError(error, config);
    }
    const target: PostgresTarget = { host: config.host, port: config.port, database: config.database, user: config.user, [USER_FROM_ASSET]: (config as UserSource)[USER_FROM_ASSET] };
    const pool = new pg.Pool({
      host: address,
      port: config.port,
      database: config.database,
      user: config.user,
      password: secrets.password,
      ssl,
      application_name: "Latch",
      // Sent at login, so it is also what DISCARD ALL returns the session to.
      statement_timeout: statementLimitMs(timeoutMs),
      max: sizing?.max ?? 1,
      idleTimeoutMillis: sizing?.idleMs ?? 10_000,
      // Ours (acquire) fires first and says which target; this one only bounds a forgotten wait.
      connectionTimeoutMillis: timeoutMs + CLIENT_GRACE_MS,
      keepAlive: true,
    });
    // Without a listener, a socket error on an idle session would crash the process. pg-pool listens
    // for a session's errors only while it is idle, so each session also gets its own listener: one
    // the server ends mid-statement would otherwise raise an uncaught 'error' beside the statement's
    // rejection (which is what is reported).
    pool.on("error", () => {});
    pool.on("connect", (client) => client.on("error", () => {}));
    const handle = new PostgresPool(pool, target, statementLimitMs(timeoutMs));
    handle.address = new AddressWatch(config.host, address);
    // One login now proves the credentials; the session stays in the pool for the first operation.
    try {
      const first = await handle.acquire(Math.max(1, deadline - Date.now()));
      first.release();
    } catch (error) {
      void handle.end();
      throw toPostgresError(error, config);
    }
    return handle;
  },

  async check(handle, { config, timeoutMs }) {
    try {
      const result = await withSession(handle, timeoutMs, (client) =>
        client.query<{ version: string; database: string }>("SELECT current_setting('server_version') AS version, current_database() AS database"),
      );
      const row = result.rows[0];
      // server_version reads like "15.19 (Debian 15.19-0+deb12u1)"; the number is what people know.
      const version = row?.version?.split(" ")[0] || "(version unknown)";
      return { message: `PostgreSQL ${version} · database ${row?.database ?? config.database}` };
    } catch (error) {
      throw toPostgresError(error, config);
    }
  },

  async close(handle) {
    await handle.end();
  },

  // After a DNS failover the pool would keep dialling the old host: it is replaced, and resolves afresh.
  healthy: (handle) => handle.address?.holds() ?? true,

  destination: (config) => socketDestination(config, 5432, config.tlsMode !== "disable"),

  classify(error, config: Config) {
    return classifyPostgresError(error, config);
  },

  operations: { query },
};

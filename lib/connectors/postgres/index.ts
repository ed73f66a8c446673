import "server-only";
import pg from "pg";
import { z } from "zod";
import { resolveTargetAddress } from "@/lib/net/egress";
import { blankToUndefined, within, tlsOptions, hostSchema } from "../socket-shared";
import type { Connector, Operation } from "../types";
import { classifyPostgresError, postgresTimeout, toPostgresError, type PostgresTarget } from "./classify";



export const postgresConfigSchema = z.object({
  host: hostSchema("db.example.com"),
  port: z.preprocess(blankToUndefined, z.coerce.number().int().min(1, "A port from 1 to 65535.").max(65535, "A port from 1 to 65535.").default(5432)),
  database: z.string({ error: "Enter the database name." }).trim().min(1, "Enter the database name.").max(256),
  user: z.string({ error: "Enter the user name." }).trim().min(1, "Enter the user name.").max(256),
  tlsMode: z.enum(["verify-full", "disable"]).default("verify-full"),
  caCertificate: z.preprocess(
    blankToUndefined,
    z.string().trim().max(200_000).refine((v) => v.includes("-----BEGIN CERTIFICATE-----"), "Paste the CA certificate in PEM form (-----BEGIN CERTIFICATE----- …).").optional(),
  ),
});

type Config = z.output<typeof postgresConfigSchema>;

// The config each client was opened with, so operations can word errors with host and database.
const targets = new WeakMap<pg.Client, PostgresTarget>();
// The statement_timeout last set on each session, to skip the SET when it is unchanged.
const statementTimeouts = new WeakMap<pg.Client, number>();



/** Ends the socket at once: for timeouts, and for close() when a polite end does not finish. */
function destroy(client: pg.Client) {
  try {
    client.connection.stream.destroy();
  } catch {
    // Already gone.
  }
}

// Dates, timestamps and intervals as PostgreSQL prints them: a JS Date would shift a date by the time zone.
const RAW_TEXT_TYPES = new Set([1082, 1114, 1184, 1186, 1182, 1115, 1185, 1187]);
const rawText = (v: string) => v;
const resultTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => (RAW_TEXT_TYPES.has(oid) ? rawText : pg.types.getTypeParser(oid, format as "text"))) as typeof pg.types.getTypeParser,
};

/** JSON-ready cell values: bytea as base64, non-finite numbers as text. */
function jsonValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString("base64");
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Array.isArray(v)) return v.map(jsonValue);
  if (typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(x)]));
  return v;
}

export type QueryOutput = {
  columns: string[];
  /** Each row as an array of values in column order (lossless when two columns share a name). */
  rows: unknown[][];
  /** Rows the statement returned, or affected when it returns none (INSERT/UPDATE/DELETE). */
  rowCount: number;
  /** More rows were returned than rowLimit; only the first rowLimit are in `rows`. */
  truncated: boolean;
};

const queryInput = z.object({
  sql: z.string().trim().min(1, "Enter a SQL statement.").max(100_000),
  params: z.array(z.json()).max(10_000).default([]),
  rowLimit: z.number().int().min(1).max(10_000).default(1000),
});

/** Streams the result and keeps the first rowLimit rows, so a large result never sits in memory. */
function streamQuery(client: pg.Client, sql: string, params: unknown[], rowLimit: number): Promise<QueryOutput> {
  return new Promise((resolve, reject) => {
    const rows: unknown[][] = [];
    let seen = 0;
    // Extended protocol even without parameters: one statement per call, as with parameters.
    const query = new pg.Query({ text: sql, values: params, rowMode: "array", types: resultTypes, queryMode: "extended" } as pg.QueryArrayConfig);
    query.on("row", (row: unknown[]) => {
      seen++;
      if (rows.length < rowLimit) rows.push(row.map(jsonValue));
    });
    query.on("error", reject);
    query.on("end", (result: pg.QueryResultBase) => {
      const columns = (result.fields ?? []).map((f) => f.name);
      const rowCount = columns.length > 0 ? seen : (result.rowCount ?? seen);
      resolve({ columns, rows, rowCount, truncated: seen > rows.length });
    });
    client.query(query);
  });
}

const query: Operation<pg.Client, typeof queryInput, QueryOutput> = {
  label: "Run a SQL statement",
  description:
    "Runs one SQL statement with positional parameters ($1, $2, …) and returns at most rowLimit rows (each an array in column order; bytea as base64; dates and timestamps as PostgreSQL prints them). The limit caps the answer, not the work: add LIMIT to the SQL for large tables.",
  input: queryInput,
  async run(client, input, { timeoutMs }) {
    const target = targets.get(client) ?? { host: "?", port: 0, database: "?" };
    const work = async () => {
      // Server-side too, so a statement outliving the caller's patience does not keep running.
      if (statementTimeouts.get(client) !== timeoutMs) {
        await client.query(`SET statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
        statementTimeouts.set(client, timeoutMs);
      }
      return streamQuery(client, input.sql, input.params, input.rowLimit);
    };
    try {
      return await within(work(), timeoutMs, () => {
        destroy(client);
        return postgresTimeout(target, timeoutMs);
      });
    } catch (error) {
      throw toPostgresError(error, target);
    }
  },
};

export const postgresConnector: Connector<typeof postgresConfigSchema, pg.Client> = {
  kind: "postgres",
  label: "PostgreSQL",
  description: "A PostgreSQL database (also Amazon RDS/Aurora, Azure, Cloud SQL, Supabase, Neon…), reached with a user name and password.",
  fields: [
    { name: "host", label: "Host", type: "text", required: true, placeholder: "db.example.com", help: "Host name or IP address of the server, without scheme or port." },
    { name: "port", label: "Port", type: "number", default: 5432 },
    { name: "database", label: "Database", type: "text", required: true, placeholder: "payroll" },
    { name: "user", label: "User", type: "text", required: true, placeholder: "latch_app" },
    { name: "password", label: "Password", type: "secret", required: true, usernameField: "user", help: "Resolved from its store each time Latch connects; never kept." },
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

  async open({ config, secrets, timeoutMs }) {
    const deadline = Date.now() + timeoutMs;
    const ssl = config.tlsMode === "verify-full" ? tlsOptions(config.host, config.caCertificate) : false;
    let address: string;
    try {
      address = await within(resolveTargetAddress(config.host), timeoutMs, () => postgresTimeout(config, timeoutMs));
    } catch (error) {
      throw toPostgresError(error, config);
    }
    const client = new pg.Client({
      host: address,
      port: config.port,
      database: config.database,
      user: config.user,
      password: secrets.password,
      ssl,
      application_name: "Latch",
    });
    // Without a listener, a socket error on an idle client would crash the process.
    client.on("error", () => {});
    try {
      await within(client.connect(), deadline - Date.now(), () => {
        destroy(client);
        return postgresTimeout(config, timeoutMs);
      });
    } catch (error) {
      destroy(client);
      throw toPostgresError(error, config);
    }
    targets.set(client, { host: config.host, port: config.port, database: config.database, user: config.user });
    return client;
  },

  async check(client, { config, timeoutMs }) {
    try {
      const result = await within(
        client.query<{ version: string; database: string }>("SELECT current_setting('server_version') AS version, current_database() AS database"),
        timeoutMs,
        () => {
          destroy(client);
          return postgresTimeout(config, timeoutMs);
        },
      );
      const row = result.rows[0];
      // server_version reads like "15.19 (Debian 15.19-0+deb12u1)"; the number is what people know.
      const version = row?.version?.split(" ")[0] || "(version unknown)";
      return { message: `PostgreSQL ${version} · database ${row?.database ?? config.database}` };
    } catch (error) {
      throw toPostgresError(error, config);
    }
  },

  async close(client) {
    try {
      await within(client.end(), 2000, () => new Error("end timed out"));
    } catch {
      destroy(client);
    }
  },

  classify(error, config: Config) {
    return classifyPostgresError(error, config);
  },

  operations: { query },
};

import "server-only";
import { z } from "zod";

/** What the SQL connectors (PostgreSQL, MariaDB) share: the query operation's input and answer. */

export const sqlQueryInput = z.object({
  sql: z.string().trim().min(1, "Enter a SQL statement.").max(100_000),
  params: z.array(z.json()).max(10_000).default([]),
  rowLimit: z.number().int().min(1).max(10_000).default(1000),
});

export type QueryOutput = {
  columns: string[];
  /** Each row as an array of values in column order (lossless when two columns share a name). */
  rows: unknown[][];
  /** Rows the statement returned, or affected when it returns none (INSERT/UPDATE/DELETE). */
  rowCount: number;
  /** More rows were returned than rowLimit; only the first rowLimit are in `rows`. */
  truncated: boolean;
};

/** A JSON-ready cell value: binary as base64, 64-bit integers and non-finite numbers as text, dates in ISO form. */
export function jsonCell(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString("base64");
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Array.isArray(v)) return v.map(jsonCell);
  if (typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonCell(x)]));
  return v;
}

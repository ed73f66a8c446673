import "server-only";
import { z } from "zod";
import { megabytes } from "@/lib/utils";
import { ConnectorError, OperationInputError } from "./types";

/** What the SQL connectors (PostgreSQL, MariaDB) share: the query operation's input and answer. */

/** How long a pooled session's reset may take before the session is closed instead of going back to the pool. */
export const RESET_WAIT_MS = 5000;

/**
 * An invoke that waited its whole time limit for one of the connection's pooled sessions, all of
 * which other invokes held: the target answered them, so "did not answer" would send people
 * looking at the network. `where` names the target ("PostgreSQL at db:5432").
 */
export function sessionsBusy(where: string, max: number, ms: number): ConnectorError {
  return new ConnectorError(
    "timeout",
    `All ${max} of this connection's sessions to ${where} stayed in use for ${Math.round(ms / 100) / 10} s, so the statement did not start. ` +
      `The statements holding them are slow, or more invokes run at once than LATCH_POOL_MAX_PER_CONNECTION (${max}) allows on one instance.`,
  );
}

/**
 * Whole numbers past ±2^53 - 1 arrive already rounded (JSON numbers are doubles): a bigint id would
 * select another row. Refused wherever they are in a parameter (an array or a JSON document too).
 */
function refuseInexactIntegers(value: unknown, ctx: z.RefinementCtx, path: (string | number)[]): void {
  if (typeof value === "number") {
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
      ctx.addIssue({
        code: "custom",
        path,
        message: `A whole number beyond ±${Number.MAX_SAFE_INTEGER} cannot be sent exactly as a JSON number; send it as a string (e.g. "9007199254740993"), which PostgreSQL and MariaDB convert for the column.`,
      });
    }
  } else if (Array.isArray(value)) value.forEach((item, i) => refuseInexactIntegers(item, ctx, [...path, i]));
  else if (value !== null && typeof value === "object") for (const [key, item] of Object.entries(value)) refuseInexactIntegers(item, ctx, [...path, key]);
}

/**
 * Any JSON value (z.json()'s shape), named: the OpenAPI document then calls the recursive schema
 * JsonValue, a name a code generator can use. Built here because z.json()'s inner references would
 * still point at its own unnamed self.
 */
type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
const jsonValueSchema: z.ZodType<JsonValue> = z
  .lazy(() => z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValueSchema), z.record(z.string(), jsonValueSchema)]))
  .meta({ id: "JsonValue", description: "Any JSON value." });

export const sqlQueryInputSchema = z.strictObject({
  sql: z.string().trim().min(1, "Enter a SQL statement.").max(100_000),
  params: z
    .array(jsonValueSchema)
    .max(10_000)
    .default([])
    .superRefine((params, ctx) => params.forEach((param, i) => refuseInexactIntegers(param, ctx, [i])))
    .meta({ description: "Values for the statement's placeholders, in order. Whole numbers beyond ±9007199254740991 (a bigint id) go as strings: JSON numbers cannot carry them exactly." }),
  rowLimit: z.number().int().min(1).max(10_000).default(1000),
});

export const queryOutputSchema = z.strictObject({
  columns: z.array(z.string()).meta({ description: "The result's column names, in order (empty for a statement that returns no rows)." }),
  rows: z
    .array(z.array(z.unknown().meta({ description: "Any JSON value." })))
    .meta({ description: "The rows kept, each an array of values in column order (lossless when two columns share a name); at most rowLimit of them." }),
  rowCount: z
    .number()
    .int()
    .meta({ description: "How many rows the statement returned, all of them, also past rowLimit; or, when it returns none, how many it changed (INSERT, UPDATE, DELETE)." }),
  truncated: z.boolean().meta({ description: "True when rows holds fewer than rowCount: past rowLimit, or past the answer's size limit." }),
});
export type QueryOutput = z.output<typeof queryOutputSchema>;

/** A statement given more or fewer values than it has placeholders (`style` shows them: "$1, $2, …" or "?"): the caller's input, in its terms. */
export function parameterCountError(expected: number, given: number, style: string): OperationInputError {
  return new OperationInputError("params", `The statement has ${expected} placeholder${expected === 1 ? "" : "s"} (${style}) but ${given} parameter${given === 1 ? " was" : "s were"} given.`);
}

/**
 * The most an answer's rows may take as JSON; rows past it are counted, not kept. A single row is
 * also cut off on the wire at this size (see watchRowBytes), before the driver holds it whole.
 */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** A row larger than MAX_ANSWER_BYTES: the caller can select less. Its session was cut mid-result. */
export class RowTooLargeError extends OperationInputError {
  static override readonly brand = "latch.RowTooLargeError";
  constructor() {
    super("sql", `A row of the result is larger than ${megabytes(MAX_ANSWER_BYTES)}, which Latch does not return. Select fewer or shorter columns (substring(), a part of a document).`);
  }
}

/** Deeper than any document a person means to read, and far above what JSON.stringify can still answer with. */
export const MAX_CELL_DEPTH = 1000;

/** A JSON number literal: where one starts (outside strings), this reads it whole. */
const NUMBER_LITERAL = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** A decimal literal as sign, significant digits and exponent, so "1.50", "15e-1" and "1.5" compare equal. */
function canonicalDecimal(literal: string): string {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!match) return literal;
  const [, sign, whole = "", fraction = "", exponent = "0"] = match;
  let digits = whole + fraction;
  let point = whole.length + Number(exponent);
  const leading = digits.length - digits.replace(/^0+/, "").length;
  digits = digits.slice(leading).replace(/0+$/, "");
  point -= leading;
  return digits === "" ? "0" : `${sign}${digits}e${point}`;
}

/** Whether JSON.parse gives back this literal's value exactly (its shortest spelling reads the same). */
function exactAsDouble(literal: string): boolean {
  const value = Number(literal);
  return Number.isFinite(value) && canonicalDecimal(String(value)) === canonicalDecimal(literal);
}

/**
 * JSON.parse for the target's json values, except that a number a double cannot hold exactly (a 20-digit
 * id, 0.10000000000000000001) comes back as its text, as numeric and bigint cells do, instead of rounded.
 */
export function parseJsonKeepingNumbers(text: string): unknown {
  let out = "";
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, past escaped ones.
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
      continue;
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) continue;
    NUMBER_LITERAL.lastIndex = i;
    const literal = NUMBER_LITERAL.exec(text)?.[0];
    if (!literal) continue;
    if (!exactAsDouble(literal)) {
      out += text.slice(copied, i) + JSON.stringify(literal);
      copied = i + literal.length;
    }
    i += literal.length - 1;
  }
  return JSON.parse(copied === 0 ? text : out + text.slice(copied));
}

/**
 * A JSON-ready cell value: binary as base64, 64-bit integers and non-finite numbers as text, dates in
 * ISO form. A PostgreSQL json value can nest some ten thousand levels, past what recursion (here and
 * in JSON.stringify) survives, so a value deeper than MAX_CELL_DEPTH is refused instead.
 */
export function jsonCell(v: unknown, depth = 0): unknown {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString("base64");
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (typeof v !== "object") return v;
  if (depth >= MAX_CELL_DEPTH) {
    throw new ConnectorError("target_error", `A value in the result is nested more than ${MAX_CELL_DEPTH} levels deep, which Latch does not return. Select a part of it instead.`);
  }
  if (Array.isArray(v)) return v.map((x) => jsonCell(x, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonCell(x, depth + 1)]));
}

/**
 * The first `limit` rows of a result (and no more than MAX_ANSWER_BYTES of them), as JSON-ready
 * cells, counting the rest. A row that cannot be returned is remembered, not thrown: throwing from
 * the driver's row event would leave the session mid-result. The caller rejects with `failure` once
 * the statement has ended.
 */
export class ResultRows {
  readonly rows: unknown[][] = [];
  seen = 0;
  failure: ConnectorError | null = null;
  #bytes = 0;
  #full = false;
  constructor(readonly limit: number) {}

  add(row: unknown[]): void {
    this.seen++;
    if (this.failure || this.#full || this.rows.length >= this.limit) return;
    try {
      const cells = row.map((cell) => jsonCell(cell));
      // UTF-8 bytes as the answer sends them: a CJK character is 3, an escaped control character 6.
      this.#bytes += Buffer.byteLength(JSON.stringify(cells));
      if (this.#bytes > MAX_ANSWER_BYTES) {
        // The rows so far are the answer; one row alone past the limit cannot be answered at all.
        this.#full = true;
        if (this.rows.length === 0) this.failure = new RowTooLargeError();
        return;
      }
      this.rows.push(cells);
    } catch (error) {
      if (!(error instanceof ConnectorError)) throw error;
      this.failure = error;
    }
  }

  get truncated(): boolean {
    return this.seen > this.rows.length;
  }
}

/**
 * Watches a session's socket while a statement's result arrives: when more than MAX_ANSWER_BYTES
 * arrive without the driver completing a row (`rowDone` resets the count), `tooLarge` is called once,
 * so the caller can cut the session before the driver holds a huge value whole. Returns the stop.
 */
export function watchRowBytes(stream: NodeJS.EventEmitter, tooLarge: () => void): { rowDone(): void; stop(): void } {
  let bytes = 0;
  let fired = false;
  const onData = (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_ANSWER_BYTES && !fired) {
      fired = true;
      tooLarge();
    }
  };
  stream.on("data", onData);
  return {
    rowDone: () => {
      bytes = 0;
    },
    stop: () => {
      stream.off("data", onData);
    },
  };
}

/**
 * Each invoke runs its one statement on a pooled session, so nothing may stay open for the next
 * caller: a session left inside a transaction is closed (the server rolls the transaction back) and
 * the invoke says so, instead of reporting rows that are never committed.
 */
export class OpenTransactionError extends OperationInputError {
  static override readonly brand = "latch.OpenTransactionError";
  constructor() {
    super(
      "sql",
      "The statement left a transaction open, and each invoke runs on a pooled session that the next caller gets: it was rolled back. Put the whole transaction in one statement (a DO block, a function or a procedure).",
    );
  }
}

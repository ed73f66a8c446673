import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgDump } from "./pg-dump";

/** The leak checks' dump must show text and bytea values, or a clean dump proves nothing. */
describe("pgDump", () => {
  const url = process.env.DATABASE_URL!;
  const table = `pg_dump_probe_${randomUUID().slice(0, 8)}`;
  const text = `probe-text-${randomUUID()}`;
  const bytes = `probe-bytes-${randomUUID()}`;
  const client = new pg.Client({ connectionString: url });

  beforeAll(async () => {
    await client.connect();
    await client.query(`CREATE TABLE ${table} (t text, b bytea)`);
    await client.query(`INSERT INTO ${table} VALUES ($1, $2)`, [text, Buffer.from(bytes)]);
  });
  afterAll(async () => {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  });

  it("shows text as is and bytea as hex, with a real pg_dump whenever one can read the server", async () => {
    const dump = await pgDump(url);
    expect(dump.text).toContain(text);
    expect(dump.text).toContain(Buffer.from(bytes).toString("hex"));
    expect(dump.text).not.toContain(bytes);
    const serverMajor = Math.floor(Number((await client.query("SELECT current_setting('server_version_num') AS v")).rows[0].v) / 10000);
    expect(serverMajor).toBeGreaterThanOrEqual(13);
    // Debian's pg_dump (15 here) reads servers up to its own version; the embedded PostgreSQL 18 needs the fallback.
    if (serverMajor <= 15 && existsSync("/usr/bin/pg_dump")) expect(dump.tool).toMatch(/^pg_dump 1[5-9]/);
    // Otherwise a pg_dump that can read this server, or the named fallback: never an older pg_dump.
    else if (dump.tool.startsWith("pg_dump ")) expect(Number(/^pg_dump (\d+)/.exec(dump.tool)?.[1])).toBeGreaterThanOrEqual(serverMajor);
    else expect(dump.tool).toBe(`rows as COPY prints them (no pg_dump ≥ ${serverMajor} on this machine)`);
  });
});

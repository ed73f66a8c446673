import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createThrowawayDatabase, type ThrowawayDatabase } from "@/scripts/test-db";
import { applyMigrations, describeDatabaseFailure, listPendingMigrations, readMigrations, withDatabaseClient } from "./migrate";

let db: ThrowawayDatabase;
let dir: string;

beforeEach(async () => {
  db = await createThrowawayDatabase({ migrate: false });
  dir = await mkdtemp(path.join(tmpdir(), "latch-migrations-"));
});

afterEach(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

async function addMigration(name: string, sql: string) {
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, "migration.sql"), sql);
}

async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("applyMigrations", () => {
  it("applies the project's migrations once, recording them like Prisma", async () => {
    const names = (await readMigrations()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(0);
    expect(await listPendingMigrations(db.url)).toEqual(names);

    expect(await applyMigrations(db.url)).toEqual({ applied: names });
    expect(await applyMigrations(db.url)).toEqual({ applied: [] });
    expect(await listPendingMigrations(db.url)).toEqual([]);

    const rows = await query<{ migration_name: string; checksum: string; applied_steps_count: number }>(
      `SELECT migration_name, checksum, applied_steps_count FROM "_prisma_migrations"
        WHERE finished_at IS NOT NULL ORDER BY migration_name`,
    );
    expect(rows.map((r) => r.migration_name)).toEqual(names);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.checksum) && r.applied_steps_count === 1)).toBe(true);
    expect(await query(`SELECT 1 FROM users`)).toEqual([]);
  });

  it("serialises concurrent runners", async () => {
    await addMigration("001_a", `CREATE TABLE a (id int);`);
    await addMigration("002_b", `CREATE TABLE b (id int);`);
    const results = await Promise.all([1, 2, 3].map(() => applyMigrations(db.url, { dir })));
    expect(results.flatMap((r) => r.applied).sort()).toEqual(["001_a", "002_b"]);
  });

  it("says so when the database has migrations this build does not ship (a newer Latch migrated it)", async () => {
    await addMigration("001_a", `CREATE TABLE a (id int);`);
    await addMigration("002_b", `CREATE TABLE b (id int);`);
    await applyMigrations(db.url, { dir });
    await rm(path.join(dir, "002_b"), { recursive: true });
    const said: string[] = [];
    expect(await applyMigrations(db.url, { dir, log: (m) => said.push(m) })).toEqual({ applied: [] });
    expect(said).toEqual([expect.stringMatching(/^Warning: the database has 1 migration this build does not ship \(002_b\): a newer Latch migrated it\./)]);
  });

  it("refuses to run when an applied migration was edited", async () => {
    await addMigration("001_a", `CREATE TABLE a (id int);`);
    await applyMigrations(db.url, { dir });
    await addMigration("001_a", `CREATE TABLE a (id bigint);`);
    await addMigration("002_b", `CREATE TABLE b (id int);`);

    await expect(applyMigrations(db.url, { dir })).rejects.toThrow(/001_a changed after being applied \(checksum/);
    expect(await query(`SELECT to_regclass('b') AS t`)).toEqual([{ t: null }]);
  });

  it("rolls back a failing migration completely and names it", async () => {
    await addMigration("001_ok", `CREATE TABLE ok (id int);`);
    await addMigration("002_bad", `CREATE TABLE half (id int);\nINSERT INTO ok VALUES (1);\nSELECT 1/0;`);
    await addMigration("003_later", `CREATE TABLE later (id int);`);

    await expect(applyMigrations(db.url, { dir })).rejects.toThrow(/Migration 002_bad failed.*division by zero/);

    expect(await query(`SELECT to_regclass('ok') IS NOT NULL AS ok, to_regclass('half') AS half, to_regclass('later') AS later`)).toEqual([
      { ok: true, half: null, later: null },
    ]);
    expect(await query(`SELECT count(*)::int AS n FROM ok`)).toEqual([{ n: 0 }]);
    expect(await listPendingMigrations(db.url, { dir })).toEqual(["002_bad", "003_later"]);

    await addMigration("002_bad", `CREATE TABLE half (id int);`);
    expect(await applyMigrations(db.url, { dir })).toEqual({ applied: ["002_bad", "003_later"] });
  });

  it("refuses a migration that ends the runner's transaction itself, before anything of it runs", async () => {
    await addMigration("001_ok", `CREATE TABLE ok (id int);`);
    // What \`prisma migrate diff\` writes for an enum change.
    await addMigration("002_enum", `CREATE TYPE "Role" AS ENUM ('A');\n-- AlterEnum\nBEGIN;\nCREATE TYPE "Role_new" AS ENUM ('A', 'B');\nCOMMIT;\nSELECT 1/0;`);
    await expect(applyMigrations(db.url, { dir })).rejects.toThrow(/Migration 002_enum controls the transaction itself .*remove those statements/);
    for (const sql of ["BEGIN TRANSACTION;", "commit work;", "START TRANSACTION ISOLATION LEVEL SERIALIZABLE;", "SELECT 1; COMMIT;", "END;", "ROLLBACK", "CREATE FUNCTION one() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\nCOMMIT;"]) {
      await addMigration("002_enum", sql);
      await expect(applyMigrations(db.url, { dir }), sql).rejects.toThrow(/controls the transaction itself/);
    }
    expect(await query(`SELECT to_regclass('ok') AS ok, to_regtype('"Role"') AS role`)).toEqual([{ ok: null, role: null }]);
    // Not transaction statements: a DO block's own BEGIN … END, a procedure's COMMIT, a comment, a string.
    await addMigration("002_enum", [
      `DO $$\nBEGIN\n  CREATE TYPE "Role" AS ENUM ('A');\nEND\n$$;`,
      `CREATE PROCEDURE batch() LANGUAGE plpgsql AS $body$\nBEGIN\n  COMMIT;\nEND;\n$body$;`,
      `/* run as: BEGIN; … COMMIT; */ -- COMMIT;`,
      `COMMENT ON TYPE "Role" IS 'BEGIN; then COMMIT;';`,
      // A SQL-standard body: its statements and its END (after a CASE … END of its own) are the function's.
      `CREATE FUNCTION grade(n int) RETURNS text LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN n > 1 THEN 'many' ELSE 'one' END;\nEND;`,
    ].join("\n"));
    expect(await applyMigrations(db.url, { dir })).toEqual({ applied: ["001_ok", "002_enum"] });
  });

  it("refuses a migration PostgreSQL cannot run in a transaction before any pending migration is applied, naming the file", async () => {
    await addMigration("001_ok", `CREATE TABLE ok (id int);`);
    await addMigration("002_index", `-- Built without locking writes\nCREATE INDEX CONCURRENTLY ok_id ON ok (id);`);
    await expect(applyMigrations(db.url, { dir })).rejects.toThrow(
      /^Migration 002_index \(CREATE INDEX CONCURRENTLY\) has a statement that PostgreSQL cannot run inside a transaction block.*No migration was applied/,
    );
    // Not even the migration before it: a deployment is left on the old schema, not between two.
    expect(await query(`SELECT to_regclass('ok') AS ok`)).toEqual([{ ok: null }]);

    for (const [sql, named] of [
      [`CREATE UNIQUE INDEX\n  CONCURRENTLY IF NOT EXISTS ok_id ON ok (id);`, "CREATE INDEX CONCURRENTLY"],
      [`DROP INDEX CONCURRENTLY IF EXISTS ok_id;`, "DROP INDEX CONCURRENTLY"],
      [`REINDEX (VERBOSE) TABLE CONCURRENTLY ok;`, "REINDEX CONCURRENTLY"],
      [`REINDEX SCHEMA public;`, "REINDEX SCHEMA, DATABASE or SYSTEM"],
      [`VACUUM (ANALYZE) ok;`, "VACUUM"],
      [`ALTER SYSTEM SET work_mem = '8MB';`, "ALTER SYSTEM"],
      [`CREATE DATABASE other;`, "CREATE or DROP DATABASE"],
      [`CREATE TABLESPACE fast LOCATION '/tmp';`, "CREATE or DROP TABLESPACE"],
      [`ALTER TABLE ok DETACH PARTITION ok_2026 CONCURRENTLY;`, "ALTER TABLE … DETACH PARTITION … CONCURRENTLY"],
      [`SELECT 1; cluster;`, "CLUSTER without a table"],
    ]) {
      await addMigration("002_index", sql!);
      await expect(applyMigrations(db.url, { dir }), sql).rejects.toThrow(`Migration 002_index (${named}) has a statement`);
    }
    // Every such file is named at once, whatever its place among the pending ones.
    await addMigration("003_vacuum", `VACUUM ok;`);
    await expect(applyMigrations(db.url, { dir })).rejects.toThrow(/^Migrations 002_index \(CLUSTER without a table\), 003_vacuum \(VACUUM\) have statements/);
    expect(await query(`SELECT to_regclass('ok') AS ok`)).toEqual([{ ok: null }]);

    // Such words where they are not statements: comments (nested too), strings, quoted names, bodies.
    await rm(path.join(dir, "003_vacuum"), { recursive: true });
    await addMigration("002_index", [
      `/* outer /* CREATE INDEX CONCURRENTLY x ON ok (id); */ VACUUM; */`,
      `-- VACUUM;`,
      `CREATE INDEX concurrently_named ON ok (id);`,
      `CREATE TABLE "vacuum" ("concurrently" int);`,
      `COMMENT ON TABLE ok IS 'VACUUM; DROP DATABASE x;';`,
      `COMMENT ON TABLE "vacuum" IS E'it\\'s; VACUUM;';`,
      `DO $do$ BEGIN PERFORM 'VACUUM'; END $do$;`,
      `ANALYZE ok;`,
      `CLUSTER ok USING concurrently_named;`,
    ].join("\n"));
    expect(await applyMigrations(db.url, { dir })).toEqual({ applied: ["001_ok", "002_index"] });
    expect(await query(`SELECT obj_description('"vacuum"'::regclass) AS comment`)).toEqual([{ comment: "it's; VACUUM;" }]);
  });

  it("creates the tables in public, where the Prisma client looks, even when the role has a schema of its own", async () => {
    await query(`CREATE SCHEMA IF NOT EXISTS "${(await query<{ u: string }>("SELECT current_user AS u"))[0]!.u}"`);
    await addMigration("001_a", `CREATE TABLE a (id int);`);
    await applyMigrations(db.url, { dir });
    expect(await query(`SELECT table_schema FROM information_schema.tables WHERE table_name IN ('a', '_prisma_migrations') ORDER BY table_name`)).toEqual([
      { table_schema: "public" },
      { table_schema: "public" },
    ]);
    expect(await listPendingMigrations(db.url, { dir })).toEqual([]);
  });

  it("lists pending migrations through an existing client", async () => {
    await addMigration("001_a", `CREATE TABLE a (id int);`);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      expect(await listPendingMigrations(client, { dir })).toEqual(["001_a"]);
      await applyMigrations(db.url, { dir });
      expect(await listPendingMigrations(client, { dir })).toEqual([]);
    } finally {
      await client.end();
    }
  });
});

describe("describeDatabaseFailure", () => {
  it("says what to check for a database that does not exist, a port with nothing on it and a host that does not resolve, never the password", async () => {
    // The server the tests use, with its own credentials (the embedded one checks its password).
    const base = new URL(db.url);
    const elsewhere = Object.assign(new URL(base), { password: "never-shown-pw" });
    const cases: [string, RegExp][] = [
      [Object.assign(new URL(base), { pathname: "/latch_no_such_database_x" }).toString(), /^the database named in DATABASE_URL \(.*\/latch_no_such_database_x\) does not exist: create it, or correct the name$/],
      [Object.assign(new URL(elsewhere), { host: "127.0.0.1:1" }).toString(), /^nothing is listening at 127\.0\.0\.1:1\//],
      [Object.assign(new URL(elsewhere), { hostname: "no-such-host.invalid" }).toString(), /^the host in DATABASE_URL \(no-such-host\.invalid:/],
    ];
    for (const [url, expected] of cases) {
      const error = await withDatabaseClient(url, (client) => client.query("SELECT 1"), 5000).then(
        () => null,
        (e: unknown) => e,
      );
      const said = describeDatabaseFailure(error, url);
      expect(said, url).toMatch(expected);
      expect(said).not.toContain("never-shown-pw");
      if (base.password) expect(said).not.toContain(decodeURIComponent(base.password));
    }
  });
});

describe("npm run db:seed on a database the migrations have not reached", () => {
  it("says to run db:migrate first, instead of PostgreSQL's 'relation does not exist'", async () => {
    const { spawnSync } = await import("node:child_process");
    const run = spawnSync(process.execPath, ["--import", "tsx", "scripts/seed.ts"], { env: { ...process.env, DATABASE_URL: db.url }, encoding: "utf8", timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("The database has no Latch tables yet: run `npm run db:migrate` with the same DATABASE_URL first");
  });
});

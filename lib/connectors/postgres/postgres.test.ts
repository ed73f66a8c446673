import { rmSync } from "node:fs";
import net from "node:net";
import pg from "pg";
import { AddressWatch } from "@/lib/net/address-watch";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectConnectorError } from "@/test/targets/expect";
import { freePort, startPartitionProxy, startSilentServer } from "@/test/targets/net";
import { startPasswordPostgres, type PasswordPostgres } from "@/test/targets/postgres";
import { createTestPki, type TestPki } from "@/test/emulators/tls";
import { issueServerCert } from "@/test/targets/tls";
import { ConnectorError, OperationInputError, USER_FROM_ASSET, type Connector } from "../types";
import { classifyPostgresError } from "./classify";
import { MAX_ANSWER_BYTES, RowTooLargeError, type QueryOutput } from "../sql-shared";
import { postgresConfigSchema, postgresConnector, type PostgresPool } from "./index";

let target: PasswordPostgres;
let pki: TestPki;
const clients: PostgresPool[] = [];

beforeAll(async () => {
  target = await startPasswordPostgres();
  pki = createTestPki();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => postgresConnector.close(c)));
});

afterAll(async () => {
  await target?.stop();
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

function input(overrides: Record<string, unknown> = {}, password = target.password, timeoutMs = 5000) {
  const config = postgresConfigSchema.parse({ host: target.host, port: target.port, database: target.database, user: target.user, tlsMode: "disable", ...overrides });
  return { config, secrets: { password }, timeoutMs };
}

/** The query operation, typed (the connector's operations map is typed loosely for the registry). */
function runQuery(client: PostgresPool, input: { sql: string; params?: unknown[]; rowLimit?: number }, timeoutMs = 5000): Promise<QueryOutput> {
  const op = postgresConnector.operations.query!;
  // Every result in these tests also matches the shape GET /connectors and the OpenAPI document promise.
  return op.run(client, op.input.parse(input), { timeoutMs }).then((result) => op.output.parse(result)) as Promise<QueryOutput>;
}

async function open(overrides: Record<string, unknown> = {}, pool?: { max: number; idleMs: number }) {
  const i = { ...input(overrides), pool };
  const client = await postgresConnector.open(i);
  clients.push(client);
  return { client, i };
}

/**
 * A pipe to the target that, from the first chunk `swallow` picks on a session, passes nothing more
 * of that session on: a server that goes silent mid-conversation.
 */
async function startSwallowingProxy(swallow: (chunk: Buffer) => boolean): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((inbound) => {
    const outbound = net.connect(target.port, target.host);
    let swallowing = false;
    sockets.add(inbound);
    inbound.on("data", (chunk: Buffer) => {
      if (!swallowing && swallow(chunk)) swallowing = true;
      if (!swallowing) outbound.write(chunk);
    });
    outbound.on("data", (chunk) => inbound.write(chunk));
    for (const s of [inbound, outbound]) s.on("error", () => {});
    inbound.on("close", () => outbound.destroy());
    outbound.on("close", () => inbound.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}

describe("postgres connector against a password-auth PostgreSQL", () => {
  it("is assignable to the registry's Connector type", () => {
    const c: Connector = postgresConnector;
    expect(c.kind).toBe("postgres");
  });

  it("connects and says what it reached", async () => {
    const { client, i } = await open();
    const result = await postgresConnector.check(client, i);
    expect(result.message).toMatch(new RegExp(`^PostgreSQL \\d+(\\.\\d+)* · database ${target.database}$`));
    expect(result.message).not.toContain(target.password);
  });

  it("reports a wrong password as credentials_rejected, without the password", async () => {
    const wrong = "definitely-Wrong-pw-123";
    const error = await expectConnectorError(postgresConnector.open(input({}, wrong)), "credentials_rejected", [wrong, target.password]);
    expect(error.message).toContain("28P01");
  });

  it("reports a missing database as a config problem", async () => {
    const error = await expectConnectorError(postgresConnector.open(input({ database: "no_such_db" })), "config", [target.password]);
    expect(error.message).toContain("no_such_db");
  });

  it("reports nothing listening as unreachable", async () => {
    const port = await freePort();
    const error = await expectConnectorError(postgresConnector.open(input({ port })), "unreachable", [target.password]);
    expect(error.message).toContain(`127.0.0.1:${port}`);
  });

  it("honours timeoutMs when the server never answers", async () => {
    const silent = await startSilentServer();
    try {
      const started = Date.now();
      await expectConnectorError(postgresConnector.open(input({ port: silent.port }, target.password, 400)), "timeout");
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await silent.close();
    }
  });

  it("refuses cloud metadata addresses under the egress policy", async () => {
    await expectConnectorError(postgresConnector.open(input({ host: "169.254.169.254" })), "egress_denied");
  });

  it("runs a parameterised query and limits the rows", async () => {
    const { client } = await open();
    const run = (sql: string, params: unknown[] = [], rowLimit?: number) => runQuery(client, { sql, params, rowLimit });

    await run("CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, born date)");
    const inserted = await run("INSERT INTO people VALUES ($1, $2, $3), ($4, $5, $6)", [1, "Ada", "1815-12-10", 2, "Grace", "1906-12-09"]);
    expect(inserted).toMatchObject({ columns: [], rows: [], rowCount: 2, truncated: false });

    const selected = await run("SELECT id, name, born FROM people WHERE name = $1", ["Grace"]);
    expect(selected).toEqual({ columns: ["id", "name", "born"], rows: [[2, "Grace", "1906-12-09"]], rowCount: 1, truncated: false });

    const many = await run("SELECT g FROM generate_series(1, 50) AS g", [], 10);
    expect(many).toMatchObject({ rowCount: 50, truncated: true });
    expect(many.rows).toEqual(Array.from({ length: 10 }, (_, k) => [k + 1]));
  });

  it("loses no digit and no shape: numerics and 20-digit JSON numbers as text, arrays of dates and numerics as JSON arrays", async () => {
    const { client } = await open();
    const { rows } = await runQuery(client, {
      sql: `SELECT 12345678901234567890.123456789::numeric, ARRAY[12345678901234567890.123456789::numeric, 0.1, NULL],
              '{"id": 12345678901234567890, "p": 0.10000000000000000001, "n": 1.5, "s": "12345678901234567890"}'::jsonb,
              ARRAY['{"id": 98765432109876543210}'::json], ARRAY['2026-01-01'::date, NULL], ARRAY['2026-12-06 10:00:00+00'::timestamptz],
              ARRAY['1 day'::interval], ARRAY[9007199254740993::bigint], ARRAY[[1, 2], [3, 4]]`,
    });
    expect(rows[0]).toEqual([
      "12345678901234567890.123456789",
      ["12345678901234567890.123456789", "0.1", null],
      { id: "12345678901234567890", p: "0.10000000000000000001", n: 1.5, s: "12345678901234567890" },
      [{ id: "98765432109876543210" }],
      ["2026-01-01", null],
      [expect.stringMatching(/^2026-12-06 10:00:00\+00$/)],
      ["1 day"],
      ["9007199254740993"],
      [[1, 2], [3, 4]],
    ]);
  });

  it("returns JSON values as they are, and refuses one nested too deeply to answer with instead of failing the process", async () => {
    const { client } = await open();
    const nested = (depth: number) => `SELECT (repeat('[', ${depth}) || '1' || repeat(']', ${depth}))::json AS doc`;
    expect((await runQuery(client, { sql: `SELECT '{"a":[1,{"b":null}]}'::jsonb AS doc` })).rows).toEqual([[{ a: [1, { b: null }] }]]);
    expect((await runQuery(client, { sql: nested(100) })).rows[0]![0]).toBeInstanceOf(Array);
    const deep = await expectConnectorError(runQuery(client, { sql: nested(8000) }), "target_error");
    expect(deep.message).toMatch(/nested more than \d+ levels deep/);
    // The session and the pool stay usable.
    expect((await runQuery(client, { sql: "SELECT 1 AS n" })).rows).toEqual([[1]]);
  });

  it("answers with at most 4 MB of rows, and refuses one row over 4 MB by cutting its session off mid-row", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const sockets: { bytesRead: number }[] = [];
    client.pool.on("acquire", (session) => sockets.push((session as unknown as { connection: { stream: { bytesRead: number } } }).connection.stream));
    // 1,000 rows of 10 kB: the rows that fit are returned, the rest counted.
    const wide = await runQuery(client, { sql: "SELECT g, repeat('x', 10000) FROM generate_series(1, 1000) AS g", rowLimit: 1000 });
    expect(wide).toMatchObject({ rowCount: 1000, truncated: true });
    expect(wide.rows.length).toBeGreaterThan(300);
    expect(wide.rows.length).toBeLessThan(MAX_ANSWER_BYTES / 10_000);
    expect(wide.rows.at(-1)![0]).toBe(wide.rows.length);
    // Counted in UTF-8 bytes, as sent: three rows of 3.6 MB (1.2 million three-byte characters) are one row's worth.
    const cjk = await runQuery(client, { sql: "SELECT repeat('界', 1200000) FROM generate_series(1, 3)" });
    expect(cjk).toMatchObject({ rowCount: 3, truncated: true });
    expect(cjk.rows).toHaveLength(1);
    // Messages that are not rows do not add up to "a row over 4 MB": 5 MB of notices, then a row.
    expect((await runQuery(client, { sql: "DO $$ BEGIN FOR i IN 1..5000 LOOP RAISE NOTICE '%', repeat('n', 1000); END LOOP; END $$" })).rowCount).toBe(0);
    // Nor do notifications for a LISTEN the caller ran earlier on the session: 5 MB of them, sent to
    // itself by this statement, arrive when it commits, after its one small row.
    await runQuery(client, { sql: "LISTEN latch_test_channel" });
    const notified = await runQuery(client, { sql: "SELECT count(pg_notify('latch_test_channel', g || repeat('n', 7990)))::int FROM generate_series(1, 640) AS g" });
    expect(notified).toMatchObject({ rowCount: 1, rows: [[640]] });
    // One 64 MB value: cut off on the wire soon after 4 MB, the session closed, the pool's next session fine.
    const before = sockets.at(-1)!.bytesRead;
    const huge = await expectConnectorError(runQuery(client, { sql: "SELECT repeat('y', 64 * 1024 * 1024) AS doc" }), "config");
    expect(huge).toBeInstanceOf(RowTooLargeError);
    expect(huge.message).toBe("A row of the result is larger than 4 MB, which Latch does not return. Select fewer or shorter columns (substring(), a part of a document).");
    expect(sockets.at(-1)!.bytesRead - before).toBeLessThan(16 * 1024 * 1024);
    expect(client.pool.totalCount).toBe(0);
    expect((await runQuery(client, { sql: "SELECT length(repeat('y', 64 * 1024 * 1024))::int" })).rows).toEqual([[64 * 1024 * 1024]]);
  });

  it("never leaves a transaction open on a pooled session: the statement that opens one is refused and rolled back", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const table = `tx_${Date.now()}`;
    await runQuery(client, { sql: `CREATE TABLE ${table} (n int)` });
    for (const sql of ["BEGIN", "START TRANSACTION ISOLATION LEVEL SERIALIZABLE"]) {
      const refused = await expectConnectorError(runQuery(client, { sql }), "config");
      expect(refused).toBeInstanceOf(OperationInputError);
      expect(refused.message).toMatch(/left a transaction open.*rolled back/);
    }
    // The next statement, on the pool's only session, commits as it runs: another session sees the row.
    expect(await runQuery(client, { sql: `INSERT INTO ${table} VALUES (1)` })).toMatchObject({ rowCount: 1 });
    const other = await open();
    expect((await runQuery(other.client, { sql: `SELECT count(*)::int FROM ${table}` })).rows).toEqual([[1]]);
  });

  it("sets the statement limit again after a statement that may have changed it", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const limit = async () => (await runQuery(client, { sql: "SHOW statement_timeout" })).rows[0]![0];
    expect(await limit()).toBe("4s");
    for (const sql of [
      "SET statement_timeout = 0",
      "SELECT set_config('statement_timeout', '0', false)",
      "UPDATE pg_settings SET setting = '0' WHERE name = 'statement_timeout'",
      `SELECT U&"set\\005fconfig"('statement_timeout', '0', false)`,
      "DO $$ BEGIN PERFORM set_config('statement_timeout', '0', false); END $$",
    ]) {
      await runQuery(client, { sql });
      expect(await limit(), sql).toBe("4s");
    }
    // A call with less time left sets a shorter limit; the next one is back to the session's own.
    expect((await runQuery(client, { sql: "SHOW statement_timeout" }, 2500)).rows[0]![0]).toBe("2s");
    expect(await limit()).toBe("4s");
  });

  it("starts every invoke on a clean session: nothing one statement leaves behind reaches the next", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const other = await open();
    const one = async (sql: string) => (await runQuery(client, { sql })).rows[0]?.[0];
    const pid = await one("SELECT pg_backend_pid()");
    const zone = await one("SHOW TimeZone");
    await runQuery(client, { sql: "SET TimeZone = 'Asia/Tokyo'" });
    await runQuery(client, { sql: "SELECT set_config('app.tenant', 'acme', false)" });
    await runQuery(client, { sql: "SET default_transaction_read_only = on" });
    await runQuery(client, { sql: "SELECT pg_advisory_lock(4242)" });
    await runQuery(client, { sql: "CREATE TEMP TABLE left_behind (n int)" });
    await runQuery(client, { sql: "PREPARE left_behind_stmt AS SELECT 1" });
    await runQuery(client, { sql: "LISTEN left_behind_channel" });
    // Still the same session (the pool has one), but none of it is there any more.
    expect(await one("SELECT pg_backend_pid()")).toBe(pid);
    expect(await one("SHOW TimeZone")).toBe(zone);
    expect(await one("SELECT current_setting('app.tenant', true)")).toBeFalsy();
    expect(await one("SHOW default_transaction_read_only")).toBe("off");
    expect(await one("SELECT to_regclass('pg_temp.left_behind')::text")).toBeNull();
    expect(await one("SELECT count(*)::int FROM pg_prepared_statements")).toBe(0);
    expect(await one("SELECT count(*)::int FROM pg_listening_channels()")).toBe(0);
    // The advisory lock was released: another session can take it at once.
    expect((await runQuery(other.client, { sql: "SELECT pg_try_advisory_lock(4242)" })).rows).toEqual([[true]]);
    // A write works, so default_transaction_read_only really is off again.
    expect(await one("SELECT 1 FROM (SELECT txid_current()) t")).toBe(1);
  });

  it("is reported unhealthy once a server turned read-only no longer has its host name (a DNS failover), so the pool is replaced", async () => {
    const { client } = await open({ host: "localhost" });
    expect(client.address).toMatchObject({ hostname: "localhost" });
    // A demoted primary refuses writes; the name now points elsewhere (as a failover leaves it).
    let lookups = 0;
    client.address = new AddressWatch("localhost", client.address!.address, 0, async () => (lookups++, ["192.0.2.10"]));
    expect(postgresConnector.healthy!(client)).toBe(true);
    expect(lookups).toBe(0);
    await expect(runQuery(client, { sql: "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '25006', MESSAGE = 'cannot execute INSERT in a read-only transaction'; END $$" })).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(lookups).toBe(1);
    expect(postgresConnector.healthy!(client)).toBe(false);
  });

  it("a session whose reset goes unanswered is closed, and does not hold its pool's only slot", async () => {
    // A pipe to the target that swallows the first DISCARD ALL and everything its session sends after it.
    let swallowNext = true;
    const proxy = await startSwallowingProxy((chunk) => {
      if (!swallowNext || !chunk.includes("DISCARD ALL")) return false;
      swallowNext = false;
      return true;
    });
    const { client } = await open({ host: "127.0.0.1", port: proxy.port }, { max: 1, idleMs: 10_000 });
    try {
      // The answer comes back; then the session's DISCARD ALL never reaches the server.
      expect((await runQuery(client, { sql: "SELECT 1" })).rows).toEqual([[1]]);
      // The next invoke gets a new session once the reset has been given up on.
      const started = Date.now();
      expect((await runQuery(client, { sql: "SELECT 2" }, 12_000)).rows).toEqual([[2]]);
      expect(Date.now() - started).toBeLessThan(9000);
    } finally {
      await postgresConnector.close(client);
      await proxy.close();
    }
  }, 20_000);

  it("closing the pool cuts sessions the server never closes (a partition), so no socket is left holding the login", async () => {
    const proxy = await startPartitionProxy(target.port, target.host);
    const { client } = await open({ host: "127.0.0.1", port: proxy.port }, { max: 2, idleMs: 10_000 });
    try {
      await Promise.all([1, 2].map(() => runQuery(client, { sql: "SELECT pg_sleep(0.1)" })));
      await new Promise((resolve) => setTimeout(resolve, 300)); // the sessions' resets are done: both idle
      const sessions = [...(client.pool as unknown as { _clients: pg.Client[] })._clients];
      expect(sessions).toHaveLength(2);
      proxy.partition();
      const started = Date.now();
      await postgresConnector.close(client);
      expect(Date.now() - started).toBeLessThan(3500);
      for (const session of sessions) expect((session as unknown as { connection: { stream: net.Socket } }).connection.stream.destroyed).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it("keeps to the invoke's deadline when the server goes silent while the session's statement limit is being set", async () => {
    // A pipe that, once told to, swallows a SET statement_timeout and everything its session sends after it.
    let swallowSet = false;
    const proxy = await startSwallowingProxy((chunk) => swallowSet && chunk.includes("statement_timeout"));
    const { client } = await open({ host: "127.0.0.1", port: proxy.port }, { max: 1, idleMs: 10_000 });
    try {
      expect((await runQuery(client, { sql: "SELECT 1" }, 30_000)).rows).toEqual([[1]]);
      swallowSet = true;
      // A shorter deadline than the session's limit: the limit is set first, and the server never answers it.
      const started = Date.now();
      await expectConnectorError(runQuery(client, { sql: "SELECT 2" }, 1000), "timeout");
      expect(Date.now() - started).toBeLessThan(1000 + 2000 + 1500);
    } finally {
      await postgresConnector.close(client);
      await proxy.close();
    }
  }, 20_000);

  it("a session the server ends mid-statement fails that invoke only: no uncaught error, and the pool goes on", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", onUncaught);
    try {
      const tag = `latch-terminate-${Date.now()}`;
      const sleeping = runQuery(client, { sql: `SELECT pg_sleep(5) /* ${tag} */` }, 10_000);
      sleeping.catch(() => {}); // awaited below, once the session has been ended
      const admin = new pg.Client({ connectionString: target.adminUrl });
      await admin.connect();
      try {
        for (let i = 0; i < 50; i++) {
          const { rowCount } = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()`, [`%${tag}%`]);
          if (rowCount) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      } finally {
        await admin.end();
      }
      await expect(sleeping).rejects.toBeInstanceOf(ConnectorError);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(uncaught).toEqual([]);
      expect((await runQuery(client, { sql: "SELECT 3" })).rows).toEqual([[3]]);
    } finally {
      process.off("uncaughtException", onUncaught);
    }
  }, 20_000);

  it("does not take an error a statement raises with a login SQLSTATE for rejected credentials", async () => {
    const { client } = await open();
    for (const code of ["28P01", "28000"]) {
      const error = await expectConnectorError(runQuery(client, { sql: `DO $$ BEGIN RAISE EXCEPTION 'no' USING ERRCODE = '${code}'; END $$` }), "target_error");
      expect(error.message).toContain(`PostgreSQL ${code}`);
    }
    // The login's own rejection is still one.
    await expectConnectorError(postgresConnector.open(input({}, "wrong-password")), "credentials_rejected");
  });

  it("runs one statement per call and words statement errors by SQLSTATE only", async () => {
    const { client } = await open();
    const run = (sql: string, params: unknown[] = []) => runQuery(client, { sql, params, rowLimit: 10 });
    const syntax = await expectConnectorError(run("SELEC 'private-literal'"), "target_error", ["private-literal"]);
    expect(syntax.message).toContain("42601 syntax_error");
    // The SQLSTATE also on its own, for a program to branch on; errors Latch met itself carry none.
    expect(syntax.targetCode).toBe("42601");
    expect((await expectConnectorError(run("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'unique_violation'; END $$"), "target_error")).targetCode).toBe("23505");
    // Where it failed, by schema names only: the table, column and constraint, never the row's values.
    const nulled = await expectConnectorError(run("DO $$ BEGIN CREATE TEMP TABLE latch_nn (a int NOT NULL); INSERT INTO latch_nn VALUES (NULL); END $$"), "target_error");
    expect(nulled.message).toContain("23502 not_null_violation (table latch_nn, column a)");
    const checked = await expectConnectorError(
      run("DO $$ BEGIN CREATE TEMP TABLE latch_ck (a text CONSTRAINT a_short CHECK (length(a) < 3)); INSERT INTO latch_ck VALUES ('private-literal'); END $$"),
      "target_error",
      ["private-literal"],
    );
    expect(checked.message).toContain("23514 check_violation (table latch_ck, constraint a_short)");
    // A NUL in the text is the input's fault, named as such, and never sent (PostgreSQL would answer 08P01).
    const nul = await expectConnectorError(run("SELECT 'a\u0000b'"), "config");
    expect(nul).toBeInstanceOf(OperationInputError);
    expect((nul as OperationInputError).field).toBe("sql");
    const several = await expectConnectorError(run("SELECT 1; SELECT 2"), "target_error");
    expect(several.message).toMatch(/runs one statement per invoke, and this SQL has several/);
    // The session stays usable after a failed statement.
    expect((await run("SELECT $1::int + 1 AS n", [41])).rows).toEqual([[42]]);
  });

  it("refuses COPY to or from the caller as the caller's mistake: not a timeout, and no success with the data dropped", async () => {
    const { client } = await open({ database: "postgres" }); // where startAdmin creates the table
    const run = (sql: string) => runQuery(client, { sql, params: [], rowLimit: 10 });
    const admin = await startAdmin();
    try {
      await admin.query("CREATE TABLE IF NOT EXISTS copy_in (x int)");
      await admin.query(`GRANT ALL ON copy_in TO PUBLIC`);
    } finally {
      await admin.end();
    }
    const cases = [
      ["COPY (SELECT g FROM generate_series(1, 3) g) TO STDOUT", /^COPY … TO STDOUT .*the statement ran, but its rows are not returned/],
      ["COPY copy_in FROM STDIN", /^COPY … FROM STDIN .*nothing was copied in/],
    ] as const;
    for (const [sql, message] of cases) {
      const error = await run(sql).then(() => null, (e: unknown) => e);
      expect(error, `${sql}: ${(error as Error | null)?.message}`).toBeInstanceOf(OperationInputError);
      expect((error as OperationInputError).message, sql).toMatch(message);
    }
    expect((await run("SELECT count(*)::int FROM copy_in")).rows).toEqual([[0]]);
    // The session goes on.
    expect((await run("SELECT 1 AS n")).rows).toEqual([[1]]);
  });

  it("takes a privilege a statement lacks for the statement's fault (422), and a deadlock or serialization failure for one to run again", async () => {
    const admin = await startAdmin();
    try {
      await admin.query("CREATE TABLE IF NOT EXISTS admin_only (x int)");
      await admin.query("REVOKE ALL ON admin_only FROM PUBLIC");
    } finally {
      await admin.end();
    }
    const { client } = await open({ database: "postgres" });
    const refused = await expectConnectorError(runQuery(client, { sql: "SELECT * FROM admin_only" }), "target_error");
    expect(refused.message).toMatch(/lacks a privilege the statement needs .*42501 insufficient_privilege/);
    for (const code of ["40001", "40P01", "55P03"]) {
      const busy = await expectConnectorError(runQuery(client, { sql: `DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '${code}'; END $$` }), "busy");
      expect(busy.message).toMatch(new RegExp(`rolled the statement back \\(PostgreSQL ${code} \\w+\\).*Run it again`));
    }
  });

  it("runs concurrent statements on separate sessions of one pool, up to its size", async () => {
    const { client } = await open({}, { max: 4, idleMs: 10_000 });
    const pids = await Promise.all(Array.from({ length: 8 }, () => runQuery(client, { sql: "SELECT pg_backend_pid() AS pid, pg_sleep(0.2)" })));
    const distinct = new Set(pids.map((r) => r.rows[0]![0]));
    expect(distinct.size).toBeGreaterThan(1);
    expect(distinct.size).toBeLessThanOrEqual(4);
    expect(client.pool.totalCount).toBeLessThanOrEqual(4);
  });

  it("says the sessions were all in use, not that the target did not answer, when an invoke waited for one", async () => {
    const { client } = await open({}, { max: 2, idleMs: 10_000 });
    const holding = [1, 2].map(() => runQuery(client, { sql: "SELECT pg_sleep(1.5)" }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const error = await expectConnectorError(runQuery(client, { sql: "SELECT 1" }, 400), "timeout");
    expect(error.message).toMatch(/^All 2 of this connection's sessions to PostgreSQL at [^ ]+ stayed in use for 0\.4 s/);
    expect(error.message).toContain("LATCH_POOL_MAX_PER_CONNECTION");
    await Promise.all(holding);
    expect((await runQuery(client, { sql: "SELECT 42" })).rows).toEqual([[42]]);
  });

  it("a statement cancelled for want of time after a long wait for a session says it waited, not that it ran too long", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const holding = runQuery(client, { sql: "SELECT pg_sleep(1.5)" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const error = await expectConnectorError(runQuery(client, { sql: "SELECT pg_sleep(5)" }, 3500), "timeout");
    expect(error.message).toMatch(/57014 query_canceled\), when the invoke's time ran out: it had first waited 1\.\d s for a free session/);
    await holding;
    // Without a wait to speak of, the cancellation is the statement's own.
    const own = await expectConnectorError(runQuery(client, { sql: "SELECT pg_sleep(5)" }, 1500), "timeout");
    expect(own.message).toContain("usually because it ran longer than the time allowed");
  });

  it("says the target did not answer, not that the sessions were busy, when one it waited for was still connecting", async () => {
    const proxy = await startPartitionProxy(target.port, target.host);
    const { client } = await open({ host: "127.0.0.1", port: proxy.port }, { max: 2, idleMs: 10_000 });
    try {
      await runQuery(client, { sql: "SELECT 1" });
      await new Promise((resolve) => setTimeout(resolve, 300)); // its reset is done: one idle session
      proxy.partition();
      // One invoke takes the idle session, the other opens a second one: neither hears back.
      const stuck = [1, 2].map(() => runQuery(client, { sql: "SELECT 1" }, 1500).catch((error: unknown) => error));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const error = await expectConnectorError(runQuery(client, { sql: "SELECT 1" }, 400), "timeout");
      expect(error.message).toMatch(/did not answer within 0\.4 s/);
      await Promise.all(stuck);
    } finally {
      await proxy.close();
    }
  });

  it("a statement that times out costs only its own session: siblings finish and the pool stays usable", async () => {
    const { client } = await open({}, { max: 3, idleMs: 10_000 });
    const slow = runQuery(client, { sql: "SELECT pg_sleep(5)" }, 300);
    const siblings = Promise.all([1, 2].map((n) => runQuery(client, { sql: "SELECT $1::int AS n, pg_sleep(0.5)", params: [n] }, 5000)));
    await expectConnectorError(slow, "timeout");
    expect((await siblings).map((r) => r.rows[0]![0])).toEqual([1, 2]);
    expect((await runQuery(client, { sql: "SELECT 42" })).rows).toEqual([[42]]);
  });

  it("times a long statement out and still closes cleanly", async () => {
    const { client } = await open();
    await expectConnectorError(runQuery(client, { sql: "SELECT pg_sleep(5)" }, 300), "timeout");
    await expect(postgresConnector.close(client)).resolves.toBeUndefined();
    await expect(postgresConnector.close(client)).resolves.toBeUndefined();
  });

  describe("TLS", () => {
    it("says so when TLS is required but the server does not offer it", async () => {
      const error = await expectConnectorError(postgresConnector.open(input({ tlsMode: "verify-full" })), "tls");
      expect(error.message).toMatch(/does not accept TLS/);
    });

    it("connects with a verified certificate, by host name and by IP", async () => {
      await target.enableTls({ cert: pki.serverCert, key: pki.serverKey });
      for (const host of ["localhost", "127.0.0.1"]) {
        const { client, i } = await open({ host, tlsMode: "verify-full", caCertificate: pki.caCert });
        expect((await postgresConnector.check(client, i)).message).toContain("PostgreSQL");
        const ssl = await runQuery(client, { sql: "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" });
        expect(ssl.rows).toEqual([[true]]);
      }
    });

    it("refuses a certificate from an untrusted CA", async () => {
      await expectConnectorError(postgresConnector.open(input({ host: "localhost", tlsMode: "verify-full" })), "tls");
      await expectConnectorError(postgresConnector.open(input({ host: "localhost", tlsMode: "verify-full", caCertificate: pki.otherCaCert })), "tls");
    });

    it("checks the certificate against the host name entered, not the address dialled", async () => {
      // Valid for 127.0.0.1 (the address dialled) but not for localhost (the name entered).
      await target.enableTls(issueServerCert(pki, ["IP:127.0.0.1", "DNS:other.test"]));
      const error = await expectConnectorError(postgresConnector.open(input({ host: "localhost", tlsMode: "verify-full", caCertificate: pki.caCert })), "tls");
      expect(error.message).toMatch(/is for a different host name .*Use the address the certificate was issued for, or have the certificate reissued to include localhost\.$/);
      const { client } = await open({ host: "127.0.0.1", tlsMode: "verify-full", caCertificate: pki.caCert });
      expect(client).toBeDefined();
    });

    it("reports an unreadable CA certificate as a config problem", async () => {
      await expectConnectorError(
        postgresConnector.open(input({ tlsMode: "verify-full", caCertificate: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----" })),
        "config",
      );
    });
  });
});

async function startAdmin() {
  const { default: pgModule } = await import("pg");
  const c = new pgModule.Client({ connectionString: target.adminUrl });
  c.on("error", () => {});
  await c.connect();
  return c;
}

describe("postgres config schema", () => {
  it("fills defaults and trims", () => {
    expect(postgresConfigSchema.parse({ host: " db.example.com ", database: "payroll", user: "app" })).toEqual({
      host: "db.example.com",
      port: 5432,
      database: "payroll",
      user: "app",
      tlsMode: "verify-full",
    });
    expect(postgresConfigSchema.parse({ host: "[::1]", port: "6432", database: "d", user: "u", caCertificate: "" })).toMatchObject({ host: "::1", port: 6432 });
  });

  it("rejects URLs, ports in the host, and out-of-range ports", () => {
    expect(postgresConfigSchema.safeParse({ host: "postgres://db", database: "d", user: "u" }).success).toBe(false);
    expect(postgresConfigSchema.safeParse({ host: "db:5432", database: "d", user: "u" }).success).toBe(false);
    expect(postgresConfigSchema.safeParse({ host: "db", port: 70000, database: "d", user: "u" }).success).toBe(false);
    expect(postgresConfigSchema.safeParse({ host: "db", database: "d", user: "u", tlsMode: "prefer" }).success).toBe(false);
  });
});

describe("postgres classify", () => {
  const config = { host: "db.example.com", port: 5432, database: "payroll", user: "app" };
  const serverError = (code: string) => Object.assign(new Error(`server said something with s3cret-value (${code})`), { code, severity: "FATAL" });
  const cases: [unknown, ConnectorError["kind"]][] = [
    [serverError("28P01"), "credentials_rejected"],
    [serverError("28000"), "credentials_rejected"],
    [serverError("3D000"), "config"],
    [serverError("42501"), "permission"],
    [serverError("57014"), "timeout"],
    [serverError("42P01"), "target_error"],
    [Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:5432"), { code: "ECONNREFUSED" }), "unreachable"],
    [Object.assign(new Error("getaddrinfo ENOTFOUND db.example.com"), { code: "ENOTFOUND" }), "dns"],
    [Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" }), "timeout"],
    [Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" }), "tls"],
    [Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: "ERR_TLS_CERT_ALTNAME_INVALID" }), "tls"],
    [new Error("The server does not support SSL connections"), "tls"],
    [Object.assign(new Error("Latch never connects to metadata"), { code: "LATCH_EGRESS_DENIED" }), "egress_denied"],
  ];

  it.each(cases)("maps %o", (error, kind) => {
    const result = classifyPostgresError(error, config);
    expect(result?.kind).toBe(kind);
    expect(result?.message).not.toContain("s3cret-value");
  });

  it("leaves unknown errors alone and passes ConnectorErrors through", () => {
    expect(classifyPostgresError(new Error("something else"), config)).toBeNull();
    const ce = new ConnectorError("config", "x");
    expect(classifyPostgresError(ce, config)).toBe(ce);
    // A Node error code that happens to be five characters is not a SQLSTATE.
    expect(classifyPostgresError(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }), config)?.kind).toBe("unreachable");
  });

  it("uses the wording people expect for rejected credentials", () => {
    expect(classifyPostgresError(serverError("28P01"), config)?.message).toMatch(/^The target rejected the credentials \(PostgreSQL 28P01\)/);
  });

  it("names a user typed into the connection, and one from a credential asset by where it came from: only the user", () => {
    expect(classifyPostgresError(serverError("28P01"), config)?.message).toBe("The target rejected the credentials (PostgreSQL 28P01) for the user “app” at db.example.com:5432.");
    // The database is named like the user, as hosted PostgreSQL often has it: the setting is still shown.
    const fromAsset = { ...config, database: "svc_payroll", user: "svc_payroll", [USER_FROM_ASSET]: true };
    expect(classifyPostgresError(serverError("28P01"), fromAsset)?.message).toBe("The target rejected the credentials (PostgreSQL 28P01) for the user from its credential asset at db.example.com:5432.");
    expect(classifyPostgresError(serverError("42501"), fromAsset)?.message).toMatch(/^The user from its credential asset lacks a privilege/);
    expect(classifyPostgresError(serverError("3D000"), fromAsset)?.message).toBe("The database “svc_payroll” does not exist on db.example.com:5432.");
  });
});

import { AddressWatch } from "@/lib/net/address-watch";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { expectConnectorError } from "@/test/targets/expect";
import { createMariadbUser, type MariadbUser } from "@/test/targets/mariadb";
import type net from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort, startPartitionProxy, startSilentServer } from "@/test/targets/net";
import { ConnectorError, markRaisedByStatement, OperationInputError, type Connector } from "../types";
import { classifyMariadbError } from "./classify";
import { MAX_ANSWER_BYTES, RowTooLargeError, type QueryOutput } from "../sql-shared";
import { mariadbConfigSchema, mariadbConnector, type MariadbPool } from "./index";

let target: MariadbUser;
const clients: MariadbPool[] = [];

beforeAll(async () => {
  target = await createMariadbUser();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => mariadbConnector.close(c)));
});

afterAll(async () => {
  await target?.cleanup();
});

function input(overrides: Record<string, unknown> = {}, password = target.password, timeoutMs = 5000) {
  const config = mariadbConfigSchema.parse({ host: target.host, port: target.port, database: target.database, user: target.user, tls: false, ...overrides });
  return { config, secrets: { password }, timeoutMs };
}

async function open(overrides: Record<string, unknown> = {}, pool?: { max: number; idleMs: number }) {
  const i = { ...input(overrides), pool };
  const client = await mariadbConnector.open(i);
  clients.push(client);
  return { client, i };
}

function runQuery(client: MariadbPool, input: { sql: string; params?: unknown[]; rowLimit?: number }, timeoutMs = 5000): Promise<QueryOutput> {
  const op = mariadbConnector.operations.query!;
  // Every result in these tests also matches the shape GET /connectors and the OpenAPI document promise.
  return op.run(client, op.input.parse(input), { timeoutMs }).then((result) => op.output.parse(result)) as Promise<QueryOutput>;
}

describe("mariadb connector against the machine's MariaDB", () => {
  it("is reported unhealthy once a server turned read-only no longer has its host name (a DNS failover), so the pool is replaced", async () => {
    const { client } = await open({ host: "localhost" });
    expect(client.address).toMatchObject({ hostname: "localhost" });
    // A demoted primary refuses writes; the name now points elsewhere (as a failover leaves it).
    let lookups = 0;
    client.address = new AddressWatch("localhost", client.address!.address, 0, async () => (lookups++, ["192.0.2.10"]));
    expect(mariadbConnector.healthy!(client)).toBe(true);
    expect(lookups).toBe(0);
    await expect(runQuery(client, { sql: "SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1290, MESSAGE_TEXT = 'The MariaDB server is running with the --read-only option'" })).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(lookups).toBe(1);
    expect(mariadbConnector.healthy!(client)).toBe(false);
  });

  it("is assignable to the registry's Connector type", () => {
    const c: Connector = mariadbConnector;
    expect(c.kind).toBe("mariadb");
  });

  it("connects and says what it reached", async () => {
    const { client, i } = await open();
    expect((await mariadbConnector.check(client, i)).message).toMatch(new RegExp(`^(MariaDB|MySQL) \\d+\\.\\d+\\.\\d+ · database ${target.database}$`));
    const noDb = await open({ database: "" });
    expect((await mariadbConnector.check(noDb.client, noDb.i)).message).toMatch(/ · no default database$/);
  });

  it("reports a wrong password as credentials_rejected, without the password", async () => {
    const wrong = "definitely-Wrong-pw-123";
    const error = await expectConnectorError(mariadbConnector.open(input({}, wrong)), "credentials_rejected", [wrong, target.password]);
    expect(error.message).toContain("1045");
  });

  it("reports a database the user may not use as permission", async () => {
    await expectConnectorError(mariadbConnector.open(input({ database: "mysql" })), "permission", [target.password]);
  });

  it("reports nothing listening as unreachable", async () => {
    const port = await freePort();
    const error = await expectConnectorError(mariadbConnector.open(input({ port })), "unreachable", [target.password]);
    expect(error.message).toContain(`127.0.0.1:${port}`);
  });

  it("honours timeoutMs when the server never answers", async () => {
    const silent = await startSilentServer();
    try {
      const started = Date.now();
      await expectConnectorError(mariadbConnector.open(input({ port: silent.port }, target.password, 400)), "timeout");
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await silent.close();
    }
  });

  it("refuses cloud metadata addresses under the egress policy", async () => {
    await expectConnectorError(mariadbConnector.open(input({ host: "169.254.169.254" })), "egress_denied");
  });

  it("says so when TLS is required but the server does not offer it", async () => {
    // The machine's MariaDB runs without TLS (have_ssl DISABLED).
    const error = await expectConnectorError(mariadbConnector.open(input({ tls: true })), "tls", [target.password]);
    expect(error.message).toMatch(/does not offer TLS/);
  });

  it("runs parameterised statements and limits the rows", async () => {
    const { client } = await open();
    const run = (sql: string, params: unknown[] = [], rowLimit?: number) => runQuery(client, { sql, params, rowLimit });
    await run("CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, born DATE, visits BIGINT)");
    const inserted = await run("INSERT INTO people VALUES (?, ?, ?, ?), (?, ?, ?, ?)", [1, "Ada", "1815-12-10", 9007199254740993n.toString(), 2, "Grace", "1906-12-09", 3]);
    expect(inserted).toEqual({ columns: [], rows: [], rowCount: 2, truncated: false });

    const selected = await run("SELECT id, name, born, visits FROM people WHERE name = ?", ["Ada"]);
    expect(selected).toEqual({ columns: ["id", "name", "born", "visits"], rows: [[1, "Ada", "1815-12-10", "9007199254740993"]], rowCount: 1, truncated: false });

    const many = await run("SELECT CAST(seq AS SIGNED) AS n FROM seq_1_to_50", [], 10);
    expect(many).toMatchObject({ rowCount: 50, truncated: true });
    // BIGINT comes back as text, so values past 2^53 stay exact.
    expect(many.rows).toEqual(Array.from({ length: 10 }, (_, k) => [String(k + 1)]));
  });

  it("answers with at most 4 MB of rows, and refuses one row over 4 MB by cutting its session off mid-row", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const sockets: { bytesRead: number }[] = [];
    client.pool.on("acquire", (session) => sockets.push((session as unknown as { stream: { bytesRead: number } }).stream));
    const wide = await runQuery(client, { sql: "SELECT CAST(seq AS SIGNED), REPEAT('x', 10000) FROM seq_1_to_1000", rowLimit: 1000 });
    expect(wide).toMatchObject({ rowCount: 1000, truncated: true });
    expect(wide.rows.length).toBeGreaterThan(300);
    expect(wide.rows.length).toBeLessThan(MAX_ANSWER_BYTES / 10_000);
    expect(wide.rows.at(-1)![0]).toBe(String(wide.rows.length));
    const before = sockets.at(-1)!.bytesRead;
    const huge = await expectConnectorError(runQuery(client, { sql: "SELECT REPEAT('y', 12 * 1024 * 1024) AS doc" }), "config");
    expect(sockets.at(-1)!.bytesRead - before).toBeLessThan(8 * 1024 * 1024);
    expect(huge).toBeInstanceOf(RowTooLargeError);
    expect(huge.message).toMatch(/^A row of the result is larger than 4 MB/);
    // Cut off mid-row rather than read whole: the session is gone from the pool (mysql2 keeps no public count).
    expect((client.pool as unknown as { _allConnections: { length: number } })._allConnections.length).toBe(0);
    // The next statement gets a new session.
    expect((await runQuery(client, { sql: "SELECT LENGTH(REPEAT('y', 12 * 1024 * 1024)) AS n" })).rows).toEqual([[12 * 1024 * 1024]]);
  });

  it("never leaves a transaction open on a pooled session: the statement that opens one is refused and rolled back", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const table = `tx_${Date.now()}`;
    await runQuery(client, { sql: `CREATE TABLE ${table} (n INT)` });
    for (const sql of ["START TRANSACTION", "SET autocommit = 0"]) {
      const refused = await expectConnectorError(runQuery(client, { sql }), "config");
      expect(refused).toBeInstanceOf(OperationInputError);
      expect(refused.message).toMatch(/left a transaction open.*rolled back/);
    }
    expect(await runQuery(client, { sql: `INSERT INTO ${table} VALUES (1)` })).toMatchObject({ rowCount: 1 });
    const other = await open();
    expect((await runQuery(other.client, { sql: `SELECT COUNT(*) FROM ${table}` })).rows).toEqual([["1"]]);
  });

  it("refuses LOAD DATA LOCAL INFILE with a 422 of its own, sends no file, and keeps the session usable", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const table = `infile_${Date.now()}`;
    await runQuery(client, { sql: `CREATE TABLE ${table} (n INT, s TEXT)` });
    const dir = mkdtempSync(path.join(tmpdir(), "latch-infile-"));
    const file = path.join(dir, "rows.tsv");
    writeFileSync(file, "50\tfrom the Latch host\n");
    try {
      const refused = await expectConnectorError(runQuery(client, { sql: `LOAD DATA LOCAL INFILE '${file}' INTO TABLE ${table}` }), "config");
      expect(refused).toBeInstanceOf(OperationInputError);
      expect(refused.message).toMatch(/LOAD DATA LOCAL INFILE .*nothing was loaded/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The one pooled session answers the next statement with its own result, and nothing was loaded.
    expect((await runQuery(client, { sql: `SELECT COUNT(*) FROM ${table}` })).rows).toEqual([["0"]]);
  });

  it("keeps 20-digit JSON numbers whole, and says so when a CALL's procedure returned more than the one result set it answers with", async () => {
    const { client } = await open();
    const table = `docs_${Date.now()}`;
    await runQuery(client, { sql: `CREATE TABLE ${table} (doc JSON, note TEXT)` });
    await runQuery(client, { sql: `INSERT INTO ${table} VALUES (?, ?)`, params: ['{"id": 12345678901234567890, "n": 1.5, "s": "x"}', '{"id": 12345678901234567890}'] });
    // The JSON column parsed, exactly; a TEXT column that happens to hold JSON stays text.
    expect((await runQuery(client, { sql: `SELECT doc, note FROM ${table}` })).rows).toEqual([[{ id: "12345678901234567890", n: 1.5, s: "x" }, '{"id": 12345678901234567890}']]);
    const procedure = `two_results_${Date.now()}`;
    await runQuery(client, { sql: `CREATE PROCEDURE ${procedure}() BEGIN SELECT 1 AS a; SELECT 2 AS b, 3 AS c; END` });
    expect(await runQuery(client, { sql: `CALL ${procedure}()` })).toEqual({ columns: ["a"], rows: [[1]], rowCount: 1, truncated: true });
    await runQuery(client, { sql: `DROP PROCEDURE ${procedure}` });
    await runQuery(client, { sql: `DROP TABLE ${table}` });
  });

  it("sets the statement limit again after a SET or a procedure that may have changed it", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const limit = async () => Number((await runQuery(client, { sql: "SELECT @@max_statement_time" })).rows[0]![0]);
    expect(await limit()).toBe(4);
    await runQuery(client, { sql: "/* tuning */ SET SESSION max_statement_time = 0" });
    expect(await limit()).toBe(4);
    const procedure = `no_limit_${Date.now()}`;
    await runQuery(client, { sql: `CREATE PROCEDURE ${procedure}() SET SESSION max_statement_time = 0` });
    await runQuery(client, { sql: `CALL ${procedure}()` });
    expect(await limit()).toBe(4);
    // An executable comment is run, not skipped.
    await runQuery(client, { sql: "/*!SET SESSION max_statement_time = (*/ SELECT 0)" });
    expect(await limit()).toBe(4);
    await runQuery(client, { sql: `DROP PROCEDURE ${procedure}` });
  });

  it("starts every invoke on a clean session: nothing one statement leaves behind reaches the next", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const other = await open();
    const one = async (sql: string, c = client) => (await runQuery(c, { sql })).rows[0]?.[0];
    const id = await one("SELECT CONNECTION_ID()");
    const mode = await one("SELECT @@SESSION.sql_mode");
    const table = `locked_${Date.now()}`;
    await runQuery(client, { sql: `CREATE TABLE ${table} (n INT)` });
    await runQuery(client, { sql: "SET @left_behind = 'secret-ish'" });
    await runQuery(client, { sql: "SET SESSION sql_mode = 'ANSI_QUOTES'" });
    await runQuery(client, { sql: "SELECT GET_LOCK('left_behind', 0)" });
    await runQuery(client, { sql: "CREATE TEMPORARY TABLE left_behind (n INT)" });
    await runQuery(client, { sql: `LOCK TABLES ${table} WRITE` });
    // Still the same session (the pool has one), but none of it is there any more.
    expect(await one("SELECT CONNECTION_ID()")).toBe(id);
    expect(await one("SELECT @left_behind")).toBeNull();
    expect(await one("SELECT @@SESSION.sql_mode")).toBe(mode);
    expect(await one("SELECT IS_USED_LOCK('left_behind')")).toBeNull();
    await expectConnectorError(runQuery(client, { sql: "SELECT * FROM left_behind" }), "target_error");
    // The table lock is gone: another session writes to the table at once.
    expect(await runQuery(other.client, { sql: `INSERT INTO ${table} VALUES (1)` })).toMatchObject({ rowCount: 1 });
    // Each invoke prepares its statement; none is left open on the server afterwards (the server's
    // limit, max_prepared_stmt_count, is shared by every client of it). Other tests may hold a few.
    const prepared = async () => Number(((await target.admin("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'")) as { Value: string }[])[0]!.Value);
    const before = await prepared();
    for (let n = 0; n < 40; n++) await runQuery(client, { sql: `SELECT ${n}` });
    expect(await prepared()).toBeLessThan(before + 20);
    expect(Number(await one("SELECT @@max_statement_time"))).toBe(4);
    await runQuery(client, { sql: `DROP TABLE ${table}` });
  });

  it("does not keep a session whose role a statement changed, also inside a procedure", async () => {
    const role = `latch_t_role_${Date.now()}`;
    await target.admin(`CREATE ROLE ${role}`);
    try {
      for (const host of ["%", "127.0.0.1"]) await target.admin(`GRANT ${role} TO ?@?`, [target.user, host]);
      const { client } = await open({}, { max: 1, idleMs: 10_000 });
      const one = async (sql: string) => (await runQuery(client, { sql })).rows[0]?.[0];
      const procedure = `take_role_${Date.now()}`;
      await runQuery(client, { sql: `CREATE PROCEDURE ${procedure}() SET ROLE ${role}` });
      for (const sql of [`SET ROLE ${role}`, `CALL ${procedure}()`]) {
        const id = await one("SELECT CONNECTION_ID()");
        await runQuery(client, { sql });
        expect(await one("SELECT CURRENT_ROLE()"), sql).toBeNull();
        expect(await one("SELECT CONNECTION_ID()"), sql).not.toBe(id);
      }
      await runQuery(client, { sql: `DROP PROCEDURE ${procedure}` });
    } finally {
      await target.admin(`DROP ROLE ${role}`);
    }
  });

  it("does not keep a session whose default database a statement changed", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const one = async (sql: string) => (await runQuery(client, { sql })).rows[0]?.[0];
    const id = await one("SELECT CONNECTION_ID()");
    await runQuery(client, { sql: "USE information_schema" });
    expect(await one("SELECT DATABASE()")).toBe(target.database);
    expect(await one("SELECT CONNECTION_ID()")).not.toBe(id);
  });

  it("takes \"access denied\" from a statement for a missing privilege, not for rejected credentials", async () => {
    const { client } = await open();
    // The statement was refused (a 422), never a rotation.
    await expectConnectorError(runQuery(client, { sql: "GRANT ALL ON *.* TO CURRENT_USER" }), "target_error");
    await expectConnectorError(runQuery(client, { sql: "SIGNAL SQLSTATE '28000' SET MYSQL_ERRNO = 1045" }), "target_error");
    // Nor "password expired" raised by a statement: refetching and running the statement again would be wrong.
    for (const errno of [1820, 1862]) {
      await expectConnectorError(runQuery(client, { sql: `SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = ${errno}` }), "target_error");
    }
  });

  it("runs one statement per call and words errors by code only", async () => {
    const { client } = await open();
    const syntax = await expectConnectorError(runQuery(client, { sql: "SELEC 'private-literal'" }), "target_error", ["private-literal"]);
    expect(syntax.message).toContain("ER_PARSE_ERROR 1064");
    expect(syntax.targetCode).toBe("1064");
    await expectConnectorError(runQuery(client, { sql: "SELECT 1; SELECT 2" }), "target_error");
    expect((await runQuery(client, { sql: "SELECT ? + 1 AS n", params: [41] })).rows).toEqual([[42]]);
  });

  it("takes a privilege a statement lacks for the statement's fault (422), and a deadlock for one to run again", async () => {
    const { client } = await open();
    const refused = await expectConnectorError(runQuery(client, { sql: "SELECT * FROM mysql.user" }), "target_error");
    expect(refused.message).toMatch(/lacks a privilege the statement needs/);
    for (const errno of [1205, 1213]) {
      const busy = await expectConnectorError(runQuery(client, { sql: `SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = ${errno}` }), "busy");
      expect(busy.message).toMatch(/rolled the statement back .*Run it again/);
    }
  });

  it("runs concurrent statements on separate sessions of one pool, up to its size", async () => {
    const { client } = await open({}, { max: 4, idleMs: 10_000 });
    const ids = await Promise.all(Array.from({ length: 8 }, () => runQuery(client, { sql: "SELECT CONNECTION_ID() AS id, SLEEP(0.2) AS s" })));
    const distinct = new Set(ids.map((r) => String(r.rows[0]![0])));
    expect(distinct.size).toBeGreaterThan(1);
    expect(distinct.size).toBeLessThanOrEqual(4);
  });

  it("says the sessions were all in use, not that the target did not answer, when an invoke waited for one", async () => {
    const { client } = await open({}, { max: 2, idleMs: 10_000 });
    const holding = [1, 2].map(() => runQuery(client, { sql: "SELECT SLEEP(1.5) AS s" }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const error = await expectConnectorError(runQuery(client, { sql: "SELECT 1" }, 400), "timeout");
    expect(error.message).toMatch(/^All 2 of this connection's sessions to MariaDB\/MySQL at [^ ]+ stayed in use for 0\.4 s/);
    expect(error.message).toContain("LATCH_POOL_MAX_PER_CONNECTION");
    await Promise.all(holding);
    expect((await runQuery(client, { sql: "SELECT 42 AS n" })).rows).toEqual([[42]]);
  });

  it("closing the pool cuts sessions the server never closes (a partition), so no socket is left holding the login", async () => {
    const proxy = await startPartitionProxy(target.port, target.host);
    const { client } = await open({ host: "127.0.0.1", port: proxy.port }, { max: 2, idleMs: 10_000 });
    try {
      await Promise.all([1, 2].map(() => runQuery(client, { sql: "SELECT SLEEP(0.1) AS s" })));
      await new Promise((resolve) => setTimeout(resolve, 300)); // the sessions' resets are done: both idle
      const all = (client.pool as unknown as { _allConnections: { length: number; get(i: number): { stream: net.Socket } } })._allConnections;
      const sessions = Array.from({ length: all.length }, (_, i) => all.get(i));
      expect(sessions).toHaveLength(2);
      proxy.partition();
      const started = Date.now();
      await mariadbConnector.close(client);
      expect(Date.now() - started).toBeLessThan(3500);
      for (const session of sessions) expect(session.stream.destroyed).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it("says the target did not answer, not that the sessions were busy, when one it waited for was still connecting", async () => {
    const proxy = await startPartitionProxy(target.port, target.host);
    const { client } = await open({ host: "127.0.0.1", port: proxy.port }, { max: 2, idleMs: 10_000 });
    try {
      await runQuery(client, { sql: "SELECT 1 AS n" });
      await new Promise((resolve) => setTimeout(resolve, 300)); // its reset is done: one idle session
      proxy.partition();
      // One invoke takes the idle session, the other opens a second one: neither hears back.
      const stuck = [1, 2].map(() => runQuery(client, { sql: "SELECT 1 AS n" }, 1500).catch((error: unknown) => error));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const error = await expectConnectorError(runQuery(client, { sql: "SELECT 1 AS n" }, 400), "timeout");
      expect(error.message).toMatch(/did not answer within 0\.4 s/);
      await Promise.all(stuck);
    } finally {
      await proxy.close();
    }
  });

  it("a statement that times out costs only its own session: siblings finish and the pool stays usable", async () => {
    const { client } = await open({}, { max: 3, idleMs: 10_000 });
    const slow = runQuery(client, { sql: "SELECT SLEEP(5)" }, 300);
    const siblings = Promise.all([1, 2].map((n) => runQuery(client, { sql: "SELECT ? AS n, SLEEP(0.5) AS s", params: [n] }, 5000)));
    await expectConnectorError(slow, "timeout");
    expect((await siblings).map((r) => Number(r.rows[0]![0]))).toEqual([1, 2]);
    expect((await runQuery(client, { sql: "SELECT 42" })).rows).toEqual([[42]]);
  });

  it("a statement the client gave up on does not keep running on the server, even one that lifted its own limit", async () => {
    const { client } = await open({}, { max: 1, idleMs: 10_000 });
    const tag = `latch_kill_${Date.now()}`;
    // SET STATEMENT … FOR lifts the session's max_statement_time for this one statement. (Not SLEEP,
    // which notices a closed client by itself: BENCHMARK, like most work, does not.)
    const running = async () => ((await target.admin("SELECT id FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND COMMAND <> 'Sleep' AND ID <> CONNECTION_ID()", [`%AS ${tag}%`])) as unknown[]).length;
    const query = runQuery(client, { sql: `SET STATEMENT max_statement_time=0 FOR SELECT BENCHMARK(1000000000, MD5('x')) AS ${tag}` }, 2000);
    // The control: the statement is seen running (so the check below can see one that keeps running).
    await vi.waitFor(async () => expect(await running()).toBe(1), { timeout: 1500, interval: 50 });
    await expectConnectorError(query, "timeout");
    const deadline = Date.now() + 3000;
    while ((await running()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await running()).toBe(0);
    // The pool's only slot is free again.
    expect((await runQuery(client, { sql: "SELECT 42" })).rows).toEqual([[42]]);
  }, 20_000);

  it("times a long statement out and still closes cleanly", async () => {
    const { client } = await open();
    await expectConnectorError(runQuery(client, { sql: "SELECT SLEEP(5)" }, 300), "timeout");
    await expect(mariadbConnector.close(client)).resolves.toBeUndefined();
    await expect(mariadbConnector.close(client)).resolves.toBeUndefined();
  });
});

describe("mariadb config schema", () => {
  it("fills defaults, and reads booleans posted as text", () => {
    expect(mariadbConfigSchema.parse({ host: "db.example.com", user: "app" })).toEqual({ host: "db.example.com", port: 3306, user: "app", tls: true });
    expect(mariadbConfigSchema.parse({ host: "db", user: "app", tls: "false", database: "" })).toEqual({ host: "db", port: 3306, user: "app", tls: false });
  });

  it("rejects URLs and out-of-range ports", () => {
    expect(mariadbConfigSchema.safeParse({ host: "mysql://db", user: "u" }).success).toBe(false);
    expect(mariadbConfigSchema.safeParse({ host: "db", port: 0, user: "u" }).success).toBe(false);
  });
});

describe("mariadb classify", () => {
  const config = { host: "db.example.com", port: 3306, database: "shop", user: "app" };
  const serverError = (code: string, errno: number) => Object.assign(new Error(`Access denied for user 'app' using s3cret-value`), { code, errno, sqlState: "28000" });
  const cases: [unknown, ConnectorError["kind"]][] = [
    [serverError("ER_ACCESS_DENIED_ERROR", 1045), "credentials_rejected"],
    [serverError("ER_DBACCESS_DENIED_ERROR", 1044), "permission"],
    [serverError("ER_TABLEACCESS_DENIED_ERROR", 1142), "permission"],
    [serverError("ER_BAD_DB_ERROR", 1049), "config"],
    [serverError("ER_PARSE_ERROR", 1064), "target_error"],
    [Object.assign(new Error("Query execution was interrupted (max_statement_time exceeded)"), { errno: 1969, sqlState: "70100" }), "timeout"],
    [Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED", errno: -111 }), "unreachable"],
    [Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND", errno: -3008 }), "dns"],
    [Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" }), "timeout"],
    [Object.assign(new Error("Server does not support secure connection"), { code: "HANDSHAKE_NO_SSL_SUPPORT" }), "tls"],
    [Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" }), "tls"],
    [Object.assign(new Error("denied"), { code: "LATCH_EGRESS_DENIED" }), "egress_denied"],
  ];

  it.each(cases)("maps %o", (error, kind) => {
    const result = classifyMariadbError(error, config);
    expect(result?.kind).toBe(kind);
    expect(result?.message).not.toContain("s3cret-value");
  });

  it("leaves unknown errors alone", () => {
    expect(classifyMariadbError(new Error("something else"), config)).toBeNull();
  });

  it("names the connection's database only for a refusal at login; a statement's USE other_db is another database", () => {
    expect(classifyMariadbError(serverError("ER_DBACCESS_DENIED_ERROR", 1044), config)?.message).toContain("may not use the database “shop”");
    expect(classifyMariadbError(serverError("ER_BAD_DB_ERROR", 1049), config)?.message).toContain("The database “shop” does not exist");
    for (const [error, kind] of [[serverError("ER_DBACCESS_DENIED_ERROR", 1044), "target_error"], [serverError("ER_BAD_DB_ERROR", 1049), "target_error"]] as const) {
      markRaisedByStatement(error);
      const result = classifyMariadbError(error, config);
      expect(result?.kind).toBe(kind);
      expect(result?.message).toMatch(/a database the statement names/i);
      expect(result?.message).not.toContain("shop");
    }
  });
});

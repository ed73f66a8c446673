import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { promisify } from "node:util";
import type { Folder } from "@prisma/client";
import { NextRequest } from "next/server";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ActionResult } from "@/lib/actions/action";
import { errorBodySchema } from "@/lib/api/openapi";
import { createAssetAction } from "@/lib/assets/actions";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { metrics } from "@/lib/metrics";
import { createStoreAction } from "@/lib/stores/actions";
import { startHashicorpEmulator, type HashicorpEmulator } from "@/test/emulators/hashicorp";
import { createTestPki } from "@/test/emulators/tls";
import { editorOfTwoFolders, grant, latchStore, makeUser, signInAs, whileRefusingInserts } from "@/test/fixtures";
import { createMariadbUser, type MariadbUser } from "@/test/targets/mariadb";
import { startPasswordPostgres, type PasswordPostgres } from "@/test/targets/postgres";
import { createRedisUser, type RedisUser } from "@/test/targets/redis";
import { startHttpTarget, type HttpTarget } from "@/test/targets/http-target";
import { startOidcServer, type OidcServer } from "@/test/targets/oidc";
import { createRabbitUser, type RabbitUser } from "@/test/targets/rabbitmq";
import * as invokeRoute from "@/app/api/v1/connections/[connectionId]/invoke/route";
import * as refreshRoute from "@/app/api/v1/connections/[connectionId]/refresh/route";
import * as assetRefreshRoute from "@/app/api/v1/assets/[assetId]/refresh/route";
import * as testRoute from "@/app/api/v1/connections/[connectionId]/test/route";
import { bearer, personalToken, request, routeContext } from "@/test/tokens";
import { saveConnectionAction } from "./actions";
import { drainAll, openPools } from "./runtime";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * Run time through the REST routes against real targets: pooled invokes, rotation recovered with
 * exactly one extra vault read and one retry, no loop on a second rejection, and refresh.
 */
let editor: Actor;
let connFolder: Folder, secretsFolder: Folder;
let vault: HashicorpEmulator, postgres: PasswordPostgres, mariadb: MariadbUser, redis: RedisUser, httpTarget: HttpTarget;
let storeId: string;

function ok<T>(result: ActionResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.data;
}

async function call(route: { POST: (req: NextRequest, ctx: { params: Promise<Record<string, string>> }) => Promise<Response> }, connectionId: string, body?: unknown, headers: Record<string, string> = {}, query = "") {
  const req = new NextRequest(`http://latch.test/api/v1/connections/${connectionId}/x${query}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const res = await route.POST(req, { params: Promise.resolve({ connectionId }) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** A counter's value for these labels, as /api/metrics would report it. */
async function counted(counter: "invokes" | "rotations", labels: Record<string, string>): Promise<number> {
  const { values } = await metrics()[counter].get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k as keyof typeof v.labels] === want)).reduce((sum, v) => sum + v.value, 0);
}

const invoke = (connectionId: string, operation: string, input: Record<string, unknown>) => call(invokeRoute, connectionId, { operation, input });


/** An asset in the Vault emulator and a connection using it (username and password from the asset). */
async function connect(kind: string, path: string, username: string, password: string, config: Record<string, unknown>) {
  vault.seedSecret({ path, data: { username, password } });
  const asset = ok(await createAssetAction({ folderId: secretsFolder.id, type: "CREDENTIAL", name: `${kind} ${randomUUID().slice(0, 6)}`, storeId, secretName: path, usernameKey: "username", valueKey: "password" }));
  const field = "password";
  const outcome = ok(await saveConnectionAction({ connectionId: null, folderId: connFolder.id, name: `${kind} ${randomUUID().slice(0, 6)}`, kind, config, secrets: { [field]: { mode: "asset", assetId: asset.id } }, usernameFromAsset: [field] }));
  if (!outcome.ok || !outcome.connectionId) throw new Error(JSON.stringify(outcome));
  return { connectionId: outcome.connectionId, assetId: asset.id };
}

/** A Secret asset (one value) in the Vault emulator behind `field` of a new connection. */
async function connectSecret(kind: string, path: string, field: string, value: string, config: Record<string, unknown>) {
  vault.seedSecret({ path, data: { value } });
  const asset = ok(await createAssetAction({ folderId: secretsFolder.id, type: "SECRET", name: `${kind} ${randomUUID().slice(0, 6)}`, storeId, secretName: path, valueKey: "value" }));
  const outcome = ok(await saveConnectionAction({ connectionId: null, folderId: connFolder.id, name: `${kind} ${randomUUID().slice(0, 6)}`, kind, config, secrets: { [field]: { mode: "asset", assetId: asset.id } }, usernameFromAsset: [] }));
  if (!outcome.ok || !outcome.connectionId) throw new Error(JSON.stringify(outcome));
  return { connectionId: outcome.connectionId, assetId: asset.id };
}

const reads = (path: string) => vault.count(`/data/${path}`, "GET");

beforeAll(async () => {
  ({ editor, connFolder, secretsFolder } = await editorOfTwoFolders());
  await latchStore();
  const pki = createTestPki();
  [vault, postgres, mariadb, redis, httpTarget] = await Promise.all([startHashicorpEmulator({ pki }), startPasswordPostgres(), createMariadbUser(), createRedisUser(), startHttpTarget({ pki })]);
  const admin = await makeUser({ isAdmin: true });
  signInAs(admin);
  storeId = ok(
    await createStoreAction({ name: `Vault ${randomUUID().slice(0, 6)}`, kind: "hashicorp", mode: "READ_ONLY", folderId: null, config: { address: vault.url, kvVersion: "2" }, secrets: { token: vault.createToken({ ttlSeconds: 3600 }) }, caBundle: pki.caCert, timeoutMs: 5000 }),
  ).id;
  signInAs(editor);
}, 180_000);

afterAll(async () => {
  await drainAll();
  await Promise.allSettled([vault?.close(), postgres?.stop(), mariadb?.cleanup(), redis?.cleanup(), httpTarget?.close()]);
});

describe("invoke", () => {
  const pid = (r: Record<string, unknown>) => Number((r.result as { rows: unknown[][] }).rows.at(-1)?.at(-1));
  /** Until the target says the session has run its reset and waits, and a moment for the client to hand it back. */
  async function untilReset(backend: number) {
    const admin = new pg.Client({ connectionString: postgres.adminUrl });
    await admin.connect();
    try {
      for (let i = 0; i < 200; i++) {
        const { rows } = await admin.query<{ state: string; query: string }>("SELECT state, query FROM pg_stat_activity WHERE pid = $1", [backend]);
        if (rows[0]?.state === "idle" && rows[0].query === "DISCARD ALL") break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    } finally {
      await admin.end();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  it("runs a parameterised query through a pooled client, without another vault read or login", async () => {
    const path = `rt/pg-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    const first = await invoke(connectionId, "query", { sql: "SELECT $1::int + 1 AS answer, pg_backend_pid() AS pid", params: [41] });
    expect(first.status).toBe(200);
    expect(JSON.stringify(first.body)).toContain("42");
    expect(JSON.stringify(first.body)).not.toContain(postgres.password);
    const before = reads(path);
    // The session goes back to the pool once its reset (DISCARD ALL) is through, just after the answer:
    // an invoke sent at that instant would open a second session, which is pooling too, not a login per invoke.
    await untilReset(pid(first.body));
    const second = await invoke(connectionId, "query", { sql: "SELECT pg_backend_pid() AS pid", params: [] });
    expect(reads(path)).toBe(before);
    // The same backend process answered both: the pooled client did not log in again.
    expect(pid(second.body)).toBe(pid(first.body));
  });

  it("input only the connection can refuse is a 422 naming the field, never a 409", async () => {
    const redisConn = await connect("redis", `rt/redis-${randomUUID().slice(0, 6)}`, redis.username, redis.password, { host: redis.host, port: redis.port, db: 0, tls: false });
    const flush = await invoke(redisConn.connectionId, "command", { command: "flushall", args: [] });
    expect(flush.status).toBe(422);
    expect(flush.body.error).toMatchObject({ code: "VALIDATION", fieldErrors: { "input.command": [expect.stringContaining("FLUSHALL is not allowed")] } });
    // Latch refused it, not the target: no reason, so a runner does not mistake it for the target's answer.
    expect(flush.body.error).not.toHaveProperty("reason");
    expect(flush.body.error).not.toHaveProperty("targetCode");
    const typo = await invoke(redisConn.connectionId, "command", { command: "GET", arg: ["k"] });
    expect(typo).toMatchObject({ status: 422, body: { error: { code: "VALIDATION", fieldErrors: { "input.arg": ["“arg” is not a field of command's input; check its spelling against the API reference."] } } } });

    const api = await connectSecret("http", `rt/http-${randomUUID().slice(0, 6)}`, "apiKey", httpTarget.credentials.apiKey, { baseUrl: httpTarget.url, authScheme: "apiKey", apiKeyIn: "header", apiKeyName: "X-API-Key", testPath: "/health", caBundle: httpTarget.caCert });
    const cases: [Record<string, unknown>, string][] = [
      [{ method: "GET", path: "/echo", headers: { Authorization: "Bearer x" } }, "input.headers.Authorization"],
      [{ method: "GET", path: "/echo", headers: { "X-API-Key": "mine" } }, "input.headers.X-API-Key"], // the header this connection's key uses
      [{ method: "GET", path: "/echo", body: "hello" }, "input.body"],
      [{ method: "GET", path: "../admin" }, "input.path"],
      [{ method: "GET", path: "https://elsewhere.example/x" }, "input.path"],
      [{ method: "GET", path: "/a/%2e%2e/b" }, "input.path"],
      // A misspelt field is named, not ignored (the request would go without the header the caller meant).
      [{ method: "GET", path: "/echo", header: { Accept: "text/plain" } }, "input.header"],
    ];
    const before = httpTarget.requests.length;
    for (const [input, field] of cases) {
      const res = await invoke(api.connectionId, "request", input);
      expect(res.status, JSON.stringify(input)).toBe(422);
      expect(Object.keys((res.body.error as { fieldErrors: object }).fieldErrors), JSON.stringify(input)).toEqual([field]);
    }
    expect(httpTarget.requests.length).toBe(before); // nothing was sent
    expect((await invoke(api.connectionId, "request", { method: "GET", path: "/echo" })).status).toBe(200);
  });

  it("MariaDB: parameters the SQL has no placeholders for, and SQL the server refuses, are 422", async () => {
    const { connectionId } = await connect("mariadb", `rt/maria-${randomUUID().slice(0, 6)}`, mariadb.user, mariadb.password, { host: mariadb.host, port: mariadb.port, database: mariadb.database, tls: false });
    expect((await invoke(connectionId, "query", { sql: "SELECT ? + 1 AS answer", params: [41] })).status).toBe(200);
    const mismatch = await invoke(connectionId, "query", { sql: "SELECT 1", params: [1, 2] });
    expect(mismatch.status).toBe(422);
    // Both 422, told apart by reason: the server refused the SQL (target_error); Latch refused the parameters (no reason, fieldErrors).
    expect(mismatch.body.error).not.toHaveProperty("reason");
    const refused = await invoke(connectionId, "query", { sql: "SELEKT 1" });
    expect(refused.status).toBe(422);
    expect(errorBodySchema.parse(refused.body).error).toMatchObject({ code: "VALIDATION", reason: "target_error", targetCode: "1064" });
    expect(refused.body.error).not.toHaveProperty("fieldErrors");
    expect((await invoke(connectionId, "nope", {})).status).toBe(422);
    // MariaDB takes a NUL inside a string literal (PostgreSQL does not: see the postgres connector's tests).
    expect((await invoke(connectionId, "query", { sql: "SELECT 'a\u0000b' AS s" })).status).toBe(200);
  });

  it("an operation that takes no body (refresh, test) names one sent to it instead of ignoring it; none, empty or {} is none", async () => {
    const { connectionId } = await connect("postgres", `rt/nobody-${randomUUID().slice(0, 6)}`, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    for (const route of [refreshRoute, testRoute]) {
      for (const none of [undefined, "", " {} "]) expect((await call(route, connectionId, none)).status).toBe(200);
      const sent = await call(route, connectionId, { force: true });
      expect(sent).toMatchObject({ status: 422, body: { error: { code: "VALIDATION", message: expect.stringContaining("body: force is not a field of this operation, which takes no request body."), fieldErrors: { force: [expect.any(String)] } } } });
      expect(await call(route, connectionId, "[1]")).toMatchObject({ status: 422, body: { error: { message: expect.stringContaining("This operation takes no request body."), fieldErrors: { _form: [expect.any(String)] } } } });
    }
  });

  it("a query parameter an operation does not take is a 422 naming it, and nothing runs (?dryRun=1 makes no dry run)", async () => {
    const { connectionId } = await connect("postgres", `rt/query-${randomUUID().slice(0, 6)}`, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    const invokes = () => db().auditEvent.count({ where: { action: "connection.invoke", targetId: connectionId } });
    const before = await invokes();
    for (const [route, body] of [[invokeRoute, { operation: "query", input: { sql: "SELECT 1" } }], [refreshRoute, undefined], [testRoute, undefined]] as const) {
      const sent = await call(route, connectionId, body, {}, "?dryRun=1&force=1");
      expect(sent).toMatchObject({ status: 422, body: { error: { code: "VALIDATION", message: expect.stringContaining("query: dryRun is not a parameter of this operation"), fieldErrors: { dryRun: [expect.any(String)], force: [expect.any(String)] } } } });
    }
    expect(await invokes()).toBe(before);
    expect((await call(invokeRoute, connectionId, { operation: "query", input: { sql: "SELECT 1" } })).status).toBe(200);
  });

  it("a body over 1 MiB is refused with 413 even without Content-Length (read with a running limit)", async () => {
    const connectionId = randomUUID();
    let pulled = 0;
    const chunk = new TextEncoder().encode(`{"operation":"query","input":{"sql":"${"x".repeat(64 * 1024)}`);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        // An endless body: a reader that buffers it all would never return.
        controller.enqueue(chunk);
      },
    });
    const req = new NextRequest(`http://latch.test/api/v1/connections/${connectionId}/invoke`, { method: "POST", headers: { "content-type": "application/json" }, body: stream, duplex: "half" } as ConstructorParameters<typeof NextRequest>[1]);
    const res = await invokeRoute.POST(req, { params: Promise.resolve({ connectionId }) });
    expect(res.status).toBe(413);
    expect(pulled).toBeLessThan(40);
  });

  it("bad input is a clear 4xx: malformed JSON, unknown operation, wrong types, SQL with the wrong parameters", async () => {
    const path = `rt/pg-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    expect((await call(invokeRoute, connectionId, "{not json")).status).toBe(400);
    const unknown = await invoke(connectionId, "drop_everything", {});
    expect(unknown.status).toBe(422);
    expect(JSON.stringify(unknown.body)).toContain("query");
    // Names every JavaScript object inherits are unknown operations too.
    for (const inherited of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect((await invoke(connectionId, inherited, {})).status, inherited).toBe(422);
    }
    expect((await invoke(connectionId, "query", { sql: 42 })).status).toBe(422);
    // A setting beside `input` rather than in it is named, not ignored.
    const misplaced = await call(invokeRoute, connectionId, JSON.stringify({ operation: "query", input: { sql: "SELECT 1" }, timeoutMs: 500 }));
    expect(misplaced.status).toBe(422);
    expect(misplaced.body.error).toMatchObject({
      message: "body: timeoutMs is not a field of the body here; check its spelling and place against /api/v1/openapi.json.",
      fieldErrors: { timeoutMs: [expect.any(String)] },
    });
    // Said as the caller's input, by the field, not as the server's protocol error; on the same session.
    const backend = async () => ((await invoke(connectionId, "query", { sql: "SELECT pg_backend_pid() AS pid", params: [] })).body.result as { rows: number[][] }).rows[0]![0];
    await drainAll();
    const session = await backend();
    for (const [sql, params, message] of [
      ["SELECT 1", [1, 2], "The statement has 0 placeholders ($1, $2, …) but 2 parameters were given."],
      ["SELECT $1::int + $2::int", [1], "The statement has 2 placeholders ($1, $2, …) but 1 parameter was given."],
    ] as const) {
      const mismatch = await invoke(connectionId, "query", { sql, params: [...params] });
      expect(mismatch.status).toBe(422);
      expect(mismatch.body.error).toMatchObject({ code: "VALIDATION", message, fieldErrors: { "input.params": [message] } });
    }
    // A whole number JSON cannot carry exactly (a bigint id) is refused by where it is, not rounded to another row's.
    // eslint-disable-next-line no-loss-of-precision
    const rounded = await invoke(connectionId, "query", { sql: "SELECT $1::text AS v, $2::jsonb AS doc", params: ["ok", { ids: [1, 9007199254740993] }] });
    expect(rounded.status).toBe(422);
    const refusal = rounded.body.error as { message: string; fieldErrors: Record<string, string[]> };
    expect(Object.keys(refusal.fieldErrors)).toEqual(["input.params.1.ids.1"]);
    expect(refusal.message).toContain('send it as a string (e.g. "9007199254740993")');
    const exact = await invoke(connectionId, "query", { sql: "SELECT $1::bigint AS v", params: ["9007199254740993"] });
    expect((exact.body.result as { rows: unknown[][] }).rows[0]).toEqual(["9007199254740993"]);
    expect((await invoke(connectionId, "query", { sql: "SELECT $1::bigint AS v", params: [-9007199254740991] })).status).toBe(200);
    // The pooled session was kept (its reset is through once the next invoke can borrow it).
    await vi.waitFor(async () => expect(await backend()).toBe(session), { timeout: 5000, interval: 100 });
    expect((await invoke("not-a-uuid", "query", { sql: "SELECT 1" })).status).toBe(404);
  });
});

/** A TCP relay in front of a target that counts the connections made through it: logins, as the target sees them. */
async function countingRelay(port: number) {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    const upstream = net.connect(port, "127.0.0.1");
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const rotationEvents = (connectionId: string) => db().auditEvent.findMany({ where: { action: "connection.rotation", targetId: connectionId }, orderBy: { occurredAt: "asc" } });

async function rabbitmqctl(...args: string[]) {
  await promisify(execFile)("rabbitmqctl", ["--quiet", ...args], { timeout: 60_000 });
}

describe("rotation", () => {
  type Case = {
    kind: string;
    /** The connection, with its credential in the vault at `path`. */
    connect(path: string): Promise<{ connectionId: string }>;
    /** Changes the credential the target accepts. */
    rotateTarget(value: string): Promise<void>;
    /** Puts a value in the vault, where Latch will find it at a refetch. */
    rotateVault(path: string, value: string): void;
    invoke(connectionId: string): Promise<{ status: number; body: Record<string, unknown> }>;
    /** Attempts the target saw: logins (TCP connections through a counting relay) or requests. */
    attempts(): number;
    restore(path: string): Promise<void>;
  };

  const relays: { close(): Promise<void> }[] = [];
  let rabbit: RabbitUser, oidc: OidcServer;
  const cases: Case[] = [];

  beforeAll(async () => {
    const pki = createTestPki();
    [rabbit, oidc] = await Promise.all([createRabbitUser(), startOidcServer({ pki })]);
    const relayTo = async (port: number) => {
      const relay = await countingRelay(port);
      relays.push(relay);
      return relay;
    };
    const sql = async (kind: "postgres" | "mariadb", rotate: (password: string) => Promise<void>, user: string, password: string, config: (port: number) => Record<string, unknown>, port: number, op: Record<string, unknown>): Promise<Case> => {
      const relay = await relayTo(port);
      return {
        kind,
        connect: (path) => connect(kind, path, user, password, config(relay.port)),
        rotateTarget: rotate,
        rotateVault: (path, value) => vault.seedSecret({ path, data: { username: user, password: value } }),
        invoke: (id) => invoke(id, "query", op),
        attempts: relay.connections,
        restore: async (path) => {
          await rotate(password);
          vault.seedSecret({ path, data: { username: user, password } });
        },
      };
    };
    cases.push(
      await sql(
        "postgres",
        async (pw) => {
          const c = new pg.Client({ connectionString: postgres.adminUrl });
          await c.connect();
          await c.query(`ALTER ROLE "${postgres.user}" PASSWORD '${pw}'`);
          await c.end();
        },
        postgres.user,
        postgres.password,
        (port) => ({ host: "127.0.0.1", port, database: postgres.database, tlsMode: "disable" }),
        postgres.port,
        { sql: "SELECT 1 AS one", params: [] },
      ),
      await sql(
        "mariadb",
        async (pw) => {
          for (const host of ["%", "127.0.0.1"]) await mariadb.admin("ALTER USER ?@? IDENTIFIED BY ?", [mariadb.user, host, pw]);
        },
        mariadb.user,
        mariadb.password,
        (port) => ({ host: "127.0.0.1", port, database: mariadb.database, tls: false }),
        mariadb.port,
        { sql: "SELECT 1 AS one", params: [] },
      ),
    );
    const redisRelay = await relayTo(redis.port);
    const redisRotate = async (pw: string) => void (await redis.admin().call("ACL", "SETUSER", redis.username, "resetpass", `>${pw}`));
    cases.push({
      kind: "redis",
      connect: (path) => connect("redis", path, redis.username, redis.password, { host: "127.0.0.1", port: redisRelay.port, db: 0, tls: false }),
      rotateTarget: redisRotate,
      rotateVault: (path, value) => vault.seedSecret({ path, data: { username: redis.username, password: value } }),
      invoke: (id) => invoke(id, "command", { command: "SET", args: [`${redis.keyPrefix}rotation`, "v"] }),
      attempts: redisRelay.connections,
      restore: async (path) => {
        await redisRotate(redis.password);
        vault.seedSecret({ path, data: { username: redis.username, password: redis.password } });
      },
    });
    const rabbitRelay = await relayTo(rabbit.port);
    const queue = await rabbit.declareQueue();
    cases.push({
      kind: "rabbitmq",
      connect: (path) => connect("rabbitmq", path, rabbit.username, rabbit.password, { host: "127.0.0.1", port: rabbitRelay.port, vhost: "/", tls: false }),
      rotateTarget: (pw) => rabbitmqctl("change_password", rabbit.username, pw),
      rotateVault: (path, value) => vault.seedSecret({ path, data: { username: rabbit.username, password: value } }),
      invoke: (id) => invoke(id, "publish", { exchange: "", routingKey: queue, body: "hello" }),
      attempts: rabbitRelay.connections,
      restore: async (path) => {
        await rabbitmqctl("change_password", rabbit.username, rabbit.password);
        vault.seedSecret({ path, data: { username: rabbit.username, password: rabbit.password } });
      },
    });
    const original = httpTarget.credentials.token;
    cases.push({
      kind: "http",
      connect: (path) => connectSecret("http", path, "token", original, { baseUrl: httpTarget.url, authScheme: "bearer", testPath: "/health", caBundle: httpTarget.caCert }),
      rotateTarget: async (token) => void (httpTarget.credentials.token = token),
      rotateVault: (path, value) => vault.seedSecret({ path, data: { value } }),
      invoke: (id) => invoke(id, "request", { method: "GET", path: "/echo" }),
      attempts: () => httpTarget.count("/echo"),
      restore: async (path) => {
        httpTarget.credentials.token = original;
        vault.seedSecret({ path, data: { value: original } });
      },
    });
    const originalSecret = oidc.clientSecret;
    cases.push({
      kind: "oauth2",
      connect: (path) =>
        connectSecret("oauth2", path, "clientSecret", originalSecret, { grant: "client_credentials", tokenUrl: oidc.tokenUrl, clientId: oidc.clientId, scopes: "api:read", apiBaseUrl: oidc.apiUrl, caBundle: oidc.caCert }),
      // The app's secret changes at the authorisation server, and the tokens issued with the old one stop working.
      rotateTarget: async (secret) => {
        oidc.rotateClientSecret(secret);
        oidc.expireAccessTokens();
      },
      rotateVault: (path, value) => vault.seedSecret({ path, data: { value } }),
      invoke: (id) => invoke(id, "request", { method: "GET", path: "/whoami" }),
      // Token requests: each sign of the client secret reaching the server.
      attempts: () => oidc.count("/token"),
      restore: async (path) => {
        oidc.rotateClientSecret(originalSecret);
        vault.seedSecret({ path, data: { value: originalSecret } });
      },
    });
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([...relays.map((r) => r.close()), rabbit?.cleanup(), oidc?.close()]);
  });

  for (const kind of ["postgres", "mariadb", "redis", "rabbitmq", "http", "oauth2"]) {
    it(`${kind}: a rotated credential is refetched once and the step retried once; a retry rejected again, or an unchanged value, fails without a loop, and is not read again at once`, async () => {
      const c = cases.find((x) => x.kind === kind)!;
      const path = `rt/${kind}-${randomUUID().slice(0, 6)}`;
      const { connectionId } = await c.connect(path);
      try {
        await rotationSteps(c, path, connectionId);
      } finally {
        // The target's credential back for the tests after this one, also when an expectation failed.
        await c.restore(path);
      }
    }, 90_000);
  }

  it("one request the target's own rules refuse (a Redis ACL, a missing exchange) is a 422 with the target's code, not a 502", async () => {
    const redisConn = await connect("redis", `rt/redis-${randomUUID().slice(0, 6)}`, redis.username, redis.password, { host: redis.host, port: redis.port, db: 0, tls: false });
    const acl = await invoke(redisConn.connectionId, "command", { command: "GET", args: ["outside-the-prefix"] });
    expect(acl.status).toBe(422);
    expect(errorBodySchema.parse(acl.body).error).toMatchObject({ code: "VALIDATION", reason: "target_error", targetCode: "NOPERM" });
    // The connection is fine: a key the ACL allows still works.
    expect((await invoke(redisConn.connectionId, "command", { command: "GET", args: [`${redis.keyPrefix}k`] })).status).toBe(200);

    const rabbitConn = await connect("rabbitmq", `rt/rabbit-${randomUUID().slice(0, 6)}`, rabbit.username, rabbit.password, { host: "127.0.0.1", port: rabbit.port, vhost: "/", tls: false });
    const missing = await invoke(rabbitConn.connectionId, "publish", { exchange: "latch-no-such-exchange", routingKey: "k", body: "x" });
    expect(missing.status).toBe(422);
    expect(errorBodySchema.parse(missing.body).error).toMatchObject({
      code: "VALIDATION",
      reason: "target_error",
      targetCode: "404",
      fieldErrors: { "input.exchange": [expect.stringContaining("latch-no-such-exchange")] },
    });
  });

  it("http: a path that keeps answering 401 does not tear down the pooled client at every invoke", async () => {
    const { connectionId } = await connectSecret("http", `rt/http-401-${randomUUID().slice(0, 6)}`, "token", httpTarget.credentials.token, { baseUrl: httpTarget.url, authScheme: "bearer", testPath: "/health", caBundle: httpTarget.caCert });
    const port = (path: string) => httpTarget.requests.filter((r) => r.path === path).at(-1)?.remotePort;
    expect((await invoke(connectionId, "request", { method: "GET", path: "/status/401" })).status).not.toBe(200); // refetched: unchanged
    expect((await invoke(connectionId, "request", { method: "GET", path: "/echo" })).status).toBe(200);
    const kept = port("/echo");
    // Refused again within the time a refetch just confirmed the value: nothing is fetched, nothing drained.
    expect((await invoke(connectionId, "request", { method: "GET", path: "/status/401" })).status).not.toBe(200);
    expect(port("/status/401")).toBe(kept);
    expect((await invoke(connectionId, "request", { method: "GET", path: "/echo" })).status).toBe(200);
    expect(port("/echo"), "the next request came over the same kept-alive connection").toBe(kept);
  });

  it("a rejected value whose refetch fails is not used again: the store's failure answers, no further login, one failed rotation recorded", async () => {
    const c = cases.find((x) => x.kind === "postgres")!;
    const path = `rt/pg-down-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await c.connect(path);
    try {
      expect((await c.invoke(connectionId)).status).toBe(200);
      await c.rotateTarget(`rot-${randomUUID()}`);
      await drainAll(); // a pooled session would still work: the next invoke logs in
      vault.failInternal({ times: 1000, status: 503, pathIncludes: path });
      const first = await c.invoke(connectionId);
      expect(first.status, JSON.stringify(first.body)).toBe(503);
      const logins = c.attempts();
      const second = await c.invoke(connectionId);
      expect(second.status, JSON.stringify(second.body)).toBe(503);
      // The rejected password was not tried again (each try a failed login, towards locking the account).
      expect(c.attempts()).toBe(logins);
      expect((await rotationEvents(connectionId)).map((e) => [e.outcome, (e.details as { outcome: string }).outcome])).toEqual([["FAILURE", "refetch_failed"]]);
    } finally {
      vault.clearFaults();
      await c.restore(path);
    }
  }, 60_000);

  it("oauth2: after the client secret is refused and fetched anew, the retry renews first: the refused token is not sent again", async () => {
    const c = cases.find((x) => x.kind === "oauth2")!;
    const path = `rt/oauth-resend-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await c.connect(path);
    try {
      expect((await c.invoke(connectionId)).status).toBe(200);
      const rotated = `rot-${randomUUID()}`;
      await c.rotateTarget(rotated);
      c.rotateVault(path, rotated);
      const calls = oidc.count("/whoami");
      const answer = await c.invoke(connectionId);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      // The expired token once (401; its renewal refused the old secret), then the new token: two, not three.
      expect(oidc.count("/whoami") - calls).toBe(2);
    } finally {
      await c.restore(path);
    }
  }, 60_000);

  it("oauth2: a path that answers 401 whatever the token renews it once, not at every invoke", async () => {
    const { connectionId } = await connectSecret("oauth2", `rt/oauth-401-${randomUUID().slice(0, 6)}`, "clientSecret", oidc.clientSecret, {
      grant: "client_credentials",
      tokenUrl: oidc.tokenUrl,
      clientId: oidc.clientId,
      scopes: "api:read",
      apiBaseUrl: oidc.apiUrl,
      caBundle: oidc.caCert,
    });
    expect((await invoke(connectionId, "request", { method: "GET", path: "/whoami" })).status).toBe(200);
    const before = oidc.count("/token");
    for (let i = 0; i < 4; i++) {
      const refused = await invoke(connectionId, "request", { method: "GET", path: "/always-401" });
      expect(refused.status).toBe(502);
    }
    // One renewal, then the pooled client remembers it did not help (the client is not thrown away).
    expect(oidc.count("/token") - before).toBe(1);
    expect((await invoke(connectionId, "request", { method: "GET", path: "/whoami" })).status).toBe(200);
  });

  async function rotationSteps(c: Case, path: string, connectionId: string) {
    const kind = c.kind;
    expect((await c.invoke(connectionId)).status).toBe(200);

    // 1. Rotated at the target and in the vault; Latch still holds the old value in its cache.
    const rotated = `rot-${randomUUID()}`;
    await c.rotateTarget(rotated);
    c.rotateVault(path, rotated);
    await drainAll(); // pooled sessions logged in before the change; a new one must log in
    let before = { reads: reads(path), attempts: c.attempts() };
    const recovered = await c.invoke(connectionId);
    expect(recovered.status, JSON.stringify(recovered.body)).toBe(200);
    expect(reads(path) - before.reads).toBe(1);
    // The rejected attempt and exactly one retry, as the target saw them.
    expect(c.attempts() - before.attempts).toBe(2);
    expect((await rotationEvents(connectionId)).map((e) => [e.outcome, (e.details as { outcome: string }).outcome])).toEqual([["SUCCESS", "recovered"]]);
    // The new version's client is pooled: the next invoke logs in (or asks for a token) no more.
    if (kind !== "http") {
      // SQL sessions go back to the pool once their reset is through, just after the answer: an invoke
      // sent at that instant would open a second session, which is pooling too, not a login per invoke.
      // So: soon (however busy the machine), an invoke that logs in no more.
      await vi.waitFor(
        async () => {
          const settled = c.attempts();
          expect((await c.invoke(connectionId)).status).toBe(200);
          expect(c.attempts()).toBe(settled);
        },
        { timeout: 5000, interval: 100 },
      );
    }

    // 2. The store's new value is just as wrong (rotated again, and someone put another wrong value in the vault).
    await c.rotateTarget(`rot-${randomUUID()}`);
    c.rotateVault(path, `also-wrong-${randomUUID()}`);
    await drainAll();
    before = { reads: reads(path), attempts: c.attempts() };
    const rejected = await c.invoke(connectionId);
    expect(rejected.status).toBe(502);
    expect(JSON.stringify(rejected.body)).toContain("Credentials rejected by the target");
    expect(errorBodySchema.parse(rejected.body).error).toMatchObject({ code: "UPSTREAM_FAILED", reason: "credentials_rejected" });
    expect(JSON.stringify(rejected.body)).not.toContain(rotated);
    // The user came from the asset, as the password did: the refusal says where from instead of naming it.
    const user = vault.readSecret({ path })?.username;
    if (typeof user === "string") {
      expect(JSON.stringify(rejected.body)).not.toContain(user);
      expect(JSON.stringify(rejected.body)).toContain("the user from its credential asset");
    }
    expect(reads(path) - before.reads).toBe(1);
    expect(c.attempts() - before.attempts).toBe(2);
    expect((await rotationEvents(connectionId)).at(-1)).toMatchObject({ outcome: "FAILURE", details: expect.objectContaining({ outcome: "rejected_again" }) });

    // 3. Rotated at the target only: the refetch brings the same value back, so there is no retry.
    c.rotateVault(path, rotated);
    await c.rotateTarget(rotated);
    expect((await c.invoke(connectionId)).status).toBe(200); // back in step (one more rotation)
    const targetOnly = `rot-${randomUUID()}`;
    await c.rotateTarget(targetOnly);
    await drainAll();
    before = { reads: reads(path), attempts: c.attempts() };
    const unchanged = await c.invoke(connectionId);
    expect(unchanged.status).toBe(502);
    expect(reads(path) - before.reads).toBe(1);
    expect(c.attempts() - before.attempts).toBe(1);
    expect((await rotationEvents(connectionId)).at(-1)).toMatchObject({ outcome: "FAILURE", details: expect.objectContaining({ outcome: "unchanged" }) });
    expect(await rotationEvents(connectionId)).toHaveLength(4);
    // A test fails in the same words as the invoke: its reason, and the target's own code when it sent one.
    const failedTest = await call(testRoute, connectionId);
    const sentCode = errorBodySchema.parse(unchanged.body).error.targetCode;
    expect(failedTest.body).toMatchObject({ ok: false, reason: "credentials_rejected" });
    expect((failedTest.body as { targetCode?: string }).targetCode).toBe(sentCode);

    // 4. The target keeps refusing: the value the store just confirmed is not read again for it.
    before = { reads: reads(path), attempts: c.attempts() };
    expect((await c.invoke(connectionId)).status).toBe(502);
    expect(reads(path) - before.reads).toBe(0);
    expect(c.attempts() - before.attempts).toBe(1);
    expect(await rotationEvents(connectionId)).toHaveLength(4);

    // 5. The new value put in the store seconds later, and a test asked for (Reconnect): the store is
    // read again at once, the hold above being for invokes a target keeps refusing.
    c.rotateVault(path, targetOnly);
    before = { reads: reads(path), attempts: c.attempts() };
    const tested = await call(testRoute, connectionId);
    expect(tested.body, JSON.stringify(tested.body)).toMatchObject({ ok: true });
    expect(reads(path) - before.reads).toBe(1);
  }

  /** An HTTP connection that has been used once, then rotated at the target and in the vault behind Latch's back. */
  async function rotatedHttpConnection(tag: string) {
    const path = `rt/${tag}-${randomUUID().slice(0, 6)}`;
    const original = httpTarget.credentials.token;
    const { connectionId } = await connectSecret("http", path, "token", original, { baseUrl: httpTarget.url, authScheme: "bearer", testPath: "/health", caBundle: httpTarget.caCert });
    expect((await invoke(connectionId, "request", { method: "GET", path: "/echo" })).status).toBe(200);
    const rotated = `rot-${randomUUID()}`;
    httpTarget.credentials.token = rotated;
    vault.seedSecret({ path, data: { value: rotated } });
    return { path, connectionId, original };
  }

  it("one time limit covers the whole invoke: a slow rejection and its retry do not run past what the runner asked for", async () => {
    // Rotated at the target and in the vault; the target answers slowly, a rejection included.
    const { connectionId, original } = await rotatedHttpConnection("http-deadline");
    httpTarget.inject({ fault: { type: "latency", ms: 700 }, pathIncludes: "/echo" });
    try {
      const started = Date.now();
      // The rejection takes 700 ms and the retry would take as long again: past the 1 s asked for.
      const late = await invoke(connectionId, "request", { method: "GET", path: "/echo", timeoutMs: 1000 });
      expect(late.status, JSON.stringify(late.body)).toBe(504);
      expect(late.body.error).toMatchObject({ code: "UPSTREAM_TIMEOUT", reason: "timeout" });
      expect(Date.now() - started).toBeLessThan(1500);
      // With time enough, the same rotation recovers.
      expect((await invoke(connectionId, "request", { method: "GET", path: "/echo", timeoutMs: 5000 })).status).toBe(200);
    } finally {
      httpTarget.clearFaults();
      httpTarget.credentials.token = original;
    }
  });

  it("twenty concurrent invokes rejected together cause one vault fetch, one rotation event and one rotation counted", async () => {
    const path = `rt/pg-burst-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    const rotated = `rot-${randomUUID()}`;
    const c = new pg.Client({ connectionString: postgres.adminUrl });
    await c.connect();
    try {
      await c.query(`ALTER ROLE "${postgres.user}" PASSWORD '${rotated}'`);
      vault.seedSecret({ path, data: { username: postgres.user, password: rotated } });
      await drainAll();
      const before = { reads: reads(path), rotations: await counted("rotations", { connector: "postgres", outcome: "recovered" }), ok: await counted("invokes", { connector: "postgres", outcome: "ok" }) };
      const results = await Promise.all(Array.from({ length: 20 }, () => invoke(connectionId, "query", { sql: "SELECT 1", params: [] })));
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect(reads(path) - before.reads).toBe(1);
      expect((await rotationEvents(connectionId)).map((e) => (e.details as { outcome: string }).outcome)).toEqual(["recovered"]);
      // What /api/metrics shows of it: one rotation, twenty invokes that worked.
      expect((await counted("rotations", { connector: "postgres", outcome: "recovered" })) - before.rotations).toBe(1);
      expect((await counted("invokes", { connector: "postgres", outcome: "ok" })) - before.ok).toBe(20);
    } finally {
      await c.query(`ALTER ROLE "${postgres.user}" PASSWORD '${postgres.password}'`);
      await c.end();
    }
  }, 60_000);

  it("a rotation whose audit event cannot be stored still recovers the invoke, and is counted once", async () => {
    const { path, connectionId, original } = await rotatedHttpConnection("http-rot-audit");
    try {
      const before = { reads: reads(path), rotations: await counted("rotations", { connector: "http", outcome: "recovered" }) };
      const answer = await whileRefusingInserts("audit_events", "NEW.action = 'connection.rotation'", () => invoke(connectionId, "request", { method: "GET", path: "/echo" }));
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(reads(path) - before.reads).toBe(1);
      expect(await rotationEvents(connectionId)).toEqual([]);
      const invokes = await db().auditEvent.findMany({ where: { action: "connection.invoke", targetId: connectionId }, orderBy: { occurredAt: "asc" } });
      expect(invokes.map((e) => e.outcome)).toEqual(["SUCCESS", "SUCCESS"]);
      expect((await counted("rotations", { connector: "http", outcome: "recovered" })) - before.rotations).toBe(1);
    } finally {
      httpTarget.credentials.token = original;
    }
  });
});

describe("pooling", () => {
  const pgConfig = () => ({ host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });

  it("concurrent invokes of one connection run on more than one session", async () => {
    const { connectionId } = await connect("postgres", `rt/pool-${randomUUID().slice(0, 6)}`, postgres.user, postgres.password, pgConfig());
    const results = await Promise.all(Array.from({ length: 6 }, () => invoke(connectionId, "query", { sql: "SELECT pg_backend_pid() AS pid, pg_sleep(0.3)", params: [] })));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    const pids = new Set(results.map((r) => (r.body.result as { rows: unknown[][] }).rows[0]![0]));
    expect(pids.size).toBeGreaterThan(1);
    expect(openPools(connectionId)).toHaveLength(1);
  });

  it("after an edit to a typed password, invokes share one new pooled client, whatever the old values' fetch order", async () => {
    const { connectionId } = await connect("postgres", `rt/pool-${randomUUID().slice(0, 6)}`, postgres.user, postgres.password, pgConfig());
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    const [before] = openPools(connectionId);
    const row = await db().connection.findUniqueOrThrow({ where: { id: connectionId } });
    const edited = ok(
      await saveConnectionAction({
        connectionId,
        folderId: connFolder.id,
        name: row.name,
        kind: "postgres",
        config: { ...pgConfig(), user: postgres.user },
        secrets: { password: { mode: "value", value: postgres.password } },
        usernameFromAsset: [],
      }),
    );
    expect(edited.ok).toBe(true);
    // Each invoke finds the new settings' client pooled (not one opened, used once and closed), and the old one gone.
    for (let i = 0; i < 3; i++) {
      expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
      const now = openPools(connectionId);
      expect(now).toEqual([expect.objectContaining({ draining: false })]);
      expect(now[0]!.version).not.toBe(before!.version);
    }
  });

  it("a refresh during an in-flight query lets it finish, then closes the drained client", async () => {
    const { connectionId } = await connect("postgres", `rt/pool-${randomUUID().slice(0, 6)}`, postgres.user, postgres.password, pgConfig());
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    const slow = invoke(connectionId, "query", { sql: "SELECT pg_sleep(0.8) AS slept", params: [] });
    await vi.waitFor(() => expect(openPools(connectionId)).toEqual([expect.objectContaining({ inFlight: 1, draining: false })]), { timeout: 5000, interval: 10 });
    expect((await call(refreshRoute, connectionId)).status).toBe(200);
    expect(openPools(connectionId)).toEqual([]); // no new work for the drained client…
    expect((await slow).status).toBe(200); // …but what it was doing finished
  });

  it("a rotation drains only the rejected version's client; a query still running on it finishes", async () => {
    const path = `rt/pool-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, pgConfig());
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    const [old] = openPools(connectionId);
    // A long query holds the old version's only session… (long enough to outlast the rotation below on a
    // busy machine: with 1 s, the session was once free again before the next invoke, which then needed no login)
    const slow = invoke(connectionId, "query", { sql: "SELECT pg_sleep(3) AS slept", params: [] });
    await vi.waitFor(() => expect(openPools(connectionId)).toEqual([expect.objectContaining({ inFlight: 1 })]), { timeout: 5000, interval: 10 });
    const rotated = `rot-${randomUUID()}`;
    const admin = new pg.Client({ connectionString: postgres.adminUrl });
    await admin.connect();
    try {
      await admin.query(`ALTER ROLE "${postgres.user}" PASSWORD '${rotated}'`);
      vault.seedSecret({ path, data: { username: postgres.user, password: rotated } });
      // …so this one needs a new login, which the target rejects: the old version drains, a new one opens.
      expect((await invoke(connectionId, "query", { sql: "SELECT 2", params: [] })).status).toBe(200);
      const now = openPools(connectionId);
      expect(now).toEqual([expect.objectContaining({ draining: false })]);
      expect(now[0]!.version).not.toBe(old!.version);
      expect((await slow).status).toBe(200);
      expect(openPools(connectionId)).toEqual(now); // the old version's late finish closed nothing new
    } finally {
      // The role's password back for the tests after this one, also when an expectation failed.
      await slow.catch(() => undefined);
      await admin.query(`ALTER ROLE "${postgres.user}" PASSWORD '${postgres.password}'`);
      await admin.end();
    }
  });
});

describe("test and invoke act alike, and are audited", () => {
  const pgConfig = () => ({ host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
  const withToken = async (route: typeof invokeRoute | typeof testRoute, connectionId: string, token: string, body?: unknown) => {
    const res = await route.POST(request("POST", `/api/v1/connections/${connectionId}/x`, { authorization: bearer(token), body }), routeContext({ connectionId }));
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  it("a token that may use a connection, but not the assets behind it, can both invoke and test it: both resolve as the owner", async () => {
    const { connectionId } = await connect("postgres", `rt/same-${randomUUID().slice(0, 6)}`, postgres.user, postgres.password, pgConfig());
    // Scoped to the connection's folder only; the asset lives in another folder.
    const { token } = await personalToken(editor, [{ folderId: connFolder.id, permissions: ["connections.use"] }]);
    expect((await withToken(invokeRoute, connectionId, token, { operation: "query", input: { sql: "SELECT 1", params: [] } })).status).toBe(200);
    const tested = await withToken(testRoute, connectionId, token);
    expect(tested).toMatchObject({ status: 200, body: { ok: true } });

    // The owner loses assets.use on the asset's folder: both refuse alike, as a state to put right (the
    // connection is there; a 404 would tell the runner it is gone).
    const owner = await makeUser();
    await grant(connFolder.id, owner, "EDITOR");
    await db().connection.update({ where: { id: connectionId }, data: { ownerId: owner.id } });
    await drainAll();
    await call(refreshRoute, connectionId); // drop the cached value, so the resolver is asked again
    const refused = { status: 409, body: { error: { code: "CONFLICT", message: expect.stringContaining("owner may no longer use the credential asset") } } };
    expect(await withToken(invokeRoute, connectionId, token, { operation: "query", input: { sql: "SELECT 1", params: [] } })).toMatchObject(refused);
    expect(await withToken(testRoute, connectionId, token)).toMatchObject(refused);
    await db().connection.update({ where: { id: connectionId }, data: { ownerId: editor.id } });
  });

  it("an invoke that ran is answered as such even when its audit event cannot be stored: no failure recorded, nothing to retry", async () => {
    const path = `rt/pg-audit-down-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    const invokes = () => db().auditEvent.findMany({ where: { targetId: connectionId, action: "connection.invoke" } });
    const answer = await whileRefusingInserts("audit_events", "NEW.action = 'connection.invoke' AND NEW.outcome = 'SUCCESS'", () =>
      invoke(connectionId, "query", { sql: "SELECT 7 AS n", params: [] }),
    );
    expect(answer).toMatchObject({ status: 200, body: { result: { rows: [[7]] } } });
    expect(await invokes()).toEqual([]);
  });

  it("tells a runner what to do from the status alone: a statement to run again is a 503 with Retry-After, a statement the database refuses a 422", async () => {
    const { connectionId } = await connect("postgres", `rt/busy-${randomUUID().slice(0, 6)}`, postgres.user, postgres.password, pgConfig());
    const { token } = await personalToken(editor, [{ folderId: connFolder.id, permissions: ["connections.use"] }]);
    const deadlock = await withToken(invokeRoute, connectionId, token, { operation: "query", input: { sql: "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40P01'; END $$" } });
    expect(deadlock.status).toBe(503);
    expect(deadlock.headers.get("retry-after")).toBe("1");
    expect(deadlock.body).toMatchObject({ error: { code: "UPSTREAM_UNAVAILABLE", reason: "busy", targetCode: "40P01", message: expect.stringMatching(/^The target asks to run it again: .*40P01 deadlock_detected.*Run it again\.$/) } });
    const privilege = await withToken(invokeRoute, connectionId, token, { operation: "query", input: { sql: "SELECT * FROM pg_authid" } });
    expect(privilege.status).toBe(422);
    expect(privilege.body).toMatchObject({ error: { code: "VALIDATION", reason: "target_error", targetCode: "42501", message: expect.stringContaining("lacks a privilege the statement needs") } });
  });

  it("each invoke is one audit event naming the caller (and its token), the owner it resolved as, and the assets it used; a cache hit writes no resolve event of its own", async () => {
    const { connectionId, assetId } = await connect("postgres", `rt/audit-${randomUUID().slice(0, 6)}`, postgres.user, postgres.password, pgConfig());
    const { token } = await personalToken(editor, [{ folderId: connFolder.id, permissions: ["connections.use"] }]);
    await call(refreshRoute, connectionId);
    const resolves = () => db().auditEvent.findMany({ where: { action: "asset.resolve", targetId: assetId }, orderBy: { occurredAt: "asc" } });
    const before = (await resolves()).length;
    expect((await withToken(invokeRoute, connectionId, token, { operation: "query", input: { sql: "SELECT 1", params: [] } })).status).toBe(200); // store read
    expect((await withToken(invokeRoute, connectionId, token, { operation: "query", input: { sql: "SELECT 1", params: [] } })).status).toBe(200); // cache hit
    expect((await withToken(invokeRoute, connectionId, token, { operation: "query", input: { sql: "SELEKT", params: [] } })).status).toBe(422);
    const after = await resolves();
    expect(after.length - before).toBe(1);
    expect(after.at(-1)).toMatchObject({ actorId: editor.id, details: expect.objectContaining({ purpose: "invoke", cache: "miss", triggeredBy: { id: editor.id, email: editor.email, via: { kind: "personal", prefix: token.slice(0, 11) } } }) });
    const invokes = await db().auditEvent.findMany({ where: { action: "connection.invoke", targetId: connectionId }, orderBy: { occurredAt: "asc" } });
    expect(invokes.map((e) => [e.outcome, (e.details as { outcome: string }).outcome, (e.details as { assets: object }).assets])).toEqual([
      ["SUCCESS", "ok", { [assetId]: "miss" }],
      ["SUCCESS", "ok", { [assetId]: "hit" }],
      ["FAILURE", "target_error", { [assetId]: "hit" }],
    ]);
    expect(invokes[0]).toMatchObject({ actorId: editor.id, details: expect.objectContaining({ operation: "query", resolvedAs: editor.email, via: { kind: "personal", id: expect.any(String), prefix: token.slice(0, 11) } }) });
    expect(JSON.stringify(invokes)).not.toContain(postgres.password);
  });
});

describe("refresh", () => {
  it("clears the connection's cached secrets: the next invoke reads the vault again", async () => {
    const path = `rt/pg-refresh-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    const before = reads(path);
    const refreshed = await call(refreshRoute, connectionId);
    expect(refreshed).toMatchObject({ status: 200, body: { refreshed: true } });
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    expect(reads(path) - before).toBe(1);
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    expect(reads(path) - before).toBe(1);
  });

  it("an asset refresh drains the pooled clients built with its value, of every connection using it", async () => {
    const path = `rt/pg-asset-refresh-${randomUUID().slice(0, 6)}`;
    const { connectionId, assetId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    expect(openPools(connectionId)).toEqual([expect.objectContaining({ draining: false })]);
    const res = await assetRefreshRoute.POST(new NextRequest(`http://latch.test/api/v1/assets/${assetId}/refresh`, { method: "POST" }), { params: Promise.resolve({ assetId }) });
    expect(res.status).toBe(200);
    // Its client would otherwise log new sessions in with the refreshed value until it idled out.
    expect(openPools(connectionId)).toEqual([]);
    const before = reads(path);
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    expect(reads(path) - before).toBe(1);

    // Another asset naming the same secret: its refresh drops the one value, and the clients built with it.
    const twin = ok(await createAssetAction({ folderId: secretsFolder.id, type: "CREDENTIAL", name: `twin ${randomUUID().slice(0, 6)}`, storeId, secretName: path, usernameKey: "username", valueKey: "password" }));
    expect(openPools(connectionId)).toEqual([expect.objectContaining({ draining: false })]);
    const twinRefresh = await assetRefreshRoute.POST(new NextRequest(`http://latch.test/api/v1/assets/${twin.id}/refresh`, { method: "POST" }), { params: Promise.resolve({ assetId: twin.id }) });
    expect(twinRefresh.status).toBe(200);
    expect(openPools(connectionId)).toEqual([]);
  });

  it("a refresh whose event cannot be logged for the other instances is not recorded either: all or nothing", async () => {
    const path = `rt/pg-unlogged-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    const generation = async () => (await db().connection.findUniqueOrThrow({ where: { id: connectionId } })).refreshGeneration;
    const audited = () => db().auditEvent.count({ where: { targetId: connectionId, action: "connection.refresh" } });
    const before = await generation();
    expect((await whileRefusingInserts("refresh_events", "true", () => call(refreshRoute, connectionId))).status).toBe(500);
    // Nothing says it happened, so the caller's error is the whole truth: they refresh again.
    expect(await audited()).toBe(0);
    expect(await generation()).toBe(before);
    expect((await call(refreshRoute, connectionId)).status).toBe(200);
    expect(await audited()).toBe(1);
    expect(await db().$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM refresh_events WHERE target_id = ${connectionId}::uuid`).toEqual([{ n: 1 }]);
  });

  it("a refresh another instance sent that never arrived here is applied before the next use, once, even for a connection this instance never invoked", async () => {
    const path = `rt/pg-missed-${randomUUID().slice(0, 6)}`;
    // Connect fills this instance's cache; nothing here has invoked the connection yet.
    const { connectionId, assetId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    const before = reads(path);
    // Another instance refreshed it; its NOTIFY was lost (only the log row exists).
    await db().$executeRaw`INSERT INTO refresh_events (kind, target_id, asset_ids, origin) VALUES ('connection', ${connectionId}::uuid, ${[assetId]}::uuid[], 'other-instance')`;
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    expect(reads(path) - before).toBe(1);
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    expect(reads(path) - before).toBe(1);

    // The same for a store refresh: every value from that store is fetched anew.
    await db().$executeRaw`INSERT INTO refresh_events (kind, target_id, origin) VALUES ('store', ${storeId}::uuid, 'other-instance')`;
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    expect(reads(path) - before).toBe(2);
  });

  it("a change with the browser session must come from Latch's own pages; an API token may come from anywhere", async () => {
    const path = `rt/pg-site-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    const audited = () => db().auditEvent.count({ where: { targetId: connectionId, action: "connection.refresh" } });
    // A sibling subdomain's page: the Lax cookie goes along, and a POST without a body needs no preflight.
    const foreign: Record<string, string>[] = [{ "sec-fetch-site": "same-site" }, { "sec-fetch-site": "cross-site" }, { origin: "https://intranet.example.com" }, { origin: "null" }];
    for (const headers of foreign) {
      const refused = await call(refreshRoute, connectionId, undefined, headers);
      expect(refused).toMatchObject({ status: 400, body: { error: { code: "BAD_REQUEST", message: expect.stringContaining("API token") } } });
    }
    expect(await audited()).toBe(0);
    expect((await call(refreshRoute, connectionId, undefined, { "sec-fetch-site": "same-origin", origin: "http://latch.test" })).status).toBe(200);
    expect((await call(refreshRoute, connectionId, undefined, { host: "latch.test", origin: "http://latch.test" })).status).toBe(200);
    // Behind proxies (a browser without Sec-Fetch-Site): any name the request was sent to, port aside.
    expect((await call(refreshRoute, connectionId, undefined, { host: "latch:3000", "x-forwarded-host": "latch.example.com, edge.example.com", origin: "https://latch.example.com:8443" })).status).toBe(200);
    expect((await call(refreshRoute, connectionId, undefined, { host: "latch:3000", "x-forwarded-host": "latch.example.com", origin: "https://intranet.example.com" })).status).toBe(400);
    const { token } = await personalToken(editor, [{ folderId: connFolder.id, permissions: ["connections.use"] }]);
    expect((await call(refreshRoute, connectionId, undefined, { authorization: bearer(token), "sec-fetch-site": "cross-site" })).status).toBe(200);
    expect(await audited()).toBe(4);
  });

  it("refreshes and tests are limited per caller: a loop cannot keep every instance re-reading the store", async () => {
    const path = `rt/pg-loop-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    const { token } = await personalToken(editor, [{ folderId: connFolder.id, permissions: ["connections.use"] }]);
    const asToken = { authorization: bearer(token) };
    // One every ten seconds, bursts of one: the second call within the same ten seconds is refused, whatever the machine's speed.
    const limiter = globalThis as unknown as { latchRefreshLimiter?: unknown };
    const configured = env().LATCH_REFRESH_RATE_PER_SECOND;
    Object.assign(env(), { LATCH_REFRESH_RATE_PER_SECOND: 0.1 });
    limiter.latchRefreshLimiter = undefined;
    try {
      expect((await call(refreshRoute, connectionId, undefined, asToken)).status).toBe(200);
      const limited = await call(refreshRoute, connectionId, undefined, asToken);
      expect(limited).toMatchObject({ status: 429, body: { error: { code: "RATE_LIMITED" } } });
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      // Tests share the count: each logs in to the target anew.
      expect((await call(testRoute, connectionId, undefined, asToken)).status).toBe(429);
      // Another caller is not held back by this one's loop.
      expect((await call(refreshRoute, connectionId)).status).toBe(200);
    } finally {
      Object.assign(env(), { LATCH_REFRESH_RATE_PER_SECOND: configured });
      limiter.latchRefreshLimiter = undefined;
    }
  });

  it("invokes are limited per caller: past the rate, 429 with Retry-After and nothing run", async () => {
    const path = `rt/pg-invoke-loop-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    const { token } = await personalToken(editor, [{ folderId: connFolder.id, permissions: ["connections.use"] }]);
    const limiter = globalThis as unknown as { latchInvokeLimiter?: unknown };
    const configured = env().LATCH_INVOKE_RATE_PER_SECOND;
    // One every two seconds, bursts of one: the second call at once is refused.
    Object.assign(env(), { LATCH_INVOKE_RATE_PER_SECOND: 0.5 });
    limiter.latchInvokeLimiter = undefined;
    try {
      const query = { operation: "query", input: { sql: "SELECT 1", params: [] } };
      expect((await call(invokeRoute, connectionId, query, { authorization: bearer(token) })).status).toBe(200);
      const before = await counted("invokes", { connector: "postgres" });
      const limited = await call(invokeRoute, connectionId, query, { authorization: bearer(token) });
      expect(limited).toMatchObject({ status: 429, body: { error: { code: "RATE_LIMITED" } } });
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await counted("invokes", { connector: "postgres" })).toBe(before);
      // Refused before the body is read: a caller past its rate gets 429, not a parse of what it sent.
      expect(await call(invokeRoute, connectionId, "{not json", { authorization: bearer(token) })).toMatchObject({ status: 429, body: { error: { code: "RATE_LIMITED" } } });
      // The signed-in editor is another caller.
      expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    } finally {
      Object.assign(env(), { LATCH_INVOKE_RATE_PER_SECOND: configured });
      limiter.latchInvokeLimiter = undefined;
    }
  });

  it("someone without connections.use gets 404 from invoke and refresh", async () => {
    const path = `rt/pg-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    const viewer = await makeUser();
    await grant(connFolder.id, viewer, "VIEWER");
    signInAs(viewer);
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(404);
    expect((await call(refreshRoute, connectionId)).status).toBe(404);
    signInAs(editor);
  });
});

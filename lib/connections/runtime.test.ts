import { randomUUID } from "node:crypto";
import type { Folder } from "@prisma/client";
import { NextRequest } from "next/server";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ActionResult } from "@/lib/actions/action";
import { createAssetAction } from "@/lib/assets/actions";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { createStoreAction } from "@/lib/stores/actions";
import { startHashicorpEmulator, type HashicorpEmulator } from "@/test/emulators/hashicorp";
import { createTestPki } from "@/test/emulators/tls";
import { grant, latchStore, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { createMariadbUser, type MariadbUser } from "@/test/targets/mariadb";
import { startPasswordPostgres, type PasswordPostgres } from "@/test/targets/postgres";
import { createRedisUser, type RedisUser } from "@/test/targets/redis";
import { startHttpTarget, type HttpTarget } from "@/test/targets/http-target";
import * as invokeRoute from "@/app/api/v1/connections/[connectionId]/invoke/route";
import * as refreshRoute from "@/app/api/v1/connections/[connectionId]/refresh/route";
import { saveConnectionAction } from "./actions";
import { drainAll } from "./runtime";

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

async function call(route: { POST: (req: NextRequest, ctx: { params: Promise<Record<string, string>> }) => Promise<Response> }, connectionId: string, body?: unknown) {
  const req = new NextRequest(`http://latch.test/api/v1/connections/${connectionId}/x`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const res = await route.POST(req, { params: Promise.resolve({ connectionId }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
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
  editor = await makeUser();
  connFolder = await makeFolder();
  secretsFolder = await makeFolder();
  await grant(connFolder.id, editor, "EDITOR");
  await grant(secretsFolder.id, editor, "EDITOR");
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
  drainAll();
  await Promise.allSettled([vault?.close(), postgres?.stop(), mariadb?.cleanup(), redis?.cleanup(), httpTarget?.close()]);
});

describe("invoke", () => {
  it("runs a parameterised query through a pooled client, without another vault read or login", async () => {
    const path = `rt/pg-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    const first = await invoke(connectionId, "query", { sql: "SELECT $1::int + 1 AS answer, pg_backend_pid() AS pid", params: [41] });
    expect(first.status).toBe(200);
    expect(JSON.stringify(first.body)).toContain("42");
    expect(JSON.stringify(first.body)).not.toContain(postgres.password);
    const before = reads(path);
    const second = await invoke(connectionId, "query", { sql: "SELECT pg_backend_pid() AS pid", params: [] });
    expect(reads(path)).toBe(before);
    // The same backend process answered both: the pooled client did not log in again.
    const pid = (r: Record<string, unknown>) => JSON.stringify((r.result as { rows: unknown[][] }).rows.at(-1)?.at(-1));
    expect(pid(second.body)).toBe(pid(first.body));
  });

  it("input only the connection can refuse is a 422 naming the field, never a 409", async () => {
    const redisConn = await connect("redis", `rt/redis-${randomUUID().slice(0, 6)}`, redis.username, redis.password, { host: redis.host, port: redis.port, db: 0, tls: false });
    const flush = await invoke(redisConn.connectionId, "command", { command: "flushall", args: [] });
    expect(flush.status).toBe(422);
    expect(flush.body.error).toMatchObject({ code: "VALIDATION", fieldErrors: { "input.command": [expect.stringContaining("FLUSHALL is not allowed")] } });

    const api = await connectSecret("http", `rt/http-${randomUUID().slice(0, 6)}`, "apiKey", httpTarget.credentials.apiKey, { baseUrl: httpTarget.url, authScheme: "apiKey", apiKeyIn: "header", apiKeyName: "X-API-Key", testPath: "/health", caBundle: httpTarget.caCert });
    const cases: [Record<string, unknown>, string][] = [
      [{ method: "GET", path: "/echo", headers: { Authorization: "Bearer x" } }, "input.headers.Authorization"],
      [{ method: "GET", path: "/echo", headers: { "X-API-Key": "mine" } }, "input.headers.X-API-Key"], // the header this connection's key uses
      [{ method: "GET", path: "/echo", body: "hello" }, "input.body"],
      [{ method: "GET", path: "../admin" }, "input.path"],
      [{ method: "GET", path: "https://elsewhere.example/x" }, "input.path"],
      [{ method: "GET", path: "/a/%2e%2e/b" }, "input.path"],
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
    expect((await invoke(connectionId, "query", { sql: "SELEKT 1" })).status).toBe(422);
    expect((await invoke(connectionId, "nope", {})).status).toBe(422);
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
    expect((await invoke(connectionId, "query", { sql: 42 })).status).toBe(422);
    const mismatch = await invoke(connectionId, "query", { sql: "SELECT 1", params: [1, 2] });
    expect(mismatch.status).toBe(422);
    expect((await invoke("not-a-uuid", "query", { sql: "SELECT 1" })).status).toBe(404);
  });
});

describe("rotation", () => {
  const cases = [
    {
      kind: "postgres",
      setup: () => ({ username: postgres.user, password: postgres.password, config: { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" } }),
      rotate: async (password: string) => {
        const c = new pg.Client({ connectionString: postgres.adminUrl });
        await c.connect();
        await c.query(`ALTER ROLE "${postgres.user}" PASSWORD '${password}'`);
        await c.end();
      },
      op: ["query", { sql: "SELECT 1 AS one", params: [] }] as const,
    },
    {
      kind: "mariadb",
      setup: () => ({ username: mariadb.user, password: mariadb.password, config: { host: mariadb.host, port: mariadb.port, database: mariadb.database, tls: false } }),
      rotate: async (password: string) => {
        for (const host of ["%", "127.0.0.1"]) await mariadb.admin("ALTER USER ?@? IDENTIFIED BY ?", [mariadb.user, host, password]);
      },
      op: ["query", { sql: "SELECT 1 AS one", params: [] }] as const,
    },
    {
      kind: "redis",
      setup: () => ({ username: redis.username, password: redis.password, config: { host: redis.host, port: redis.port, db: 0, tls: false } }),
      rotate: async (password: string) => {
        await redis.admin().call("ACL", "SETUSER", redis.username, "resetpass", `>${password}`);
      },
      op: ["command", { command: "SET", args: [`${"KEY"}`, "v"] }] as const,
    },
  ];

  for (const c of cases) {
    it(`${c.kind}: a rotated password is refetched once and the step retried once; a second rejection fails without a loop`, async () => {
      const t = c.setup();
      const path = `rt/${c.kind}-${randomUUID().slice(0, 6)}`;
      const { connectionId } = await connect(c.kind, path, t.username, t.password, t.config);
      const [operation, rawInput] = c.op;
      const input = c.kind === "redis" ? { ...rawInput, args: [`${redis.keyPrefix}rotation`, "v"] } : rawInput;
      expect((await invoke(connectionId, operation, input)).status).toBe(200);

      // The password changes at the target and in the vault; Latch still holds the old one in its cache.
      const rotated = `rot-${randomUUID()}`;
      await c.rotate(rotated);
      vault.seedSecret({ path, data: { username: t.username, password: rotated } });
      drainAll(); // the pooled connection was authenticated before the change; a new one must log in
      const before = reads(path);
      const rotations = () => db().auditEvent.count({ where: { action: "connection.rotation", targetId: connectionId } });
      const rotationsBefore = await rotations();
      const recovered = await invoke(connectionId, operation, input);
      expect(recovered.status).toBe(200);
      expect(reads(path) - before).toBe(1);
      expect(await rotations()).toBe(rotationsBefore + 1);

      // Rotated again at the target only: the vault's value is just as wrong after the refetch.
      await c.rotate(`rot-${randomUUID()}`);
      drainAll();
      const before2 = reads(path);
      const failed = await invoke(connectionId, operation, input);
      expect(failed.status).toBe(502);
      expect(JSON.stringify(failed.body)).toContain("Credentials rejected by the target");
      expect(JSON.stringify(failed.body)).not.toContain(rotated);
      expect(reads(path) - before2).toBe(1);
      const last = await db().auditEvent.findFirstOrThrow({ where: { action: "connection.rotation", targetId: connectionId }, orderBy: { occurredAt: "desc" } });
      expect(last).toMatchObject({ outcome: "FAILURE" });

      // Restore the right password for later tests.
      await c.rotate(t.password);
      vault.seedSecret({ path, data: { username: t.username, password: t.password } });
    }, 60_000);
  }

  it("twenty concurrent invokes rejected together cause one vault fetch", async () => {
    const path = `rt/pg-burst-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    const rotated = `rot-${randomUUID()}`;
    const c = new pg.Client({ connectionString: postgres.adminUrl });
    await c.connect();
    await c.query(`ALTER ROLE "${postgres.user}" PASSWORD '${rotated}'`);
    vault.seedSecret({ path, data: { username: postgres.user, password: rotated } });
    drainAll();
    const before = reads(path);
    const results = await Promise.all(Array.from({ length: 20 }, () => invoke(connectionId, "query", { sql: "SELECT 1", params: [] })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(reads(path) - before).toBe(1);
    await c.query(`ALTER ROLE "${postgres.user}" PASSWORD '${postgres.password}'`);
    await c.end();
  }, 60_000);
});

describe("refresh", () => {
  it("clears the connection's cached secrets: the next invoke reads the vault again; a missed broadcast is caught by the generation", async () => {
    const path = `rt/pg-refresh-${randomUUID().slice(0, 6)}`;
    const { connectionId } = await connect("postgres", path, postgres.user, postgres.password, { host: postgres.host, port: postgres.port, database: postgres.database, tlsMode: "disable" });
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    let before = reads(path);
    const refreshed = await call(refreshRoute, connectionId);
    expect(refreshed).toMatchObject({ status: 200, body: { refreshed: true } });
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    expect(reads(path) - before).toBe(1);

    // Another instance refreshed and this one never heard: the generation in the database tells it.
    await db().connection.update({ where: { id: connectionId }, data: { refreshGeneration: { increment: 1 } } });
    before = reads(path);
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    expect(reads(path) - before).toBe(1);
    // …and only once.
    expect((await invoke(connectionId, "query", { sql: "SELECT 1", params: [] })).status).toBe(200);
    expect(reads(path) - before).toBe(1);
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

import { randomUUID } from "node:crypto";
import type { Folder } from "@prisma/client";
import { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ActionResult } from "@/lib/actions/action";
import { createAssetAction } from "@/lib/assets/actions";
import type { Actor } from "@/lib/authz";
import { createStoreAction } from "@/lib/stores/actions";
import { startHashicorpEmulator, type HashicorpEmulator } from "@/test/emulators/hashicorp";
import { createTestPki } from "@/test/emulators/tls";
import { editorOfTwoFolders, makeUser, signInAs } from "@/test/fixtures";
import { createRedisUser, type RedisUser } from "@/test/targets/redis";
import { bearer, personalToken } from "@/test/tokens";
import * as invokeRouteA from "@/app/api/v1/connections/[connectionId]/invoke/route";
import { saveConnectionAction } from "./actions";
import { drainAll } from "./runtime";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * Next loads lib/ once per bundle (the runner's direct route, the API's routes, the console's
 * actions), while the process shares one set of target pools and store clients between them. Here a
 * second copy of the modules (vi.resetModules) plays the other bundle: it uses the pooled client and
 * the store client the first copy made, and must answer as the first would.
 */
let editor: Actor;
let connFolder: Folder, secretsFolder: Folder;
let vault: HashicorpEmulator, redis: RedisUser;
let storeId: string;
let token: string;

function ok<T>(result: ActionResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.data;
}

type Route = { POST: (req: NextRequest, ctx: { params: Promise<Record<string, string>> }) => Promise<Response> };
async function invokeWith(route: Route, connectionId: string, operation: string, input: Record<string, unknown>) {
  const req = new NextRequest(`http://latch.test/api/v1/connections/${connectionId}/invoke`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: bearer(token) },
    body: JSON.stringify({ operation, input }),
  });
  const res = await route.POST(req, { params: Promise.resolve({ connectionId }) });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string }; result?: unknown } };
}

beforeAll(async () => {
  ({ editor, connFolder, secretsFolder } = await editorOfTwoFolders());
  const pki = createTestPki();
  [vault, redis] = await Promise.all([startHashicorpEmulator({ pki }), createRedisUser()]);
  signInAs(await makeUser({ isAdmin: true }));
  storeId = ok(
    await createStoreAction({ name: `Vault ${randomUUID().slice(0, 6)}`, kind: "hashicorp", mode: "READ_ONLY", folderId: null, config: { address: vault.url, kvVersion: "2" }, secrets: { token: vault.createToken({ ttlSeconds: 3600 }) }, caBundle: pki.caCert, timeoutMs: 5000 }),
  ).id;
  signInAs(editor);
  token = (await personalToken(editor, [{ folderId: connFolder.id, permissions: ["connections.read", "connections.use"] }])).token;
}, 120_000);

afterAll(async () => {
  await drainAll();
  await Promise.allSettled([vault?.close(), redis?.cleanup()]);
});

async function redisConnection(path: string) {
  vault.seedSecret({ path, data: { username: redis.username, password: redis.password } });
  const asset = ok(await createAssetAction({ folderId: secretsFolder.id, type: "CREDENTIAL", name: `redis ${randomUUID().slice(0, 6)}`, storeId, secretName: path, usernameKey: "username", valueKey: "password" }));
  const saved = ok(
    await saveConnectionAction({ connectionId: null, folderId: connFolder.id, name: `redis ${randomUUID().slice(0, 6)}`, kind: "redis", config: { host: redis.host, port: redis.port, db: 0, tls: false }, secrets: { password: { mode: "asset", assetId: asset.id } }, usernameFromAsset: ["password"] }),
  );
  return saved.connectionId!;
}

async function otherBundle(): Promise<Route> {
  vi.resetModules();
  const route = (await import("@/app/api/v1/connections/[connectionId]/invoke/route")) as Route;
  expect(route.POST).not.toBe(invokeRouteA.POST);
  return route;
}

describe("a pooled client or store client made by another bundle", () => {
  it("runs an invoke with the code of the copy that opened the client: its errors name the target", async () => {
    const connectionId = await redisConnection(`bundles/redis-${randomUUID().slice(0, 6)}`);
    const key = `${redis.keyPrefix}${randomUUID().slice(0, 6)}`;
    // Copy A opens the pooled client.
    expect((await invokeWith(invokeRouteA, connectionId, "command", { command: "SET", args: [key, "not a number"] })).status).toBe(200);
    const b = await otherBundle();
    expect((await invokeWith(b, connectionId, "command", { command: "GET", args: [key] })).body.result).toEqual({ result: "not a number" });
    // An error reply on A's client, invoked through B: classified with what A knows of the client.
    const failed = await invokeWith(b, connectionId, "command", { command: "INCR", args: [key] });
    expect(failed.status).toBe(422);
    expect(failed.body.error?.message).toContain(`${redis.host}:${redis.port}`);
  });

  it("reports a store failure raised by the other copy's store client as the store's failure, not an unexpected one", async () => {
    const path = `bundles/gone-${randomUUID().slice(0, 6)}`;
    const connectionId = await redisConnection(path);
    // The save above (copy A) made the store's kept client. The secret then goes, and B must read it.
    vault.deleteSecret({ path, mode: "all" });
    const b = await otherBundle();
    // The cache is shared too: without its value, the invoke reads the store.
    const { secretCache } = await import("@/lib/secrets/resolver");
    secretCache().clear();
    const failed = await invokeWith(b, connectionId, "command", { command: "EXISTS", args: [`${redis.keyPrefix}x`] });
    expect(failed.status, JSON.stringify(failed.body)).toBe(502);
    expect(failed.body.error).toMatchObject({ code: "UPSTREAM_FAILED", reason: "store_not_found", message: expect.stringContaining("(Secret not found)") });
  });
});

import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { Connector } from "@/lib/connectors/types";
import type { Pools } from "@/lib/connections/pools";

/**
 * What server.mjs calls when it stops, once the requests in flight are done (lib/server/lifecycle.mjs):
 * registered at start by instrumentation.ts, since server.mjs cannot import lib/. After it, the
 * instance holds no session anywhere: no target client (nor the credentials its driver keeps), no
 * LISTEN session, no session of its database pool.
 */
type ShutdownHook = { graceMs: number; close: () => Promise<void> };

const listeners = async (): Promise<number> => {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'Latch refresh listener'",
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
};

afterAll(() => {
  delete (globalThis as Record<symbol, unknown>)[Symbol.for("latch.shutdown")];
  delete (globalThis as Record<symbol, unknown>)[Symbol.for("latch.http")];
});

describe("instrumentation.ts", () => {
  it("registers the stop's grace period from LATCH_SHUTDOWN_GRACE_SECONDS, the idle keep-alive from LATCH_KEEP_ALIVE_SECONDS, and a close that ends target clients, the listener and the pool", async () => {
    process.env.NEXT_RUNTIME = "nodejs";
    process.env.LATCH_SHUTDOWN_GRACE_SECONDS = "90";
    process.env.LATCH_KEEP_ALIVE_SECONDS = "75";
    const { register } = await import("./instrumentation");
    await register();
    const hook = (globalThis as Record<symbol, unknown>)[Symbol.for("latch.shutdown")] as ShutdownHook | undefined;
    expect(hook?.graceMs).toBe(90_000);
    expect((globalThis as Record<symbol, unknown>)[Symbol.for("latch.http")]).toEqual({ keepAliveMs: 75_000 });

    const { openPools } = await import("@/lib/connections/runtime");
    const { isListening } = await import("@/lib/secrets/broadcast");
    const { db, sql } = await import("@/lib/db");
    // An idle pooled target client, as an instance keeps one after invokes.
    openPools();
    const pools = (globalThis as unknown as { latchRuntime: { pools: Pools } }).latchRuntime.pools;
    const close = vi.fn(async () => {});
    const entry = pools.acquire(randomUUID(), "v1", { settings: 0, fetched: 1 }, { close } as unknown as Connector, () => ({ client: Promise.resolve({}) }));
    await entry.client;
    pools.release(entry);
    expect(openPools()).toHaveLength(1);
    await vi.waitFor(() => expect(isListening()).toBe(true), { timeout: 10_000 });
    expect(await listeners()).toBe(1);
    await sql(db(), "SELECT 1", []);

    await hook!.close();

    expect(openPools()).toEqual([]);
    await vi.waitFor(() => expect(close).toHaveBeenCalledTimes(1));
    expect(isListening()).toBe(false);
    expect(await listeners()).toBe(0);
    // Ended, not replaced: a late caller gets an error instead of opening a new session.
    await expect(sql(db(), "SELECT 1", [])).rejects.toThrow(/after calling end on the pool/);
  });

  it("logs an action request Next could not decode as the sender's mistake (a warning without the sender's bytes), and other request errors as unexpected", async () => {
    process.env.NEXT_RUNTIME = "nodejs";
    const { onRequestError } = await import("./instrumentation");
    const { ACTION_REQUEST_HEADER, handleActionRequest, markActionReached } = await import("@/lib/server/action-requests.mjs");
    const { EventEmitter } = await import("node:events");
    const { logger } = await import("@/lib/log");
    const warn = vi.spyOn(logger(), "warn").mockImplementation(() => undefined);
    const error = vi.spyOn(logger(), "error").mockImplementation(() => undefined);
    const request = { path: "/folders", method: "POST", headers: { "x-request-id": "r-1" } as Record<string, string> };
    const decodeFailure = new SyntaxError('Unexpected token \'o\', "sender-bytes" is not valid JSON');
    const action = { routerKind: "App Router", routePath: "/folders", routeType: "action" } as never;
    // As server.mjs runs an action request: Next then reports its error with the request's headers.
    const asActionRequest = (during: (headers: Record<string, string>) => void | Promise<void>) => {
      const incoming = { method: "POST", headers: { "next-action": "7f" } as Record<string, string> };
      return handleActionRequest(incoming as never, new EventEmitter() as never, () => during({ ...request.headers, ...incoming.headers }), () => undefined);
    };
    await asActionRequest((headers) => onRequestError(decodeFailure, { ...request, headers }, action));
    // A form posted from another site: Next's origin check refuses it, and reports it as a render error.
    const render = { routerKind: "App Router", routePath: "/folders", routeType: "render" } as never;
    await asActionRequest((headers) => onRequestError(Object.assign(new Error("Invalid Server Actions request."), { digest: undefined }), { ...request, headers }, render));
    await asActionRequest((headers) => {
      markActionReached(headers[ACTION_REQUEST_HEADER]);
      return onRequestError(new Error("after the action"), { ...request, headers }, action);
    });
    // Outside any action request, and one naming an id server.mjs did not give.
    await onRequestError(new Error("a render failed"), request, { routerKind: "App Router", routePath: "/folders", routeType: "render" } as never);
    await onRequestError(new Error("an id of its own"), { ...request, headers: { ...request.headers, [ACTION_REQUEST_HEADER]: "made-up" } }, action);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[0]).toEqual([{ requestId: "r-1", path: "/folders", error: "SyntaxError", digest: undefined }, "a server action request failed before any action ran (undecodable, or refused); answered 400"]);
    expect(warn.mock.calls[1]).toMatchObject([{ error: "Error" }, expect.stringContaining("before any action ran")]);
    expect(JSON.stringify(warn.mock.calls)).not.toContain("sender-bytes");
    expect(error.mock.calls.map((call) => (call[0] as { err: Error }).err.message)).toEqual(["after the action", "a render failed", "an id of its own"]);
    warn.mockRestore();
    error.mockRestore();
  });
});

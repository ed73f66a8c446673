import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ActionResult } from "@/lib/actions/action";
import { createAssetAction } from "@/lib/assets/actions";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { metrics } from "@/lib/metrics";
import { grant, latchStore, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { startPartitionProxy } from "@/test/targets/net";
import { broadcastRefresh, catchUpTo, closeListenerClient, ensureCurrent, ensureListening, isListening, listenerRetryDelayMs, resumeListening, stopListening } from "./broadcast";
import { resolve } from "./resolver";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * Refreshes across instances: what another instance NOTIFYs is applied here once; what this instance
 * could not hear (listener down, dropped, or NOTIFY not yet arrived) is read from refresh_events
 * before a cached value is used.
 */
let editor: Actor;
let storeId: string;

function ok<T>(result: ActionResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.data;
}

async function newAsset() {
  const folder = await makeFolder();
  await grant(folder.id, editor, "EDITOR");
  signInAs(editor);
  return ok(await createAssetAction({ folderId: folder.id, type: "SECRET", name: `key ${randomUUID().slice(0, 6)}`, storeId, source: "value", secretName: `broadcast/${randomUUID()}`, secretValue: `v-${randomUUID()}` })).id;
}

const use = async (assetId: string) => (await resolve({ assetId }, { actor: editor, purpose: "test" })).meta.fromCache;

/** What another instance does when it refreshes: one row in the log, and (unless lost) a NOTIFY. */
async function otherInstance(kind: "connection" | "asset" | "store", id: string, opts: { notify?: boolean; assetIds?: string[] } = {}) {
  const client = new pg.Client({ connectionString: env().DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      "INSERT INTO refresh_events (kind, target_id, asset_ids, origin) VALUES ($1, $2, $3, 'other-instance') RETURNING id",
      [kind, id, opts.assetIds ?? []],
    );
    if (opts.notify !== false) {
      await client.query("SELECT pg_notify('latch_cache_refresh', $1)", [JSON.stringify({ kind, id, assetIds: opts.assetIds ?? [], origin: "other-instance", seq: Number(rows[0]!.id) })]);
    }
    return Number(rows[0]!.id);
  } finally {
    await client.end();
  }
}

/** LISTEN sessions of this instance open on the test database. */
async function listenerSessions(): Promise<number> {
  const [row] = await db().$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'Latch refresh listener'`;
  return row!.n;
}

const counted = async (direction: string) => (await metrics().refreshes.get()).values.filter((v) => v.labels.direction === direction).reduce((n, v) => n + v.value, 0);

beforeAll(async () => {
  editor = await makeUser();
  // A store of its own: the store refreshes sent here reach every test process on this database, and
  // would drop the values other tests keep in the shared built-in store.
  await latchStore();
  storeId = (await db().credentialStore.create({ data: { name: `Broadcast ${randomUUID().slice(0, 8)}`, kind: "latch", mode: "READ_WRITE" } })).id;
  await ensureListening();
  await vi.waitFor(() => expect(isListening()).toBe(true), { timeout: 10_000 });
});

afterAll(async () => {
  await stopListening();
});

describe("cross-instance refresh", () => {
  it("applies a refresh another instance NOTIFYs, once", async () => {
    const assetId = await newAsset();
    expect(await use(assetId)).toBe(false);
    expect(await use(assetId)).toBe(true);
    const received = await counted("received");
    const seq = await otherInstance("asset", assetId);
    await vi.waitFor(async () => expect(await counted("received")).toBe(received + 1), { timeout: 2000 });
    expect(await use(assetId)).toBe(false);
    // The safety net knows it was applied: neither the log nor a late copy applies it again.
    await catchUpTo(seq);
    await ensureCurrent();
    expect(await use(assetId)).toBe(true);
  });

  it("with the listener down, the event log is read before a cached value is used (asset, store, connection)", async () => {
    const [asset, storeAsset, connAsset] = [await newAsset(), await newAsset(), await newAsset()];
    for (const a of [asset, storeAsset, connAsset]) expect(await use(a)).toBe(false);
    await stopListening();
    try {
      expect(isListening()).toBe(false);
      const caught = await counted("caught_up");
      await otherInstance("asset", asset, { notify: false });
      await otherInstance("store", storeId, { notify: false });
      await otherInstance("connection", randomUUID(), { notify: false, assetIds: [connAsset] });
      await ensureCurrent();
      expect(await counted("caught_up")).toBe(caught + 3);
      for (const a of [asset, storeAsset, connAsset]) expect(await use(a)).toBe(false);
      // Applied once: the next check reads nothing new.
      await ensureCurrent();
      expect(await counted("caught_up")).toBe(caught + 3);
      expect(await use(asset)).toBe(true);
    } finally {
      await resumeListening();
      await vi.waitFor(() => expect(isListening()).toBe(true), { timeout: 10_000 });
    }
  });

  it("a first catch-up applies recent refreshes: something may have been cached before it", async () => {
    const asset = await newAsset();
    await stopListening();
    try {
      // As on an instance just started: a value resolved before its first look at the log…
      expect(await use(asset)).toBe(false);
      expect(await use(asset)).toBe(true);
      // …and another instance's refresh of it, committed after that, whose NOTIFY it never heard.
      await otherInstance("asset", asset, { notify: false });
      (globalThis as unknown as { latchBroadcast: { watermark: number | null } }).latchBroadcast.watermark = null;
      await ensureCurrent();
      expect(await use(asset)).toBe(false);
    } finally {
      await resumeListening();
      await vi.waitFor(() => expect(isListening()).toBe(true), { timeout: 10_000 });
    }
  });

  it("a refresh logged early in a long transaction, which commits after later ones, is still read from the log", async () => {
    const assetId = await newAsset();
    expect(await use(assetId)).toBe(false);
    await stopListening();
    const slow = new pg.Client({ connectionString: env().DATABASE_URL });
    await slow.connect();
    try {
      // Another instance's asset change: its event is logged at the start of a transaction that then
      // writes to a slow store (up to 120 s). created_at is the transaction's start, here 100 s ago.
      await slow.query("BEGIN");
      await slow.query("INSERT INTO refresh_events (kind, target_id, asset_ids, origin, created_at) VALUES ('asset', $1, '{}', 'other-instance', now() - interval '100 seconds')", [assetId]);
      // A later event commits first, and this instance catches up past it.
      await otherInstance("asset", randomUUID(), { notify: false });
      await ensureCurrent();
      expect(await use(assetId)).toBe(true);
      await slow.query("COMMIT");
      await ensureCurrent();
      expect(await use(assetId)).toBe(false);
    } finally {
      await slow.end();
      await resumeListening();
      await vi.waitFor(() => expect(isListening()).toBe(true), { timeout: 10_000 });
    }
  });

  it("an invoke-style check with the newest id catches up even while NOTIFY is still on its way", async () => {
    const assetId = await newAsset();
    expect(await use(assetId)).toBe(false);
    const seq = await otherInstance("asset", assetId, { notify: false }); // listener up, but nothing arrives
    await catchUpTo(seq);
    expect(await use(assetId)).toBe(false);
  });

  it("ignores a notification that is not JSON, or not a refresh, and keeps listening", async () => {
    const client = new pg.Client({ connectionString: env().DATABASE_URL });
    await client.connect();
    await client.query("SELECT pg_notify('latch_cache_refresh', 'not json {')");
    await client.query("SELECT pg_notify('latch_cache_refresh', '{\"kind\":\"everything\"}')");
    await client.end();
    const assetId = await newAsset();
    expect(await use(assetId)).toBe(false);
    await otherInstance("asset", assetId);
    await vi.waitFor(async () => expect(await use(assetId)).toBe(false), { timeout: 2000 });
    expect(isListening()).toBe(true);
  });

  it("reconnects after its connection is killed, and applies what it missed meanwhile", async () => {
    const assetId = await newAsset();
    expect(await use(assetId)).toBe(false);
    const caught = await counted("caught_up");
    const admin = new pg.Client({ connectionString: env().DATABASE_URL });
    await admin.connect();
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'Latch refresh listener' AND datname = current_database() AND pid <> pg_backend_pid()");
    await vi.waitFor(() => expect(isListening()).toBe(false), { timeout: 2000 });
    await admin.end();
    await otherInstance("asset", assetId); // its NOTIFY reaches nobody here
    await vi.waitFor(() => expect(isListening()).toBe(true), { timeout: 10_000 });
    // Caught up by the reconnect itself, before anything asked.
    expect(await counted("caught_up")).toBe(caught + 1);
    expect(await use(assetId)).toBe(false);
  });

  it("this instance's own refresh is applied at once and not again when its NOTIFY comes back", async () => {
    const assetId = await newAsset();
    expect(await use(assetId)).toBe(false);
    await broadcastRefresh({ kind: "asset", id: assetId }, db());
    expect(await use(assetId)).toBe(false);
    // A marker from another instance, sent after: NOTIFYs arrive in commit order, so once it is heard
    // the instance's own NOTIFY has come back and been handled.
    const received = await counted("received");
    await otherInstance("asset", await newAsset());
    await vi.waitFor(async () => expect(await counted("received")).toBe(received + 1), { timeout: 5000 });
    await ensureCurrent();
    expect(await use(assetId)).toBe(true);
    expect(await db().refreshEvent.count({ where: { targetId: assetId } })).toBe(1);
  });
});

describe("the listener's own session", () => {
  it("a stop that comes while the listener is still starting leaves no LISTEN session behind; a later start listens again", async () => {
    await stopListening();
    expect(await listenerSessions()).toBe(0);
    const starting = resumeListening(); // opening its session…
    await stopListening(); // …when the stop comes
    await starting.catch(() => {});
    // A session that connected late must have been closed: watched for a while, not looked at once.
    for (let i = 0; i < 20; i++) {
      expect(await listenerSessions()).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(isListening()).toBe(false);
    await resumeListening();
    await vi.waitFor(() => expect(isListening()).toBe(true), { timeout: 10_000 });
    expect(await listenerSessions()).toBe(1);
  });

  it("waits longer after each failed start, up to a minute, so a database away for hours is not asked every 2 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 100].map(listenerRetryDelayMs)).toEqual([2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });

  it("is closed within a bound when the database has stopped answering, so a stop does not wait on it", async () => {
    const url = new URL(env().DATABASE_URL);
    const proxy = await startPartitionProxy(Number(url.port || 5432), url.hostname);
    url.host = `127.0.0.1:${proxy.port}`;
    const client = new pg.Client({ connectionString: url.toString() });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      proxy.partition();
      const started = Date.now();
      await closeListenerClient(client, 500);
      expect(Date.now() - started).toBeLessThan(1_500);
      expect((client as unknown as { connection: { stream: { destroyed: boolean } } }).connection.stream.destroyed).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});

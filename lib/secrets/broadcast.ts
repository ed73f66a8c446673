import "server-only";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { Prisma } from "@prisma/client";
import { z } from "zod";
import { db, type Db } from "@/lib/db";
import { env } from "@/lib/env";
import { logger } from "@/lib/log";
import { metrics } from "@/lib/metrics";
import { invalidateAsset, invalidateStore } from "@/lib/secrets/resolver";

/**
 * Cache invalidation across instances. A refresh (connection, asset or store; also sent when an
 * asset or store changes) is applied here at once, written to refresh_events, and NOTIFYed to every
 * instance LISTENing on one PostgreSQL channel. The table is the safety net: an instance that could
 * have missed a notification (its listener dropped, or it has not arrived yet) reads the events after
 * the last one it applied before it uses a cached value. Each event is applied once per instance.
 */
const CHANNEL = "latch_cache_refresh";
/** How often the listener proves its connection is alive; a silent one is replaced. */
const PING_MS = 10_000;
/**
 * The longest a transaction that sends a refresh may run (an asset's value written to a slow store).
 * Its event's created_at is the transaction's start, and the event appears only at its commit.
 */
export const LONGEST_REFRESH_TRANSACTION_MS = 120_000;
/**
 * Events this young are re-read at a catch-up even below the watermark: ids are taken before commit,
 * so they can appear out of order, as late as the longest such transaction after their created_at.
 */
const LATE_COMMIT_WINDOW_SECONDS = LONGEST_REFRESH_TRANSACTION_MS / 1000 + 30;
const PRUNE_AFTER_HOURS = 24;
/** Keeps a notification well under PostgreSQL's 8,000-byte NOTIFY payload; more assets become a store refresh. */
const MAX_ASSET_IDS = 100;

const messageSchema = z.object({
  kind: z.enum(["connection", "asset", "store"]),
  id: z.string().uuid(),
  /**
   * Asset ids a connection refresh covers, and for either kind every other asset that points at the
   * same secret (a value is cached once for all of them), so receivers need no database read.
   */
  assetIds: z.array(z.string().uuid()).max(MAX_ASSET_IDS).default([]),
  origin: z.string().max(64),
  /** The event's row in refresh_events (absent only from an instance older than the table). */
  seq: z.coerce.number().int().positive().optional(),
});
export type RefreshMessage = z.infer<typeof messageSchema>;

/** What broadcastRefresh sent: the refresh, and the store refreshes it became too when it named too many assets. */
export type SentRefresh = RefreshMessage & { also?: SentRefresh[] };

type Handler = (message: RefreshMessage) => void;

type State = {
  instanceId: string;
  handlers: Set<Handler>;
  client: pg.Client | null;
  starting: Promise<void> | null;
  stopped: boolean;
  /** The listener is connected and has caught up since it (re)connected: nothing can have been missed. */
  live: boolean;
  /** Every event with an id up to this one has been applied here (null until first read). */
  watermark: number | null;
  /** Events above the watermark (or recently below it) applied already, with when: never applied twice. */
  applied: Map<number, number>;
  catchingUp: Promise<void> | null;
  pinger: NodeJS.Timeout | null;
  retry: NodeJS.Timeout | null;
  /** Failed attempts to start the listener in a row: the wait before the next one grows with it. */
  failures: number;
};

const holder = globalThis as unknown as { latchBroadcast?: State };

function current(): State {
  holder.latchBroadcast ??= {
    instanceId: randomUUID(),
    handlers: new Set(),
    client: null,
    starting: null,
    stopped: false,
    live: false,
    watermark: null,
    applied: new Map(),
    catchingUp: null,
    pinger: null,
    retry: null,
    failures: 0,
  };
  return holder.latchBroadcast;
}

export const instanceId = () => current().instanceId;

/** Registers what else to do when a refresh is applied here (the secret cache is cleared by this module itself); starts listening. */
export function onRefresh(handler: Handler): void {
  current().handlers.add(handler);
  void ensureListening();
}

/** Applies one refresh on this instance: the cached values, then whatever the handlers add (pools). */
function deliver(message: RefreshMessage) {
  try {
    if (message.kind === "store") invalidateStore(message.id);
    else for (const assetId of message.kind === "asset" ? [message.id, ...message.assetIds] : message.assetIds) invalidateAsset(assetId);
  } catch (error) {
    logger().error({ err: error }, "clearing cached values for a refresh failed");
  }
  for (const handler of current().handlers) {
    try {
      handler(message);
    } catch (error) {
      logger().error({ err: error }, "a cache refresh handler failed");
    }
  }
}

/** Records that event `seq` is applied here, and moves the watermark over every contiguous applied id. */
function markApplied(seq: number) {
  const b = current();
  b.applied.set(seq, Date.now());
  while (b.watermark !== null && b.applied.has(b.watermark + 1)) b.watermark++;
  const old = Date.now() - 2 * LATE_COMMIT_WINDOW_SECONDS * 1000;
  for (const [id, at] of b.applied) if (b.watermark !== null && id <= b.watermark && at < old) b.applied.delete(id);
}

/**
 * Applies a notified event unless it was applied already. One below the watermark but not in the
 * set committed late (after a catch-up read past it), so it still needs applying.
 */
function applyOnce(message: RefreshMessage) {
  if (message.seq !== undefined) {
    if (current().applied.has(message.seq)) return;
    markApplied(message.seq);
  }
  metrics().refreshes.inc({ kind: message.kind, direction: "received" });
  deliver(message);
}

function handleNotification(payload: string | undefined) {
  const b = current();
  if (!payload) return;
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    logger().warn("ignored a cache refresh notification that is not JSON");
    return;
  }
  const parsed = messageSchema.safeParse(raw);
  if (!parsed.success) {
    logger().warn("ignored a malformed cache refresh notification");
    return;
  }
  // This instance applied its own refresh when it sent it.
  if (parsed.data.origin === b.instanceId) return;
  applyOnce(parsed.data);
}

type EventRow = { id: bigint; kind: string; target_id: string; asset_ids: string[] | null; origin: string };

/**
 * Reads and applies the events this instance has not applied yet (the safety net). The first call
 * starts from the newest event: what was logged before this instance started predates its cache.
 * Recent ones (the late-commit window) are applied all the same, since something may have been
 * cached before the first call (a store test, an asset's Resolve test) and after they committed.
 */
export function catchUp(): Promise<void> {
  const b = current();
  b.catchingUp ??= (async () => {
    const from = b.watermark;
    const rows = await db().$queryRaw<EventRow[]>`
      SELECT id, kind, target_id::text AS target_id, asset_ids::text[] AS asset_ids, origin FROM refresh_events
      WHERE ${from === null ? Prisma.sql`id = (SELECT max(id) FROM refresh_events)` : Prisma.sql`id > ${from}`}
        OR created_at > now() - make_interval(secs => ${LATE_COMMIT_WINDOW_SECONDS})
      ORDER BY id`;
    let highest = from ?? 0;
    for (const row of rows) {
      const seq = Number(row.id);
      highest = Math.max(highest, seq);
      if (b.applied.has(seq) || row.origin === b.instanceId) {
        b.applied.set(seq, b.applied.get(seq) ?? Date.now());
        continue;
      }
      const parsed = messageSchema.safeParse({ kind: row.kind, id: row.target_id, assetIds: row.asset_ids ?? [], origin: row.origin, seq });
      if (!parsed.success) continue;
      b.applied.set(seq, Date.now());
      metrics().refreshes.inc({ kind: parsed.data.kind, direction: "caught_up" });
      deliver(parsed.data);
    }
    b.watermark = Math.max(b.watermark ?? 0, highest);
  })().finally(() => {
    b.catchingUp = null;
  });
  return b.catchingUp;
}

/**
 * Called before cached values are used (connect, test, invoke). Free while the listener is up and
 * caught up; otherwise it reads the events this instance may have missed.
 */
export async function ensureCurrent(): Promise<void> {
  const b = current();
  if (b.live && b.watermark !== null) return;
  if (!b.client && !b.stopped) void ensureListening();
  await catchUp();
}

/** For callers that already read the newest event id with their own query (invoke): catches up only if it is ahead. */
export async function catchUpTo(latest: number | bigint | null): Promise<void> {
  const b = current();
  const target = Number(latest ?? 0);
  if (b.watermark !== null && target <= b.watermark) return;
  await catchUp();
  // Read by the caller a moment ago: an id it saw is covered now even if it was still uncommitted for us.
  if (b.watermark !== null && target > b.watermark) await catchUp();
}

function scheduleReconnect(delayMs: number) {
  const b = current();
  if (b.stopped || b.retry) return;
  b.retry = setTimeout(() => {
    b.retry = null;
    void ensureListening();
  }, delayMs);
  b.retry.unref();
}

function dropListener(client: pg.Client, why: string, error?: unknown) {
  const b = current();
  if (b.client !== client && b.client !== null) return;
  if (b.client === client) logger().warn({ err: error }, `cache refresh listener ${why}; reconnecting`);
  b.client = null;
  b.live = false;
  if (b.pinger) clearInterval(b.pinger);
  b.pinger = null;
  client.removeAllListeners("end");
  void closeListenerClient(client);
  scheduleReconnect(1000);
}

/**
 * The wait before the next attempt to start the listener after `failures` failed ones in a row: 2 s,
 * doubling to a minute, so a database that stays away for hours is not asked (nor logged) every 2 s.
 */
export const listenerRetryDelayMs = (failures: number) => Math.min(2000 * 2 ** Math.max(0, failures - 1), 60_000);
/** How long the listener's session may take to open, or to answer LISTEN. */
const LISTENER_CONNECT_MS = 10_000;
/** How long a closing session may wait for the server to close its side before its socket is cut. */
const CLOSE_WAIT_MS = 2_000;

/**
 * Ends a session politely, and cuts its socket if the server has not closed its side within
 * CLOSE_WAIT_MS: pg's end() waits for the server, and a database behind a partition never answers,
 * which held a stop for its whole grace period.
 */
export async function closeListenerClient(client: pg.Client, waitMs = CLOSE_WAIT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      resolve();
    }, waitMs);
  });
  try {
    await Promise.race([client.end().catch(() => {}), cut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One dedicated connection per instance for LISTEN (started at boot by instrumentation.ts). After a
 * drop it reconnects, and catches up from refresh_events before it counts as live again.
 */
export function ensureListening(): Promise<void> {
  const b = current();
  if (b.client || b.stopped) return Promise.resolve();
  b.starting ??= (async () => {
    // Bounded: a server that accepts TCP and never answers must not hold `starting` (every later call waits on it).
    const client = new pg.Client({ connectionString: env().DATABASE_URL, keepAlive: true, application_name: "Latch refresh listener", connectionTimeoutMillis: LISTENER_CONNECT_MS, query_timeout: LISTENER_CONNECT_MS });
    client.on("notification", (n) => {
      if (n.channel === CHANNEL) handleNotification(n.payload);
    });
    client.on("error", (error) => dropListener(client, "lost its connection", error));
    client.on("end", () => dropListener(client, "was closed"));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      // Stopped while this session was opening: stopListening() had no client to close yet.
      if (b.stopped) {
        client.removeAllListeners("end");
        await closeListenerClient(client);
        return;
      }
      // An idle listener must not keep a process (a script, a test worker) alive.
      (client as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
      b.client = client;
      // Whatever was sent while nobody listened is read now; only then is the listener enough.
      await catchUp();
      // The connection may have dropped (or the listener been stopped) meanwhile: no pinger for a dead client.
      if (b.client !== client || b.stopped) return;
      b.live = true;
      if (b.pinger) clearInterval(b.pinger);
      b.pinger = setInterval(() => {
        const ping = client.query("SELECT 1");
        const timer = setTimeout(() => dropListener(client, "stopped answering"), 5000);
        timer.unref();
        ping.then(() => clearTimeout(timer), (error: unknown) => {
          clearTimeout(timer);
          dropListener(client, "failed a health check", error);
        });
      }, PING_MS);
      b.pinger.unref();
      if (b.failures > 0) logger().info({ attempts: b.failures + 1 }, "cache refresh listener started after the database came back");
      b.failures = 0;
    } catch (error) {
      b.failures += 1;
      const waitMs = listenerRetryDelayMs(b.failures);
      // The whole error (its stack) once; after that what it was and when the next try is.
      const err = b.failures === 1 ? error : { message: (error as Error)?.message, code: (error as { code?: unknown })?.code };
      logger().warn({ err, attempt: b.failures, retryInSeconds: waitMs / 1000 }, "could not start the cache refresh listener; retrying");
      b.client = null;
      b.live = false;
      client.removeAllListeners("end");
      void closeListenerClient(client);
      scheduleReconnect(waitMs);
    } finally {
      b.starting = null;
    }
  })();
  return b.starting;
}

/**
 * Assets that point at the same secret (store and name, any version) as the given ones. The cache
 * keeps one entry per secret, filled through whichever asset resolved it first, so refreshing one of
 * them must drop the entry for all: otherwise a value cached through another asset is served again.
 * Names are compared ignoring case: Azure Key Vault and CyberArk read "DbPass" and "dbpass" as one
 * secret. For a store that tells them apart, a refresh then drops one more entry than it must.
 */
async function sharingTheirSecret(client: Db, assetIds: string[]): Promise<{ id: string; storeId: string }[]> {
  if (assetIds.length === 0) return [];
  return client.$queryRaw<{ id: string; storeId: string }[]>`
    SELECT DISTINCT other.id::text AS id, other.store_id::text AS "storeId"
    FROM credential_assets asset
    JOIN credential_assets other ON other.store_id = asset.store_id AND lower(other.secret_name) = lower(asset.secret_name)
    WHERE asset.id = ANY(${assetIds}::uuid[])`;
}

/**
 * Announces a refresh to every instance: applied here first, then logged and NOTIFYed in one
 * statement, in `client`: the transaction that records the change or refresh, so the event commits
 * with it and is delivered at its commit. A change that is made always reaches every instance.
 */
export async function broadcastRefresh(message: Omit<RefreshMessage, "origin" | "assetIds" | "seq"> & { assetIds?: string[] }, client: Db): Promise<SentRefresh> {
  const b = current();
  // Applied here at once, before anything that can fail: the caller must not wait for its own
  // notification to see the effect, nor keep a value because the database could not be asked.
  deliver({ kind: message.kind, id: message.id, assetIds: message.assetIds ?? [], origin: b.instanceId });
  let assetIds = message.assetIds ?? [];
  const also: SentRefresh[] = [];
  if (message.kind !== "store") {
    const own = message.kind === "asset" ? [message.id] : assetIds;
    const sharing = await sharingTheirSecret(client, own);
    const more = sharing.filter((a) => !own.includes(a.id));
    if (assetIds.length + more.length <= MAX_ASSET_IDS) assetIds = [...assetIds, ...more.map((a) => a.id)];
    // Too many to name: every value of their stores is dropped instead.
    else for (const storeId of new Set(more.map((a) => a.storeId))) also.push(await broadcastRefresh({ kind: "store", id: storeId }, client));
  }
  const payload: RefreshMessage = { kind: message.kind, id: message.id, assetIds: assetIds.slice(0, MAX_ASSET_IDS), origin: b.instanceId };
  // The assets that share a secret with these, here too, as the other instances apply it (values and pools).
  if (payload.assetIds.some((assetId) => !(message.assetIds ?? []).includes(assetId))) deliver(payload);
  metrics().refreshes.inc({ kind: payload.kind, direction: "sent" });
  const [row] = await client.$queryRaw<{ id: bigint }[]>`
    WITH event AS (
      INSERT INTO refresh_events (kind, target_id, asset_ids, origin)
      VALUES (${payload.kind}, ${payload.id}::uuid, ${payload.assetIds}::uuid[], ${payload.origin})
      RETURNING id, kind, target_id, asset_ids, origin
    )
    SELECT id, pg_notify(${CHANNEL}, json_build_object('kind', kind, 'id', target_id, 'assetIds', coalesce(asset_ids, '{}'), 'origin', origin, 'seq', id)::text)::text AS notified FROM event`;
  if (row) markApplied(Number(row.id));
  // Pruned now and then by whoever sends; the log only needs to outlive a reconnect. Not awaited, and
  // on a connection of its own: a refresh's transaction must not wait for it.
  if (Math.random() < 0.01) void db().$executeRaw`DELETE FROM refresh_events WHERE created_at < now() - make_interval(hours => ${PRUNE_AFTER_HOURS})`.catch(() => 0);
  return also.length > 0 ? { ...payload, also } : payload;
}

/**
 * Applies a refresh here once more, after the transaction that sent it has committed. For a refresh
 * sent with a change (an asset's reference or value, a store's settings): broadcastRefresh applied it
 * before the commit, and a store read that started in between still saw what the change replaces
 * (the old row, the value being overwritten) and would keep it for an hour. Other instances apply it
 * at the commit, through its NOTIFY; this one skips its own notification.
 */
export function applyCommitted(sent: SentRefresh | null | undefined): void {
  if (!sent) return;
  deliver(sent);
  for (const more of sent.also ?? []) applyCommitted(more);
}

/** For tests and orderly shutdown. */
export async function stopListening(): Promise<void> {
  const b = current();
  b.stopped = true;
  b.live = false;
  if (b.pinger) clearInterval(b.pinger);
  if (b.retry) clearTimeout(b.retry);
  b.pinger = null;
  b.retry = null;
  const client = b.client;
  b.client = null;
  client?.removeAllListeners("end");
  // A start in progress sees `stopped` once its session is open and closes it itself; waited for a
  // little, not for its whole connect timeout.
  const starting = b.starting?.catch(() => {});
  const aLittle = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref());
  await Promise.all([client && closeListenerClient(client), starting && Promise.race([starting, aLittle])]);
}

/** For tests: listen again after stopListening(). */
export function resumeListening(): Promise<void> {
  current().stopped = false;
  return ensureListening();
}

/** Whether the listener is up and caught up (for tests). */
export const isListening = () => current().live;

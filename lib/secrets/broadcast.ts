import "server-only";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { z } from "zod";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { logger } from "@/lib/log";
import { metrics } from "@/lib/metrics";

/**
 * Cache invalidation across instances: every instance LISTENs on one PostgreSQL channel, and a
 * refresh on any of them is NOTIFYed to all. A missed notification (an instance reconnecting) is
 * caught by the connections' refresh generation, checked at every use.
 */
const CHANNEL = "latch_cache_refresh";

const messageSchema = z.object({
  kind: z.enum(["connection", "asset", "store"]),
  id: z.string().uuid(),
  /** Asset ids a connection refresh covers, so receivers need no database read. */
  assetIds: z.array(z.string().uuid()).max(100).default([]),
  origin: z.string().max(64),
});
export type RefreshMessage = z.infer<typeof messageSchema>;

type Handler = (message: RefreshMessage) => void;

const state = globalThis as unknown as {
  latchBroadcast?: { instanceId: string; handlers: Set<Handler>; client: pg.Client | null; starting: Promise<void> | null; stopped: boolean };
};

function current() {
  state.latchBroadcast ??= { instanceId: randomUUID(), handlers: new Set(), client: null, starting: null, stopped: false };
  return state.latchBroadcast;
}

export const instanceId = () => current().instanceId;

/** Registers what to do when any instance (this one included) announces a refresh; starts listening. */
export function onRefresh(handler: Handler): void {
  const b = current();
  b.handlers.add(handler);
  void ensureListening();
}

function deliver(message: RefreshMessage) {
  for (const handler of current().handlers) {
    try {
      handler(message);
    } catch (error) {
      logger().error({ err: error }, "a cache refresh handler failed");
    }
  }
}

/** One dedicated connection per instance for LISTEN; reconnects after a drop. */
export function ensureListening(): Promise<void> {
  const b = current();
  if (b.client || b.stopped) return Promise.resolve();
  b.starting ??= (async () => {
    const client = new pg.Client({ connectionString: env().DATABASE_URL });
    client.on("notification", (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      const parsed = messageSchema.safeParse(JSON.parse(n.payload));
      // This instance applied its own refresh when it sent it.
      if (parsed.success && parsed.data.origin !== b.instanceId) {
        metrics().refreshes.inc({ kind: parsed.data.kind, direction: "received" });
        deliver(parsed.data);
      }
    });
    client.on("error", (error) => {
      logger().warn({ err: error }, "cache refresh listener lost its connection; reconnecting");
      b.client = null;
      client.end().catch(() => {});
      setTimeout(() => void ensureListening(), 1000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      // An idle listener must not keep a process (a script, a test worker) alive.
      (client as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
      b.client = client;
    } catch (error) {
      logger().warn({ err: error }, "could not start the cache refresh listener; retrying");
      client.end().catch(() => {});
      setTimeout(() => void ensureListening(), 2000).unref();
    } finally {
      b.starting = null;
    }
  })();
  return b.starting;
}

/** Announces a refresh to every instance (delivered to this one through the same channel). */
export async function broadcastRefresh(message: Omit<RefreshMessage, "origin" | "assetIds"> & { assetIds?: string[] }): Promise<void> {
  const payload: RefreshMessage = { ...message, assetIds: message.assetIds ?? [], origin: instanceId() };
  // Applied here at once too: the caller must not wait for its own notification to see the effect.
  deliver(payload);
  metrics().refreshes.inc({ kind: payload.kind, direction: "sent" });
  await db().$executeRaw`SELECT pg_notify(${CHANNEL}, ${JSON.stringify(payload)})`;
}

/** For tests and orderly shutdown. */
export async function stopListening(): Promise<void> {
  const b = current();
  b.stopped = true;
  await b.client?.end().catch(() => {});
  b.client = null;
}

import "server-only";
import { createHmac, randomBytes } from "node:crypto";
import type { Connection, ConnectionSecret } from "@prisma/client";
import { z } from "zod";
import type { ActionContext } from "@/lib/actions/action";
import { fieldErrorsOf } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { assertCanOnFolder, assertTenant, type Actor } from "@/lib/authz";
import { getConnector } from "@/lib/connectors/registry";
import { ConnectorError, OperationInputError, type Connector } from "@/lib/connectors/types";
import { RateLimiter } from "@/lib/api/rate-limit";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { AppError, notFound, type AppErrorCode } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { logger } from "@/lib/log";
import { metrics } from "@/lib/metrics";
import { broadcastRefresh, onRefresh, type RefreshMessage } from "@/lib/secrets/broadcast";
import { invalidateAsset, invalidateStore, ResolveError } from "@/lib/secrets/resolver";
import { withCredentials, type Resolved } from "./credentials";
import { openState, sealStateFor, sourcesOf } from "./mutations";

type Ctx = Pick<ActionContext, "actor" | "requestId">;
type LoadedConnection = Connection & { secrets: ConnectionSecret[] };

const INVOKE_TIMEOUT_MS = 30_000;
const IDLE_MS = 5 * 60 * 1000;

/**
 * Targets are reached through one pooled client per connection, keyed by a fingerprint of the
 * credentials it was opened with: steady-state invokes reuse it without authenticating again; new
 * credentials (a refresh, a rotation) open a new client and drain the old one.
 */
type Pooled = { fingerprint: string; client: Promise<unknown>; connector: Connector; lastUsed: number; stateJson: string | null };

const runtime = globalThis as unknown as {
  latchRuntime?: { pools: Map<string, Pooled>; seenGeneration: Map<string, number>; fingerprintKey: Buffer; sweeper: NodeJS.Timeout | null; subscribed: boolean };
};

function rt() {
  runtime.latchRuntime ??= { pools: new Map(), seenGeneration: new Map(), fingerprintKey: randomBytes(32), sweeper: null, subscribed: false };
  const r = runtime.latchRuntime;
  if (!r.subscribed) {
    r.subscribed = true;
    onRefresh(applyRefresh);
  }
  if (!r.sweeper) {
    r.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [id, pooled] of r.pools) if (now - pooled.lastUsed > IDLE_MS) drain(id);
    }, 60_000);
    r.sweeper.unref();
  }
  return r;
}

/** Keyed hash of the resolved values: tells credential versions apart without keeping a value. */
function fingerprint(resolved: Resolved, config: unknown): string {
  const h = createHmac("sha256", rt().fingerprintKey);
  h.update(JSON.stringify(config ?? {}));
  for (const [k, v] of Object.entries(resolved.secrets).sort()) h.update(`\u0000s:${k}\u0000${v}`);
  for (const [k, v] of Object.entries(resolved.usernames).sort()) h.update(`\u0000u:${k}\u0000${v}`);
  return h.digest("base64url");
}

const limiterHolder = globalThis as unknown as { latchInvokeLimiter?: RateLimiter };
function invokeLimiter(): RateLimiter {
  const rate = env().LATCH_INVOKE_RATE_PER_SECOND;
  limiterHolder.latchInvokeLimiter ??= new RateLimiter(rate, rate * 2);
  return limiterHolder.latchInvokeLimiter;
}

/** Closes and forgets a connection's pooled client. */
export function drain(connectionId: string): void {
  const pooled = rt().pools.get(connectionId);
  if (!pooled) return;
  rt().pools.delete(connectionId);
  pooled.client.then((c) => pooled.connector.close(c)).catch(() => {});
}

function applyRefresh(message: RefreshMessage) {
  if (message.kind === "store") {
    invalidateStore(message.id);
    // Pools opened with this store's values are drained at their next use (fingerprint changes) or by refresh generation.
    return;
  }
  for (const assetId of message.kind === "asset" ? [message.id] : message.assetIds) invalidateAsset(assetId);
  if (message.kind === "connection") drain(message.id);
}

/** The safety net for a missed broadcast: a newer generation in the database means "refresh here too". */
function catchUpGeneration(connection: LoadedConnection) {
  const seen = rt().seenGeneration.get(connection.id);
  if (seen !== undefined && seen < connection.refreshGeneration) {
    for (const s of connection.secrets) if (s.assetId) invalidateAsset(s.assetId);
    drain(connection.id);
  }
  rt().seenGeneration.set(connection.id, connection.refreshGeneration);
}

async function loadConnection(connectionId: string): Promise<LoadedConnection> {
  const connection = isUuid(connectionId) ? await db().connection.findUnique({ where: { id: connectionId }, include: { secrets: true } }) : null;
  if (!connection) throw notFound("Connection");
  return connection;
}

/** Run time resolves on behalf of the connection's owner, who must still hold assets.use (the resolver checks). */
async function ownerOf(connection: Connection): Promise<Actor> {
  const owner = await db().user.findUnique({ where: { id: connection.ownerId } });
  if (!owner || !owner.active) throw new AppError("CONFLICT", "The person who owns this connection is deactivated; someone with access must edit and reconnect it.");
  return { id: owner.id, email: owner.email, name: owner.name, isAdmin: owner.isAdmin };
}

const ERROR_CODES: Record<ConnectorError["kind"], AppErrorCode> = {
  credentials_rejected: "UPSTREAM_FAILED",
  permission: "UPSTREAM_FAILED",
  // The target refused this request (bad SQL, a refused command): the caller's input, not an outage.
  target_error: "VALIDATION",
  tls: "UPSTREAM_FAILED",
  unreachable: "UPSTREAM_UNAVAILABLE",
  dns: "UPSTREAM_UNAVAILABLE",
  egress_denied: "UPSTREAM_FAILED",
  timeout: "UPSTREAM_TIMEOUT",
  config: "CONFLICT",
};

const TITLES: Record<ConnectorError["kind"], string> = {
  credentials_rejected: "Credentials rejected by the target",
  permission: "Permission denied by the target",
  target_error: "The target returned an error",
  tls: "TLS problem",
  unreachable: "Target unreachable",
  dns: "Host name not found",
  egress_denied: "Address not allowed",
  timeout: "The target did not answer in time",
  config: "Configuration problem",
};

/** A target failure as the REST API reports it: 502/503/504 with a clear code and message, no value. */
export class TargetError extends AppError {
  constructor(readonly kind: ConnectorError["kind"], message: string) {
    super(ERROR_CODES[kind], `${TITLES[kind]}: ${message}`);
  }
}

export const invokeBodySchema = z.object({
  operation: z.string().min(1, "Name the operation.").max(64),
  input: z.record(z.string(), z.unknown()).default({}),
});

/**
 * Runs one operation of the connection's connector with its credentials. If the target rejects
 * credentials that came from the cache, they are fetched once more (one fetch however many invokes
 * were rejected together) and the step is retried once; each such event is audited as a rotation.
 */
export async function invokeConnection(ctx: Ctx, input: { connectionId: string; operation: string; input: Record<string, unknown> }): Promise<{ operation: string; result: unknown; durationMs: number }> {
  const started = performance.now();
  invokeLimiter().take(ctx.actor.scope ? `token:${ctx.actor.scope.tokenId}` : `user:${ctx.actor.id}`);
  const connection = await loadConnection(input.connectionId);
  await assertCanOnFolder(db(), ctx.actor, "connections.use", connection.folderId, "Connection");
  if (connection.status === "PENDING_AUTHORIZATION") throw new AppError("CONFLICT", "This connection is waiting for authorisation in the app; finish connecting it in the console first.");
  const connector = getConnector(connection.connectorKind);
  const operation = connector.operations[input.operation];
  if (!operation) {
    throw new AppError("VALIDATION", `“${input.operation.slice(0, 64)}” is not an operation of ${connector.label}. Available: ${Object.keys(connector.operations).join(", ")}.`, { operation: ["Unknown operation."] });
  }
  const parsed = operation.input.safeParse(input.input);
  if (!parsed.success) {
    const errors = Object.fromEntries(Object.entries(fieldErrorsOf(parsed.error)).map(([k, v]) => [`input.${k}`, v]));
    throw new AppError("VALIDATION", Object.values(errors)[0]?.[0] ?? "Check the operation's input.", errors);
  }
  catchUpGeneration(connection);
  const owner = await ownerOf(connection);
  const config = (connection.config ?? {}) as Record<string, unknown>;

  const rotationAudit = async (outcome: "retried" | "unchanged") => {
    metrics().rotations.inc({ connector: connector.kind, outcome });
    await recordAuditEvent(db(), {
      actor: ctx.actor,
      action: "connection.rotation",
      target: { type: "connection", id: connection.id, label: connection.name },
      folderId: connection.folderId,
      outcome: outcome === "retried" ? "SUCCESS" : "FAILURE",
      requestId: ctx.requestId,
      details: { connector: connector.kind, assets: connection.secrets.filter((s) => s.assetId).map((s) => s.assetId), outcome },
    });
  };

  try {
    const result = await withCredentials(
      sourcesOf(connection),
      { actor: owner, requestId: ctx.requestId, purpose: "invoke" },
      async (resolved) => {
        const fp = fingerprint(resolved, config);
        const pooled = await pooledClient(connection, connector, fp, resolved, config);
        try {
          const out = await operation.run(await pooled.client, parsed.data, { timeoutMs: INVOKE_TIMEOUT_MS });
          await persistState(connection, connector, pooled);
          return out;
        } catch (error) {
          const classified = error instanceof ConnectorError ? error : connector.classify(error, { ...config, ...resolved.usernames });
          // A pool whose credentials were rejected is drained; the retry opens a new one.
          if (classified?.kind === "credentials_rejected") drain(connection.id);
          throw classified ?? error;
        }
      },
      { onRotation: rotationAudit },
    );
    observeInvoke(connector.kind, "ok", started);
    return { operation: input.operation, result, durationMs: Math.round(performance.now() - started) };
  } catch (error) {
    observeInvoke(connector.kind, error instanceof OperationInputError ? "input" : error instanceof ConnectorError ? error.kind : error instanceof ResolveError ? `store_${error.kind}` : "error", started);
    // The caller's input, refused by a rule only the connection knows: a 422 naming the field.
    if (error instanceof OperationInputError) throw new AppError("VALIDATION", error.message, { [`input.${error.field}`]: [error.message] });
    if (error instanceof ConnectorError) throw new TargetError(error.kind, error.message);
    if (error instanceof ResolveError) throw error;
    throw error;
  }
}

function observeInvoke(connector: string, outcome: string, started: number) {
  metrics().invokes.inc({ connector, outcome });
  metrics().invokeDuration.observe({ connector, outcome }, (performance.now() - started) / 1000);
}

async function pooledClient(connection: LoadedConnection, connector: Connector, fp: string, resolved: Resolved, config: Record<string, unknown>): Promise<Pooled> {
  const pools = rt().pools;
  const existing = pools.get(connection.id);
  if (existing && existing.fingerprint === fp) {
    existing.lastUsed = Date.now();
    return existing;
  }
  if (existing) drain(connection.id);
  const state = await openState(connection);
  const pooled: Pooled = {
    fingerprint: fp,
    connector,
    lastUsed: Date.now(),
    stateJson: state ? JSON.stringify(state) : null,
    client: connector.open({ config: { ...config, ...resolved.usernames }, secrets: resolved.secrets, timeoutMs: INVOKE_TIMEOUT_MS, state }).catch((error: unknown) => {
      if (pools.get(connection.id) === pooled) pools.delete(connection.id);
      throw connector.classify(error, { ...config, ...resolved.usernames }) ?? error;
    }),
  };
  pools.set(connection.id, pooled);
  return pooled;
}

/** OAuth tokens refreshed while invoking are sealed back into the connection (only when they changed). */
async function persistState(connection: LoadedConnection, connector: Connector, pooled: Pooled) {
  if (!connector.stateOf) return;
  const next = connector.stateOf(await pooled.client);
  if (!next) return;
  const json = JSON.stringify(next);
  if (json === pooled.stateJson) return;
  pooled.stateJson = json;
  await db().connection.update({ where: { id: connection.id }, data: await sealStateFor(connection.id, next) });
}

/** Refresh: clears the connection's cached secrets on every instance and drains its pools; it stays connected. */
export async function refreshConnection(ctx: Ctx, input: { connectionId: string }) {
  const connection = await loadConnection(input.connectionId);
  await assertCanOnFolder(db(), ctx.actor, "connections.use", connection.folderId, "Connection");
  const assetIds = [...new Set(connection.secrets.map((s) => s.assetId).filter((x): x is string => !!x))];
  await db().$transaction(async (tx) => {
    await tx.connection.update({ where: { id: connection.id }, data: { refreshGeneration: { increment: 1 } } });
    await recordAuditEvent(tx, { actor: ctx.actor, action: "connection.refresh", target: { type: "connection", id: connection.id, label: connection.name }, folderId: connection.folderId, requestId: ctx.requestId, details: { assets: assetIds } });
  });
  await broadcastRefresh({ kind: "connection", id: connection.id, assetIds });
  return { refreshed: true as const, connectionId: connection.id };
}

/** Refresh an asset: every instance drops its cached value; connections using it catch up by generation. */
export async function refreshAsset(ctx: Ctx, input: { assetId: string }) {
  const asset = isUuid(input.assetId) ? await db().credentialAsset.findUnique({ where: { id: input.assetId } }) : null;
  if (!asset) throw notFound("Credential asset");
  await assertCanOnFolder(db(), ctx.actor, "assets.use", asset.folderId, "Credential asset");
  await db().$transaction(async (tx) => {
    await tx.connection.updateMany({ where: { secrets: { some: { assetId: asset.id } } }, data: { refreshGeneration: { increment: 1 } } });
    await recordAuditEvent(tx, { actor: ctx.actor, action: "asset.refresh", target: { type: "asset", id: asset.id, label: asset.name }, folderId: asset.folderId, requestId: ctx.requestId });
  });
  await broadcastRefresh({ kind: "asset", id: asset.id });
  return { refreshed: true as const, assetId: asset.id };
}

/** Refresh a store (administrators): every value read from it is dropped on every instance. */
export async function refreshStore(ctx: Ctx, input: { storeId: string }) {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  const store = isUuid(input.storeId) ? await db().credentialStore.findUnique({ where: { id: input.storeId } }) : null;
  if (!store) throw notFound("Credential store");
  await db().$transaction(async (tx) => {
    await tx.connection.updateMany({ where: { secrets: { some: { asset: { storeId: store.id } } } }, data: { refreshGeneration: { increment: 1 } } });
    await recordAuditEvent(tx, { actor: ctx.actor, action: "store.refresh", target: { type: "store", id: store.id, label: store.name }, folderId: store.folderId, requestId: ctx.requestId });
  });
  await broadcastRefresh({ kind: "store", id: store.id });
  return { refreshed: true as const, storeId: store.id };
}

/** For tests and shutdown. */
export function drainAll(): void {
  for (const id of [...rt().pools.keys()]) drain(id);
  logger().debug("drained every pooled connection");
}

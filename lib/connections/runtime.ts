import "server-only";
import { createHmac, randomBytes } from "node:crypto";
import type { Connection, ConnectionSecret, Prisma } from "@prisma/client";
import { z } from "zod";
import type { ActionContext } from "@/lib/actions/action";
import { fieldErrorsNamingUnknownKeys } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { EPOCH_COLUMN, EpochMemo } from "@/lib/authz/epoch";
import { assertCanFromChain, assertCanOnFolder, assertTenant, chainUserFor, folderChainSql, type Actor, type FolderChain } from "@/lib/authz";
import { CONNECTOR_KINDS, getConnectorOrThrow } from "@/lib/connectors/registry";
import { within } from "@/lib/connectors/socket-shared";
import { ConnectorError, OperationInputError, type Connector } from "@/lib/connectors/types";
import { db, sql } from "@/lib/db";
import { env } from "@/lib/env";
import { AppError, notFound, type AppErrorCode, type FieldErrors } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { logger } from "@/lib/log";
import { metrics } from "@/lib/metrics";
import { broadcastRefresh, catchUpTo, onRefresh, type RefreshMessage } from "@/lib/secrets/broadcast";
import { ResolveError } from "@/lib/secrets/resolver";
import { runtimeActorFrom, targetConfig, triggerOf, withCredentials, type Resolved, type RotationEvent } from "./credentials";
import { Pools, type PoolEntry, type Rank } from "./pools";
import { auditRefusedUse, checkedUse, useTarget } from "./denied";
import { sourcesOf } from "./mutations";
import { limitRefresh } from "./rate-limits";
import { storeFailureFor } from "./store-failures";
import { openState, sharedStateOf, sweepUnsaved } from "./state";

type Ctx = Pick<ActionContext, "actor" | "requestId">;
type LoadedConnection = Connection & { secrets: ConnectionSecret[] };

/** How long an invoke may take in all (opening a client, the operation, a retry after a rotation), unless its input says. */
const INVOKE_TIMEOUT_MS = 30_000;

/**
 * The invoke's one deadline: what its input asks for (an HTTP request's timeoutMs), else 30 s. The
 * returned function gives the time left, and throws a timeout once there is none, so a retry after a
 * slow rejection cannot run past what the runner was promised.
 */
function invokeDeadline(input: unknown, started: number): () => number {
  const asked = (input as { timeoutMs?: unknown } | null)?.timeoutMs;
  const budgetMs = typeof asked === "number" && asked > 0 ? asked : INVOKE_TIMEOUT_MS;
  return () => {
    const left = Math.floor(started + budgetMs - performance.now());
    if (left <= 0) throw new ConnectorError("timeout", `The invoke did not finish within its time limit (${budgetMs / 1000} s), a retry after a rejected credential included.`);
    return left;
  };
}

const runtime = globalThis as unknown as {
  latchRuntime?: { pools: Pools; rotations: Map<string, number>; fingerprintKey: Buffer; sweeper: NodeJS.Timeout | null; subscribed: boolean };
};

function rt() {
  runtime.latchRuntime ??= { pools: new Pools(), rotations: new Map(), fingerprintKey: randomBytes(32), sweeper: null, subscribed: false };
  const r = runtime.latchRuntime;
  if (!r.subscribed) {
    r.subscribed = true;
    onRefresh(applyRefresh);
  }
  if (!r.sweeper) {
    r.sweeper = setInterval(() => {
      r.pools.sweep(env().LATCH_POOL_IDLE_SECONDS * 1000);
      const hourAgo = Date.now() - 3600_000;
      for (const [key, at] of r.rotations) if (at < hourAgo) r.rotations.delete(key);
      sweepUnsaved().catch((error: unknown) => logger().warn({ err: error }, "could not check kept OAuth renewals; trying again later"));
    }, 30_000);
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

/** How recent the settings and values are (see Rank), so an older version never displaces a newer client. */
const rankOf = (connection: LoadedConnection, resolved: Resolved): Rank => ({ settings: connection.settingsVersion, fetched: Math.max(0, ...resolved.fetchSeqs.values()) });

/** Drains every pooled client of a connection (all credential versions): in-flight invokes finish first. */
export function drain(connectionId: string): void {
  rt().pools.drainConnection(connectionId);
}

/** The pooled clients open on this instance (no values), for tests and diagnostics. */
export const openPools = (connectionId?: string) => rt().pools.list(connectionId);

/** Cached values are cleared by lib/secrets/broadcast itself; the run time drains the connection's clients. */
function applyRefresh(message: RefreshMessage) {
  if (message.kind === "connection") drain(message.id);
  // Clients built with a refreshed value, whichever connection they serve (they would log in new
  // sessions with it until they idled out).
  else if (message.kind === "asset") rt().pools.drainUsing({ assetIds: [message.id, ...message.assetIds] });
  else rt().pools.drainUsing({ storeId: message.id, assetIds: message.assetIds });
}

type ConnectionRow = {
  id: string;
  folder_id: string;
  name: string;
  connector_kind: string;
  config: Prisma.JsonValue;
  status: Connection["status"];
  owner_id: string;
  last_connected_at: Date | null;
  settings_version: number;
  last_check_at: Date | null;
  last_message: string | null;
  last_error_kind: string | null;
  refresh_generation: number;
  state_ciphertext: Uint8Array | null;
  state_data_key_id: string | null;
  created_at: Date;
  updated_at: Date;
  secrets: { field: string; part: ConnectionSecret["part"]; assetId: string | null; ciphertext: string | null; dataKeyId: string | null }[] | null;
  owner_email: string;
  owner_name: string;
  owner_is_admin: boolean;
  owner_active: boolean;
  latest_refresh: number | null;
  chain: FolderChain;
  authz_epoch: number;
};

type ForInvoke = {
  connection: LoadedConnection;
  owner: { id: string; email: string; name: string; isAdmin: boolean; active: boolean };
  latestRefresh: number | null;
  chain: FolderChain;
};

/** What loadForInvoke read, per connection and chain user, while the authorisation epoch stands (lib/authz/epoch.ts). */
const forInvoke = new EpochMemo<ForInvoke>();

/**
 * Everything an invoke needs, in one round trip: the connection, its secret fields, its owner (whom
 * its assets resolve as), the newest refresh event id (the safety net for a missed broadcast), and
 * its folder's chain with the caller's roles, from which lib/authz decides connections.use. Kept
 * between invokes while the authorisation epoch stands: any change to these rows, or a refresh
 * event, bumps it; the decision itself is made afresh at every invoke.
 */
async function loadForInvoke(connectionId: string, actor: Actor): Promise<ForInvoke> {
  if (!isUuid(connectionId)) throw notFound("Connection");
  const chainUser = chainUserFor(actor);
  const loaded = await forInvoke.load(`${connectionId}|${chainUser ?? ""}`, () => readForInvoke(connectionId, chainUser));
  if (!loaded) throw notFound("Connection");
  return loaded;
}

async function readForInvoke(connectionId: string, chainUser: string | null): Promise<{ value: ForInvoke; epoch: number } | null> {
  const [row] = await sql<ConnectionRow>(
    db(),
    `
    SELECT c.id::text AS id, c.folder_id::text AS folder_id, c.name, c.connector_kind, c.config, c.status::text AS status, c.owner_id::text AS owner_id,
      c.last_connected_at, c.last_check_at, c.last_message, c.last_error_kind, c.refresh_generation,
      c.state_ciphertext, c.state_data_key_id::text AS state_data_key_id, c.created_at, c.updated_at, c.settings_version,
      (SELECT json_agg(json_build_object('field', s.field, 'part', s.part, 'assetId', s.asset_id, 'ciphertext', encode(s.ciphertext, 'base64'), 'dataKeyId', s.data_key_id)) FROM connection_secrets s WHERE s.connection_id = c.id) AS secrets,
      u.email AS owner_email, u.name AS owner_name, u.is_admin AS owner_is_admin, u.active AS owner_active,
      (SELECT max(id) FROM refresh_events)::float8 AS latest_refresh,
      ${folderChainSql("c.folder_id", "$2::uuid")} AS chain, ${EPOCH_COLUMN}
    FROM connections c JOIN users u ON u.id = c.owner_id
    WHERE c.id = $1::uuid`,
    [connectionId, chainUser],
  );
  if (!row) return null;
  const connection: LoadedConnection = {
    id: row.id,
    folderId: row.folder_id,
    name: row.name,
    connectorKind: row.connector_kind,
    config: row.config,
    status: row.status,
    ownerId: row.owner_id,
    lastConnectedAt: row.last_connected_at,
    lastCheckAt: row.last_check_at,
    lastMessage: row.last_message,
    lastErrorKind: row.last_error_kind,
    refreshGeneration: row.refresh_generation,
    stateCiphertext: row.state_ciphertext,
    stateDataKeyId: row.state_data_key_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    settingsVersion: row.settings_version,
    secrets: (row.secrets ?? []).map((x) => ({
      connectionId: row.id,
      field: x.field,
      part: x.part,
      assetId: x.assetId,
      ciphertext: x.ciphertext === null ? null : new Uint8Array(Buffer.from(x.ciphertext, "base64")),
      dataKeyId: x.dataKeyId,
    })),
  } as LoadedConnection;
  return {
    value: { connection, owner: { id: row.owner_id, email: row.owner_email, name: row.owner_name, isAdmin: row.owner_is_admin, active: row.owner_active }, latestRefresh: row.latest_refresh, chain: row.chain },
    epoch: row.authz_epoch,
  };
}

async function loadConnection(connectionId: string): Promise<LoadedConnection> {
  const connection = isUuid(connectionId) ? await db().connection.findUnique({ where: { id: connectionId }, include: { secrets: true } }) : null;
  if (!connection) throw notFound("Connection");
  return connection;
}

const ERROR_CODES: Record<ConnectorError["kind"], AppErrorCode> = {
  credentials_rejected: "UPSTREAM_FAILED",
  permission: "UPSTREAM_FAILED",
  // The target refused this request (bad SQL, a refused command): the caller's input, not an outage.
  target_error: "VALIDATION",
  upstream_error: "UPSTREAM_FAILED",
  // Retryable as it is: 503 with Retry-After, which retry policies already act on.
  busy: "UPSTREAM_UNAVAILABLE",
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
  target_error: "Refused by the target",
  upstream_error: "The target answered with an error",
  busy: "The target asks to run it again",
  tls: "TLS problem",
  unreachable: "Target unreachable",
  dns: "Host name not found",
  egress_denied: "Address not allowed",
  timeout: "The target did not answer in time",
  config: "Configuration problem",
};

/** A target failure as the REST API reports it: 502/503/504 with a clear code and message, no value. */
export class TargetError extends AppError {
  static override readonly brand = "latch.TargetError";
  constructor(
    readonly kind: ConnectorError["kind"],
    message: string,
    targetRetryAfterSeconds?: number,
    private readonly sentCode?: string,
    /** The input field the target's refusal is about, when one is (an exchange that does not exist). */
    fieldErrors?: FieldErrors,
  ) {
    const code = ERROR_CODES[kind];
    // The target's own wait on a 503, or 1 s after a rollback it asks to have repeated.
    super(code, `${TITLES[kind]}: ${message}`, fieldErrors, code === "UPSTREAM_UNAVAILABLE" ? (targetRetryAfterSeconds ?? (kind === "busy" ? 1 : undefined)) : undefined);
  }
  override get reason(): string {
    return this.kind;
  }
  override get targetCode(): string | undefined {
    return this.sentCode;
  }
}

// Strict: a setting put beside `input` instead of in it (`timeoutMs`) is refused, not silently ignored.
export const invokeBodySchema = z.strictObject({
  operation: z.string().min(1, "Name the operation.").max(64),
  input: z.record(z.string(), z.unknown()).default({}),
});

/**
 * Each operation name with what its connectors share: the input schema it validates with at run time,
 * and the output schema of its result (connectors sharing an operation name share both, e.g.
 * PostgreSQL and MariaDB `query`, HTTP API and OAuth `request`; which applies follows from the connection).
 */
function operationsByName(): Map<string, { input: z.ZodType; output: z.ZodType; labels: string[]; descriptions: string[] }> {
  const byName = new Map<string, { input: z.ZodType; output: z.ZodType; labels: string[]; descriptions: string[] }>();
  for (const kind of CONNECTOR_KINDS) {
    const connector = getConnectorOrThrow(kind);
    for (const [name, op] of Object.entries(connector.operations)) {
      const seen = byName.get(name) ?? { input: op.input, output: op.output, labels: [], descriptions: [] };
      seen.labels.push(connector.label);
      seen.descriptions.push(`${connector.label}: ${op.description}`);
      byName.set(name, seen);
    }
  }
  return byName;
}

/** The invoke body as documented: one variant per operation name. */
export function documentedInvokeBody(): z.ZodType {
  const variants = [...operationsByName()].map(([name, v]) =>
    z.strictObject({ operation: z.literal(name), input: v.input }).meta({ title: `${name} (${v.labels.join(", ")})`, description: v.descriptions.join("\n\n") }),
  );
  return z.discriminatedUnion("operation", variants as unknown as [z.ZodObject, ...z.ZodObject[]]);
}

/** The invoke's answer as documented: one variant per operation name, with the shape of its result. */
export function documentedInvokeResponse(): z.ZodType {
  const variants = [...operationsByName()].map(([name, v]) =>
    z
      .object({ operation: z.literal(name), result: v.output, durationMs: z.number().meta({ description: "How long the invoke took on the server, in ms." }) })
      .meta({ title: `${name} (${v.labels.join(", ")})` }),
  );
  return z.discriminatedUnion("operation", variants as unknown as [z.ZodObject, ...z.ZodObject[]]);
}

/**
 * Runs one operation of the connection's connector with its credentials. If the target rejects
 * credentials that came from the cache, they are fetched once more (one fetch however many invokes
 * were rejected together) and the step is retried once; each such event is audited as a rotation.
 */
export async function invokeConnection(ctx: Ctx, input: { connectionId: string; operation: string; input: Record<string, unknown> }): Promise<{ operation: string; result: unknown; durationMs: number }> {
  const started = performance.now();
  const { connection, owner: ownerRow, latestRefresh, chain } = await loadForInvoke(input.connectionId, ctx.actor);
  // Permissions are checked afresh at every invoke; a caller without them learns nothing of the owner.
  try {
    assertCanFromChain(ctx.actor, "connections.use", chain, "Connection");
  } catch (error) {
    await auditRefusedUse(ctx, "connection.invoke", useTarget(connection), error, { connector: connection.connectorKind, operation: input.operation.slice(0, 64) });
    throw error;
  }
  if (connection.status === "PENDING_AUTHORIZATION") throw new AppError("CONFLICT", "This connection is waiting for authorisation in the app; finish connecting it in the console first.");
  const connector = getConnectorOrThrow(connection.connectorKind);
  // Own keys only: "constructor" or "toString" must not find what every object inherits.
  const operation = Object.hasOwn(connector.operations, input.operation) ? connector.operations[input.operation] : undefined;
  if (!operation) {
    throw new AppError("VALIDATION", `“${input.operation.slice(0, 64)}” is not an operation of ${connector.label}. Available: ${Object.keys(connector.operations).join(", ")}.`, { operation: ["Unknown operation."] });
  }
  const parsed = operation.input.safeParse(input.input);
  if (!parsed.success) {
    // A misspelt field ("rowlimit") would otherwise be ignored, and the default used without a word.
    const named = fieldErrorsNamingUnknownKeys(parsed.error, (path) => `“${path}” is not a field of ${input.operation}'s input; check its spelling against the API reference.`);
    const errors = Object.fromEntries(Object.entries(named).map(([key, messages]) => [`input.${key}`, messages]));
    throw new AppError("VALIDATION", Object.values(errors)[0]?.[0] ?? "Check the operation's input.", errors);
  }
  const timeLeft = invokeDeadline(parsed.data, started);
  // A refresh another instance sent that this one has not applied yet (NOTIFY still on its way, or missed) is applied now.
  await catchUpTo(latestRefresh);
  const owner = runtimeActorFrom(ownerRow);
  const config = (connection.config ?? {}) as Record<string, unknown>;

  // One audit event and one metric per rotation, not per invoke caught in it: invokes rejected
  // together share one refetch (the same fetch sequence), and the first to finish its retry reports.
  const rotationAudit = async ({ outcome, refetch }: RotationEvent) => {
    const key = `${connection.id}|${refetch}`;
    if (rt().rotations.has(key)) return;
    rt().rotations.set(key, Date.now());
    metrics().rotations.inc({ connector: connector.kind, outcome });
    // The invoke goes on whatever the audit store says; a lost event is logged.
    await recordAuditEvent(db(), {
      actor: ctx.actor,
      action: "connection.rotation",
      target: { type: "connection", id: connection.id, label: connection.name },
      folderId: connection.folderId,
      outcome: outcome === "recovered" ? "SUCCESS" : "FAILURE",
      requestId: ctx.requestId,
      details: { connector: connector.kind, assets: connection.secrets.filter((s) => s.assetId).map((s) => s.assetId), outcome, resolvedAs: owner.email },
    }).catch((auditError: unknown) => logger().error({ err: auditError, connectionId: connection.id, requestId: ctx.requestId }, "could not audit a rotation"));
  };

  let used: Resolved | null = null;
  // The client whose credentials the target rejected: drained only if they are fetched again, so a
  // path that always answers 401 does not tear down the connection's pooled client at every invoke.
  let rejected: PoolEntry | null = null;
  // One event per invoke: who ran what on which connection, how it ended, and which assets it used
  // (from the cache or the store) on whose behalf. No input, no result, no value.
  const auditInvoke = (outcome: string) =>
    recordAuditEvent(db(), {
      actor: ctx.actor,
      action: "connection.invoke",
      target: { type: "connection", id: connection.id, label: connection.name },
      folderId: connection.folderId,
      outcome: outcome === "ok" ? "SUCCESS" : "FAILURE",
      requestId: ctx.requestId,
      details: {
        connector: connector.kind,
        operation: input.operation,
        outcome,
        durationMs: Math.round(performance.now() - started),
        resolvedAs: owner.email,
        assets: used ? Object.fromEntries(used.cache) : {},
      },
    });
  let result: unknown;
  try {
    result = await withCredentials(
      sourcesOf(connection),
      // Store reads are audited as they happen; cache hits are recorded in this invoke's own event below.
      { actor: owner, requestId: ctx.requestId, purpose: "invoke", triggeredBy: triggerOf(ctx.actor), auditCacheHits: false },
      async (resolved) => {
        used = resolved;
        const entry = pooledClient(connection, connector, resolved, config);
        // The code of the copy of lib/ that opened the pooled client runs on it: another bundle (the
        // runner's route, the API's routes, the console's actions) may have opened it, and each
        // connector keeps what it knows of its clients in its own module (lib/error-brand.ts).
        const own = entry.connector;
        const run = Object.hasOwn(own.operations, input.operation) ? own.operations[input.operation]!.run : operation.run;
        let client: unknown;
        try {
          // Another invoke may be opening this client already: wait for it no longer than this one may take.
          client = rt().pools.isOpen(entry) ? await entry.client : await within(entry.client, timeLeft(), () => new ConnectorError("timeout", "Opening the connection to the target did not finish within the invoke's time limit."));
          // Tokens the client renews on the way (OAuth) are stored as it renews them, through sharedState.
          return await run(client, parsed.data, { timeoutMs: timeLeft() });
        } catch (error) {
          const classified = error instanceof ConnectorError ? error : own.classify(error, targetConfig(config, resolved));
          // The client of these credentials (this version only) is drained if they are fetched again (see
          // onRefetch); a retry opens its own. Not when fetching them again cannot help (an OAuth token
          // refused after its renewal): the client keeps what it learnt, e.g. that a renewal did not help.
          if (classified?.kind === "credentials_rejected" && classified.refetch) rejected = entry;
          throw classified ?? error;
        } finally {
          rt().pools.release(entry);
        }
      },
      {
        onRotation: rotationAudit,
        onRefetch: () => {
          if (rejected) rt().pools.drain(rejected);
        },
      },
    );
  } catch (error) {
    // An input error the target raised (it carries the target's code) counts, and answers, as the target's refusal.
    const inputError = error instanceof OperationInputError && error.targetCode === undefined;
    const outcome = inputError ? "input" : error instanceof OperationInputError ? "target_error" : error instanceof ConnectorError ? error.kind : error instanceof ResolveError ? error.reason : error instanceof AppError ? error.code.toLowerCase() : "error";
    observeInvoke(connector.kind, outcome, started);
    await auditInvoke(outcome).catch((auditError: unknown) => logger().error({ err: auditError }, "could not audit a failed invoke"));
    // The caller's input, refused by a rule only the connection knows: a 422 naming the field.
    if (error instanceof OperationInputError) {
      const fieldErrors = { [`input.${error.field}`]: [error.message] };
      throw inputError ? new AppError("VALIDATION", error.message, fieldErrors) : new TargetError("target_error", error.message, undefined, error.targetCode, fieldErrors);
    }
    if (error instanceof ConnectorError) throw new TargetError(error.kind, error.message, error.retryAfterSeconds, error.targetCode);
    // The owner's store failed: the caller hears where only if it may read the assets.
    if (error instanceof ResolveError) throw await storeFailureFor(ctx.actor, connection.secrets.map((s) => s.assetId), error);
    throw error;
  }
  observeInvoke(connector.kind, "ok", started);
  // The operation has run: an audit store failing now must not answer it as a failure, which a
  // runner would retry (running a non-idempotent statement or request twice). The log keeps it.
  await auditInvoke("ok").catch((auditError: unknown) => logger().error({ err: auditError, connectionId: connection.id, requestId: ctx.requestId }, "could not audit a successful invoke"));
  return { operation: input.operation, result, durationMs: Math.round(performance.now() - started) };
}

function observeInvoke(connector: string, outcome: string, started: number) {
  metrics().invokes.inc({ connector, outcome });
  metrics().invokeDuration.observe({ connector, outcome }, (performance.now() - started) / 1000);
}

function pooledClient(connection: LoadedConnection, connector: Connector, resolved: Resolved, config: Record<string, unknown>): PoolEntry {
  const merged = targetConfig(config, resolved);
  const pool = { max: env().LATCH_POOL_MAX_PER_CONNECTION, idleMs: env().LATCH_POOL_IDLE_SECONDS * 1000 };
  const uses = () => ({ assetIds: new Set(resolved.stores.keys()), storeIds: new Set(resolved.stores.values()), expiresAt: resolved.expiresAt });
  return rt().pools.acquire(connection.id, fingerprint(resolved, config), rankOf(connection, resolved), connector, () => ({
    client: (async () => {
      const state = await openState(connection);
      try {
        return await connector.open({ config: merged, secrets: resolved.secrets, timeoutMs: INVOKE_TIMEOUT_MS, state, pool, sharedState: sharedStateOf(connection.id) });
      } catch (error) {
        throw connector.classify(error, merged) ?? error;
      }
    })(),
  }), uses);
}

/** Refresh: clears the connection's cached secrets on every instance and drains its pools; it stays connected. */
export async function refreshConnection(ctx: Ctx, input: { connectionId: string }) {
  limitRefresh(ctx.actor);
  const connection = await loadConnection(input.connectionId);
  await checkedUse(ctx, "connection.refresh", useTarget(connection), () => assertCanOnFolder(db(), ctx.actor, "connections.use", connection.folderId, "Connection"));
  const assetIds = [...new Set(connection.secrets.map((s) => s.assetId).filter((x): x is string => !!x))];
  await db().$transaction(async (tx) => {
    await tx.connection.update({ where: { id: connection.id }, data: { refreshGeneration: { increment: 1 } } });
    await recordAuditEvent(tx, { actor: ctx.actor, action: "connection.refresh", target: { type: "connection", id: connection.id, label: connection.name }, folderId: connection.folderId, requestId: ctx.requestId, details: { assets: assetIds } });
    await broadcastRefresh({ kind: "connection", id: connection.id, assetIds }, tx);
  });
  return { refreshed: true as const, connectionId: connection.id };
}

/** Refresh an asset: every instance drops its cached value (the event commits with the refresh, so none misses it). */
export async function refreshAsset(ctx: Ctx, input: { assetId: string }) {
  limitRefresh(ctx.actor);
  const asset = isUuid(input.assetId) ? await db().credentialAsset.findUnique({ where: { id: input.assetId } }) : null;
  if (!asset) throw notFound("Credential asset");
  await checkedUse(ctx, "asset.refresh", { kind: "asset", id: asset.id, name: asset.name, folderId: asset.folderId }, () =>
    assertCanOnFolder(db(), ctx.actor, "assets.use", asset.folderId, "Credential asset"),
  );
  await db().$transaction(async (tx) => {
    await tx.connection.updateMany({ where: { secrets: { some: { assetId: asset.id } } }, data: { refreshGeneration: { increment: 1 } } });
    await recordAuditEvent(tx, { actor: ctx.actor, action: "asset.refresh", target: { type: "asset", id: asset.id, label: asset.name }, folderId: asset.folderId, requestId: ctx.requestId });
    await broadcastRefresh({ kind: "asset", id: asset.id }, tx);
  });
  return { refreshed: true as const, assetId: asset.id };
}

/** Refresh a store (administrators): every value read from it is dropped on every instance. */
export async function refreshStore(ctx: Ctx, input: { storeId: string }) {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  limitRefresh(ctx.actor);
  const store = isUuid(input.storeId) ? await db().credentialStore.findUnique({ where: { id: input.storeId } }) : null;
  if (!store) throw notFound("Credential store");
  await db().$transaction(async (tx) => {
    await tx.connection.updateMany({ where: { secrets: { some: { asset: { storeId: store.id } } } }, data: { refreshGeneration: { increment: 1 } } });
    await recordAuditEvent(tx, { actor: ctx.actor, action: "store.refresh", target: { type: "store", id: store.id, label: store.name }, folderId: store.folderId, requestId: ctx.requestId });
    await broadcastRefresh({ kind: "store", id: store.id }, tx);
  });
  return { refreshed: true as const, storeId: store.id };
}

/** For tests and shutdown: resolves once every client no invoke holds has closed. */
export async function drainAll(): Promise<void> {
  await rt().pools.drainAll();
  logger().debug("drained every pooled connection");
}

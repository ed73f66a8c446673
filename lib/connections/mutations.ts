import "server-only";
import { randomBytes, randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { Connection, ConnectionSecret, Prisma } from "@prisma/client";
import type { ActionContext } from "@/lib/actions/action";
import { fieldErrorsOf } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { assertCanOnFolder, type Actor } from "@/lib/authz";
import { checkedUse, useTarget } from "./denied";
import { sameOAuthGrant } from "@/lib/connectors/oauth2";
import { getConnectorOrThrow, isConnectorKind } from "@/lib/connectors/registry";
import { ConnectorError, type Connector, type ConnectorField, type SharedState } from "@/lib/connectors/types";
import { caBundleAddsTrust } from "@/lib/stores/common-fields";
import { destinationChange } from "./destination";
import { encrypt } from "@/lib/crypto/envelope";
import { db, type Db, type Tx } from "@/lib/db";
import { AppError, conflict, notFound, type FieldErrors } from "@/lib/errors";
import { isSecretType } from "@/lib/assets/schemas";
import { isUuid } from "@/lib/ids";
import { broadcastRefresh } from "@/lib/secrets/broadcast";
import { ResolveError } from "@/lib/secrets/resolver";
import { STORE_ERROR_TITLES } from "@/lib/vault/errors";
import { limitRefresh } from "./rate-limits";
import { hiddenStoreFailure, mayReadAssets } from "./store-failures";
import { NO_STATE, openState, sameBytes, sealState, sharedStateOf } from "./state";
import { OwnerCannotResolve, runtimeActorFor, runtimeActorFrom, targetConfig, triggerOf, typedValueAad, withCredentials, type FieldSource, type ResolveFor } from "./credentials";
import type { SaveConnectionInput } from "./schemas";
import { nameTaken } from "@/lib/db/names";
import { DELETED_MEANWHILE_MESSAGE, isForeignKeyViolation, isRecordGone, isUniqueViolation } from "@/lib/db/errors";
import { logger } from "@/lib/log";

type Ctx = Pick<ActionContext, "actor" | "requestId">;

const CONNECT_TIMEOUT_MS = 15_000;

export type ConnectOutcome =
  | { ok: true; connectionId: string; message: string }
  | { ok: true; connectionId: string; redirectTo: string }
  | { ok: false; connectionId: string | null; kind: string; title: string; message: string; targetCode?: string };

const CONNECTOR_ERROR_TITLES: Record<ConnectorError["kind"], string> = {
  credentials_rejected: "Credentials rejected by the target",
  permission: "Permission denied by the target",
  unreachable: "Target unreachable",
  dns: "Host name not found",
  tls: "TLS problem",
  timeout: "Timed out",
  egress_denied: "Address not allowed",
  config: "Configuration problem",
  target_error: "The target returned an error",
  upstream_error: "The target answered with an error",
  busy: "The target asks to run it again",
};

/** Fields that apply given the other fields' values (showWhen), so hidden ones are neither required nor kept. */
export function activeFields(connector: Connector, config: Record<string, unknown>): ConnectorField[] {
  return connector.fields.filter((f) => !f.showWhen || f.showWhen.equals.includes(String(config[f.showWhen.field] ?? "")));
}

function validationFailure(errors: FieldErrors): never {
  throw new AppError("VALIDATION", Object.values(errors)[0]?.[0] ?? "Check the highlighted fields.", errors);
}

async function loadConnection(tx: Tx, connectionId: string) {
  const connection = isUuid(connectionId) ? await tx.connection.findUnique({ where: { id: connectionId }, include: { secrets: true } }) : null;
  if (!connection) throw notFound("Connection");
  return connection;
}

type Plan = {
  config: Record<string, unknown>;
  sources: FieldSource[];
  /** What gets stored per field: an asset reference, a value to seal, or an existing sealed row kept. */
  rows: { field: string; part: "VALUE" | "USERNAME"; assetId?: string; typed?: string; keep?: ConnectionSecret }[];
  /** Username fields filled from assets: not stored in config. */
  usernameFields: string[];
};

/** A connection's message while it waits for someone to authorise its OAuth app. */
export const WAITING_FOR_AUTHORIZATION = "Waiting for authorisation in the app's sign-in page.";

const USERNAME_NEEDS_CREDENTIAL = "Only a Credential asset can fill the username: choose one for this field, or fill the username in yourself.";

/** The type of an asset the person may use; forbidden and absent both answer "not found". */
async function usableAssetType(actor: Ctx["actor"], assetId: string) {
  const asset = isUuid(assetId) ? await db().credentialAsset.findUnique({ where: { id: assetId }, select: { type: true, folderId: true } }) : null;
  if (!asset) throw notFound("Credential asset");
  await assertCanOnFolder(db(), actor, "assets.use", asset.folderId, "Credential asset");
  return asset.type;
}

/** Whether the person may use the asset; forbidden and absent alike are false. */
const mayUseAsset = (actor: Ctx["actor"], assetId: string) =>
  usableAssetType(actor, assetId).then(
    () => true,
    (error: unknown) => {
      if (error instanceof AppError && error.code === "NOT_FOUND") return false;
      throw error;
    },
  );

/**
 * A connection resolves its assets as its owner (lib/connections/credentials.ts), whoever saves it.
 * An asset the person saving may use and the owner may not would be saved as "Connected", then fail
 * at every use: it is refused here, by field. The person saving is checked first, so an asset they
 * may not use is not found, as anywhere else. A deactivated owner is taken over by the save instead.
 */
async function assertOwnerMayUse(ctx: Ctx, existing: { ownerId: string } | null, sources: FieldSource[]) {
  if (!existing || existing.ownerId === ctx.actor.id) return;
  const owner = await db().user.findUnique({ where: { id: existing.ownerId }, select: { id: true, email: true, name: true, isAdmin: true, active: true } });
  if (!owner?.active) return;
  const ownerActor = runtimeActorFrom(owner);
  const ownerMay = new Map<string, boolean>();
  const errors: FieldErrors = {};
  for (const source of sources) {
    if (!("assetId" in source) || source.part !== "VALUE") continue;
    if (!ownerMay.has(source.assetId)) {
      await usableAssetType(ctx.actor, source.assetId);
      ownerMay.set(source.assetId, await mayUseAsset(ownerActor, source.assetId));
    }
    if (!ownerMay.get(source.assetId)) {
      errors[`secrets.${source.field}`] = [`This connection runs as its owner, ${owner.name || owner.email}, who may not use this asset. Choose an asset they may use, or ask an administrator of its folder to let them use it.`];
    }
  }
  if (Object.keys(errors).length > 0) throw new AppError("VALIDATION", Object.values(errors)[0]![0]!, errors);
}

/** Checks the form against the connector, and works out where each secret comes from. No vault call yet. */
async function plan(connector: Connector, input: SaveConnectionInput, existing: (Connection & { secrets: ConnectionSecret[] }) | null, actor: Ctx["actor"]): Promise<Plan> {
  const errors: FieldErrors = {};
  if (!input.name) errors.name = ["Enter a name."];
  const fields = activeFields(connector, input.config);
  const storedValue = (field: string) => existing?.secrets.find((s) => s.field === field && s.part === "VALUE");

  // Secret field → the Credential asset that also fills the connector's username field (a reference, not a copy).
  const usernameAssets = new Map<string, string>();
  for (const secretField of new Set(input.usernameFromAsset)) {
    const f = fields.find((x) => x.name === secretField && x.type === "secret");
    if (!f?.usernameField) {
      errors[`secrets.${secretField}`] = ["This field has no username to fill from an asset."];
      continue;
    }
    const source = input.secrets[f.name];
    // Kept: the asset the connection already uses for this field, even if it did not fill the username before.
    const assetId = source?.mode === "asset" ? source.assetId : source?.mode === "keep" ? (storedValue(f.name)?.assetId ?? null) : null;
    if (!assetId) {
      errors[`secrets.${f.name}`] = [USERNAME_NEEDS_CREDENTIAL];
      continue;
    }
    // A kept asset the person may no longer use is said by its field below.
    if (source?.mode === "keep" && !(await mayUseAsset(actor, assetId))) continue;
    const type = await usableAssetType(actor, assetId);
    // A setting (Text, Integer, Boolean) cannot back the secret field at all; the resolver refuses it below.
    if (type !== "CREDENTIAL" && isSecretType(type)) {
      const userLabel = connector.fields.find((x) => x.name === f.usernameField)?.label ?? f.usernameField;
      errors[`secrets.${f.name}`] = [`Only a Credential asset can fill “${userLabel}”; this is a ${type.toLowerCase()} asset. Fill “${userLabel}” in yourself, or choose a Credential asset.`];
      continue;
    }
    usernameAssets.set(f.name, assetId);
  }
  const usernameFields = new Set([...usernameAssets.keys()].map((name) => fields.find((x) => x.name === name)!.usernameField!));

  // Non-secret values: only active, declared fields are kept; username fields filled from an asset are not config.
  const rawConfig: Record<string, unknown> = {};
  for (const f of fields) if (f.type !== "secret" && !usernameFields.has(f.name) && input.config[f.name] !== undefined && input.config[f.name] !== "") rawConfig[f.name] = input.config[f.name];
  const parsed = connector.configSchema.safeParse(Object.fromEntries([...Object.entries(rawConfig), ...[...usernameFields].map((u) => [u, "from-asset"])]));
  if (!parsed.success) for (const [k, v] of Object.entries(fieldErrorsOf(parsed.error))) errors[`config.${k}`] ??= v;
  const config = parsed.success ? (parsed.data as Record<string, unknown>) : {};
  for (const u of usernameFields) delete config[u];

  const sources: FieldSource[] = [];
  const rows: Plan["rows"] = [];
  for (const f of fields.filter((x) => x.type === "secret")) {
    const source = input.secrets[f.name] ?? { mode: "none" as const };
    const stored = storedValue(f.name);
    if (source.mode === "asset") {
      if (!isUuid(source.assetId)) throw notFound("Credential asset");
      sources.push({ field: f.name, part: "VALUE", assetId: source.assetId });
      rows.push({ field: f.name, part: "VALUE", assetId: source.assetId });
    } else if (source.mode === "value") {
      sources.push({ field: f.name, part: "VALUE", typed: source.value });
      rows.push({ field: f.name, part: "VALUE", typed: source.value });
    } else if (source.mode === "keep" && stored && existing) {
      if (stored.assetId) {
        // The asset this connection already uses (its chip is on the form): one the person saving may
        // no longer use is said by the field, to choose another, rather than as an asset "not found".
        if (!(await mayUseAsset(actor, stored.assetId))) {
          errors[`secrets.${f.name}`] ??= ["You may not use the credential asset chosen here: choose another one for this field, or type the value."];
          continue;
        }
        sources.push({ field: f.name, part: "VALUE", assetId: stored.assetId });
        rows.push({ field: f.name, part: "VALUE", assetId: stored.assetId });
      } else if (stored.ciphertext && stored.dataKeyId) {
        // A value someone typed for one destination is not sent to another unasked (as a store's secret is not).
        const moved = parsed.success ? destinationChange(connector.destination((existing.config ?? {}) as Record<string, unknown>), connector.destination(config)) : null;
        if (moved) {
          errors[`secrets.${f.name}`] ??= [`Latch does not send the stored ${f.label.toLowerCase()} ${moved}: enter it again, or use a credential asset.`];
        } else {
          sources.push({ field: f.name, part: "VALUE", sealed: { ciphertext: stored.ciphertext, dataKeyId: stored.dataKeyId }, aad: typedValueAad(existing.id, f.name) });
          rows.push({ field: f.name, part: "VALUE", keep: stored });
        }
      }
    } else if (f.required) {
      errors[`secrets.${f.name}`] ??= [`Enter ${f.label.toLowerCase()}, or use a credential asset.`];
    }
    const usernameAsset = usernameAssets.get(f.name);
    if (usernameAsset && f.usernameField) {
      sources.push({ field: f.usernameField, part: "USERNAME", assetId: usernameAsset });
      rows.push({ field: f.usernameField, part: "USERNAME", assetId: usernameAsset });
    }
  }
  if (Object.keys(errors).length > 0) validationFailure(errors);
  return { config, sources, rows, usernameFields: [...usernameFields] };
}

/** A failed outcome as told to the actor: a store's failure in general terms unless the actor may read every asset involved. */
export async function outcomeFor<O extends ConnectOutcome>(actor: Actor, assetIds: readonly (string | null | undefined)[], outcome: O): Promise<O> {
  if (outcome.ok || !outcome.kind.startsWith("store_")) return outcome;
  return (await mayReadAssets(actor, assetIds)) ? outcome : { ...outcome, message: hiddenStoreFailure(outcome.kind.slice("store_".length)) };
}

export function describeFailure(error: unknown, connectionId: string | null): ConnectOutcome | null {
  if (error instanceof OwnerCannotResolve) return { ok: false, connectionId, kind: "owner", title: "Its owner cannot use its credentials", message: error.forStatus };
  if (error instanceof ConnectorError) {
    return { ok: false, connectionId, kind: error.kind, title: CONNECTOR_ERROR_TITLES[error.kind], message: error.message, ...(error.targetCode ? { targetCode: error.targetCode } : {}) };
  }
  if (error instanceof ResolveError) return { ok: false, connectionId, kind: error.reason, title: `Credential store: ${STORE_ERROR_TITLES[error.kind]}`, message: error.userMessage };
  return null;
}

/** Opens the target with resolved credentials, proves it works, closes. Values never leave this call. */
async function testTarget(connector: Connector, p: Plan, ctx: Ctx & Pick<ResolveFor, "triggeredBy">, state: Record<string, string> | null, sharedState?: SharedState) {
  return withCredentials(p.sources, { ...ctx, purpose: "connect" }, async (resolved) => {
    const input = { config: targetConfig(p.config, resolved), secrets: resolved.secrets, timeoutMs: CONNECT_TIMEOUT_MS, state, sharedState };
    let client: unknown;
    try {
      client = await connector.open(input);
      const result = await connector.check(client, input);
      return { message: result.message, state: connector.stateOf?.(client) ?? null };
    } catch (error) {
      throw connector.classify(error, input.config) ?? error;
    } finally {
      if (client !== undefined) await connector.close(client).catch(() => {});
    }
    // A test is asked for: its caller may have just put the new value in the store.
  }, { evenIfJustConfirmed: true });
}

async function writeRows(tx: Tx, connectionId: string, rows: Plan["rows"]) {
  await tx.connectionSecret.deleteMany({ where: { connectionId } });
  for (const row of rows) {
    if (row.keep) {
      await tx.connectionSecret.create({ data: { connectionId, field: row.field, part: "VALUE", ciphertext: row.keep.ciphertext, dataKeyId: row.keep.dataKeyId } });
    } else if (row.typed !== undefined) {
      const sealed = await encrypt(row.typed, typedValueAad(connectionId, row.field), tx);
      await tx.connectionSecret.create({ data: { connectionId, field: row.field, part: "VALUE", ciphertext: sealed.ciphertext, dataKeyId: sealed.dataKeyId } });
    } else {
      await tx.connectionSecret.create({ data: { connectionId, field: row.field, part: row.part, assetId: row.assetId! } });
    }
  }
}

/**
 * For the audit trail: which fields use which asset, which hold a typed value. Never a value. A list of
 * objects, not a map keyed by field name: the audit layer masks keys like "password" whatever they hold.
 */
export const fieldSummary = (rows: { field: string; part: "VALUE" | "USERNAME"; assetId?: string | null }[]) =>
  rows.map((r) => (r.assetId ? { field: r.field, part: r.part.toLowerCase(), source: "asset", assetId: r.assetId } : { field: r.field, part: r.part.toLowerCase(), source: "typed" }));

const CHANGED_MEANWHILE = "Someone else changed this connection while you were editing it. Reload the page and try again.";

/** What a save's transaction met when another request got there first: audited as a failed save, then answered. */
class LostRaceAnswer extends Error {
  constructor(readonly answer: AppError) {
    super(answer.userMessage);
  }
}

const connectionNameTaken = (name: string) =>
  conflict(`A connection named “${name}” already exists in this folder.`, { name: [`A connection named “${name}” already exists in this folder.`] });

/**
 * What the save's write met when another request got there between the checks and the write: the
 * name taken, the connection deleted, its folder deleted. Answered as the checks would have
 * answered; null for anything else.
 */
function lostRace(error: unknown, name: string): AppError | null {
  if (error instanceof LostRaceAnswer) return error.answer;
  if (isUniqueViolation(error, "connections_folder_name_key")) return connectionNameTaken(name);
  if (isRecordGone(error)) return notFound("Connection");
  if (isForeignKeyViolation(error)) return conflict(DELETED_MEANWHILE_MESSAGE);
  return null;
}

async function assertUniqueName(tx: Tx, folderId: string, name: string, exceptId?: string) {
  if (await nameTaken(tx, "connections", name, { scope: folderId, exceptId })) throw connectionNameTaken(name);
}

/**
 * "Connect": authorise, resolve every asset-backed field through the resolver (which re-checks
 * assets.use), prove the connection against the real target, and only then save settings and
 * references. A failed test saves nothing. OAuth authorization-code connections are saved pending
 * and the browser is sent to the app's authorisation page.
 */
export async function saveConnection(ctx: Ctx, input: SaveConnectionInput, oauth?: { startAuthorization(connectionId: string, config: Record<string, unknown>): Promise<{ redirectTo: string; state: Record<string, string> }> }): Promise<ConnectOutcome> {
  const existing = input.connectionId ? await loadConnection(db(), input.connectionId) : null;
  const folderId = existing?.folderId ?? input.folderId;
  // A refused edit of a connection that exists is in its folder's trail (DENIED); a refused create has no target to record.
  const mayWrite = (client: Db) =>
    existing
      ? checkedUse(ctx, "connection.update", useTarget(existing), () => assertCanOnFolder(client, ctx.actor, "connections.write", folderId, "Connection"), { connector: existing.connectorKind })
      : assertCanOnFolder(client, ctx.actor, "connections.write", folderId, "Folder");
  await mayWrite(db());
  const connector = getConnectorOrThrow(existing?.connectorKind ?? input.kind);
  if (existing && existing.connectorKind !== input.kind) throw notFound("Connection");
  // A taken name is reported with the form's other mistakes, not alone before them.
  const nameError = (await nameTaken(db(), "connections", input.name, { scope: folderId, exceptId: existing?.id })) ? connectionNameTaken(input.name) : null;
  const p = await plan(connector, input, existing, ctx.actor).catch((error: unknown) => {
    if (nameError && error instanceof AppError && error.code === "VALIDATION") throw new AppError("VALIDATION", error.userMessage, { ...nameError.fieldErrors, ...error.fieldErrors });
    throw error;
  });
  if (nameError) throw nameError;
  await assertOwnerMayUse(ctx, existing, p.sources);

  // Kept state (OAuth tokens) belongs to one grant: an edit that changes what the grant was given for starts afresh.
  const kept = existing && sameGrant(existing, p) ? await openState(existing) : null;
  // Authorization code: the browser goes to the app's sign-in only when there are no tokens for this grant yet;
  // an edit that leaves the grant alone (a rename, another CA bundle) is tested with the tokens it has.
  const authorizationCode = connector.kind === "oauth2" && p.config.grant === "authorization_code" ? (oauth ?? null) : null;
  let pendingAuthorization = authorizationCode !== null && !kept?.accessToken;
  // A save that did not land, with why (the target's refusal, a store failure, a lost race). Never a value.
  const auditFailure = (failure: string | null) =>
    recordAuditEvent(db(), {
      actor: ctx.actor,
      action: existing ? "connection.update" : "connection.create",
      target: { type: "connection", id: existing?.id ?? null, label: input.name },
      folderId,
      outcome: "FAILURE",
      requestId: ctx.requestId,
      details: { connector: connector.kind, fields: fieldSummary(p.rows), failure },
    });
  const recordFailure = async (failure: ConnectOutcome) => {
    await auditFailure(failure.ok ? null : failure.kind);
    return outcomeFor(ctx.actor, p.sources.map((s) => ("assetId" in s ? s.assetId : null)), failure);
  };
  // The editor loaded an older version: saving would undo someone else's edit. Refused before the target is tried.
  if (existing && input.expectedVersion !== undefined && input.expectedVersion !== existing.settingsVersion) {
    await auditFailure("conflict");
    throw conflict(CHANGED_MEANWHILE);
  }
  let tested: { message: string; state: Record<string, string> | null } | null = null;
  // Whether this save's own test may have stored renewed tokens, moving the row's kept state itself.
  let testedWithKeptState = false;
  if (!pendingAuthorization) {
    try {
      // Kept tokens are the saved connection's, which its clients on every instance may be renewing too.
      testedWithKeptState = kept !== null;
      tested = await testTarget(connector, p, ctx, kept, kept && existing ? sharedStateOf(existing.id) : undefined);
    } catch (error) {
      const failure = describeFailure(error, existing?.id ?? null);
      if (!failure) throw error;
      // The app no longer honours the kept grant (invalid_grant: revoked or expired; or no refresh token):
      // ask the person to authorise again. A rejected client secret stays an error: authorising cannot fix it.
      const grantGone = authorizationCode !== null && !failure.ok && failure.kind === "config";
      if (!grantGone) return recordFailure(failure);
      pendingAuthorization = true;
    }
  } else {
    // Resolve now anyway, so a forbidden or missing asset is refused before anything is saved;
    // a store failure is answered and audited like one met while testing the target.
    try {
      await withCredentials(p.sources, { ...ctx, purpose: "connect" }, async () => undefined);
    } catch (error) {
      const failure = describeFailure(error, existing?.id ?? null);
      if (!failure) throw error;
      return recordFailure(failure);
    }
  }
  // The browser's way to the app's sign-in is made before anything is saved, and kept with the connection in
  // the same transaction: a save that commits can always be authorised. (Pure: no database step.)
  const connectionId = existing?.id ?? randomUUID();
  let started: { redirectTo: string; state: Record<string, string> } | null = null;
  if (pendingAuthorization && authorizationCode) {
    try {
      started = await authorizationCode.startAuthorization(connectionId, p.config);
    } catch (error) {
      const failure = describeFailure(error, existing?.id ?? null);
      if (!failure) throw error;
      return recordFailure(failure);
    }
  }
  await db().$transaction(async (tx) => {
    await mayWrite(tx);
    await assertUniqueName(tx, folderId, input.name, existing?.id);
    if (existing) {
      // The plan (kept secret rows, kept tokens) was made from `existing`, read before the test (and checked
      // against the version the editor loaded): the row, locked until commit, must still be at that version, or
      // this save would undo an edit saved meanwhile, with or without a version sent. Every edit moves it, in
      // this same write; status, kept tokens and refreshes do not, so they are no conflict.
      await tx.$queryRaw`SELECT 1 FROM "connections" WHERE "id" = ${existing.id}::uuid FOR UPDATE`;
      const current = await tx.connection.findUnique({ where: { id: existing.id }, select: { settingsVersion: true, stateCiphertext: true } });
      if (!current) throw new LostRaceAnswer(notFound("Connection"));
      // Kept state that moved without this save's test: an authorisation completed meanwhile.
      const stateMoved = kept !== null && !testedWithKeptState && !sameBytes(existing.stateCiphertext, current.stateCiphertext);
      if (current.settingsVersion !== existing.settingsVersion || stateMoved) throw new LostRaceAnswer(conflict(CHANGED_MEANWHILE));
    }
    const now = new Date();
    const status = pendingAuthorization ? "PENDING_AUTHORIZATION" : "CONNECTED";
    const common = {
      name: input.name,
      config: p.config as Prisma.InputJsonValue,
      status,
      lastCheckAt: now,
      lastMessage: tested?.message.slice(0, 500) ?? WAITING_FOR_AUTHORIZATION,
      lastErrorKind: null,
      ...(tested ? { lastConnectedAt: now } : {}),
    } as const;
    // A connection whose owner was deactivated cannot run; whoever saves it (and so has just shown
    // they may use its assets) takes it over.
    const takeOver = existing ? !(await tx.user.findUnique({ where: { id: existing.ownerId }, select: { active: true } }))?.active : false;
    const row = existing
      ? await tx.connection.update({ where: { id: existing.id }, data: { ...common, settingsVersion: { increment: 1 }, ...(takeOver ? { ownerId: ctx.actor.id } : {}) } })
      : await tx.connection.create({ data: { ...common, id: connectionId, folderId, connectorKind: connector.kind, ownerId: ctx.actor.id } });
    await writeRows(tx, row.id, p.rows);
    if (started) await tx.connection.update({ where: { id: row.id }, data: await sealState(row.id, started.state, tx) });
    else if (tested?.state) await tx.connection.update({ where: { id: row.id }, data: await sealState(row.id, tested.state, tx) });
    else if (existing && !kept) await tx.connection.update({ where: { id: row.id }, data: NO_STATE });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: existing ? "connection.update" : "connection.create",
      target: { type: "connection", id: row.id, label: input.name },
      folderId,
      requestId: ctx.requestId,
      details: { connector: connector.kind, fields: fieldSummary(p.rows), status, ...(takeOver ? { ownerTakenOverFrom: existing!.ownerId } : {}) },
    });
  }).catch(async (error: unknown) => {
    const lost = lostRace(error, input.name);
    if (!lost) throw error;
    // The target was tested with these credentials all the same: the trail says so, and why nothing was saved.
    await auditFailure(lost.code.toLowerCase()).catch((auditError: unknown) => logger().error({ err: auditError }, "could not audit a connection save that lost a race"));
    throw lost;
  });

  if (started) return { ok: true, connectionId, redirectTo: started.redirectTo };
  return { ok: true, connectionId, message: tested!.message };
}

/** Whether the kept OAuth grant still applies: the same grant settings, and the client secret's source too. */
function sameGrant(existing: Connection & { secrets: ConnectionSecret[] }, p: Plan): boolean {
  const saved = (existing.config ?? {}) as Record<string, unknown>;
  if (!sameOAuthGrant(saved, p.config)) return false;
  // Tokens are not sent under a newly trusted CA (one that could vouch for an interceptor) unasked.
  if (caBundleAddsTrust(saved.caBundle as string | undefined, p.config.caBundle as string | undefined)) return false;
  const was = existing.secrets.find((s) => s.field === "clientSecret" && s.part === "VALUE");
  const now = p.rows.find((r) => r.field === "clientSecret" && r.part === "VALUE");
  if (!was || !now) return !was && !now;
  // Kept as it was, or the same asset chosen again; a newly typed secret is a new one.
  return Boolean(now.keep) || (now.assetId !== undefined && now.assetId === was.assetId);
}

/** Whether two reads of a connection have the same connector, settings and secret sources. */
function sameSettings(a: Connection & { secrets: ConnectionSecret[] }, b: Connection & { secrets: ConnectionSecret[] }): boolean {
  const sources = (c: typeof a) =>
    c.secrets.map((s) => [s.field, s.part, s.assetId, s.dataKeyId, s.ciphertext ? Buffer.from(s.ciphertext).toString("base64") : null].join("\u0000")).sort();
  return a.connectorKind === b.connectorKind && isDeepStrictEqual(a.config, b.config) && isDeepStrictEqual(sources(a), sources(b));
}


/** Sources of a saved connection, for Reconnect and run time. */
export function sourcesOf(connection: Connection & { secrets: ConnectionSecret[] }): FieldSource[] {
  const fields = isConnectorKind(connection.connectorKind) ? getConnectorOrThrow(connection.connectorKind).fields : [];
  return connection.secrets.map((s): FieldSource =>
    s.assetId
      ? { field: s.field, part: s.part, assetId: s.assetId, label: fields.find((f) => f.name === s.field)?.label }
      : { field: s.field, part: "VALUE", sealed: { ciphertext: s.ciphertext!, dataKeyId: s.dataKeyId! }, aad: typedValueAad(connection.id, s.field) },
  );
}

/** Reconnect: tests the saved connection again and records its status. */
export async function reconnectConnection(ctx: Ctx, input: { connectionId: string }): Promise<ConnectOutcome> {
  limitRefresh(ctx.actor);
  const connection = await loadConnection(db(), input.connectionId);
  await checkedUse(ctx, "connection.connect", useTarget(connection), () => assertCanOnFolder(db(), ctx.actor, "connections.use", connection.folderId, "Connection"), {
    connector: connection.connectorKind,
  });
  // Nothing to test before the app is authorised; recorded as a failure, it would also end the wait.
  if (connection.status === "PENDING_AUTHORIZATION") throw conflict("This connection is waiting for authorisation in the app: select Authorise the app and sign in there first.");
  const connector = getConnectorOrThrow(connection.connectorKind);
  const p: Plan = { config: connection.config as Record<string, unknown>, sources: sourcesOf(connection), rows: [], usernameFields: [] };
  let outcome: ConnectOutcome;
  let newState: Record<string, string> | null = null;
  let ownerCannotResolve: OwnerCannotResolve | null = null;
  try {
    // Resolved as the connection's owner, like an invoke: the caller needs connections.use, the owner
    // assets.use. An owner who cannot (deactivated, an asset no longer theirs to use) is a failed test.
    const resolveAs = { actor: await runtimeActorFor(connection), requestId: ctx.requestId, triggeredBy: triggerOf(ctx.actor) };
    const tested = await testTarget(connector, p, resolveAs, await openState(connection), sharedStateOf(connection.id));
    newState = tested.state;
    outcome = { ok: true, connectionId: connection.id, message: tested.message };
  } catch (error) {
    const failure = describeFailure(error, connection.id);
    if (!failure) throw error;
    outcome = failure;
    // Recorded as the connection's status like any failure, then answered as the 409 it has always been.
    if (error instanceof OwnerCannotResolve) ownerCannotResolve = error;
  }
  const audit = (tx: Tx, failure: string | null) =>
    recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "connection.connect",
      target: { type: "connection", id: connection.id, label: connection.name },
      folderId: connection.folderId,
      outcome: failure ? "FAILURE" : "SUCCESS",
      requestId: ctx.requestId,
      details: { connector: connection.connectorKind, fields: fieldSummary(connection.secrets), failure },
    });
  const superseded = await db().$transaction(async (tx) => {
    // An edit saved while this test ran has recorded its own status, for its own settings: this
    // outcome is about settings that are gone. So has an OAuth authorisation that completed meanwhile
    // (new tokens: this test used the state before them), or another test that finished first: a
    // status recorded since this one read the row is not overwritten with an older observation.
    // The row lock orders this check against those writes.
    await tx.$queryRaw`SELECT 1 FROM "connections" WHERE "id" = ${connection.id}::uuid FOR UPDATE`;
    const current = await loadConnection(tx, connection.id);
    if (!sameSettings(connection, current) || current.lastCheckAt?.getTime() !== connection.lastCheckAt?.getTime()) {
      // The credentials were used all the same: that is in the trail, the outcome is not recorded.
      await audit(tx, "superseded");
      // Only settings that are gone make the outcome moot; another test (or an authorisation) that
      // recorded first leaves this one's outcome true of the connection as it is.
      return sameSettings(connection, current) ? "newer status" : "changed";
    }
    const now = new Date();
    await tx.connection.update({
      where: { id: connection.id },
      data: outcome.ok
        ? { status: "CONNECTED", lastCheckAt: now, lastConnectedAt: now, lastMessage: "message" in outcome ? outcome.message.slice(0, 500) : null, lastErrorKind: null, ...(newState ? await sealState(connection.id, newState, tx) : {}) }
        : { status: "FAILED", lastCheckAt: now, lastMessage: outcome.message.slice(0, 500), lastErrorKind: outcome.kind },
    });
    await audit(tx, outcome.ok ? null : outcome.kind);
    return null;
  });
  if (superseded === "changed") throw conflict("The connection's settings were saved while it was being tested, so this result is about settings that are gone. Test it again to test it as it is now.");
  if (ownerCannotResolve) throw ownerCannotResolve;
  // Recorded in full (the page tells each reader what they may see); answered as this caller may see it.
  return outcomeFor(ctx.actor, connection.secrets.map((s) => s.assetId), outcome);
}

export async function deleteConnection(ctx: Ctx, input: { connectionId: string }) {
  const connection = await loadConnection(db(), input.connectionId);
  await checkedUse(ctx, "connection.delete", useTarget(connection), () => assertCanOnFolder(db(), ctx.actor, "connections.write", connection.folderId, "Connection"), {
    connector: connection.connectorKind,
  });
  await db().$transaction(async (tx) => {
    await tx.connection.delete({ where: { id: connection.id } });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "connection.delete",
      target: { type: "connection", id: connection.id, label: connection.name },
      folderId: connection.folderId,
      requestId: ctx.requestId,
      details: { connector: connection.connectorKind, fields: fieldSummary(connection.secrets) },
    });
    // Every instance closes its pooled client (and forgets the values) for a connection that is gone:
    // announced with the delete, so none keeps a session to the target open with its credentials.
    await broadcastRefresh({ kind: "connection", id: connection.id, assetIds: [...new Set(connection.secrets.map((s) => s.assetId).filter((x): x is string => !!x))] }, tx);
  });
  return { id: connection.id, folderId: connection.folderId };
}

/** A value unguessable enough to tie an OAuth redirect to the connection that started it. */
export const newAuthorizationNonce = () => randomBytes(24).toString("base64url");

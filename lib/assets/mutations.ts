import "server-only";
import { randomUUID } from "node:crypto";
import type { AuditOutcome, CredentialAsset, CredentialStore } from "@prisma/client";
import type { ActionContext } from "@/lib/actions/action";
import { fieldErrorsOf } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { firstThisMinute, refusalKey } from "@/lib/audit/throttle";
import { limitRefresh } from "@/lib/connections/rate-limits";
import { assertCanOnFolder, getFolderAccess, can, type Actor } from "@/lib/authz";
import { db, type Tx } from "@/lib/db";
import { lockFolderTree } from "@/lib/folders/tree-lock";
import { deleteUnusedLatchSecret, putLatchSecret } from "@/lib/vault/providers/latch";
import { AppError, conflict, notFound } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { logger } from "@/lib/log";
import { applyCommitted, broadcastRefresh, LONGEST_REFRESH_TRANSACTION_MS, type SentRefresh } from "@/lib/secrets/broadcast";
import { referenceProblem, resolveTest, ResolveError, secretExists, type ResolveTestResult } from "@/lib/secrets/resolver";
import { clientForStore } from "@/lib/stores/client";
import { listStoresUsableByFolder } from "@/lib/stores/queries";
import { STORE_ERROR_TITLES, StoreError, classifyNetworkError, type StoreErrorKind } from "@/lib/vault/errors";
import { asStoreKind, getProviderOrThrow } from "@/lib/vault/registry";
import { getAssetForOrThrow, toStoreOption, type StoreOption } from "./queries";
import { caseInsensitiveNames, checkReference } from "./reference";
import { checkUpdate, isSecretType, normalisePlainValue, type AssetType, type CreateAssetInput, type UpdateAssetInput } from "./schemas";
import { describeUsages, listAssetUsages } from "./usage";
import { DELETED_MEANWHILE_MESSAGE, isForeignKeyViolation, isUniqueViolation } from "@/lib/db/errors";
import { nameTaken } from "@/lib/db/names";

type Ctx = Pick<ActionContext, "actor" | "requestId">;

const fieldError = (field: string, message: string) => new AppError("VALIDATION", message, { [field]: [message] });
const orNull = (v: string) => (v === "" ? null : v);

/** The Latch Database store names the secrets it keeps for typed values after their asset. */
const ownedSecretName = (assetId: string) => `assets/${assetId}`;

/**
 * A change that writes to a store holds its transaction open across the store call (the write is its
 * last step, so a refused or failed write leaves no row behind). Bounded well above store timeouts.
 */
// The refresh log's catch-up looks back far enough for a change that commits this late (lib/secrets/broadcast.ts).
const WRITE_TX = { timeout: LONGEST_REFRESH_TRANSACTION_MS, maxWait: 10_000 };

async function usableStoreOrThrow(tx: Tx, folderId: string, storeId: string): Promise<{ store: CredentialStore; option: StoreOption }> {
  const usable = await listStoresUsableByFolder(folderId, tx);
  const found = usable.find((s) => s.id === storeId);
  const store = found ? await tx.credentialStore.findUnique({ where: { id: found.id } }) : null;
  if (!store) throw fieldError("storeId", "Choose a credential store this folder may use.");
  return { store, option: toStoreOption(store) };
}

/**
 * Last in the change's transaction, after any store call: the store is still one the folder may
 * use. A folder move checks the assets it strands under the tree lock, so taking it shared here
 * makes the two see each other, and only for the few statements left before the commit.
 */
async function assertStoreStillUsable(tx: Tx, folderId: string, storeId: string) {
  await lockFolderTree(tx, "shared");
  await usableStoreOrThrow(tx, folderId, storeId);
}

async function assertUniqueName(tx: Tx, folderId: string, name: string, exceptId?: string) {
  if (await nameTaken(tx, "credential_assets", name, { scope: folderId, exceptId })) throw conflict(`An asset named “${name}” already exists in this folder.`, { name: [`An asset named “${name}” already exists in this folder.`] });
}


/** Database errors a person can act on, as the AppError they mean; anything else passes through. */
function mapKnownDbError(error: unknown, name: string): unknown {
  if (isUniqueViolation(error, "credential_assets_folder_name_key")) {
    return conflict(`An asset named “${name}” already exists in this folder.`, { name: [`An asset named “${name}” already exists in this folder.`] });
  }
  // Its folder or store was deleted after the checks: a lost race, recorded and answered as one.
  if (isForeignKeyViolation(error)) return conflict(DELETED_MEANWHILE_MESSAGE);
  return error;
}

/** A connection that started using the asset after the usage check: PostgreSQL's Restrict foreign key. */
const isInUseViolation = (error: unknown) => isForeignKeyViolation(error, "connection_secrets_asset_id_fkey");

/** Where the secret lives and how its keys map, plus (for typed values) what to write there. */
type SecretPlan = {
  storeId: string;
  secretName: string;
  secretVersion: string | null;
  usernameKey: string | null;
  valueKey: string | null;
  username: string | null;
  ownsSecret: boolean;
  write: Record<string, string> | null;
};

type SecretFields = Pick<CreateAssetInput, "secretName" | "secretVersion" | "versionKind" | "usernameKey" | "valueKey" | "username" | "secretValue">;

function planSecret(type: AssetType, assetId: string, store: CredentialStore, option: StoreOption, input: SecretFields, writing: boolean, current?: CredentialAsset): SecretPlan {
  if (writing && !option.writable) {
    throw fieldError("secretValue", `“${store.name}” is read-only: reference a secret that already exists there, or choose a store Latch may write to.`);
  }
  let secretName: string;
  let secretVersion: string | null = null;
  if (writing && store.isBuiltIn) {
    // Typed values in Latch's own store get a name of their own, so they can never overwrite another secret.
    secretName = current?.ownsSecret && current.storeId === store.id && current.secretName ? current.secretName : ownedSecretName(assetId);
  } else {
    const checked = checkReference(asStoreKind(store.kind), input, { writing });
    if (!checked.ok) throw new AppError("VALIDATION", Object.values(checked.fieldErrors)[0]![0]!, checked.fieldErrors);
    ({ secretName, secretVersion } = checked.value);
  }
  const sameSecret = !!current && current.storeId === store.id && current.secretName === secretName;
  if (!writing) {
    // A value typed into another asset (perhaps in another folder) is reachable only through that asset.
    const ownName = !!current?.ownsSecret && sameSecret;
    if (store.isBuiltIn && secretName.startsWith("assets/") && !ownName) {
      throw fieldError("secretName", "Names under “assets/” hold values typed into other assets. Type the value instead, or reference another name.");
    }
    if (type === "CREDENTIAL" && option.singleValue && !input.username) {
      throw fieldError("username", "Enter the username: secrets in this store hold only the password.");
    }
    if (type === "CREDENTIAL" && !option.singleValue && !input.usernameKey && !input.username) {
      throw fieldError("usernameKey", "Enter the username, or the key of the secret that holds it.");
    }
    if (type === "CREDENTIAL" && input.usernameKey && input.valueKey && input.usernameKey === input.valueKey) {
      throw fieldError("usernameKey", "The username and the password need different keys.");
    }
    // A Credential typed into a store with keys has its username written into the secret, which is
    // what connections read: changed on the asset alone, it would only seem to change.
    if (type === "CREDENTIAL" && ownName && current?.usernameKey && orNull(input.username) !== current.username) {
      throw fieldError("username", "The username is stored in the secret with the password: type the password again to change it.");
    }
    return {
      storeId: store.id,
      secretName,
      secretVersion,
      // A single-value store's secret has no keys to name (an edit from a store with keys may still send them).
      usernameKey: type === "CREDENTIAL" && !option.singleValue ? orNull(input.usernameKey) : null,
      valueKey: option.singleValue ? null : orNull(input.valueKey),
      username: type === "CREDENTIAL" ? orNull(input.username) : null,
      // Still Latch's own secret only if the reference is unchanged.
      ownsSecret: ownName,
      write: null,
    };
  }
  const base = { storeId: store.id, secretName, secretVersion: null, ownsSecret: true };
  if (option.singleValue) {
    return { ...base, usernameKey: null, valueKey: null, username: type === "CREDENTIAL" ? orNull(input.username) : null, write: { value: input.secretValue } };
  }
  if (type === "SECRET") {
    return { ...base, usernameKey: null, valueKey: null, username: null, write: { value: input.secretValue } };
  }
  const usernameKey = input.usernameKey || option.reference.defaultKeys.username;
  const valueKey = input.valueKey || option.reference.defaultKeys.password;
  if (usernameKey === valueKey) throw fieldError("valueKey", "The username and the password need different keys.");
  const username = input.username || (current?.username ?? "");
  if (!username) throw fieldError("username", "Enter the username.");
  // The username is written to the store and also kept on the asset, so the edit form can show it.
  return { ...base, usernameKey, valueKey, username, write: { [usernameKey]: username, [valueKey]: input.secretValue } };
}

/**
 * The rule for typing a value into an external store: Latch overwrites only a secret it created for an
 * asset the person may change. Any other name must be new: absent from the store, and not referenced by
 * an asset the person may not change (in this folder or any other). Callers hold the transaction open
 * until the write, so two people cannot claim one name at once. Returns whether the write creates it.
 */
async function assertMayWrite(tx: Tx, actor: Actor, store: CredentialStore, secretName: string, asset: { id: string; current?: CredentialAsset }): Promise<{ creates: boolean }> {
  const key = caseInsensitiveNames(asStoreKind(store.kind)) ? secretName.toLowerCase() : secretName;
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`asset-secret:${store.id}:${key}`}))`;
  const others = await tx.credentialAsset.findMany({
    where: { storeId: store.id, secretName: { equals: secretName, mode: caseInsensitiveNames(asStoreKind(store.kind)) ? "insensitive" : "default" }, id: { not: asset.id } },
    select: { folderId: true, ownsSecret: true },
  });
  const writable = new Map<string, boolean>();
  for (const folderId of new Set(others.map((o) => o.folderId))) {
    const access = await getFolderAccess(tx, actor, folderId);
    writable.set(folderId, !!access && can(access, "assets.write"));
  }
  const label = getProviderOrThrow(store.kind).reference.nameNoun;
  if (others.some((o) => !writable.get(o.folderId))) {
    throw fieldError(
      "secretName",
      // Not how many: that would count assets in folders the person cannot see.
      `“${secretName}” in “${store.name}” is used by another asset you cannot change, so Latch will not write to it. Enter another ${label}.`,
    );
  }
  const current = asset.current;
  const ownedHere = !!current?.ownsSecret && current.storeId === store.id && (current.secretName === secretName || (caseInsensitiveNames(asStoreKind(store.kind)) && current.secretName?.toLowerCase() === key));
  if (ownedHere || others.some((o) => o.ownsSecret)) return { creates: false };
  let exists: boolean;
  try {
    exists = await secretExists(store, secretName, tx);
  } catch (error) {
    if (!(error instanceof ResolveError)) throw error;
    // The store failed, not the name: an error of the whole form (502/503/504 as the store's), not of the path field.
    throw new ResolveError(
      error.kind,
      `Could not check “${secretName}” in “${store.name}” before writing, so nothing was saved: ${STORE_ERROR_TITLES[error.kind]}. ${error.userMessage} If it goes on, tell an administrator: the store's settings are theirs.`,
      error.retryAfterSeconds,
    );
  }
  if (exists) {
    throw fieldError(
      "secretName",
      `A secret already exists at “${secretName}” in “${store.name}”. Latch only writes over secrets it created for assets you may change, so it will not overwrite this one. To use it, choose “Use an existing secret”; to type a value, enter a new ${label}.`,
    );
  }
  return { creates: true };
}

/**
 * A reference may not name a secret whose value was typed into an asset the person may not use: in
 * an external store as in Latch's (whose names under assets/ planSecret refuses), that value is the
 * business of its asset's folder, and referencing it from another would reach round that folder's access.
 */
async function assertMayReference(tx: Tx, actor: Actor, store: CredentialStore, secretName: string, asset: { id: string }): Promise<void> {
  const insensitive = caseInsensitiveNames(asStoreKind(store.kind));
  // The lock assertMayWrite takes: a value typed there meanwhile is seen, or sees this reference.
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`asset-secret:${store.id}:${insensitive ? secretName.toLowerCase() : secretName}`}))`;
  const owners = await tx.credentialAsset.findMany({
    where: { storeId: store.id, ownsSecret: true, secretName: { equals: secretName, mode: insensitive ? "insensitive" : "default" }, id: { not: asset.id } },
    select: { folderId: true },
  });
  for (const folderId of new Set(owners.map((o) => o.folderId))) {
    const access = await getFolderAccess(tx, actor, folderId);
    if (access && can(access, "assets.use")) continue;
    throw fieldError(
      "secretName",
      `“${secretName}” in “${store.name}” holds a value typed into an asset you may not use; only that asset can use it. Enter another ${getProviderOrThrow(store.kind).reference.nameNoun}, or type the value.`,
    );
  }
}

/** A value written for a change; `inTransaction` when it was written with the change's own transaction (and so rolled back with it). */
type Written = { store: CredentialStore; name: string; version: string | null; creates: boolean; inTransaction?: boolean };

/** Failures after which the store may still have saved the value: it timed out or failed while answering, not before taking the request. */
const OUTCOME_UNKNOWN: ReadonlySet<StoreErrorKind> = new Set(["timeout", "unavailable", "bad_response"]);

/** A write whose outcome Latch could not learn: the change fails, and what the store holds is treated as possibly new. */
class UncertainWriteError extends AppError {
  static override readonly brand = "latch.UncertainWriteError";
  constructor(
    message: string,
    readonly write: Omit<Written, "version">,
  ) {
    super("VALIDATION", message, { secretValue: [message] });
  }
}

/**
 * Writes a typed value to its store, within the change's transaction `tx`. Failures name what went
 * wrong, never the value. The Latch store's write is part of that transaction (it rolls back with
 * it, so there is nothing to undo); an external store's is not, and the store's sealed settings are
 * read through `tx` as well: a change never needs a second database session while it holds one.
 */
async function writeSecret(tx: Tx, store: CredentialStore, name: string, values: Record<string, string>, creates: boolean): Promise<Written> {
  if (store.kind === "latch") return { store, name, version: (await putLatchSecret(tx, store.id, name, values)).version, creates, inTransaction: true };
  const client = await clientForStore(store, tx);
  try {
    return { store, name, version: (await client.putSecret!({ name }, values)).version, creates };
  } catch (error) {
    const known = error instanceof StoreError ? error : classifyNetworkError(error, client.host ?? store.name);
    if (known && OUTCOME_UNKNOWN.has(known.kind)) {
      const then = creates
        ? `The store may still save it as “${name}”: Latch asked it to delete that again, but check the store before you retry, and delete the secret there if you find it.`
        : `The store may have saved it all the same: connections using “${name}” now read whatever the store holds. Save again to be sure which value it is.`;
      throw new UncertainWriteError(`Latch could not confirm the value was written to “${store.name}”: ${STORE_ERROR_TITLES[known.kind]}. ${known.message} ${then}`, { store, name, creates });
    }
    if (known) throw fieldError("secretValue", `Could not write the value to “${store.name}”: ${STORE_ERROR_TITLES[known.kind]}. ${known.message}`);
    throw error;
  } finally {
    await client.close?.().catch(() => {});
  }
}

/** Removes a secret from its store. Best effort: a failure is logged, never shown. */
async function removeSecret(store: CredentialStore, name: string, why: string) {
  try {
    const client = await clientForStore(store);
    try {
      await client.deleteSecret!({ name }).catch((error: unknown) => {
        if (!(error instanceof StoreError && error.kind === "not_found")) throw error;
      });
    } finally {
      await client.close?.().catch(() => {});
    }
  } catch (error) {
    logger().warn({ err: error, storeId: store.id }, why);
  }
}

/**
 * Removes a secret Latch created for an asset in its own store, once the asset stopped pointing at
 * it, unless another asset points at it (deleteUnusedLatchSecret). In the change's transaction: the
 * sealed value cannot outlive the asset while the audit event says it was removed.
 */
async function deleteOwnedSecret(tx: Tx, asset: Pick<CredentialAsset, "ownsSecret" | "storeId" | "secretName"> & { store: CredentialStore | null }) {
  if (!asset.ownsSecret || !asset.store?.isBuiltIn || !asset.storeId || !asset.secretName) return false;
  return deleteUnusedLatchSecret(tx, asset.storeId, asset.secretName);
}

/**
 * A change that did not happen leaves nothing in a store: a secret the write created goes again. A new
 * version of an existing secret cannot be taken back; the failure event records that it was written.
 */
async function undoWrite(written: Written | null, error: unknown, assetId: string | null) {
  if (error instanceof UncertainWriteError) {
    if (error.write.creates) await removeSecret(error.write.store, error.write.name, "could not remove a secret whose write was not confirmed");
    // The asset's secret may hold the new value: every instance drops what it cached and reads the store again.
    else if (assetId) await broadcastRefresh({ kind: "asset", id: assetId }, db()).catch((e: unknown) => logger().warn({ err: e }, "could not announce a possibly written value"));
    return;
  }
  if (written?.creates) await removeSecret(written.store, written.name, "could not remove a secret written for a change that failed");
  else if (written) logger().warn({ storeId: written.store.id }, "a change failed after writing a new version of its secret");
}

/** What the audit event of a change says: who (from ctx), which asset, which store, outcome, duration. */
type ChangeNote = {
  action: "asset.create" | "asset.update" | "asset.delete";
  targetId: string | null;
  label: string | null;
  folderId: string | null;
  details: Record<string, unknown>;
  /** Set once the actor proved their right on the folder: a refusal before that is DENIED or absent. */
  authorised: boolean;
};

const storeDetails = (store: Pick<CredentialStore, "id" | "name" | "kind"> | null | undefined) => (store ? { storeId: store.id, store: store.name, storeKind: store.kind } : {});
const ms = (started: number) => Math.round(performance.now() - started);

/** The refused or failed change, recorded outside its rolled-back transaction. Never the value. */
async function recordFailure(ctx: Ctx, note: ChangeNote, error: unknown, started: number, written: Written | null) {
  const refused = error instanceof AppError && error.code === "NOT_FOUND" && !note.authorised;
  let outcome: AuditOutcome = "FAILURE";
  if (refused && note.folderId) outcome = "DENIED";
  const failure = error instanceof AppError ? error.code.toLowerCase() : "unexpected";
  // A caller repeating a refused change is recorded once a minute; unknown ids once a minute in all,
  // so neither repeats nor made-up ids grow the trail without bound (lib/audit/throttle.ts).
  if (refused && !firstThisMinute(refusalKey(ctx, note.action, note.folderId ? (note.targetId ?? `folder:${note.folderId}`) : null))) return;
  try {
    await recordAuditEvent(db(), {
      actor: ctx.actor,
      action: note.action,
      target: { type: "asset", id: note.targetId, label: note.label },
      folderId: note.folderId,
      outcome,
      requestId: ctx.requestId,
      details: {
        ...note.details,
        failure,
        ...(error instanceof AppError && error.fieldErrors ? { fields: Object.keys(error.fieldErrors) } : {}),
        ...(written ? { valueWritten: true, valueRemoved: written.creates } : {}),
        ...(error instanceof UncertainWriteError ? { valueWritten: "unknown", removalAsked: error.write.creates } : {}),
        durationMs: ms(started),
      },
    });
  } catch (auditError) {
    logger().error({ err: auditError }, "could not record a failed asset change");
  }
}

/** Folder of an existing asset the actor may not change, so the refusal lands in that folder's trail. */
async function refusedAssetNote(note: ChangeNote, assetId: string) {
  const row = isUuid(assetId) ? await db().credentialAsset.findUnique({ where: { id: assetId }, select: { folderId: true, name: true, type: true } }) : null;
  if (row) Object.assign(note, { folderId: row.folderId, label: note.label ?? row.name, details: { ...note.details, type: row.type } });
  else note.targetId = assetId.slice(0, 64);
}

export async function createAsset(ctx: Ctx, input: CreateAssetInput) {
  const started = performance.now();
  const id = randomUUID();
  const note: ChangeNote = { action: "asset.create", targetId: null, label: input.name, folderId: null, details: { type: input.type }, authorised: false };
  let written: Written | null = null;
  let announced: SentRefresh | null = null;
  try {
    const folderExists = isUuid(input.folderId) && !!(await db().folder.findUnique({ where: { id: input.folderId }, select: { id: true } }));
    if (folderExists) note.folderId = input.folderId;
    const access = await assertCanOnFolder(db(), ctx.actor, "assets.write", input.folderId);
    note.authorised = true;
    const folderId = access.folder.id;
    await assertUniqueName(db(), folderId, input.name);
    let plan: SecretPlan | null = null;
    let store: CredentialStore | null = null;
    if (isSecretType(input.type)) {
      const usable = await usableStoreOrThrow(db(), folderId, input.storeId);
      store = usable.store;
      // What was asked for, should the plan be refused; replaced by the checked reference below.
      Object.assign(note.details, storeDetails(store), { reference: input.secretName || null });
      plan = planSecret(input.type, id, usable.store, usable.option, input, input.source === "value");
      Object.assign(note.details, { reference: plan.secretName, version: plan.secretVersion });
    }
    return await db().$transaction(async (tx) => {
      await assertCanOnFolder(tx, ctx.actor, "assets.write", folderId);
      await assertUniqueName(tx, folderId, input.name);
      const creates = store && plan?.write && !store.isBuiltIn ? (await assertMayWrite(tx, ctx.actor, store, plan.secretName, { id })).creates : true;
      if (store && plan && !plan.write && !store.isBuiltIn) await assertMayReference(tx, ctx.actor, store, plan.secretName, { id });
      const asset = await tx.credentialAsset.create({
        data: {
          id,
          folderId,
          name: input.name,
          description: input.description,
          type: input.type,
          ...(plan ? { ...plan, write: undefined } : { plainValue: normalisePlainValue(input.type, input.plainValue) }),
          createdById: ctx.actor.id,
        },
      });
      // A value written over a secret other assets use too: their cached values go, here and everywhere.
      if (store && plan?.write && !creates) announced = await announceChange(tx, asset.id);
      // Last: a refused write rolls the row back, and nothing points at a value that was not written.
      if (store && plan?.write) written = await writeSecret(tx, store, plan.secretName, plan.write, creates);
      if (store) await assertStoreStillUsable(tx, folderId, store.id);
      await recordAuditEvent(tx, {
        actor: ctx.actor,
        action: "asset.create",
        target: { type: "asset", id: asset.id, label: asset.name },
        folderId,
        requestId: ctx.requestId,
        details: { ...note.details, ...(store ? { valueWritten: !!written, version: written?.version ?? asset.secretVersion } : {}), durationMs: ms(started) },
      });
      return { id: asset.id, name: asset.name };
    }, WRITE_TX).then((created) => {
      applyCommitted(announced);
      return created;
    });
  } catch (raw) {
    const error = mapKnownDbError(raw, input.name);
    // Nothing half-written: a secret created for this asset goes if the asset does not land.
    if ((written as Written | null)?.inTransaction) written = null;
    await undoWrite(written, error, null);
    await recordFailure(ctx, note, error, started, written);
    throw error;
  }
}

export async function updateAsset(ctx: Ctx, input: UpdateAssetInput) {
  const started = performance.now();
  const note: ChangeNote = { action: "asset.update", targetId: input.assetId, label: input.name, folderId: null, details: {}, authorised: false };
  let written: Written | null = null;
  let asset: (CredentialAsset & { store: CredentialStore | null }) | null = null;
  let plan: SecretPlan | null = null;
  let announced: SentRefresh | null = null;
  try {
    try {
      ({ asset } = await getAssetForOrThrow(db(), ctx.actor, "assets.write", input.assetId));
    } catch (error) {
      await refusedAssetNote(note, input.assetId);
      throw error;
    }
    const current = asset;
    note.authorised = true;
    Object.assign(note, { folderId: current.folderId, details: { type: current.type, ...storeDetails(current.store), reference: current.secretName } });
    if (input.expectedUpdatedAt && new Date(input.expectedUpdatedAt).getTime() !== current.updatedAt.getTime()) {
      throw conflict("Someone else changed this asset while you were editing it. Reload the page and try again.");
    }
    const writing = isSecretType(current.type) && input.secretValue !== "";
    const checked = checkUpdate(current.type, { ...input, source: writing ? "value" : "reference" });
    if (!checked.success) {
      const errors = fieldErrorsOf(checked.error);
      throw new AppError("VALIDATION", Object.values(errors)[0]?.[0] ?? "Check the highlighted fields.", errors);
    }
    await assertUniqueName(db(), current.folderId, input.name, current.id);
    let store: CredentialStore | null = null;
    if (isSecretType(current.type)) {
      const usable = await usableStoreOrThrow(db(), current.folderId, input.storeId);
      store = usable.store;
      Object.assign(note.details, storeDetails(store), { reference: input.secretName || null });
      plan = planSecret(current.type, current.id, usable.store, usable.option, input, writing, current);
      Object.assign(note.details, storeDetails(store), { reference: plan.secretName, version: plan.secretVersion });
    }
    const next = plan ? { ...plan, write: undefined } : { plainValue: normalisePlainValue(current.type, input.plainValue) };
    const compared: (keyof CredentialAsset)[] = ["name", "description", "storeId", "secretName", "secretVersion", "usernameKey", "valueKey", "username", "plainValue"];
    const after = { ...current, name: input.name, description: input.description, ...next } as CredentialAsset;
    // Names of what changed; plainValue is a setting, its name is enough here too.
    note.details.changed = compared.filter((k) => current[k] !== after[k]);
    const finalPlan = plan;
    // Connections use this asset: a new reference that does not resolve would break every one of them
    // at its next use (the change reaches every instance at once). It is tried first.
    const referenceFields: (keyof CredentialAsset)[] = ["storeId", "secretName", "secretVersion", "usernameKey", "valueKey"];
    if (store && finalPlan && !finalPlan.write && referenceFields.some((k) => (note.details.changed as string[]).includes(k))) {
      const usages = await listAssetUsages(db(), current.id, ctx.actor);
      if (usages.visible.length + usages.hidden > 0) {
        const problem = await referenceProblem(store, { name: finalPlan.secretName, version: finalPlan.secretVersion, usernameKey: finalPlan.usernameKey, valueKey: finalPlan.valueKey });
        if (problem) {
          const message = `${problem} This asset is used by ${describeUsages(usages)}; saved so, each would fail at its next use. Correct the reference, or move them to another asset first.`;
          throw new AppError("VALIDATION", message, { secretName: [message] });
        }
      }
    }
    await db().$transaction(async (tx) => {
      await assertCanOnFolder(tx, ctx.actor, "assets.write", current.folderId, "Credential asset");
      await assertUniqueName(tx, current.folderId, input.name, current.id);
      const creates = store && finalPlan?.write && !store.isBuiltIn ? (await assertMayWrite(tx, ctx.actor, store, finalPlan.secretName, { id: current.id, current })).creates : false;
      const referenceMoved = current.storeId !== store?.id || current.secretName !== finalPlan?.secretName;
      if (store && finalPlan && !finalPlan.write && !store.isBuiltIn && referenceMoved) await assertMayReference(tx, ctx.actor, store, finalPlan.secretName, { id: current.id });
      // The last resolve test was of the old pointer (or value): it says nothing of the new one.
      const retested = finalPlan?.write || referenceFields.some((k) => (note.details.changed as string[]).includes(k));
      const { count } = await tx.credentialAsset.updateMany({
        where: { id: current.id, updatedAt: current.updatedAt },
        data: { name: input.name, description: input.description, ...next, ...(retested ? { lastResolveAt: null, lastResolveOk: null } : {}) },
      });
      if (count === 0) throw conflict("Someone else changed this asset while you were editing it. Reload the page and try again.");
      // Connections using the asset re-read it at their next use (the announcement below reaches every instance).
      await tx.connection.updateMany({ where: { secrets: { some: { assetId: current.id } } }, data: { refreshGeneration: { increment: 1 } } });
      announced = await announceChange(tx, current.id);
      if (store && finalPlan?.write) written = await writeSecret(tx, store, finalPlan.secretName, finalPlan.write, creates || (store.isBuiltIn && !(current.ownsSecret && current.storeId === store.id)));
      if (store) await assertStoreStillUsable(tx, current.folderId, store.id);
      // The value Latch created for the asset's old reference, now that nothing points at it.
      if (!(finalPlan?.ownsSecret && finalPlan.storeId === current.storeId && finalPlan.secretName === current.secretName)) await deleteOwnedSecret(tx, current);
      await recordAuditEvent(tx, {
        actor: ctx.actor,
        action: "asset.update",
        target: { type: "asset", id: current.id, label: input.name },
        folderId: current.folderId,
        requestId: ctx.requestId,
        details: { ...note.details, valueWritten: !!written, version: written?.version ?? finalPlan?.secretVersion ?? null, durationMs: ms(started) },
      });
    }, WRITE_TX);
    applyCommitted(announced);
  } catch (raw) {
    const error = mapKnownDbError(raw, input.name);
    // Written with the transaction that failed: rolled back with it, so not written at all.
    if ((written as Written | null)?.inTransaction) written = null;
    await undoWrite(written, error, asset?.id ?? null);
    await recordFailure(ctx, note, error, started, written);
    throw error;
  }
  return { id: asset.id, name: input.name };
}

/**
 * Drops the asset's cached value here and on every other instance. Announced in the change's own
 * transaction: a change that commits is one every instance applies (NOTIFY at commit, the refresh
 * log as the safety net), so none keeps serving the secret the asset pointed at before.
 */
function announceChange(tx: Tx, assetId: string) {
  return broadcastRefresh({ kind: "asset", id: assetId }, tx);
}

const inUse = (assetName: string, usages: Awaited<ReturnType<typeof listAssetUsages>>) => {
  const n = usages.visible.length + usages.hidden;
  return conflict(`“${assetName}” is used by ${n === 1 ? "a connection" : `${n} connections`}: ${describeUsages(usages)}. Change ${n === 1 ? "it" : "them"} to use another asset first.`);
};

export async function deleteAsset(ctx: Ctx, input: { assetId: string }) {
  const started = performance.now();
  const note: ChangeNote = { action: "asset.delete", targetId: input.assetId, label: null, folderId: null, details: {}, authorised: false };
  let asset: (CredentialAsset & { store: CredentialStore | null }) | null = null;
  try {
    try {
      ({ asset } = await getAssetForOrThrow(db(), ctx.actor, "assets.write", input.assetId));
    } catch (error) {
      await refusedAssetNote(note, input.assetId);
      throw error;
    }
    const current = asset;
    note.authorised = true;
    Object.assign(note, { folderId: current.folderId, label: current.name, details: { type: current.type, ...storeDetails(current.store), reference: current.secretName } });
    const announced = await db().$transaction(async (tx) => {
      // Locks the row: a connection that starts using the asset now waits for this delete, and one
      // that already did (not yet committed) is waited for and then seen by the usage check.
      const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM credential_assets WHERE id = ${current.id}::uuid FOR UPDATE`;
      // Deleted by another request after the check above: gone is gone (and its owned secret went with it).
      if (locked.length === 0) throw notFound("Credential asset");
      // Read again under the lock: an edit that committed meanwhile (a value typed in, another store)
      // decides which secret is Latch's own to delete, not the copy read before.
      const row = await tx.credentialAsset.findUniqueOrThrow({ where: { id: current.id }, include: { store: true } });
      const usages = await listAssetUsages(tx, row.id, ctx.actor);
      if (usages.visible.length + usages.hidden > 0) throw inUse(row.name, usages);
      await tx.credentialAsset.delete({ where: { id: row.id } });
      await deleteOwnedSecret(tx, row);
      const sent = await announceChange(tx, row.id);
      await recordAuditEvent(tx, {
        actor: ctx.actor,
        action: "asset.delete",
        target: { type: "asset", id: row.id, label: row.name },
        folderId: row.folderId,
        requestId: ctx.requestId,
        details: { ...note.details, ...storeDetails(row.store), reference: row.secretName, valueRemoved: row.ownsSecret && !!row.store?.isBuiltIn, durationMs: ms(started) },
      });
      return sent;
    });
    applyCommitted(announced);
  } catch (raw) {
    let error = raw;
    if (asset && isInUseViolation(raw)) {
      // Belt and braces for the lock above: the foreign key refused, so something uses it after all.
      error = inUse(asset.name, await listAssetUsages(db(), asset.id, ctx.actor));
    }
    await recordFailure(ctx, note, error, started, null);
    throw error;
  }
  return { id: asset.id, folderId: asset.folderId };
}

/** The Resolve test button: metadata or the precise failure, never the value. */
export async function testAsset(ctx: Ctx, input: { assetId: string }): Promise<ResolveTestResult> {
  // Each test reads the store afresh (no cache): limited like refreshes, so a loop cannot hammer the store.
  limitRefresh(ctx.actor);
  return resolveTest({ assetId: input.assetId }, { actor: ctx.actor, requestId: ctx.requestId });
}

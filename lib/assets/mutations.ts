import "server-only";
import { randomUUID } from "node:crypto";
import type { CredentialAsset, CredentialStore } from "@prisma/client";
import type { ActionContext } from "@/lib/actions/action";
import { fieldErrorsOf } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { assertCanOnFolder } from "@/lib/authz";
import { db, type Tx } from "@/lib/db";
import { AppError, conflict } from "@/lib/errors";
import { logger } from "@/lib/log";
import { invalidateAsset, resolveTest, type ResolveTestResult } from "@/lib/secrets/resolver";
import { clientForStore } from "@/lib/stores/client";
import { listStoresUsableByFolder } from "@/lib/stores/queries";
import { STORE_ERROR_TITLES, StoreError, classifyNetworkError } from "@/lib/vault/errors";
import { getAssetForOrThrow, toStoreOption, type StoreOption } from "./queries";
import { checkUpdate, isSecretType, normalisePlainValue, type AssetType, type CreateAssetInput, type UpdateAssetInput } from "./schemas";
import { listAssetUsages } from "./usage";

type Ctx = Pick<ActionContext, "actor" | "requestId">;

const fieldError = (field: string, message: string) => new AppError("VALIDATION", message, { [field]: [message] });
const orNull = (v: string) => (v === "" ? null : v);

/** The Latch Database store names the secrets it keeps for typed values after their asset. */
const ownedSecretName = (assetId: string) => `assets/${assetId}`;

async function usableStoreOrThrow(tx: Tx, folderId: string, storeId: string): Promise<{ store: CredentialStore; option: StoreOption }> {
  const usable = await listStoresUsableByFolder(folderId, tx);
  const found = usable.find((s) => s.id === storeId);
  const store = found ? await tx.credentialStore.findUnique({ where: { id: found.id } }) : null;
  if (!store) throw fieldError("storeId", "Choose a credential store this folder may use.");
  return { store, option: toStoreOption(store) };
}

async function assertUniqueName(tx: Tx, folderId: string, name: string, exceptId?: string) {
  const clash = await tx.credentialAsset.findFirst({
    where: { folderId, name: { equals: name, mode: "insensitive" }, ...(exceptId ? { id: { not: exceptId } } : {}) },
    select: { id: true },
  });
  if (clash) throw conflict(`An asset named “${name}” already exists in this folder.`, { name: [`An asset named “${name}” already exists in this folder.`] });
}

function mapUniqueViolation(error: unknown, name: string): never {
  const text = String((error as { message?: string })?.message ?? "");
  if ((error as { code?: string })?.code === "P2002" || text.includes("credential_assets_folder_name_key")) {
    throw conflict(`An asset named “${name}” already exists in this folder.`, { name: [`An asset named “${name}” already exists in this folder.`] });
  }
  throw error;
}

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

type SecretFields = Pick<CreateAssetInput, "secretName" | "secretVersion" | "usernameKey" | "valueKey" | "username" | "secretValue">;

function planSecret(type: AssetType, assetId: string, store: CredentialStore, option: StoreOption, input: SecretFields, writing: boolean, current?: CredentialAsset): SecretPlan {
  if (!writing) {
    // A value typed into another asset (perhaps in another folder) is reachable only through that asset.
    const ownName = !!current?.ownsSecret && current.storeId === store.id && current.secretName === input.secretName;
    if (store.isBuiltIn && input.secretName.startsWith("assets/") && !ownName) {
      throw fieldError("secretName", "Names under “assets/” hold values typed into other assets. Type the value instead, or reference another name.");
    }
    return {
      storeId: store.id,
      secretName: input.secretName,
      secretVersion: orNull(input.secretVersion),
      usernameKey: type === "CREDENTIAL" ? orNull(input.usernameKey) : null,
      valueKey: orNull(input.valueKey),
      username: type === "CREDENTIAL" ? orNull(input.username) : null,
      // Still Latch's own secret only if the reference is unchanged.
      ownsSecret: ownName,
      write: null,
    };
  }
  if (!option.writable) {
    throw fieldError("secretValue", `“${store.name}” is read-only: reference a secret that already exists there, or choose a store Latch may write to.`);
  }
  let secretName = input.secretName;
  let ownsSecret = false;
  if (store.isBuiltIn) {
    // Typed values in Latch's own store get a name of their own, so they can never overwrite another secret.
    secretName = current?.ownsSecret && current.storeId === store.id && current.secretName ? current.secretName : ownedSecretName(assetId);
    ownsSecret = true;
  } else if (!secretName) {
    throw fieldError("secretName", `Enter the name or path under which Latch writes the secret in “${store.name}”.`);
  }
  if (option.singleValue) {
    return { storeId: store.id, secretName, secretVersion: null, usernameKey: null, valueKey: null, username: type === "CREDENTIAL" ? orNull(input.username) : null, ownsSecret, write: { value: input.secretValue } };
  }
  if (type === "SECRET") {
    return { storeId: store.id, secretName, secretVersion: null, usernameKey: null, valueKey: null, username: null, ownsSecret, write: { value: input.secretValue } };
  }
  const usernameKey = input.usernameKey || option.defaultKeys.username;
  const valueKey = input.valueKey || option.defaultKeys.password;
  if (usernameKey === valueKey) throw fieldError("valueKey", "The username and the password need different keys.");
  const username = input.username || (current?.username ?? "");
  if (!username) throw fieldError("username", "Enter the username.");
  // The username is written to the store and also kept on the asset, so the edit form can show it.
  return { storeId: store.id, secretName, secretVersion: null, usernameKey, valueKey, username, ownsSecret, write: { [usernameKey]: username, [valueKey]: input.secretValue } };
}

/** Writes a typed value to its store. Failures name what went wrong, never the value. */
async function writeSecret(store: CredentialStore, name: string, values: Record<string, string>): Promise<string | null> {
  const client = await clientForStore(store);
  try {
    return (await client.putSecret!({ name }, values)).version;
  } catch (error) {
    const known = error instanceof StoreError ? error : classifyNetworkError(error, store.name);
    if (known) throw fieldError("secretValue", `Could not write the value to “${store.name}”: ${STORE_ERROR_TITLES[known.kind]}. ${known.message}`);
    throw error;
  } finally {
    await client.close?.().catch(() => {});
  }
}

/** Removes a secret Latch created for an asset (after the asset stopped pointing at it). Best effort. */
async function deleteOwnedSecret(storeId: string, name: string) {
  try {
    const store = await db().credentialStore.findUnique({ where: { id: storeId } });
    if (!store?.isBuiltIn) return;
    const client = await clientForStore(store);
    await client.deleteSecret!({ name }).catch((error: unknown) => {
      if (!(error instanceof StoreError && error.kind === "not_found")) throw error;
    });
  } catch (error) {
    logger().warn({ err: error, storeId }, "could not remove a secret Latch created for an asset");
  }
}

export async function createAsset(ctx: Ctx, input: CreateAssetInput) {
  const access = await assertCanOnFolder(db(), ctx.actor, "assets.write", input.folderId);
  const folderId = access.folder.id;
  const id = randomUUID();
  await assertUniqueName(db(), folderId, input.name);
  let plan: SecretPlan | null = null;
  let store: CredentialStore | null = null;
  let writtenVersion: string | null = null;
  if (isSecretType(input.type)) {
    const usable = await usableStoreOrThrow(db(), folderId, input.storeId);
    store = usable.store;
    plan = planSecret(input.type, id, usable.store, usable.option, input, input.source === "value");
    // The store write comes first: a row must never point at a value that was not written.
    if (plan.write) writtenVersion = await writeSecret(usable.store, plan.secretName, plan.write);
  }
  try {
    return await db().$transaction(async (tx) => {
      await assertCanOnFolder(tx, ctx.actor, "assets.write", folderId);
      await assertUniqueName(tx, folderId, input.name);
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
      await recordAuditEvent(tx, {
        actor: ctx.actor,
        action: "asset.create",
        target: { type: "asset", id: asset.id, label: asset.name },
        folderId,
        requestId: ctx.requestId,
        details: {
          type: asset.type,
          ...(store ? { storeId: store.id, store: store.name, reference: asset.secretName, valueWritten: !!plan?.write, version: writtenVersion } : {}),
        },
      });
      return { id: asset.id, name: asset.name };
    });
  } catch (error) {
    // Nothing half-written: a secret Latch created for this asset goes if the asset does not land.
    if (plan?.write && plan.ownsSecret) await deleteOwnedSecret(plan.storeId, plan.secretName);
    mapUniqueViolation(error, input.name);
  }
}

export async function updateAsset(ctx: Ctx, input: UpdateAssetInput) {
  const { asset, access } = await getAssetForOrThrow(db(), ctx.actor, "assets.write", input.assetId);
  const writing = isSecretType(asset.type) && input.secretValue !== "";
  const checked = checkUpdate(asset.type, { ...input, source: writing ? "value" : "reference" });
  if (!checked.success) {
    const errors = fieldErrorsOf(checked.error);
    throw new AppError("VALIDATION", Object.values(errors)[0]?.[0] ?? "Check the highlighted fields.", errors);
  }
  await assertUniqueName(db(), asset.folderId, input.name, asset.id);
  let plan: SecretPlan | null = null;
  let writtenVersion: string | null = null;
  if (isSecretType(asset.type)) {
    const usable = await usableStoreOrThrow(db(), asset.folderId, input.storeId);
    plan = planSecret(asset.type, asset.id, usable.store, usable.option, input, writing, asset);
    if (plan.write) writtenVersion = await writeSecret(usable.store, plan.secretName, plan.write);
  }
  const next = plan
    ? { ...plan, write: undefined }
    : { plainValue: normalisePlainValue(asset.type, input.plainValue) };
  const compared: (keyof CredentialAsset)[] = ["name", "description", "storeId", "secretName", "secretVersion", "usernameKey", "valueKey", "username", "plainValue"];
  const after = { ...asset, name: input.name, description: input.description, ...next } as CredentialAsset;
  const changed = compared.filter((k) => asset[k] !== after[k]);
  try {
    await db().$transaction(async (tx) => {
      await assertCanOnFolder(tx, ctx.actor, "assets.write", access.folder.id, "Credential asset");
      await assertUniqueName(tx, asset.folderId, input.name, asset.id);
      const { count } = await tx.credentialAsset.updateMany({ where: { id: asset.id, updatedAt: asset.updatedAt }, data: { name: input.name, description: input.description, ...next } });
      if (count === 0) throw conflict("Someone else changed this asset while you were editing it. Reload the page and try again.");
      await recordAuditEvent(tx, {
        actor: ctx.actor,
        action: "asset.update",
        target: { type: "asset", id: asset.id, label: input.name },
        folderId: asset.folderId,
        requestId: ctx.requestId,
        // Names of what changed; plainValue is a setting, its name is enough here too.
        details: { type: asset.type, changed, valueWritten: !!plan?.write, version: writtenVersion, storeId: plan?.storeId ?? null },
      });
    });
  } catch (error) {
    mapUniqueViolation(error, input.name);
  }
  invalidateAsset(asset.id);
  if (asset.ownsSecret && asset.storeId && asset.secretName && !(plan?.ownsSecret && plan.storeId === asset.storeId && plan.secretName === asset.secretName)) {
    await deleteOwnedSecret(asset.storeId, asset.secretName);
  }
  return { id: asset.id, name: input.name };
}

export async function deleteAsset(ctx: Ctx, input: { assetId: string }) {
  const { asset } = await getAssetForOrThrow(db(), ctx.actor, "assets.write", input.assetId);
  await db().$transaction(async (tx) => {
    const usages = await listAssetUsages(tx, asset.id);
    if (usages.length > 0) {
      const list = usages.map((u) => `${u.name} (in ${u.folder.name})`).join(", ");
      throw conflict(`“${asset.name}” is used by ${usages.length === 1 ? "a connection" : `${usages.length} connections`}: ${list}. Change ${usages.length === 1 ? "it" : "them"} to use another asset first.`);
    }
    await tx.credentialAsset.delete({ where: { id: asset.id } });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "asset.delete",
      target: { type: "asset", id: asset.id, label: asset.name },
      folderId: asset.folderId,
      requestId: ctx.requestId,
      details: { type: asset.type, storeId: asset.storeId, reference: asset.secretName, valueRemoved: asset.ownsSecret },
    });
  });
  invalidateAsset(asset.id);
  if (asset.ownsSecret && asset.storeId && asset.secretName) await deleteOwnedSecret(asset.storeId, asset.secretName);
  return { id: asset.id, folderId: asset.folderId };
}

/** The Resolve test button: metadata or the precise failure, never the value. */
export async function testAsset(ctx: Ctx, input: { assetId: string }): Promise<ResolveTestResult> {
  return resolveTest({ assetId: input.assetId }, { actor: ctx.actor, requestId: ctx.requestId });
}

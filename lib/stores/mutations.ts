import "server-only";
import type { CredentialStore, Prisma } from "@prisma/client";
import { z } from "zod";
import type { ActionContext } from "@/lib/actions/action";
import { fieldErrorsOf } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { assertTenant } from "@/lib/authz";
import { db, type Tx } from "@/lib/db";
import { AppError, conflict, notFound, type FieldErrors } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { invalidateStore } from "@/lib/secrets/resolver";
import { getProvider } from "@/lib/vault/registry";
import type { StoreKind } from "@/lib/vault/types";
import { buildStoreClient, clientForStore, openStoreSecrets, sealStoreSecrets } from "./client";
import { exerciseStore, type StoreTestResult } from "./exercise";
import { PROXY_SECRET_KEY, proxyUrlSchema, type CreateStoreInput, type UpdateStoreInput } from "./schemas";

type Ctx = Pick<ActionContext, "actor" | "requestId">;

function prefixed(error: z.ZodError, prefix: string): FieldErrors {
  return Object.fromEntries(Object.entries(fieldErrorsOf(error)).map(([k, v]) => [`${prefix}.${k}`, v]));
}

/**
 * Checks config and secrets against the provider's schemas. On edit, secrets that are absent or
 * empty keep their stored value, so an admin never re-enters what Latch already holds.
 */
function validateProviderInput(kind: StoreKind, input: { config: Record<string, unknown>; secrets: Record<string, unknown> }, stored: Record<string, string> = {}) {
  const provider = getProvider(kind);
  const supplied = Object.fromEntries(Object.entries(input.secrets).filter(([, v]) => typeof v === "string" && v !== "")) as Record<string, string>;
  const secrets = { ...stored, ...supplied };
  const config = provider.configSchema.safeParse(input.config);
  const { [PROXY_SECRET_KEY]: proxyUrl = "", ...providerSecrets } = secrets;
  const parsedSecrets = provider.secretSchema.safeParse(providerSecrets);
  const proxy = proxyUrlSchema.safeParse(proxyUrl);
  const onSave = config.success && parsedSecrets.success ? (provider.validateOnSave?.({ config: config.data, secrets: parsedSecrets.data }) ?? {}) : {};
  const errors: FieldErrors = {
    ...(config.success ? {} : prefixed(config.error, "config")),
    ...(parsedSecrets.success ? {} : prefixed(parsedSecrets.error, "secrets")),
    ...(proxy.success ? {} : prefixed(proxy.error, `secrets.${PROXY_SECRET_KEY}`)),
    ...onSave,
  };
  if (!config.success || !parsedSecrets.success || !proxy.success || Object.keys(onSave).length > 0) {
    throw new AppError("VALIDATION", Object.values(errors)[0]?.[0] ?? "Check the highlighted fields.", errors);
  }
  const kept = Object.fromEntries(Object.entries(secrets).filter(([, v]) => v !== ""));
  return { config: config.data as Prisma.InputJsonValue, secrets: kept };
}

async function assertScopeFolder(tx: Tx, folderId: string | null) {
  if (folderId && !(isUuid(folderId) && (await tx.folder.findUnique({ where: { id: folderId }, select: { id: true } })))) {
    throw new AppError("VALIDATION", "Choose an existing folder, or make the store tenant-wide.", { folderId: ["Choose an existing folder."] });
  }
}

async function assertUniqueName(tx: Tx, name: string, exceptId?: string) {
  const clash = await tx.credentialStore.findFirst({
    where: { name: { equals: name, mode: "insensitive" }, ...(exceptId ? { id: { not: exceptId } } : {}) },
    select: { id: true },
  });
  if (clash) throw conflict(`A store named “${name}” already exists.`, { name: [`A store named “${name}” already exists.`] });
}

function assertModeSupported(kind: StoreKind, mode: "READ_ONLY" | "READ_WRITE") {
  if (mode === "READ_WRITE" && !getProvider(kind).supportsWrite) {
    throw new AppError("VALIDATION", `${getProvider(kind).label} stores are read-only.`, { mode: [`${getProvider(kind).label} stores are read-only.`] });
  }
}

/** Names only, for the audit trail: which settings changed and which secrets were replaced. */
function changedKeys(before: Record<string, unknown>, after: Record<string, unknown>) {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).sort();
}

/** Names of assets (with their folders) that point at the store, for "in use" refusals. */
async function describeAssets(tx: Tx, where: Prisma.CredentialAssetWhereInput): Promise<{ count: number; text: string }> {
  const [count, some] = await Promise.all([
    tx.credentialAsset.count({ where }),
    tx.credentialAsset.findMany({ where, select: { name: true, folder: { select: { name: true } } }, orderBy: { name: "asc" }, take: 5 }),
  ]);
  const names = some.map((a) => `“${a.name}” (in ${a.folder.name})`).join(", ");
  return { count, text: count > some.length ? `${names} and ${count - some.length} more` : names };
}

/** Folder-owned stores serve only their folder's subtree: assets elsewhere would lose their store. */
async function assertScopeKeepsAssets(tx: Tx, storeId: string, folderId: string | null) {
  if (!folderId) return;
  const outside = await tx.$queryRaw<{ id: string }[]>`
    WITH RECURSIVE subtree AS (
      SELECT id, 0 AS depth FROM folders WHERE id = ${folderId}::uuid
      UNION ALL
      SELECT f.id, s.depth + 1 FROM folders f JOIN subtree s ON f.parent_id = s.id WHERE s.depth < 64
    )
    SELECT a.id::text AS id FROM credential_assets a WHERE a.store_id = ${storeId}::uuid AND a.folder_id NOT IN (SELECT id FROM subtree)`;
  if (outside.length > 0) {
    const { count, text } = await describeAssets(tx, { id: { in: outside.map((r) => r.id) } });
    const message = `${count === 1 ? "An asset" : `${count} assets`} outside that folder use${count === 1 ? "s" : ""} this store: ${text}. Move or change ${count === 1 ? "it" : "them"} first, or keep the store tenant-wide.`;
    throw conflict(message, { folderId: [message] });
  }
}

async function getStoreOrThrow(tx: Tx, storeId: string): Promise<CredentialStore> {
  const store = isUuid(storeId) ? await tx.credentialStore.findUnique({ where: { id: storeId } }) : null;
  if (!store) throw notFound("Credential store");
  return store;
}

export async function createStore(ctx: Ctx, input: CreateStoreInput) {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  assertModeSupported(input.kind, input.mode);
  const { config, secrets } = validateProviderInput(input.kind, input);
  return db().$transaction(async (tx) => {
    await assertUniqueName(tx, input.name);
    await assertScopeFolder(tx, input.folderId);
    const store = await tx.credentialStore.create({
      data: {
        name: input.name,
        kind: input.kind,
        folderId: input.folderId,
        mode: input.mode,
        config,
        caBundle: input.caBundle || null,
        probeSecret: input.probeSecret || null,
        timeoutMs: input.timeoutMs,
      },
    });
    await tx.credentialStore.update({ where: { id: store.id }, data: await sealStoreSecrets(store.id, secrets, tx) });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "store.create",
      target: { type: "store", id: store.id, label: store.name },
      folderId: store.folderId,
      requestId: ctx.requestId,
      details: { kind: store.kind, mode: store.mode, scope: store.folderId ? "folder" : "tenant", writeOnlyFieldsSet: Object.keys(secrets).sort() },
    });
    return { id: store.id, name: store.name };
  });
}

export async function updateStore(ctx: Ctx, input: UpdateStoreInput) {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  const result = await db().$transaction(async (tx) => {
    const store = await getStoreOrThrow(tx, input.storeId);
    if (store.isBuiltIn) {
      if (input.name !== store.name || input.folderId !== null || input.mode !== "READ_WRITE") {
        throw conflict("The built-in Latch Database store keeps its name, scope and mode.");
      }
      return { id: store.id, name: store.name };
    }
    assertModeSupported(store.kind, input.mode);
    const stored = await openStoreSecrets(store, tx);
    const { config, secrets } = validateProviderInput(store.kind, input, stored);
    await assertUniqueName(tx, input.name, store.id);
    await assertScopeFolder(tx, input.folderId);
    if (input.folderId !== store.folderId) await assertScopeKeepsAssets(tx, store.id, input.folderId);
    await tx.credentialStore.update({
      where: { id: store.id },
      data: {
        name: input.name,
        folderId: input.folderId,
        mode: input.mode,
        config,
        caBundle: input.caBundle || null,
        probeSecret: input.probeSecret || null,
        timeoutMs: input.timeoutMs,
        ...(await sealStoreSecrets(store.id, secrets, tx)),
      },
    });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "store.update",
      target: { type: "store", id: store.id, label: input.name },
      folderId: input.folderId ?? store.folderId,
      requestId: ctx.requestId,
      details: {
        changed: changedKeys(
          { name: store.name, folderId: store.folderId, mode: store.mode, caBundle: store.caBundle ?? "", probeSecret: store.probeSecret ?? "", timeoutMs: store.timeoutMs, ...(store.config as object) },
          { name: input.name, folderId: input.folderId, mode: input.mode, caBundle: input.caBundle, probeSecret: input.probeSecret, timeoutMs: input.timeoutMs, ...(config as object) },
        ),
        // Key names that avoid the redaction layer's secret-name pattern, so the names are kept.
        writeOnlyFieldsReplaced: Object.keys(input.secrets).filter((k) => typeof input.secrets[k] === "string" && input.secrets[k] !== "").sort(),
      },
    });
    return { id: store.id, name: input.name };
  });
  // Cached values read with the old settings (or from a store that is gone) are not served again.
  invalidateStore(input.storeId);
  return result;
}

export async function deleteStore(ctx: Ctx, input: { storeId: string }) {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  const result = await db().$transaction(async (tx) => {
    const store = await getStoreOrThrow(tx, input.storeId);
    if (store.isBuiltIn) throw conflict("The built-in Latch Database store cannot be deleted.");
    const inUse = await describeAssets(tx, { storeId: store.id });
    if (inUse.count > 0) {
      throw conflict(`“${store.name}” is in use by ${inUse.count === 1 ? "an asset" : `${inUse.count} assets`}: ${inUse.text}. Point ${inUse.count === 1 ? "it" : "them"} at another store or delete ${inUse.count === 1 ? "it" : "them"} first.`);
    }
    await tx.credentialStore.delete({ where: { id: store.id } });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "store.delete",
      target: { type: "store", id: store.id, label: store.name },
      folderId: store.folderId,
      requestId: ctx.requestId,
      details: { kind: store.kind },
    });
    return { id: store.id };
  });
  // Cached values read with the old settings (or from a store that is gone) are not served again.
  invalidateStore(input.storeId);
  return result;
}

async function recordTest(ctx: Ctx, store: { id: string | null; name: string; folderId: string | null; kind: StoreKind }, result: StoreTestResult, draft: boolean) {
  await db().$transaction(async (tx) => {
    if (store.id && !draft) {
      await tx.credentialStore.update({
        where: { id: store.id },
        data: { lastTestAt: new Date(), lastTestOk: result.ok, lastTestMessage: result.message.slice(0, 500) },
      });
    }
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: draft ? "store.test_draft" : "store.test",
      target: { type: "store", id: store.id, label: store.name },
      folderId: store.folderId,
      outcome: result.ok ? "SUCCESS" : "FAILURE",
      requestId: ctx.requestId,
      details: { kind: store.kind, durationMs: result.durationMs, failure: result.kind ?? null },
    });
  });
}

/** Tests a saved store with its stored settings, and records the result as the store's health. */
export async function testStore(ctx: Ctx, input: { storeId: string }): Promise<StoreTestResult> {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  const store = await getStoreOrThrow(db(), input.storeId);
  const result = await exerciseStore(await clientForStore(store), { mode: store.mode, probeSecret: store.probeSecret });
  await recordTest(ctx, store, result, false);
  return result;
}

/** Tests settings before they are saved (new store, or an edit in progress; blank secrets use the stored ones). */
export async function testDraftStore(ctx: Ctx, input: CreateStoreInput & { storeId: string | null }): Promise<StoreTestResult> {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  assertModeSupported(input.kind, input.mode);
  const existing = input.storeId ? await getStoreOrThrow(db(), input.storeId) : null;
  if (existing && existing.kind !== input.kind) throw notFound("Credential store");
  const stored = existing ? await openStoreSecrets(existing) : {};
  const { config, secrets } = validateProviderInput(input.kind, input, stored);
  const client = buildStoreClient({ id: existing?.id ?? "draft", kind: input.kind, config, secrets, caBundle: input.caBundle || null, timeoutMs: input.timeoutMs });
  const result = await exerciseStore(client, { mode: input.mode, probeSecret: input.probeSecret });
  await recordTest(ctx, { id: existing?.id ?? null, name: input.name, folderId: input.folderId, kind: input.kind }, result, true);
  return result;
}

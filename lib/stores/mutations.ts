import "server-only";
import type { CredentialStore, Prisma } from "@prisma/client";
import { z } from "zod";
import type { ActionContext } from "@/lib/actions/action";
import { fieldErrorsOf } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { assertTenant } from "@/lib/authz";
import { db, type Db, type Tx } from "@/lib/db";
import { env } from "@/lib/env";
import { AppError, conflict, notFound, type FieldErrors } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { applyCommitted, broadcastRefresh } from "@/lib/secrets/broadcast";
import { isShown, missingWhenShown, movedLocators } from "@/lib/vault/fields";
import { getProviderOrThrow } from "@/lib/vault/registry";
import { StoreError } from "@/lib/vault/errors";
import type { StoreProvider, StoreTestResult } from "@/lib/vault/types";
import { buildStoreClient, clientForStore, openStoreSecrets, sealStoreSecrets } from "./client";
import { CA_BUNDLE_LABEL, caBundleAddsTrust, PROXY_FIELD, PROXY_SECRET_KEY, proxyUrlSchema, reentryReason } from "./common-fields";
import { externalKindSchema, type CreateStoreInput, type UpdateStoreInput } from "./schemas";
import { describeAssets, storeInUseMessage } from "./queries";
import { joinList } from "@/lib/utils";
import { logger } from "@/lib/log";
import { isForeignKeyViolation, isUniqueViolation } from "@/lib/db/errors";
import { nameTaken } from "@/lib/db/names";

type Ctx = Pick<ActionContext, "actor" | "requestId">;
type ProviderInput = { config: Record<string, unknown>; secrets: Record<string, unknown>; removeSecrets: string[]; caBundle: string };
/** What an existing store holds: the current settings a draft or an edit starts from. */
type Stored = { config: unknown; secrets: Record<string, string>; caBundle: string | null };

/**
 * For a create the common schema refused (no name, say): what the chosen kind's own checks say of the
 * settings and secrets sent, so the form names every missing field at once. Nothing when the kind is
 * not one Latch knows (the schema says so).
 */
export function providerInputErrors(raw: unknown): FieldErrors {
  const input = (raw !== null && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const record = (v: unknown) => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  if (!externalKindSchema.safeParse(input.kind).success) return {};
  try {
    validateProviderInput(input.kind as string, { config: record(input.config), secrets: record(input.secrets), removeSecrets: [], caBundle: "" });
    return {};
  } catch (error) {
    return error instanceof AppError && error.code === "VALIDATION" ? (error.fieldErrors ?? {}) : {};
  }
}

function prefixed(error: z.ZodError, prefix: string): FieldErrors {
  return Object.fromEntries(Object.entries(fieldErrorsOf(error)).map(([k, v]) => [`${prefix}.${k}`, v]));
}

/** Labels of the fields deciding where credentials are sent whose address differs from the stored one. */
function changedLocators(provider: StoreProvider, before: unknown, after: Record<string, unknown>): string[] {
  const parsed = provider.configSchema.safeParse(before ?? {});
  const old = (parsed.success ? parsed.data : (before ?? {})) as Record<string, unknown>;
  return movedLocators(provider.fields, old, after);
}


/**
 * Checks config and secrets against the provider's schemas. On edit, secrets that are absent or
 * empty keep their stored value (so an admin never re-enters what Latch already holds), except
 * after a change of where credentials are sent: then every stored secret must be entered again
 * or removed; the same after the CA bundle gains a certificate. Unknown keys are ignored; only what
 * the provider's schema parses is kept.
 */
function validateProviderInput(kind: string, input: ProviderInput, stored?: Stored) {
  const provider = getProviderOrThrow(kind);
  const writeOnly = new Map([...provider.fields, PROXY_FIELD].filter((f) => f.secret).map((f) => [f.name, f]));
  const errors: FieldErrors = {};
  const fail = (key: string, message: string) => (errors[key] ??= []).push(message);

  const config = provider.configSchema.safeParse(input.config);
  if (!config.success) Object.assign(errors, prefixed(config.error, "config"));
  if (config.success && !env().LATCH_DEV_ALLOW_HTTP_STORES) {
    for (const f of provider.fields.filter((x) => x.locator)) {
      const value = (config.data as Record<string, unknown>)[f.name];
      if (typeof value === "string" && /^http:/i.test(value)) fail(`config.${f.name}`, "Use an https:// address: Latch sends a store its credentials only over TLS.");
    }
  }
  const configValues = (config.success ? config.data : input.config) as Record<string, unknown>;

  const supplied: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.secrets)) if (writeOnly.has(k) && typeof v === "string" && v !== "") supplied[k] = v;
  const removing = new Set(input.removeSecrets.filter((k) => writeOnly.has(k) && !(k in supplied)));
  for (const k of removing) {
    const f = writeOnly.get(k)!;
    if (f.required && isShown(f, configValues)) fail(`secrets.${k}`, `${f.label} is required: replace it rather than removing it.`);
  }

  let kept: Record<string, string> = { ...stored?.secrets };
  const locators = stored && config.success ? changedLocators(provider, stored.config, config.data) : [];
  const trustAdded = !!stored && caBundleAddsTrust(stored.caBundle, input.caBundle);
  const moved = trustAdded ? [...locators, CA_BUNDLE_LABEL] : locators;
  if (moved.length > 0) {
    // A stored secret is only ever sent where it was entered for: the proxy URL goes to the proxy alone.
    kept = stored?.secrets[PROXY_SECRET_KEY] ? { [PROXY_SECRET_KEY]: stored.secrets[PROXY_SECRET_KEY] } : {};
    for (const f of provider.fields) {
      if (f.secret && stored?.secrets[f.name] && isShown(f, configValues) && !(f.name in supplied) && !removing.has(f.name)) {
        fail(`secrets.${f.name}`, `The ${joinList(moved)} changed: enter ${f.label} again${f.required ? "" : ", or remove it"}. ${reentryReason(locators.length > 0, trustAdded)}.`);
      }
    }
  }
  for (const k of removing) delete kept[k];
  const merged = { ...kept, ...supplied };

  const { [PROXY_SECRET_KEY]: proxyUrl = "", ...providerSecrets } = merged;
  const secrets = provider.secretSchema.safeParse(providerSecrets);
  if (!secrets.success) for (const [k, v] of Object.entries(prefixed(secrets.error, "secrets"))) for (const m of v) fail(k, m);
  const proxy = proxyUrlSchema.safeParse(proxyUrl);
  if (!proxy.success) for (const m of fieldErrorsOf(proxy.error)._form ?? []) fail(`secrets.${PROXY_SECRET_KEY}`, m);
  // Missing secrets are named in the same pass as a bad address, not one submit later.
  const values = { ...configValues, ...(secrets.success ? secrets.data : providerSecrets) } as Record<string, unknown>;
  for (const { name, message } of missingWhenShown(provider.secretSchema.shape, values)) if (!errors[`secrets.${name}`]) fail(`secrets.${name}`, message);
  if (config.success && secrets.success) {
    // Material the schema can only check for shape (a PEM's key matching its certificate) is checked when it changes.
    if (Object.keys(errors).length === 0 && Object.keys(supplied).some((k) => k !== PROXY_SECRET_KEY) && provider.validateOnSave) {
      for (const [key, messages] of Object.entries(provider.validateOnSave({ config: config.data, secrets: secrets.data }))) for (const m of messages) fail(key, m);
    }
  }
  if (Object.keys(errors).length > 0) throw new AppError("VALIDATION", Object.values(errors)[0]?.[0] ?? "Check the highlighted fields.", errors);

  const sealed: Record<string, string> = Object.fromEntries(Object.entries(secrets.data as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""));
  if (proxy.data) sealed[PROXY_SECRET_KEY] = proxy.data;
  return {
    config: config.data as Prisma.InputJsonValue,
    secrets: sealed,
    /** Names only, for the audit trail. */
    replaced: Object.keys(supplied).filter((k) => k in sealed).sort(),
    removed: [...removing].filter((k) => stored?.secrets[k]).sort(),
    addressChanged: locators.length > 0,
    trustAdded,
  };
}

/** Null is tenant-wide; any string, "" included, must name an existing folder. */
async function assertScopeFolder(tx: Db, folderId: string | null) {
  if (folderId !== null && !(isUuid(folderId) && (await tx.folder.findUnique({ where: { id: folderId }, select: { id: true } })))) {
    throw new AppError("VALIDATION", "Choose an existing folder, or make the store tenant-wide.", { folderId: ["Choose an existing folder."] });
  }
}

const storeNameTaken = (name: string) => conflict(`A store named “${name}” already exists.`, { name: [`A store named “${name}” already exists.`] });

async function assertUniqueName(tx: Tx, name: string, exceptId?: string) {
  if (await nameTaken(tx, "credential_stores", name, { exceptId })) throw storeNameTaken(name);
}

/** The index's refusal when another request took the name after the check: the same answer as the check's. */
function nameTakenMeanwhile(error: unknown, name: string): unknown {
  return isUniqueViolation(error, "credential_stores_name_key") ? storeNameTaken(name) : error;
}

function assertModeSupported(kind: string, mode: "READ_ONLY" | "READ_WRITE") {
  if (mode === "READ_WRITE" && !getProviderOrThrow(kind).supportsWrite) {
    throw new AppError("VALIDATION", `${getProviderOrThrow(kind).label} stores are read-only.`, { mode: [`${getProviderOrThrow(kind).label} stores are read-only.`] });
  }
}

/** Names only, for the audit trail: which settings changed and which secrets were replaced. */
function changedKeys(before: Record<string, unknown>, after: Record<string, unknown>) {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).sort();
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

/**
 * The store row, locked for the rest of the transaction when `lock` is set: an asset insert pointing
 * at it (which takes a key-share lock through its foreign key) waits for the change, and one already
 * in flight is waited for, so "which assets use this store" cannot change underneath.
 */
async function getStoreOrThrow(tx: Tx, storeId: string, opts: { lock?: boolean } = {}): Promise<CredentialStore> {
  if (!isUuid(storeId)) throw notFound("Credential store");
  if (opts.lock) await tx.$queryRaw`SELECT id FROM credential_stores WHERE id = ${storeId}::uuid FOR UPDATE`;
  const store = await tx.credentialStore.findUnique({ where: { id: storeId } });
  if (!store) throw notFound("Credential store");
  return store;
}

/**
 * Cached values read with the old settings (or from a store that is gone), and the kept clients
 * holding them, are dropped on every instance. Announced in the change's own transaction: a change
 * that commits is a change every instance applies (NOTIFY at commit, the refresh log as the safety net).
 */
function refreshEverywhere(tx: Tx, storeId: string) {
  return broadcastRefresh({ kind: "store", id: storeId }, tx);
}

export async function createStore(ctx: Ctx, input: CreateStoreInput) {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  assertModeSupported(input.kind, input.mode);
  const { config, secrets } = validateProviderInput(input.kind, input);
  const created = db().$transaction(async (tx) => {
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
  return created.catch((error: unknown) => {
    throw nameTakenMeanwhile(error, input.name);
  });
}

const STORE_CHANGED_MEANWHILE = "Someone else changed this store while you were editing it. Reload the page and try again.";

/**
 * Narrowing a store to a folder refuses while assets elsewhere use it. The row lock covers asset
 * inserts already in flight; one that checked the store's scope before this change and inserts
 * after it is not refused here (the asset path checks outside its transaction, with no lock to
 * share), but it cannot read anything: the resolver checks the scope again at every read.
 */
export async function updateStore(ctx: Ctx, input: UpdateStoreInput) {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  const result = await db().$transaction(async (tx) => {
    const store = await getStoreOrThrow(tx, input.storeId, { lock: true });
    // Under the lock: an edit saved since the editor loaded the store is not undone by this one. The settings
    // version, not updatedAt: a test recording the store's health is no edit.
    if (input.expectedVersion !== undefined && input.expectedVersion !== store.settingsVersion) throw conflict(STORE_CHANGED_MEANWHILE);
    if (store.isBuiltIn) {
      if (input.name !== store.name || input.folderId !== null || input.mode !== "READ_WRITE") {
        throw conflict("The built-in Latch Database store keeps its name, scope and mode.");
      }
      return { id: store.id, name: store.name };
    }
    assertModeSupported(store.kind, input.mode);
    const stored = await openStoreSecrets(store, tx);
    const { config, secrets, replaced, removed, addressChanged, trustAdded } = validateProviderInput(store.kind, input, { config: store.config, secrets: stored, caBundle: store.caBundle });
    await assertUniqueName(tx, input.name, store.id);
    await assertScopeFolder(tx, input.folderId);
    if (input.folderId !== store.folderId) await assertScopeKeepsAssets(tx, store.id, input.folderId);
    const changed = changedKeys(
      { name: store.name, folderId: store.folderId, mode: store.mode, caBundle: store.caBundle ?? "", probeSecret: store.probeSecret ?? "", timeoutMs: store.timeoutMs, ...(store.config as object) },
      { name: input.name, folderId: input.folderId, mode: input.mode, caBundle: input.caBundle, probeSecret: input.probeSecret, timeoutMs: input.timeoutMs, ...(config as object) },
    );
    // A test of the old settings says nothing about the new ones: the store is "Not tested" until tested again.
    const reachChanged = replaced.length > 0 || removed.length > 0 || changed.some((key) => key !== "name" && key !== "folderId");
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
        settingsVersion: { increment: 1 },
        ...(reachChanged ? { lastTestAt: null, lastTestOk: null, lastTestMessage: null } : {}),
      },
    });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "store.update",
      target: { type: "store", id: store.id, label: input.name },
      folderId: input.folderId ?? store.folderId,
      requestId: ctx.requestId,
      details: {
        changed,
        // Key names that avoid the redaction layer's secret-name pattern, so the names are kept.
        writeOnlyFieldsReplaced: replaced,
        writeOnlyFieldsRemoved: removed,
        addressChanged,
        caBundleTrustAdded: trustAdded,
      },
    });
    const announced = await refreshEverywhere(tx, store.id);
    return { id: store.id, name: input.name, announced };
  }).catch((error: unknown) => {
    throw nameTakenMeanwhile(error, input.name);
  });
  // A read that began before the commit used the old settings: dropped again now that they are gone.
  applyCommitted("announced" in result ? result.announced : null);
  return { id: result.id, name: result.name };
}

async function inUseConflict(client: Tx, store: Pick<CredentialStore, "id" | "name">) {
  const inUse = await describeAssets(client, { storeId: store.id });
  return inUse.count === 0 ? null : conflict(storeInUseMessage(store.name, inUse));
}

export async function deleteStore(ctx: Ctx, input: { storeId: string }) {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  let name = "";
  try {
    const result = await db().$transaction(async (tx) => {
      const store = await getStoreOrThrow(tx, input.storeId, { lock: true });
      name = store.name;
      if (store.isBuiltIn) throw conflict("The built-in Latch Database store cannot be deleted.");
      const refusal = await inUseConflict(tx, store);
      if (refusal) throw refusal;
      await tx.credentialStore.delete({ where: { id: store.id } });
      await recordAuditEvent(tx, {
        actor: ctx.actor,
        action: "store.delete",
        target: { type: "store", id: store.id, label: store.name },
        folderId: store.folderId,
        requestId: ctx.requestId,
        details: { kind: store.kind },
      });
      const announced = await refreshEverywhere(tx, store.id);
      return { id: store.id, announced };
    });
    applyCommitted(result.announced);
    return { id: result.id };
  } catch (error) {
    // An asset that landed between the check and the delete: the same refusal, naming it.
    if (isForeignKeyViolation(error)) throw (await inUseConflict(db(), { id: input.storeId, name })) ?? conflict(`“${name}” is in use; reload and try again.`);
    throw error;
  }
}

/**
 * The test's outcome as the store's health, and its audit event. A store deleted while the test
 * ran has no health to record, but its settings were used: the event is still written, and the
 * caller is told the store is gone.
 */
async function recordTest(ctx: Ctx, store: { id: string | null; name: string; folderId: string | null; kind: string }, result: StoreTestResult, draft: boolean) {
  const present = await db().$transaction(async (tx) => {
    let updated = 1;
    if (store.id && !draft) {
      ({ count: updated } = await tx.credentialStore.updateMany({
        where: { id: store.id },
        data: { lastTestAt: new Date(), lastTestOk: result.ok, lastTestMessage: result.message.slice(0, 500) },
      }));
    }
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: draft ? "store.test_draft" : "store.test",
      target: { type: "store", id: store.id, label: store.name },
      folderId: store.folderId,
      outcome: result.ok ? "SUCCESS" : "FAILURE",
      requestId: ctx.requestId,
      details: { kind: store.kind, durationMs: result.durationMs, failure: result.kind ?? null, ...(updated === 0 ? { storeDeleted: true } : {}) },
    });
    return updated > 0;
  });
  if (!present) throw notFound("Credential store");
}

/** Tests a saved store with its stored settings, and records the result as the store's health. */
export async function testStore(ctx: Ctx, input: { storeId: string }): Promise<StoreTestResult> {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  const store = await getStoreOrThrow(db(), input.storeId);
  const provider = getProviderOrThrow(store.kind);
  let client;
  try {
    client = await clientForStore(store);
  } catch (error) {
    // Saved settings today's rules refuse: a failed test that says which to fix, recorded as the store's health.
    if (!(error instanceof StoreError)) throw error;
    const result: StoreTestResult = { ok: false, message: error.message, kind: error.kind, durationMs: 0 };
    await recordTest(ctx, store, result, false);
    return result;
  }
  const result = await provider.validate(client, { mode: store.mode, probeSecret: store.probeSecret });
  await recordTest(ctx, store, result, false);
  return result;
}

/**
 * Create or Save after testing the same settings in the form: the saved store is tested once more, as
 * Test on its page would be, so it does not show "Not tested" (or the old settings' health). The store
 * is saved whatever the test finds, and a test that cannot run at all leaves it "Not tested".
 */
export async function testAfterSaving<T extends { id: string }>(ctx: Ctx, saved: T, wanted: boolean | undefined): Promise<T & { test?: StoreTestResult }> {
  if (!wanted) return saved;
  try {
    return { ...saved, test: await testStore(ctx, { storeId: saved.id }) };
  } catch (error) {
    if (!(error instanceof AppError)) logger().warn({ err: error, storeId: saved.id }, "could not test a store after saving it");
    return saved;
  }
}

/**
 * Tests settings before they are saved (a new store, or an edit in progress): blank secrets use the
 * stored ones, under the same rules as saving, so a draft with a new address never gets them.
 */
export async function testDraftStore(ctx: Ctx, input: CreateStoreInput & { storeId: string | null }): Promise<StoreTestResult> {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  assertModeSupported(input.kind, input.mode);
  const existing = input.storeId ? await getStoreOrThrow(db(), input.storeId) : null;
  if (existing && (existing.kind !== input.kind || existing.isBuiltIn)) throw notFound("Credential store");
  const stored = existing ? { config: existing.config, secrets: await openStoreSecrets(existing), caBundle: existing.caBundle } : undefined;
  const { config, secrets } = validateProviderInput(input.kind, input, stored);
  // Checked before the store is tried: the test's audit event names this folder.
  await assertScopeFolder(db(), input.folderId);
  const provider = getProviderOrThrow(input.kind);
  const client = buildStoreClient({ id: existing?.id ?? "draft", kind: input.kind, config, secrets, caBundle: input.caBundle || null, timeoutMs: input.timeoutMs });
  const result = await provider.validate(client, { mode: input.mode, probeSecret: input.probeSecret });
  await recordTest(ctx, { id: existing?.id ?? null, name: input.name, folderId: input.folderId, kind: input.kind }, result, true);
  return result;
}

import "server-only";
import type { ActionContext } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { assertTenant, can, canTenant, getFolderAccess, PERMISSION_LABELS } from "@/lib/authz";
import { db, type Tx } from "@/lib/db";
import { conflict, notFound, validationError } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { generateToken } from "./format";
import { assertSignedIn, folderLabels, toTokenRow, tokenRowSelect, type TokenRow } from "./queries";
import type { CreatePersonalTokenInput, CreateServiceAccountTokenInput, TokenScopeInput } from "./schemas";
import { isUniqueViolation } from "@/lib/db/errors";
import { nameTaken as nameInUse } from "@/lib/db/names";

type Ctx = Pick<ActionContext, "actor" | "requestId">;

/** Plenty for any runner fleet; a cap keeps a compromised session from minting tokens without end. */
export const MAX_ACTIVE_TOKENS_PER_OWNER = 50;

/** The token itself is in `token`, returned this once and never stored. */
export type CreatedToken = { token: string; row: TokenRow };

type Owner = { userId: string } | { serviceAccountId: string };

/** Creations for one owner wait for one another here, so a burst of them cannot all count below the cap. */
async function assertUnderCap(tx: Tx, owner: Owner) {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`latch.token-cap:${"userId" in owner ? owner.userId : owner.serviceAccountId}`}))`;
  const active = await tx.apiToken.count({ where: { ...owner, revokedAt: null, expiresAt: { gt: new Date() } } });
  if (active >= MAX_ACTIVE_TOKENS_PER_OWNER) {
    throw conflict(`There are already ${MAX_ACTIVE_TOKENS_PER_OWNER} active tokens here. Revoke ones you no longer use first.`);
  }
}

async function insertToken(
  tx: Tx,
  owner: Owner,
  input: { name: string; expiresInDays: number; scopes: TokenScopeInput[]; tenantPermissions?: string[] },
) {
  // Prefixes are 8 random characters (36^8); a clash is improbable, but the lookup must stay unique.
  let generated = generateToken();
  for (let i = 0; i < 5 && (await tx.apiToken.findUnique({ where: { prefix: generated.prefix }, select: { id: true } })); i++) {
    generated = generateToken();
  }
  const row = await tx.apiToken.create({
    data: {
      ...owner,
      name: input.name,
      prefix: generated.prefix,
      hash: generated.hash,
      expiresAt: new Date(Date.now() + input.expiresInDays * 86_400_000),
      scopes: { create: input.scopes.map((s) => ({ folderId: s.folderId, permissions: s.permissions })) },
      tenantPermissions: input.tenantPermissions ?? [],
    },
    select: { id: true, name: true, prefix: true, expiresAt: true },
  });
  return { token: generated.token, row };
}

/**
 * The answer is read inside the creating transaction, with the folder labels read before it: once
 * the token is committed nothing may fail, or it would exist, count against the cap, and never be shown.
 */
async function createdRow(tx: Tx, labels: Map<string, string>, created: { token: string; row: { id: string } }): Promise<CreatedToken> {
  const row = await tx.apiToken.findUniqueOrThrow({ where: { id: created.row.id }, select: tokenRowSelect });
  return { token: created.token, row: toTokenRow(row, labels) };
}

const auditScopes = (scopes: TokenScopeInput[]) => scopes.map((s) => ({ folderId: s.folderId, permissions: s.permissions }));

/**
 * A personal token never reaches beyond its owner: each folder must be one the person can see and
 * each permission one they hold there now. (At use, the owner's roles bound it again.)
 */
export async function createPersonalToken(ctx: Ctx, input: CreatePersonalTokenInput): Promise<CreatedToken> {
  assertSignedIn(ctx.actor);
  const labels = await folderLabels(ctx.actor);
  return db().$transaction(async (tx) => {
    await assertUnderCap(tx, { userId: ctx.actor.id });
    for (const [index, scope] of input.scopes.entries()) {
      const access = await getFolderAccess(tx, ctx.actor, scope.folderId);
      if (!access) throw notFound("Folder");
      const missing = scope.permissions.filter((p) => !can(access, p));
      if (missing.length > 0) {
        const message = `You cannot give a token “${missing.map((p) => PERMISSION_LABELS[p]).join("”, “")}” on “${access.folder.name}”: you do not hold it there.`;
        throw validationError(message, { [`scopes.${index}.permissions`]: [message] });
      }
    }
    const result = await insertToken(tx, { userId: ctx.actor.id }, input);
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "api_token.create",
      target: { type: "api_token", id: result.row.id, label: `${result.row.name} (${result.row.prefix})` },
      requestId: ctx.requestId,
      details: { kind: "personal", prefix: result.row.prefix, expiresAt: result.row.expiresAt.toISOString(), scopes: auditScopes(input.scopes) },
    });
    return createdRow(tx, labels, result);
  });
}

async function getServiceAccountOrThrow(tx: Tx, id: string) {
  const account = isUuid(id) ? await tx.serviceAccount.findUnique({ where: { id } }) : null;
  if (!account) throw notFound("Service account");
  return account;
}

/** Administrators grant a service account's scopes directly: it has no roles to bound them. */
export async function createServiceAccountToken(ctx: Ctx, input: CreateServiceAccountTokenInput): Promise<CreatedToken> {
  assertTenant(ctx.actor, "tokens.manage", "Service account");
  const labels = await folderLabels(ctx.actor);
  return db().$transaction(async (tx) => {
    const account = await getServiceAccountOrThrow(tx, input.serviceAccountId);
    if (account.disabled) throw conflict(`“${account.name}” is disabled. Enable it before creating tokens for it.`);
    await assertUnderCap(tx, { serviceAccountId: account.id });
    const ids = input.scopes.map((s) => s.folderId);
    const found = await tx.folder.count({ where: { id: { in: ids.filter(isUuid) } } });
    if (!ids.every(isUuid) || found !== ids.length) throw notFound("Folder");
    const result = await insertToken(tx, { serviceAccountId: account.id }, input);
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "api_token.create",
      target: { type: "api_token", id: result.row.id, label: `${result.row.name} (${result.row.prefix})` },
      requestId: ctx.requestId,
      details: {
        kind: "service",
        serviceAccount: { id: account.id, name: account.name },
        prefix: result.row.prefix,
        expiresAt: result.row.expiresAt.toISOString(),
        scopes: auditScopes(input.scopes),
        tenantPermissions: input.tenantPermissions,
      },
    });
    return createdRow(tx, labels, result);
  });
}

/** Owners revoke their own tokens; administrators revoke any. Revoking twice changes nothing. */
export async function revokeToken(ctx: Ctx, input: { tokenId: string }) {
  assertSignedIn(ctx.actor, "API token");
  return db().$transaction(async (tx) => {
    const token = isUuid(input.tokenId)
      ? await tx.apiToken.findUnique({ where: { id: input.tokenId }, select: { id: true, name: true, prefix: true, userId: true, serviceAccountId: true, revokedAt: true } })
      : null;
    if (!token || (token.userId !== ctx.actor.id && !canTenant(ctx.actor, "tokens.manage"))) throw notFound("API token");
    if (token.revokedAt) return { id: token.id, revokedAt: token.revokedAt };
    const revokedAt = new Date();
    await tx.apiToken.update({ where: { id: token.id }, data: { revokedAt } });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "api_token.revoke",
      target: { type: "api_token", id: token.id, label: `${token.name} (${token.prefix})` },
      requestId: ctx.requestId,
      details: { kind: token.userId ? "personal" : "service", prefix: token.prefix, ownerId: token.userId ?? token.serviceAccountId },
    });
    return { id: token.id, revokedAt };
  });
}

async function assertNameFree(tx: Tx, name: string, exceptId?: string) {
  if (await nameInUse(tx, "service_accounts", name, { exceptId })) throw nameTaken(name);
}

const nameTaken = (name: string) =>
  conflict(`A service account named “${name}” already exists.`, { name: [`A service account named “${name}” already exists.`] });

/** A unique-index race that slipped past the pre-check still gets the friendly message. */
function mapUniqueViolation(error: unknown, name: string): never {
  if (isUniqueViolation(error, "service_accounts_name_key")) throw nameTaken(name);
  throw error;
}

export async function createServiceAccount(ctx: Ctx, input: { name: string; description: string }) {
  assertTenant(ctx.actor, "tokens.manage");
  try {
    return await db().$transaction(async (tx) => {
      await assertNameFree(tx, input.name);
      const account = await tx.serviceAccount.create({ data: { name: input.name, description: input.description, createdById: ctx.actor.id } });
      await recordAuditEvent(tx, {
        actor: ctx.actor,
        action: "service_account.create",
        target: { type: "service_account", id: account.id, label: account.name },
        requestId: ctx.requestId,
      });
      return { id: account.id, name: account.name };
    });
  } catch (error) {
    mapUniqueViolation(error, input.name);
  }
}

export async function updateServiceAccount(ctx: Ctx, input: { serviceAccountId: string; name: string; description: string }) {
  assertTenant(ctx.actor, "tokens.manage", "Service account");
  try {
    return await db().$transaction(async (tx) => {
      const account = await getServiceAccountOrThrow(tx, input.serviceAccountId);
      await assertNameFree(tx, input.name, account.id);
      await tx.serviceAccount.update({ where: { id: account.id }, data: { name: input.name, description: input.description } });
      await recordAuditEvent(tx, {
        actor: ctx.actor,
        action: "service_account.update",
        target: { type: "service_account", id: account.id, label: input.name },
        requestId: ctx.requestId,
        details: account.name !== input.name ? { renamedFrom: account.name } : undefined,
      });
      return { id: account.id, name: input.name };
    });
  } catch (error) {
    mapUniqueViolation(error, input.name);
  }
}

/** Disabling refuses every token of the account at its next request; enabling brings them back. */
export async function setServiceAccountDisabled(ctx: Ctx, input: { serviceAccountId: string; disabled: boolean }) {
  assertTenant(ctx.actor, "tokens.manage", "Service account");
  return db().$transaction(async (tx) => {
    const account = await getServiceAccountOrThrow(tx, input.serviceAccountId);
    if (account.disabled === input.disabled) return { id: account.id, disabled: account.disabled };
    await tx.serviceAccount.update({ where: { id: account.id }, data: { disabled: input.disabled } });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: input.disabled ? "service_account.disable" : "service_account.enable",
      target: { type: "service_account", id: account.id, label: account.name },
      requestId: ctx.requestId,
    });
    return { id: account.id, disabled: input.disabled };
  });
}

/** Deletes the account and its tokens; the audit log keeps their history. */
export async function deleteServiceAccount(ctx: Ctx, input: { serviceAccountId: string }) {
  assertTenant(ctx.actor, "tokens.manage", "Service account");
  return db().$transaction(async (tx) => {
    const account = await getServiceAccountOrThrow(tx, input.serviceAccountId);
    const tokens = await tx.apiToken.findMany({ where: { serviceAccountId: account.id }, select: { prefix: true } });
    await tx.serviceAccount.delete({ where: { id: account.id } });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "service_account.delete",
      target: { type: "service_account", id: account.id, label: account.name },
      requestId: ctx.requestId,
      details: { deletedPrefixes: tokens.map((t) => t.prefix) },
    });
    return { id: account.id };
  });
}

import "server-only";
import type { Actor, FolderPermission, TokenTenantPermission } from "@/lib/authz";
import { FOLDER_PERMISSIONS, TOKEN_PERMISSIONS } from "@/lib/authz";
import { EPOCH_COLUMN, EpochMemo } from "@/lib/authz/epoch";
import { recordAuditEvent } from "@/lib/audit/record";
import { firstThisMinute } from "@/lib/audit/throttle";
import { db, sql } from "@/lib/db";
import { serviceAccountActorEmail } from "./actor";
import { AppError } from "@/lib/errors";
import type { Logger } from "@/lib/log";
import { clientAddressFrom, type HeaderReader } from "@/lib/request-context";
import { hashSecret, parseToken, secretMatches } from "./format";

/** lastUsedAt is a hint for people, not a ledger: one write a minute per token is plenty. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** Unknown prefixes are compared against this, so the answer takes as long as for a real one. */
const DECOY_HASH = hashSecret("decoy");

const unauthenticated = (message: string) => new AppError("UNAUTHENTICATED", message);
const INVALID = "The API token is not valid.";

const usable = (p: string): p is FolderPermission =>
  (TOKEN_PERMISSIONS as readonly string[]).includes(p) && (FOLDER_PERMISSIONS as readonly string[]).includes(p);

/** Whether a header carries something shaped like a Latch API token (lt_…), as opposed to another scheme or secret. */
export function looksLikeApiToken(authorization: string): boolean {
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization);
  return !!match && parseToken(match[1]!) !== null;
}

/**
 * For tenant-wide endpoints (/api/metrics): checks the token exactly as authenticateBearer does
 * (throws UNAUTHENTICATED if it is refused) and says whether it carries `permission`. Only service
 * accounts' tokens can.
 */
export async function bearerHasTenantPermission(authorization: string, headers: HeaderReader, permission: TokenTenantPermission, log?: Logger, requestId?: string): Promise<boolean> {
  const token = await verifyBearer(authorization, headers, log, requestId);
  return !!token.serviceAccount && token.tenantPermissions.includes(permission);
}

/**
 * Turns an `Authorization: Bearer lt_…` header into the Actor it speaks for, or throws
 * UNAUTHENTICATED. Why a token is refused is said only to someone who holds its secret.
 */
export async function authenticateBearer(authorization: string, headers: HeaderReader, log?: Logger, requestId?: string): Promise<Actor> {
  return actorOf(await verifyBearer(authorization, headers, log, requestId));
}

/** Whom a token speaks for: its owner, or its service account, through the token's scope. */
function actorOf(token: TokenRecord): Actor {
  const folders = new Map(token.scopes.map((s) => [s.folderId, new Set(s.permissions.filter(usable))] as const));
  if (token.user) {
    const { user } = token;
    return {
      id: user.id,
      email: user.email,
      name: user.name,
      isAdmin: false,
      scope: { kind: "personal", folders, tokenId: token.id, tokenPrefix: token.prefix, ownerIsAdmin: user.isAdmin },
    };
  }
  const account = token.serviceAccount!;
  return {
    id: account.id,
    email: serviceAccountActorEmail(account.name),
    name: account.name,
    isAdmin: false,
    scope: { kind: "service", folders, tokenId: token.id, tokenPrefix: token.prefix, ownerIsAdmin: false },
  };
}

type TokenRecord = {
  id: string;
  prefix: string;
  hash: Uint8Array;
  expiresAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  tenantPermissions: string[];
  scopes: { folderId: string; permissions: string[] }[];
  user: { id: string; email: string; name: string; isAdmin: boolean; active: boolean } | null;
  serviceAccount: { id: string; name: string; disabled: boolean } | null;
};

/** Tokens read by prefix, kept while the authorisation epoch stands (lib/authz/epoch.ts). */
const tokens = new EpochMemo<TokenRecord>();

/**
 * The token, its owner and its scopes in one round trip, kept in memory while nothing they depend on
 * has changed: a revocation, a new scope or a deactivation bumps the authorisation epoch in its own
 * transaction, so it applies to the next request on every instance. The secret and the expiry are
 * checked at every request.
 */
function lookup(prefix: string): Promise<TokenRecord | null> {
  return tokens.load(prefix, () => read(prefix));
}

async function read(prefix: string): Promise<{ value: TokenRecord; epoch: number } | null> {
  const rows = await sql<{
      authz_epoch: number;
      id: string;
      prefix: string;
      hash: Uint8Array;
      expires_at: Date;
      revoked_at: Date | null;
      last_used_at: Date | null;
      tenant_permissions: string[] | null;
      scopes: { folderId: string; permissions: string[] }[] | null;
      user_id: string | null;
      user_email: string | null;
      user_name: string | null;
      user_is_admin: boolean | null;
      user_active: boolean | null;
      sa_id: string | null;
      sa_name: string | null;
      sa_disabled: boolean | null;
    }>(
    db(),
    `
    SELECT t.id::text AS id, t.prefix, t.hash, t.expires_at, t.revoked_at, t.last_used_at, t.tenant_permissions,
      (SELECT coalesce(json_agg(json_build_object('folderId', s.folder_id, 'permissions', s.permissions)), '[]'::json) FROM api_token_scopes s WHERE s.token_id = t.id) AS scopes,
      u.id::text AS user_id, u.email AS user_email, u.name AS user_name, u.is_admin AS user_is_admin, u.active AS user_active,
      a.id::text AS sa_id, a.name AS sa_name, a.disabled AS sa_disabled, ${EPOCH_COLUMN}
    FROM api_tokens t
    LEFT JOIN users u ON u.id = t.user_id
    LEFT JOIN service_accounts a ON a.id = t.service_account_id
    WHERE t.prefix = $1`,
    [prefix],
  );
  const r = rows[0];
  if (!r) return null;
  const value: TokenRecord = {
    id: r.id,
    prefix: r.prefix,
    hash: r.hash,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    tenantPermissions: r.tenant_permissions ?? [],
    scopes: r.scopes ?? [],
    user: r.user_id ? { id: r.user_id, email: r.user_email!, name: r.user_name!, isAdmin: !!r.user_is_admin, active: !!r.user_active } : null,
    serviceAccount: r.sa_id ? { id: r.sa_id, name: r.sa_name!, disabled: !!r.sa_disabled } : null,
  };
  return { value, epoch: r.authz_epoch };
}

/** The token row a valid, usable header names (its use recorded), or UNAUTHENTICATED. */
async function verifyBearer(authorization: string, headers: HeaderReader, log?: Logger, requestId?: string) {
  // Logged like failed sign-ins: the reason and the public prefix, never the token.
  const refuse = (message: string, reason: string, prefix?: string) => {
    log?.info({ event: "api_token.refused", reason, prefix }, "API token refused");
    return unauthenticated(message);
  };
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization);
  if (!match) throw refuse("Send a Latch API token as “Authorization: Bearer lt_…”.", "malformed_header");
  const parsed = parseToken(match[1]!);
  if (!parsed) throw refuse(INVALID, "malformed_token");

  const token = await lookup(parsed.prefix);
  const matches = secretMatches(parsed.secret, token?.hash ?? DECOY_HASH);
  if (!token || !matches) throw refuse(INVALID, token ? "wrong_secret" : "unknown_prefix", parsed.prefix);
  const now = new Date();
  // The real secret of a token that may no longer be used: someone (a forgotten runner, or whoever
  // has a copy) still holds it. That belongs in the trail, not only in the log.
  const refuseHolder = async (message: string, reason: string) => {
    await auditRefusedToken(token, reason, requestId, log);
    return refuse(message, reason, token.prefix);
  };
  if (token.revokedAt) throw await refuseHolder("This API token has been revoked.", "revoked");
  if (token.expiresAt <= now) throw await refuseHolder("This API token has expired.", "expired");
  if (token.user && !token.user.active) throw await refuseHolder("The owner of this API token is deactivated.", "owner_deactivated");
  if (token.serviceAccount?.disabled) throw await refuseHolder("The service account of this API token is disabled.", "service_account_disabled");

  if (!token.user && !token.serviceAccount) throw refuse(INVALID, "no_owner", token.prefix);
  if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    // On the kept record too (its update does not bump the epoch): the rest of the minute's requests skip this.
    token.lastUsedAt = now;
    await touch(token.id, now, headers, log);
  }
  return token;
}

/**
 * A DENIED "api_token.refused" event in the tenant's trail, as the token's owner (or service account)
 * and naming the token, at most once a minute per token and reason (lib/audit/throttle.ts).
 */
async function auditRefusedToken(token: TokenRecord, reason: string, requestId: string | undefined, log?: Logger) {
  if (!token.user && !token.serviceAccount) return;
  if (!firstThisMinute(`api_token.refused|${token.id}|${reason}`)) return;
  await recordAuditEvent(db(), {
    actor: actorOf(token),
    action: "api_token.refused",
    target: { type: "api_token", id: token.id, label: token.prefix },
    outcome: "DENIED",
    requestId,
    details: { failure: reason },
  }).catch((error: unknown) => log?.error({ err: error }, "could not audit a refused API token"));
}

/** Conditional, so of requests arriving together only one records the use; a failure never fails the request. */
async function touch(tokenId: string, now: Date, headers: HeaderReader, log?: Logger) {
  const address = clientAddressFrom(headers);
  try {
    await db().apiToken.updateMany({
      where: { id: tokenId, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(now.getTime() - LAST_USED_RESOLUTION_MS) } }] },
      data: { lastUsedAt: now, lastUsedIp: address === "unknown" ? null : address.slice(0, 64) },
    });
  } catch (error) {
    log?.warn({ err: error }, "could not record the last use of an API token");
  }
}

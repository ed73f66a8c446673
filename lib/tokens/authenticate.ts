import "server-only";
import type { Actor, FolderPermission, TokenTenantPermission } from "@/lib/authz";
import { FOLDER_PERMISSIONS, TOKEN_PERMISSIONS } from "@/lib/authz";
import { db } from "@/lib/db";
import { AppError } from "@/lib/errors";
import type { Logger } from "@/lib/log";
import { clientAddressFrom } from "@/lib/request-context";
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
export async function bearerHasTenantPermission(authorization: string, headers: Headers, permission: TokenTenantPermission, log?: Logger): Promise<boolean> {
  const token = await verifyBearer(authorization, headers, log);
  return !!token.serviceAccount && token.tenantPermissions.includes(permission);
}

/**
 * Turns an `Authorization: Bearer lt_…` header into the Actor it speaks for, or throws
 * UNAUTHENTICATED. Why a token is refused is said only to someone who holds its secret.
 */
export async function authenticateBearer(authorization: string, headers: Headers, log?: Logger): Promise<Actor> {
  const token = await verifyBearer(authorization, headers, log);
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
    // Audit events name their actor by e-mail; this says what it is and stays searchable.
    email: `service-account:${account.name}`.slice(0, 254),
    name: account.name,
    isAdmin: false,
    scope: { kind: "service", folders, tokenId: token.id, tokenPrefix: token.prefix, ownerIsAdmin: false },
  };
}

/** The token row a valid, usable header names (its use recorded), or UNAUTHENTICATED. */
async function verifyBearer(authorization: string, headers: Headers, log?: Logger) {
  // Logged like failed sign-ins: the reason and the public prefix, never the token.
  const refuse = (message: string, reason: string, prefix?: string) => {
    log?.info({ event: "api_token.refused", reason, prefix }, "API token refused");
    return unauthenticated(message);
  };
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization);
  if (!match) throw refuse("Send a Latch API token as “Authorization: Bearer lt_…”.", "malformed_header");
  const parsed = parseToken(match[1]!);
  if (!parsed) throw refuse(INVALID, "malformed_token");

  const token = await db().apiToken.findUnique({
    where: { prefix: parsed.prefix },
    select: {
      id: true,
      prefix: true,
      hash: true,
      expiresAt: true,
      revokedAt: true,
      lastUsedAt: true,
      scopes: { select: { folderId: true, permissions: true } },
      tenantPermissions: true,
      user: { select: { id: true, email: true, name: true, isAdmin: true, active: true } },
      serviceAccount: { select: { id: true, name: true, disabled: true } },
    },
  });
  const matches = secretMatches(parsed.secret, token?.hash ?? DECOY_HASH);
  if (!token || !matches) throw refuse(INVALID, token ? "wrong_secret" : "unknown_prefix", parsed.prefix);
  const now = new Date();
  if (token.revokedAt) throw refuse("This API token has been revoked.", "revoked", token.prefix);
  if (token.expiresAt <= now) throw refuse("This API token has expired.", "expired", token.prefix);
  if (token.user && !token.user.active) throw refuse("The owner of this API token is deactivated.", "owner_deactivated", token.prefix);
  if (token.serviceAccount?.disabled) throw refuse("The service account of this API token is disabled.", "service_account_disabled", token.prefix);

  if (!token.user && !token.serviceAccount) throw refuse(INVALID, "no_owner", token.prefix);
  if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    await touch(token.id, now, headers, log);
  }
  return token;
}

/** Conditional, so of requests arriving together only one records the use; a failure never fails the request. */
async function touch(tokenId: string, now: Date, headers: Headers, log?: Logger) {
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

import "server-only";
import type { Prisma } from "@prisma/client";
import {
  assertTenant,
  listFolderPermissions,
  TOKEN_PERMISSIONS,
  TOKEN_TENANT_PERMISSIONS,
  type Actor,
  type TokenPermission,
  type TokenTenantPermission,
} from "@/lib/authz";
import { db } from "@/lib/db";
import { notFound } from "@/lib/errors";
import { listFolderOptions } from "@/lib/folders/queries";

/** "owner_deactivated" / "account_disabled": not revoked or expired, but refused while its owner is so. */
export type TokenStatus = "active" | "expired" | "revoked" | "owner_deactivated" | "account_disabled";

export type TokenRow = {
  id: string;
  name: string;
  /** "lt_ab12cd34": enough to recognise the token, useless without the secret. */
  prefix: string;
  status: TokenStatus;
  owner: { kind: "personal"; id: string; name: string; email: string } | { kind: "service"; id: string; name: string };
  scopes: { folderId: string; folderLabel: string; permissions: TokenPermission[] }[];
  /** Tenant-wide permissions (service accounts only), e.g. "metrics.read". */
  tenantPermissions: TokenTenantPermission[];
  expiresAt: Date;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  revokedAt: Date | null;
  createdAt: Date;
};

/** Never the hash: rows leave lib/ only in this shape. */
export const tokenRowSelect = {
  id: true,
  name: true,
  prefix: true,
  expiresAt: true,
  lastUsedAt: true,
  lastUsedIp: true,
  revokedAt: true,
  createdAt: true,
  user: { select: { id: true, name: true, email: true, active: true } },
  serviceAccount: { select: { id: true, name: true, disabled: true } },
  scopes: { select: { folderId: true, permissions: true }, orderBy: { folderId: "asc" } },
  tenantPermissions: true,
} satisfies Prisma.ApiTokenSelect;

type SelectedToken = Prisma.ApiTokenGetPayload<{ select: typeof tokenRowSelect }>;

const isTokenPermission = (p: string): p is TokenPermission => (TOKEN_PERMISSIONS as readonly string[]).includes(p);

export function tokenStatus(t: { revokedAt: Date | null; expiresAt: Date }, now = new Date()): TokenStatus {
  return t.revokedAt ? "revoked" : t.expiresAt <= now ? "expired" : "active";
}

/** What a runner presenting the token would meet now: its own state first, then its owner's. */
function rowStatus(t: SelectedToken): TokenStatus {
  const own = tokenStatus(t);
  if (own !== "active") return own;
  if (t.user && !t.user.active) return "owner_deactivated";
  if (t.serviceAccount?.disabled) return "account_disabled";
  return "active";
}

export function toTokenRow(t: SelectedToken, labels: ReadonlyMap<string, string>): TokenRow {
  return {
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    status: rowStatus(t),
    owner: t.user
      ? { kind: "personal", id: t.user.id, name: t.user.name, email: t.user.email }
      : { kind: "service", id: t.serviceAccount?.id ?? "", name: t.serviceAccount?.name ?? "" },
    scopes: t.scopes.map((s) => ({
      folderId: s.folderId,
      folderLabel: labels.get(s.folderId) ?? "A folder you cannot see",
      permissions: s.permissions.filter(isTokenPermission),
    })),
    tenantPermissions: t.tenantPermissions.filter((p): p is TokenTenantPermission => (TOKEN_TENANT_PERMISSIONS as readonly string[]).includes(p)),
    expiresAt: t.expiresAt,
    lastUsedAt: t.lastUsedAt,
    lastUsedIp: t.lastUsedIp,
    revokedAt: t.revokedAt,
    createdAt: t.createdAt,
  };
}

/** Tokens manage nothing, not even tokens: these pages and actions need a signed-in person. */
export function assertSignedIn(actor: Actor, what = "That page"): void {
  if (actor.scope) throw notFound(what);
}

/** Folder paths ("Finance / Payroll") as the actor sees them. */
export async function folderLabels(actor: Actor): Promise<Map<string, string>> {
  return new Map((await listFolderOptions(actor)).map((f) => [f.id, f.label]));
}

const byStatusThenNewest = (a: TokenRow, b: TokenRow) =>
  Number(a.status !== "active") - Number(b.status !== "active") || b.createdAt.getTime() - a.createdAt.getTime();

/** Revoked and expired tokens listed beside the usable ones, newest first (per owner). */
const RECENT_TOKENS_LISTED = 200;

/**
 * Tokens neither revoked nor expired: always all listed, however many newer ones there are, so each
 * can be seen and revoked (creating them is capped per owner, see MAX_ACTIVE_TOKENS_PER_OWNER).
 */
const unexpired = (now: Date) => ({ revokedAt: null, expiresAt: { gt: now } }) satisfies Prisma.ApiTokenWhereInput;

/** The newest tokens and every unexpired one, once each. */
function withUnexpired(recent: SelectedToken[], live: SelectedToken[]): SelectedToken[] {
  const ids = new Set(recent.map((t) => t.id));
  return [...recent, ...live.filter((t) => !ids.has(t.id))];
}

/** The actor's own tokens, newest first, active ones on top. */
export async function listPersonalTokens(actor: Actor): Promise<TokenRow[]> {
  assertSignedIn(actor);
  const [recent, live, labels] = await Promise.all([
    db().apiToken.findMany({ where: { userId: actor.id }, select: tokenRowSelect, orderBy: { createdAt: "desc" }, take: RECENT_TOKENS_LISTED }),
    db().apiToken.findMany({ where: { userId: actor.id, ...unexpired(new Date()) }, select: tokenRowSelect }),
    folderLabels(actor),
  ]);
  return withUnexpired(recent, live).map((r) => toTokenRow(r, labels)).sort(byStatusThenNewest);
}

export type ServiceAccountRow = {
  id: string;
  name: string;
  description: string;
  disabled: boolean;
  createdAt: Date;
  createdBy: string | null;
  tokens: TokenRow[];
};

export async function listServiceAccounts(actor: Actor): Promise<ServiceAccountRow[]> {
  assertTenant(actor, "tokens.manage");
  const [accounts, live, labels] = await Promise.all([
    db().serviceAccount.findMany({
      select: {
        id: true,
        name: true,
        description: true,
        disabled: true,
        createdAt: true,
        createdBy: { select: { email: true } },
        tokens: { select: tokenRowSelect, orderBy: { createdAt: "desc" }, take: RECENT_TOKENS_LISTED },
      },
      orderBy: { name: "asc" },
    }),
    db().apiToken.findMany({ where: { serviceAccountId: { not: null }, ...unexpired(new Date()) }, select: tokenRowSelect }),
    folderLabels(actor),
  ]);
  return accounts.map((a) => ({
    id: a.id,
    name: a.name,
    description: a.description,
    disabled: a.disabled,
    createdAt: a.createdAt,
    createdBy: a.createdBy?.email ?? null,
    tokens: withUnexpired(a.tokens, live.filter((t) => t.serviceAccount?.id === a.id))
      .map((t) => toTokenRow(t, labels))
      .sort(byStatusThenNewest),
  }));
}

/** How many of every person's usable tokens the administrators' list shows (the newest). */
export const ACTIVE_PERSONAL_TOKENS_LISTED = 500;

/**
 * Every person's usable tokens, for administrators who need to see (and cut) programmatic access:
 * the newest ACTIVE_PERSONAL_TOKENS_LISTED, and how many there are in all.
 */
export async function listActivePersonalTokens(actor: Actor): Promise<{ rows: TokenRow[]; total: number }> {
  assertTenant(actor, "tokens.manage");
  const where = { userId: { not: null }, ...unexpired(new Date()) } satisfies Prisma.ApiTokenWhereInput;
  const [rows, total, labels] = await Promise.all([
    db().apiToken.findMany({ where, select: tokenRowSelect, orderBy: { createdAt: "desc" }, take: ACTIVE_PERSONAL_TOKENS_LISTED }),
    db().apiToken.count({ where }),
    folderLabels(actor),
  ]);
  return { rows: rows.map((r) => toTokenRow(r, labels)), total };
}

export type ScopeFolderOption = { id: string; label: string; allowed: TokenPermission[] };

/**
 * Folders a new token may name, with the permissions it may carry there: for a personal token, those
 * the person holds now; for a service account (administrators), all of them everywhere.
 */
export async function listScopeFolderOptions(actor: Actor, kind: "personal" | "service"): Promise<ScopeFolderOption[]> {
  assertSignedIn(actor);
  if (kind === "service") assertTenant(actor, "tokens.manage");
  const [options, permissions] = await Promise.all([listFolderOptions(actor), listFolderPermissions(db(), actor)]);
  return options.map((f) => ({
    ...f,
    allowed: kind === "service" ? [...TOKEN_PERMISSIONS] : TOKEN_PERMISSIONS.filter((p) => permissions.get(f.id)?.has(p)),
  }));
}

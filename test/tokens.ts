import { randomUUID } from "node:crypto";
import { NextRequest } from "next/server";
import type { Actor, TokenPermission, TokenTenantPermission } from "@/lib/authz";
import { createPersonalToken, createServiceAccount, createServiceAccountToken } from "@/lib/tokens/mutations";

/** Test helpers for API tokens: issue them through the real mutations, call routes with them. */
type Scope = { folderId: string; permissions: TokenPermission[] };

export async function personalToken(owner: Actor, scopes: Scope[], expiresInDays = 30) {
  return createPersonalToken({ actor: owner, requestId: "test" }, { name: `token ${randomUUID().slice(0, 6)}`, expiresInDays, scopes: withRead(scopes) });
}

export async function serviceToken(admin: Actor, scopes: Scope[], serviceAccountId?: string, tenantPermissions: TokenTenantPermission[] = []) {
  const id = serviceAccountId ?? (await createServiceAccount({ actor: admin, requestId: "test" }, { name: `runner-${randomUUID().slice(0, 8)}`, description: "" })).id;
  const created = await createServiceAccountToken(
    { actor: admin, requestId: "test" },
    { serviceAccountId: id, name: `token ${randomUUID().slice(0, 6)}`, expiresInDays: 30, scopes: withRead(scopes), tenantPermissions },
  );
  return { ...created, serviceAccountId: id };
}

/** What the schema does on the way in: seeing the folder comes with every grant. */
function withRead(scopes: Scope[]): Scope[] {
  return scopes.map((s) => ({ ...s, permissions: [...new Set<TokenPermission>(["folders.read", ...s.permissions])] }));
}

export function request(method: string, url: string, opts: { authorization?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.authorization !== undefined) headers.authorization = opts.authorization;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  return new NextRequest(new URL(url, "http://localhost"), {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
}

export const bearer = (token: string) => `Bearer ${token}`;
export const routeContext = (params: Record<string, string> = {}) => ({ params: Promise.resolve(params) });

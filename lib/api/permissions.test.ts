import type { FolderRole } from "@prisma/client";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { OperationAccess } from "@/lib/api/openapi";
import { ROLE_PERMISSIONS, ROLE_RANK, TOKEN_PERMISSIONS, type Actor, type FolderPermission, type TokenPermission } from "@/lib/authz";
import { db } from "@/lib/db";
import { grant, latchStore, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { apiRoutes, fillPath, type ApiRoute } from "@/test/api-routes";
import { bearer, personalToken, request, routeContext, serviceToken } from "@/test/tokens";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * The access each route documents (defineRoute's `access`, shown in the OpenAPI document) against what
 * its handler does, route by route: a token with only the documented permission on the item's folder
 * gets through, a token with every other permission there does not (404, and nothing changes), and
 * what no token can do is refused to every token and allowed to the signed-in people the doc names.
 */

// Read at collection, so each route is a test of its own and one added later is swept too.
const routes = await apiRoutes();

let admin: Actor, owner: Actor, bystander: Actor;
/** People signed in with each role on F, for the operations only sessions may use. */
const people = {} as Record<FolderRole, Actor>;
/** F holds what the routes are called with; S is a sibling the owner administers too. */
let f: { id: string }, s: { id: string };
let ids: Record<"folderId" | "assetId" | "connectionId" | "oauthConnectionId" | "storeId", string>;

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  owner = await makeUser();
  bystander = await makeUser();
  f = await makeFolder();
  s = await makeFolder();
  await grant(f.id, owner, "FOLDER_ADMIN");
  await grant(s.id, owner, "FOLDER_ADMIN");
  await grant(f.id, bystander, "VIEWER");
  for (const role of ["VIEWER", "EDITOR", "FOLDER_ADMIN"] as const) {
    people[role] = await makeUser();
    await grant(f.id, people[role], role);
  }
  const connection = await db().connection.create({ data: { folderId: f.id, name: "http", connectorKind: "http", status: "CONNECTED", ownerId: owner.id } });
  const oauth = await db().connection.create({ data: { folderId: f.id, name: "oauth", connectorKind: "oauth2", status: "PENDING_AUTHORIZATION", ownerId: owner.id } });
  const asset = await db().credentialAsset.create({ data: { folderId: f.id, name: "setting", type: "TEXT", plainValue: "hello" } });
  ids = { folderId: f.id, assetId: asset.id, connectionId: connection.id, oauthConnectionId: oauth.id, storeId: (await latchStore()).id };
});

beforeEach(() => signInAs(null));

/** What each route needs besides the ids in its path. A route with a body or a required query and no entry here answers 422. */
const EXTRA: Record<string, () => { query?: string; body?: unknown }> = {
  "POST /folders": () => ({ body: { name: `Planted ${Date.now()}`, parentId: ids.folderId } }),
  "PATCH /folders/{folderId}": () => ({ body: { name: `Renamed ${Date.now()}` } }),
  "PUT /folders/{folderId}/members": () => ({ body: { email: bystander.email, role: "VIEWER" } }),
  "DELETE /folders/{folderId}/members": () => ({ query: `userId=${bystander.id}` }),
  "POST /connections/{connectionId}/invoke": () => ({ body: { operation: "request", input: { path: "/" } } }),
  "GET /connections/oauth/callback": () => ({ query: `state=${ids.oauthConnectionId}.nonce&code=abc` }),
};

type Answer = { status: number; code?: string; message?: string; text: string };

/** Calls the route with F's ids: with the token given, else as whoever is signed in. */
async function call(route: ApiRoute, authorization?: string): Promise<Answer> {
  const extra = EXTRA[route.name]?.() ?? {};
  const params = ids as Record<string, string>;
  const url = `${fillPath(route, params)}${extra.query ? `?${extra.query}` : ""}`;
  const res = await route.handler(request(route.method, url, { authorization, body: extra.body }), routeContext(Object.fromEntries(route.params.map((p) => [p, params[p]!]))));
  const text = await res.text();
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
  } catch {
    error = undefined;
  }
  return { status: res.status, code: error?.code, message: error?.message, text };
}

const held = new Map<string, Promise<string>>();

/**
 * A token on `folderId` whose stored scope is exactly `permissions`. The schema adds folders.read to
 * every grant; it is taken off again here so a route documented with folders.read can be checked
 * against a token without it. Kept per shape: a person may hold 50 active tokens.
 */
function tokenWith(kind: "personal" | "service" | "admin's personal", folderId: string | null, permissions: readonly TokenPermission[]): Promise<string> {
  const key = `${kind}|${folderId}|${[...permissions].sort().join(",")}`;
  let token = held.get(key);
  if (!token) {
    token = (async () => {
      const scopes = folderId ? [{ folderId, permissions: [...permissions] }] : [];
      const created = kind === "service" ? await serviceToken(admin, scopes, undefined, ["metrics.read"]) : await personalToken(kind === "personal" ? owner : admin, scopes);
      // Before its first use, so no request has kept the scope as it was.
      await db().apiTokenScope.updateMany({ where: { tokenId: created.row.id }, data: { permissions: [...permissions] } });
      return created.token;
    })();
    held.set(key, token);
  }
  return token;
}

const TOKEN_KINDS = ["personal", "service"] as const;
const allBut = (p: TokenPermission) => TOKEN_PERMISSIONS.filter((x) => x !== p);
/** A token with only `p`, as Latch issues it: folders.read comes with every folder a token names (tokenScopeSchema). */
const only = (p: TokenPermission): TokenPermission[] => [...new Set<TokenPermission>(["folders.read", p])];
const byRank = (Object.keys(ROLE_RANK) as FolderRole[]).sort((a, b) => ROLE_RANK[a] - ROLE_RANK[b]);
/** The lowest role that grants `p`, and the highest that does not. */
const roleWith = (p: FolderPermission) => byRank.find((r) => ROLE_PERMISSIONS[r].has(p))!;
const roleWithout = (p: FolderPermission) => byRank.findLast((r) => !ROLE_PERMISSIONS[r].has(p))!;

function expectRefused(answer: Answer, what: string) {
  expect(answer.status, `${what}: ${answer.text}`).toBe(404);
  expect(answer.code, what).toBe("NOT_FOUND");
}

function expectAllowed(answer: Answer, what: string) {
  expect([401, 404], `${what}: ${answer.text}`).not.toContain(answer.status);
}

/**
 * Everything a refused call could change. Refused uses are audited (DENIED), which is not a change;
 * nor are the tokens this test makes as it goes.
 */
async function snapshot() {
  const c = db();
  const [folders, members, connections, assets, audit, refreshes] = await Promise.all([
    c.folder.findMany({ select: { id: true, name: true, parentId: true }, orderBy: { id: "asc" } }),
    c.folderMember.findMany({ select: { folderId: true, userId: true, role: true }, orderBy: [{ folderId: "asc" }, { userId: "asc" }] }),
    c.connection.findMany({ select: { id: true, status: true, lastCheckAt: true, lastMessage: true, refreshGeneration: true, stateCiphertext: true }, orderBy: { id: "asc" } }),
    c.credentialAsset.findMany({ select: { id: true, name: true, plainValue: true }, orderBy: { id: "asc" } }),
    c.auditEvent.count({ where: { outcome: { not: "DENIED" }, action: { notIn: ["api_token.create", "service_account.create"] } } }),
    c.refreshEvent.count(),
  ]);
  return { folders, members, connections, assets, audit, refreshes };
}

/** Calls that the route's access says must be refused (or, for a list, answered without F). */
async function refusals(route: ApiRoute, access: OperationAccess) {
  switch (access.kind) {
    case "folder":
      for (const kind of TOKEN_KINDS) {
        expectRefused(await call(route, bearer(await tokenWith(kind, f.id, allBut(access.permission)))), `${kind} token with all but ${access.permission} on the item's folder`);
        // The permission counts on the item's folder only.
        expectRefused(await call(route, bearer(await tokenWith(kind, s.id, TOKEN_PERMISSIONS))), `${kind} token with every permission on another folder`);
      }
      return;
    case "list":
      for (const kind of TOKEN_KINDS) {
        const answer = await call(route, bearer(await tokenWith(kind, f.id, allBut(access.permission))));
        expect(answer.status, `${kind} token with all but ${access.permission}: ${answer.text}`).toBe(200);
        expect(answer.text, `${kind} token with all but ${access.permission}`).not.toContain(f.id);
      }
      return;
    case "authenticated":
      return;
    case "session":
    case "admin": {
      for (const kind of [...TOKEN_KINDS, "admin's personal"] as const) {
        const answer = await call(route, bearer(await tokenWith(kind, f.id, TOKEN_PERMISSIONS)));
        expectRefused(answer, `${kind} token with every permission`);
        // Said as it is, whatever the body or ids sent: no token may, not "folder not found".
        expect(answer.message, `${kind} token`).toBe(`${route.openapi!.summary}: not open to API tokens; ${access.kind === "admin" ? "a tenant administrator does this" : "do this"} signed in to the console.`);
      }
      signInAs(access.kind === "session" ? people[roleWithout(access.permission)] : people.FOLDER_ADMIN);
      expectRefused(await call(route), access.kind === "session" ? `signed in as ${roleWithout(access.permission)}` : "signed in, not an administrator");
      signInAs(null);
      return;
    }
  }
}

/** Calls that the route's access says must get through. */
async function allowed(route: ApiRoute, access: OperationAccess) {
  switch (access.kind) {
    case "folder":
      for (const kind of TOKEN_KINDS) expectAllowed(await call(route, bearer(await tokenWith(kind, f.id, only(access.permission)))), `${kind} token with only ${access.permission}`);
      return;
    case "list":
      for (const kind of TOKEN_KINDS) {
        const answer = await call(route, bearer(await tokenWith(kind, f.id, only(access.permission))));
        expect(answer.status, `${kind} token with only ${access.permission}: ${answer.text}`).toBe(200);
        expect(answer.text, `${kind} token with only ${access.permission}`).toContain(f.id);
      }
      return;
    case "authenticated":
      expectAllowed(await call(route, bearer(await tokenWith("personal", f.id, ["folders.read"]))), "personal token that only sees a folder");
      expectAllowed(await call(route, bearer(await tokenWith("service", null, []))), "service token with no folder (metrics only)");
      return;
    case "session":
    case "admin": {
      // Past the permission check, the answer may still be a 404 of its own (no pending authorisation,
      // no certificate): it must at least not be the refusal.
      signInAs(access.kind === "session" ? people[roleWithout(access.permission)] : people.FOLDER_ADMIN);
      const refused = await call(route);
      signInAs(access.kind === "session" ? people[roleWith(access.permission)] : admin);
      const answer = await call(route);
      expect(answer.status, answer.text).not.toBe(401);
      expect(`${answer.status} ${answer.message}`, "the permission made no difference").not.toBe(`${refused.status} ${refused.message}`);
      return;
    }
  }
}

it("sweeps every /api/v1 route, each documenting its access", () => {
  expect(routes.length).toBeGreaterThanOrEqual(22);
  expect(routes.filter((r) => !r.openapi?.access).map((r) => r.name)).toEqual([]);
  for (const key of Object.keys(EXTRA)) expect(routes.map((r) => r.name), `stale entry ${key}`).toContain(key);
  // Every kind of access is exercised, so a sweep that checks nothing cannot pass for one that does.
  expect(new Set(routes.map((r) => r.openapi!.access.kind))).toEqual(new Set(["folder", "list", "authenticated", "session", "admin"]));
});

describe("what a route documents is what its handler asks of a token", () => {
  for (const route of routes) {
    const access = route.openapi?.access;
    it(`${route.name}: ${JSON.stringify(access)}`, async () => {
      expect(access, "no documented access").toBeDefined();
      const before = await snapshot();
      await refusals(route, access!);
      expect(await snapshot(), "a refused call changed something").toEqual(before);
      await allowed(route, access!);
    });
  }
});

import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { grant, latchStore, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { apiRoutes, fillPath, type ApiRoute } from "@/test/api-routes";
import { bearer, personalToken, request, routeContext, serviceToken } from "@/test/tokens";
import * as foldersRoute from "@/app/api/v1/folders/route";
import * as folderRoute from "@/app/api/v1/folders/[folderId]/route";
import * as connectionRefreshRoute from "@/app/api/v1/connections/[connectionId]/refresh/route";
import { generateToken } from "./format";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * API tokens through the real route handlers: what a token scoped to folder X may reach (X and its
 * subfolders, within its permissions) and what it may not (everything in folder Y, on every route,
 * answered 404 and changing nothing); and every way a token is refused (401).
 */
let admin: Actor, owner: Actor;
let x: { id: string }, xChild: { id: string }, y: { id: string }, yChild: { id: string };
let inX: Ids, inY: Ids;
type Ids = { folderId: string; connectionId: string; oauthConnectionId: string; assetId: string };
let storeId: string;

async function contents(folderId: string): Promise<Ids> {
  const tag = folderId.slice(0, 8);
  const connection = await db().connection.create({ data: { folderId, name: `http ${tag}`, connectorKind: "http", status: "CONNECTED", ownerId: owner.id } });
  const oauth = await db().connection.create({ data: { folderId, name: `oauth ${tag}`, connectorKind: "oauth2", status: "PENDING_AUTHORIZATION", ownerId: owner.id } });
  const asset = await db().credentialAsset.create({ data: { folderId, name: `setting ${tag}`, type: "TEXT", plainValue: "hello" } });
  return { folderId, connectionId: connection.id, oauthConnectionId: oauth.id, assetId: asset.id };
}

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  owner = await makeUser();
  x = await makeFolder();
  xChild = await makeFolder("X child", x.id);
  y = await makeFolder();
  yChild = await makeFolder("Y child", y.id);
  // The owner could do everything in both folders; their token is meant for X only.
  await grant(x.id, owner, "FOLDER_ADMIN");
  await grant(y.id, owner, "FOLDER_ADMIN");
  inX = await contents(xChild.id);
  inY = await contents(yChild.id);
  storeId = (await latchStore()).id;
  routes = await apiRoutes();
});

beforeEach(() => signInAs(null));

it("the sweeps below cover every /api/v1 route and method", () => {
  // A sanity floor: the folder walk found the routes (18 files today, more methods).
  expect(routes.length).toBeGreaterThanOrEqual(22);
  for (const name of ["GET /folders/{folderId}/connections", "GET /folders/{folderId}/assets", "GET /assets/{assetId}", "GET /connections/{connectionId}", "POST /connections/{connectionId}/invoke", "GET /stores"]) {
    expect(routes.map((r) => r.name)).toContain(name);
  }
  for (const key of [...Object.keys(EXTRA), ...Object.keys(FOLDERLESS)]) expect(routes.map((r) => r.name), `stale entry ${key}`).toContain(key);
});

/**
 * What each route needs besides the ids in its path (a body, a query), keyed "METHOD /path". A route
 * with a body or a required query and no entry here fails the sweep with a 422: add it here.
 */
const EXTRA: Record<string, (ids: Ids) => { query?: string; body?: unknown }> = {
  "POST /folders": (ids) => ({ body: { name: "Planted", parentId: ids.folderId } }),
  "PATCH /folders/{folderId}": () => ({ body: { name: "Renamed" } }),
  "PUT /folders/{folderId}/members": () => ({ body: { email: admin.email, role: "VIEWER" } }),
  "DELETE /folders/{folderId}/members": () => ({ query: `userId=${owner.id}` }),
  "POST /connections/{connectionId}/invoke": () => ({ body: { operation: "request", input: { path: "/" } } }),
  "GET /connections/oauth/callback": (ids) => ({ query: `state=${ids.oauthConnectionId}.nonce&code=abc` }),
};

/** Routes that name no folder's ids: what a folder-scoped token may get from them instead of 404. */
const FOLDERLESS: Record<string, (body: unknown, ids: Ids) => void> = {
  // Only the folders the token reaches, never Y.
  "GET /folders": (body, ids) => expect(JSON.stringify(body)).not.toContain(ids.folderId),
  "GET /connectors": () => {},
  "GET /openapi.json": () => {},
};

/**
 * With connections.read/use and assets.read/use on X: every route these permissions open, for X's
 * ids. The others (stores, folder and member changes, the OAuth callback) need what these tokens do
 * not hold, so their 404 in Y is covered by their own tests, not by this sweep.
 */
const REACHED_IN_X = [
  "GET /assets/{assetId}",
  "GET /connections/{connectionId}",
  "GET /folders/{folderId}",
  "GET /folders/{folderId}/assets",
  "GET /folders/{folderId}/connections",
  "GET /folders/{folderId}/members",
  "POST /assets/{assetId}/refresh",
  "POST /connections/{connectionId}/invoke",
  "POST /connections/{connectionId}/refresh",
  "POST /connections/{connectionId}/test",
];

let routes: ApiRoute[] = [];

/** Every /api/v1 route and method (read from app/api/v1), called with the ids of one folder. */
function everyRoute(ids: Ids): [string, (authorization: string) => Promise<Response>][] {
  const params: Record<string, string> = { folderId: ids.folderId, connectionId: ids.connectionId, assetId: ids.assetId, storeId };
  return routes.map((route) => {
    const extra = EXTRA[route.name]?.(ids) ?? {};
    const url = `${fillPath(route, params)}${extra.query ? `?${extra.query}` : ""}`;
    return [route.name, (authorization: string) => route.handler(request(route.method, url, { authorization, body: extra.body }), routeContext(Object.fromEntries(route.params.map((p) => [p, params[p]!]))))];
  });
}

async function snapshot() {
  const c = db();
  const [folders, members, audit, connections, refreshes] = await Promise.all([
    c.folder.findMany({ select: { id: true, name: true, parentId: true }, orderBy: { id: "asc" } }),
    c.folderMember.count(),
    // Refused uses are recorded (DENIED, below); nothing else may be.
    c.auditEvent.count({ where: { outcome: { not: "DENIED" } } }),
    c.connection.count(),
    c.connection.aggregate({ _sum: { refreshGeneration: true } }),
  ]);
  return { folders, members, audit, connections, refreshes: refreshes._sum.refreshGeneration };
}

async function expectStatus(res: Response, status: number, what: string) {
  const body = res.status === 204 || res.status === 303 ? null : await res.json();
  expect(res.status, `${what}: ${JSON.stringify(body)}`).toBe(status);
  return body;
}

describe("a token scoped to folder X", () => {
  it("answers 404 for every id in folder Y on every route, and changes nothing", async () => {
    const personal = await personalToken(owner, [{ folderId: x.id, permissions: ["connections.read", "connections.use", "assets.read", "assets.use"] }]);
    const service = await serviceToken(admin, [{ folderId: x.id, permissions: ["connections.read", "connections.use", "assets.read", "assets.use"] }]);
    const adminPersonal = await personalToken(admin, [{ folderId: x.id, permissions: ["connections.read", "connections.use", "assets.read", "assets.use"] }]);
    const tokens = [["personal", personal.token], ["service", service.token], ["administrator's personal", adminPersonal.token]] as const;
    // The control: the same calls with X's ids get through (a 404 in Y means something only where they
    // do). Routes that need a permission these tokens lack answer 404 in X as well.
    for (const [kind, token] of tokens) {
      const reached: string[] = [];
      for (const [name, call] of everyRoute(inX)) if (!FOLDERLESS[name] && (await call(bearer(token))).status !== 404) reached.push(name);
      expect(reached.sort(), `${kind} token in X`).toEqual(REACHED_IN_X);
    }
    const started = new Date(Date.now() - 1);
    const before = await snapshot();
    for (const [kind, token] of tokens) {
      for (const ids of [inY, { ...inY, folderId: y.id }]) {
        for (const [name, call] of everyRoute(ids)) {
          const res = await call(bearer(token));
          if (FOLDERLESS[name]) {
            FOLDERLESS[name](await expectStatus(res, 200, `${kind} token, ${name}`), ids);
            continue;
          }
          const body = await expectStatus(res, 404, `${kind} token, ${name} in Y`);
          expect(body.error).toMatchObject({ code: "NOT_FOUND", requestId: expect.any(String) });
        }
      }
    }
    expect(await snapshot()).toEqual(before);
    // Each refused use of something in Y is in Y's trail, with the token that tried: once per token
    // (the second sweep repeats them within the minute, which adds nothing).
    const denied = await db().auditEvent.findMany({ where: { outcome: "DENIED", occurredAt: { gte: started } } });
    const tally = new Map<string, number>();
    for (const e of denied) tally.set(`${e.action} ${e.targetId} ${e.folderId}`, (tally.get(`${e.action} ${e.targetId} ${e.folderId}`) ?? 0) + 1);
    expect(Object.fromEntries(tally)).toEqual({
      [`connection.invoke ${inY.connectionId} ${yChild.id}`]: 3,
      [`connection.connect ${inY.connectionId} ${yChild.id}`]: 3,
      [`connection.refresh ${inY.connectionId} ${yChild.id}`]: 3,
      [`asset.refresh ${inY.assetId} ${yChild.id}`]: 3,
    });
    const prefixes = new Set([personal.token, service.token, adminPersonal.token].map((t) => t.slice(0, 11)));
    for (const e of denied) {
      const details = e.details as { failure: string; via: { prefix: string } };
      expect(details.failure).toBe("access_denied");
      expect(prefixes).toContain(details.via.prefix);
    }
  });

  it("reaches X and its subfolders within its permissions only", async () => {
    const { token } = await personalToken(owner, [{ folderId: x.id, permissions: ["connections.use"] }]);
    const list = await expectStatus(await foldersRoute.GET(request("GET", "/api/v1/folders", { authorization: bearer(token) }), routeContext()), 200, "GET /folders");
    expect(new Set(list.folders.map((f: { id: string }) => f.id))).toEqual(new Set([x.id, xChild.id]));
    await expectStatus(await folderRoute.GET(request("GET", `/api/v1/folders/${xChild.id}`, { authorization: bearer(token) }), routeContext({ folderId: xChild.id })), 200, "GET X child");

    // The owner administers X, but the token carries no such permission: writes are 404 in X too.
    const before = await snapshot();
    for (const [name, call] of everyRoute(inX).filter(([n]) => /PATCH|DELETE|PUT|POST \/folders|oauth|assets/.test(n))) {
      await expectStatus(await call(bearer(token)), 404, `${name} in X`);
    }
    expect(await snapshot()).toEqual(before);

    const refreshed = await connectionRefreshRoute.POST(request("POST", `/api/v1/connections/${inX.connectionId}/refresh`, { authorization: bearer(token) }), routeContext({ connectionId: inX.connectionId }));
    await expectStatus(refreshed, 200, "refresh a connection in X");
    const event = await db().auditEvent.findFirstOrThrow({ where: { action: "connection.refresh", targetId: inX.connectionId }, orderBy: { occurredAt: "desc" } });
    expect(event).toMatchObject({ actorId: owner.id, details: { via: { kind: "personal", prefix: token.slice(0, 11) } } });
  });

  it("loses what its owner loses: a demoted owner's token, then a removed owner's", async () => {
    const person = await makeUser();
    await grant(x.id, person, "EDITOR");
    const { token } = await personalToken(person, [{ folderId: x.id, permissions: ["connections.use"] }]);
    const refresh = () =>
      connectionRefreshRoute.POST(request("POST", `/api/v1/connections/${inX.connectionId}/refresh`, { authorization: bearer(token) }), routeContext({ connectionId: inX.connectionId }));
    const getX = () => folderRoute.GET(request("GET", `/api/v1/folders/${x.id}`, { authorization: bearer(token) }), routeContext({ folderId: x.id }));
    await expectStatus(await refresh(), 200, "as an editor");
    await db().folderMember.update({ where: { folderId_userId: { folderId: x.id, userId: person.id } }, data: { role: "VIEWER" } });
    await expectStatus(await refresh(), 404, "after demotion to viewer");
    await expectStatus(await getX(), 200, "a viewer still sees the folder");
    await db().folderMember.delete({ where: { folderId_userId: { folderId: x.id, userId: person.id } } });
    await expectStatus(await getX(), 404, "after removal");
    const list = await expectStatus(await foldersRoute.GET(request("GET", "/api/v1/folders", { authorization: bearer(token) }), routeContext()), 200, "list");
    expect(list.folders).toEqual([]);
  });

  it("works for a service account, which holds no role anywhere", async () => {
    const { token, serviceAccountId } = await serviceToken(admin, [{ folderId: x.id, permissions: ["connections.read", "connections.use"] }]);
    expect(await db().folderMember.count({ where: { userId: serviceAccountId } })).toBe(0);
    await expectStatus(await folderRoute.GET(request("GET", `/api/v1/folders/${x.id}`, { authorization: bearer(token) }), routeContext({ folderId: x.id })), 200, "GET X");
    const res = await connectionRefreshRoute.POST(request("POST", `/api/v1/connections/${inX.connectionId}/refresh`, { authorization: bearer(token) }), routeContext({ connectionId: inX.connectionId }));
    await expectStatus(res, 200, "refresh in X");
    const event = await db().auditEvent.findFirstOrThrow({ where: { action: "connection.refresh", actorId: serviceAccountId } });
    expect(event.actorEmail).toMatch(/^service-account:runner-/);
  });
});

describe("refused tokens answer 401", () => {
  const getFolders = (authorization?: string) => foldersRoute.GET(request("GET", "/api/v1/folders", { authorization }), routeContext());
  const getX = (authorization?: string) => folderRoute.GET(request("GET", `/api/v1/folders/${x.id}`, { authorization }), routeContext({ folderId: x.id }));

  async function expect401(res: Response, message: RegExp, what: string, challenge = /^Bearer realm="latch", error="invalid_token"$/) {
    const body = await expectStatus(res, 401, what);
    expect(body.error, what).toMatchObject({ code: "UNAUTHENTICATED", message: expect.stringMatching(message) });
    expect(res.headers.get("www-authenticate"), what).toMatch(challenge);
    expect(res.headers.get("cache-control")).toBe("no-store");
  }

  it("without credentials, with a malformed header, or with an unknown token", async () => {
    // A runner that forgot the header learns what to send, not that a session it never had ended.
    await expect401(await getFolders(), /^No API token was sent, and no one is signed in: send a Latch API token as 'Authorization: Bearer lt_…'/, "no credentials", /^Bearer realm="latch"$/);
    const real = (await personalToken(owner, [{ folderId: x.id, permissions: [] }])).token;
    for (const header of ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", `Token ${real}`, `Bearer ${real} extra`, `Bearer\t${real}`]) {
      await expect401(await getX(header), /Authorization: Bearer/, `header ${JSON.stringify(header)}`);
    }
    for (const header of ["Bearer not-a-token", `Bearer ${real.slice(0, -1)}`, `Bearer ${generateToken().token}`, `Bearer ${real.slice(0, 12)}${"A".repeat(43)}`]) {
      await expect401(await getX(header), /^The API token is not valid\.$/, `token ${header.slice(0, 20)}…`);
    }
  });

  it("when revoked, expired, its service account disabled, or its owner deactivated", async () => {
    const revoked = await personalToken(owner, [{ folderId: x.id, permissions: [] }]);
    await db().apiToken.update({ where: { id: revoked.row.id }, data: { revokedAt: new Date() } });
    await expect401(await getX(bearer(revoked.token)), /revoked/, "revoked");

    const expired = await personalToken(owner, [{ folderId: x.id, permissions: [] }]);
    await db().apiToken.update({ where: { id: expired.row.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await expect401(await getX(bearer(expired.token)), /expired/, "expired");

    const service = await serviceToken(admin, [{ folderId: x.id, permissions: [] }]);
    await expectStatus(await getX(bearer(service.token)), 200, "service account enabled");
    await db().serviceAccount.update({ where: { id: service.serviceAccountId }, data: { disabled: true } });
    await expect401(await getX(bearer(service.token)), /disabled/, "service account disabled");

    const person = await makeUser();
    await grant(x.id, person, "VIEWER");
    const theirs = await personalToken(person, [{ folderId: x.id, permissions: [] }]);
    await expectStatus(await getX(bearer(theirs.token)), 200, "owner active");
    await db().user.update({ where: { id: person.id }, data: { active: false } });
    await expect401(await getX(bearer(theirs.token)), /deactivated/, "owner deactivated");

    // Each is in the trail, as the one it spoke for, naming the token: someone still holds its secret.
    const refusals = async (tokenId: string) =>
      (await db().auditEvent.findMany({ where: { action: "api_token.refused", targetId: tokenId } })).map((e) => ({ actor: e.actorId, outcome: e.outcome, details: e.details }));
    expect(await refusals(revoked.row.id)).toEqual([{ actor: owner.id, outcome: "DENIED", details: expect.objectContaining({ failure: "revoked", via: expect.objectContaining({ prefix: revoked.row.prefix }) }) }]);
    expect(await refusals(expired.row.id)).toEqual([{ actor: owner.id, outcome: "DENIED", details: expect.objectContaining({ failure: "expired" }) }]);
    expect(await refusals(service.row.id)).toEqual([{ actor: service.serviceAccountId, outcome: "DENIED", details: expect.objectContaining({ failure: "service_account_disabled" }) }]);
    expect(await refusals(theirs.row.id)).toEqual([{ actor: person.id, outcome: "DENIED", details: expect.objectContaining({ failure: "owner_deactivated" }) }]);
    // Once a minute per token: a runner looping on a revoked token does not fill the trail.
    await expect401(await getX(bearer(revoked.token)), /revoked/, "revoked again");
    expect(await refusals(revoked.row.id)).toHaveLength(1);
    // A wrong secret proves nothing about who holds the token: logged, not audited.
    await expect401(await getX(`Bearer ${revoked.token.slice(0, -1)}${revoked.token.endsWith("A") ? "B" : "A"}`), /not valid/, "wrong secret");
    expect(await refusals(revoked.row.id)).toHaveLength(1);
  });

  it("on every route and method: an expired or a revoked token gets 401, and nothing changes", async () => {
    const expired = await personalToken(owner, [{ folderId: x.id, permissions: ["connections.read", "connections.use", "assets.read", "assets.use"] }]);
    await db().apiToken.update({ where: { id: expired.row.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const revoked = await serviceToken(admin, [{ folderId: x.id, permissions: ["connections.read", "connections.use", "assets.read", "assets.use"] }], undefined, ["metrics.read"]);
    await db().apiToken.update({ where: { id: revoked.row.id }, data: { revokedAt: new Date() } });
    const before = await snapshot();
    for (const [what, token, message] of [["expired", expired.token, /expired/], ["revoked", revoked.token, /revoked/]] as const) {
      // Ids the token would otherwise reach (X), so a 401 cannot be a 404 in disguise.
      for (const [name, call] of everyRoute(inX)) await expect401(await call(bearer(token)), message, `${what} token, ${name}`);
    }
    expect(await snapshot()).toEqual(before);
  });

  it("a presented token decides even when a browser session is signed in", async () => {
    signInAs(admin);
    await expectStatus(await getX(), 200, "session alone");
    await expect401(await getX(`Bearer ${generateToken().token}`), /not valid/, "bad token beside a session");
    await expect401(await getX("Basic abc"), /Authorization: Bearer/, "malformed header beside a session");
  });
});

describe("last use", () => {
  it("is recorded at the first use and at most once a minute after that, with the client address", async () => {
    const { token, row } = await personalToken(owner, [{ folderId: x.id, permissions: [] }]);
    const use = () =>
      foldersRoute.GET(request("GET", "/api/v1/folders", { authorization: bearer(token), headers: { "x-forwarded-for": "203.0.113.7" } }), routeContext());
    const read = () => db().apiToken.findUniqueOrThrow({ where: { id: row.id }, select: { lastUsedAt: true, lastUsedIp: true } });
    expect((await read()).lastUsedAt).toBeNull();
    await expectStatus(await use(), 200, "first use");
    const first = await read();
    expect(first.lastUsedIp).toBe("203.0.113.7");
    expect(Date.now() - first.lastUsedAt!.getTime()).toBeLessThan(10_000);

    // The token's record is kept in memory between requests (lib/authz/epoch.ts), so time passes on
    // the clock here rather than by editing the row.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    try {
      vi.advanceTimersByTime(30_000);
      await expectStatus(await use(), 200, "within the minute");
      expect((await read()).lastUsedAt).toEqual(first.lastUsedAt);

      vi.advanceTimersByTime(45_000);
      await expectStatus(await use(), 200, "after the minute");
      const later = await read();
      expect(later.lastUsedAt!.getTime()).toBeGreaterThanOrEqual(first.lastUsedAt!.getTime() + 60_000);
      await expectStatus(await use(), 200, "again within the next minute");
      expect((await read()).lastUsedAt).toEqual(later.lastUsedAt);
    } finally {
      vi.useRealTimers();
    }
  });
});

import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { latchStore, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { apiRoutes, fillPath, type ApiRoute } from "@/test/api-routes";
import { request, routeContext } from "@/test/tokens";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * Which routes audit: every route that changes something (POST, PUT, PATCH, DELETE under /api/v1)
 * writes at least one audit event for the request, whether the change worked or the target refused
 * it; it does so in its lib function, in the same transaction as the change. Read routes do not. The
 * list comes from app/api/v1, so a new mutating route without an audit event fails here.
 */
const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

let admin: Actor, member: Actor;
let ids: Record<string, string>;

/** A valid call for each mutating route (body, query); the folder is one made for it, so deleting it is harmless. */
const CALLS: Record<string, () => { query?: string; body?: unknown; params?: Record<string, string> }> = {
  "POST /folders": () => ({ body: { name: `Made ${randomUUID().slice(0, 6)}`, parentId: ids.folderId } }),
  "PATCH /folders/{folderId}": () => ({ body: { name: `Renamed ${randomUUID().slice(0, 6)}` } }),
  "DELETE /folders/{folderId}": () => ({ params: { folderId: ids.emptyFolderId! } }),
  "PUT /folders/{folderId}/members": () => ({ body: { email: member.email, role: "VIEWER" } }),
  "DELETE /folders/{folderId}/members": () => ({ query: `userId=${member.id}` }),
  // Nothing listens there: the invoke and the test fail, and are audited as failures.
  "POST /connections/{connectionId}/invoke": () => ({ body: { operation: "request", input: { path: "/" } } }),
  "POST /connections/{connectionId}/test": () => ({}),
  "POST /connections/{connectionId}/refresh": () => ({}),
  "POST /assets/{assetId}/refresh": () => ({}),
  "POST /stores/{storeId}/refresh": () => ({}),
};

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  member = await makeUser();
  const store = await latchStore();
  const folder = await makeFolder();
  const connection = await db().connection.create({
    data: { folderId: folder.id, name: "Unreachable API", connectorKind: "http", status: "CONNECTED", ownerId: admin.id, config: { baseUrl: "https://127.0.0.1:1", authScheme: "none", testPath: "/" } },
  });
  const asset = await db().credentialAsset.create({ data: { folderId: folder.id, name: "Setting", type: "TEXT", plainValue: "x" } });
  ids = { folderId: folder.id, connectionId: connection.id, assetId: asset.id, storeId: store.id, emptyFolderId: (await makeFolder()).id };
});

describe("audit coverage of the REST API", () => {
  it("every mutating route writes an audit event for its request", async () => {
    signInAs(admin);
    const routes = (await apiRoutes()).filter((r) => MUTATING.has(r.method));
    expect(routes.length).toBeGreaterThanOrEqual(10);
    const missing = routes.filter((r) => !CALLS[r.name]).map((r) => r.name);
    expect(missing, "add a valid call for these routes to CALLS").toEqual([]);
    for (const route of routes) {
      const requestId = `audit-${randomUUID()}`;
      const res = await call(route, requestId);
      // Each call is one the admin may make: it is carried out (or fails at the target), not refused,
      // so what is checked is the audit of the work itself, not of a refusal.
      expect([401, 404, 422, 500], `${route.name}: ${await res.clone().text()}`).not.toContain(res.status);
      const events = await db().auditEvent.findMany({ where: { requestId }, select: { action: true, outcome: true } });
      expect(events.length, `${route.name} (HTTP ${res.status}) wrote no audit event`).toBeGreaterThan(0);
      expect(events.some((e) => e.outcome !== "DENIED"), `${route.name} (HTTP ${res.status}) was only refused: ${JSON.stringify(events)}`).toBe(true);
    }
  });
});

function call(route: ApiRoute, requestId: string) {
  const extra = CALLS[route.name]!();
  const params = { ...ids, ...extra.params };
  const url = `${fillPath(route, params)}${extra.query ? `?${extra.query}` : ""}`;
  return route.handler(request(route.method, url, { body: extra.body, headers: { "x-request-id": requestId } }), routeContext(Object.fromEntries(route.params.map((p) => [p, params[p]!]))));
}

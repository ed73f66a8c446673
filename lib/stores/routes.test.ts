import { readdirSync } from "node:fs";
import path from "node:path";
import { NextRequest } from "next/server";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { Actor } from "@/lib/authz";
import { isDocumented } from "@/lib/api/openapi";
import { grant, latchStore, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { bearer, personalToken, request, routeContext } from "@/test/tokens";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * Every REST route of the stores area (found on disk, so a new one is covered too) is for
 * administrators only: anyone else gets 404 whatever they send, malformed query and body included,
 * never a validation message that would show the route and its schema.
 */

const DIR = path.join(process.cwd(), "app", "api", "v1", "stores");
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
type Handler = (req: NextRequest, ctx: ReturnType<typeof routeContext>) => Promise<Response>;
type Route = { method: string; path: string; handler: Handler; params: string[] };

async function storeRoutes(): Promise<Route[]> {
  const files = (readdirSync(DIR, { recursive: true }) as string[]).filter((f) => path.basename(f) === "route.ts").sort();
  const routes: Route[] = [];
  for (const file of files) {
    const mod = (await import(/* @vite-ignore */ path.join(DIR, file))) as Record<string, unknown>;
    for (const method of METHODS) {
      const handler = mod[method];
      if (typeof handler !== "function" || !isDocumented(handler)) continue;
      routes.push({ method, path: handler.openapi.path, handler: handler as unknown as Handler, params: [...handler.openapi.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!) });
    }
  }
  return routes;
}

/**
 * Every way a request can be malformed: a query no schema accepts and, for methods with a body, one
 * that is not JSON, one sent as text, and JSON of the wrong shape.
 */
function malformedRequests(route: Route, storeId: string, authorization?: string) {
  const url = new URL(`http://localhost/api/v1${route.path.replace(/\{\w+\}/g, storeId)}?format=gif&q=${"x".repeat(500)}&page=-1`);
  const ctx = routeContext(Object.fromEntries(route.params.map((p) => [p, storeId])));
  const auth: Record<string, string> = authorization ? { authorization } : {};
  const raw = (contentType: string, body: string) => () => route.handler(new NextRequest(url, { method: route.method, headers: { ...auth, "content-type": contentType }, body }), ctx);
  const sends = [() => route.handler(request(route.method, url.href, authorization ? { authorization } : {}), ctx)];
  if (route.method !== "GET") {
    sends.push(
      raw("application/json", "{not json"),
      raw("text/plain", "kind=hashicorp"),
      () => route.handler(request(route.method, url.href, { ...(authorization ? { authorization } : {}), body: { kind: 42, config: "x", secrets: [1] } }), ctx),
    );
  }
  return sends;
}

let routes: Route[];
let admin: Actor, member: Actor;
let storeId: string;

beforeAll(async () => {
  routes = await storeRoutes();
  admin = await makeUser({ isAdmin: true });
  member = await makeUser();
  const folder = await makeFolder();
  await grant(folder.id, member, "FOLDER_ADMIN");
  storeId = (await latchStore()).id;
});

describe("the stores REST routes", () => {
  it("are found: list, get, refresh and the certificate download", () => {
    expect(routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      expect.arrayContaining(["GET /stores", "GET /stores/{storeId}", "GET /stores/{storeId}/certificate", "POST /stores/{storeId}/refresh"]),
    );
  });

  it("answer 404 to a signed-in non-administrator whatever they send, malformed query and body included", async () => {
    signInAs(member);
    for (const route of routes) {
      for (const send of malformedRequests(route, storeId)) {
        const res = await send();
        expect(res.status, `${route.method} ${route.path}`).toBe(404);
        const body = (await res.json()) as { error: { code: string; fieldErrors?: unknown } };
        expect(body.error, `${route.method} ${route.path}`).toMatchObject({ code: "NOT_FOUND" });
        expect(body.error.fieldErrors).toBeUndefined();
      }
    }
  });

  it("answer 404 to an API token, even its owner's, however malformed the request", async () => {
    const folder = await makeFolder();
      await grant(folder.id, admin, "FOLDER_ADMIN");
    const { token } = await personalToken(admin, [{ folderId: folder.id, permissions: ["assets.read"] }]);
    signInAs(null);
    for (const route of routes) {
      for (const send of malformedRequests(route, storeId, bearer(token))) expect((await send()).status, `${route.method} ${route.path}`).toBe(404);
    }
  });

  it("control: the same malformed requests from an administrator are refused as malformed, so the 404s above were the authorisation", async () => {
    signInAs(admin);
    const withQuery = routes.filter((r) => (r.path === "/stores" || r.path.endsWith("/certificate")));
    expect(withQuery.length).toBe(2);
    for (const route of withQuery) {
      const res = await malformedRequests(route, storeId)[0]!();
      expect(res.status, `${route.method} ${route.path}`).toBe(422);
    }
  });
});

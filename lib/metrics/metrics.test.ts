import { NextRequest } from "next/server";
import { describe, expect, it, vi } from "vitest";
import { db } from "@/lib/db";
import { createServiceAccountTokenSchema } from "@/lib/tokens/schemas";
import { generateToken } from "@/lib/tokens/format";
import { makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { bearer, personalToken, request, routeContext, serviceToken } from "@/test/tokens";
import { metrics } from "./index";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

const TOKEN = "metrics-scrape-token-0123456789abcdef";
process.env.LATCH_METRICS_TOKEN = TOKEN;

async function scrape(headers: Record<string, string> = {}) {
  const { GET } = await import("@/app/api/metrics/route");
  const res = await GET(new NextRequest("http://latch.test/api/metrics", { headers }));
  return { status: res.status, text: await res.text() };
}

describe("/api/metrics", () => {
  it("answers a metrics.read token, the scrape token and administrators; 401 without or with refused credentials; 404 to the rest", async () => {
    metrics().invokes.inc({ connector: "postgres", outcome: "ok" });
    signInAs(null);
    // No credentials, or credentials that are not valid: 401.
    expect((await scrape()).status).toBe(401);
    const wrong = await scrape({ authorization: "Bearer wrong-token-0123456789abcdef0123" });
    expect(wrong.status).toBe(401);
    // Both ways a scraper can be let in, so whoever set up the static token finds it named.
    expect(JSON.parse(wrong.text).error.message).toMatch(/service account token with the metrics permission .*LATCH_METRICS_TOKEN/);
    expect((await scrape({ authorization: "Basic abc" })).status).toBe(401);
    expect((await scrape({ authorization: `Bearer ${generateToken().token}` })).status).toBe(401);

    const ok = await scrape({ authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('latch_invokes_total{connector="postgres",outcome="ok"} 1');
    expect(ok.text).toContain("latch_vault_call_duration_seconds");
    expect(ok.text).toContain("latch_refresh_broadcasts_total");
    // The process's own metrics, under one prefix (not latch_process_process_…).
    expect(ok.text).toContain("latch_process_cpu_seconds_total");
    expect(ok.text).toContain("latch_nodejs_eventloop_lag_seconds");
    expect(ok.text).not.toContain("latch_process_process_");
    // The cache's events under their singular names (as the other metrics' labels are).
    const { secretCache } = await import("@/lib/secrets/resolver");
    secretCache();
    const cacheEvents = (await scrape({ authorization: `Bearer ${TOKEN}` })).text.match(/latch_secret_cache_events_total\{event="(\w+)"\}/g) ?? [];
    expect(cacheEvents.map((line) => line.match(/event="(\w+)"/)![1]).sort()).toEqual(["eviction", "expiration", "hit", "miss"]);

    // API tokens: a service account's with metrics.read reads them; folder-scoped ones are refused with 404.
    const admin = await makeUser({ isAdmin: true });
    const folder = await makeFolder();
    const metricsOnly = await serviceToken(admin, [], undefined, ["metrics.read"]);
    expect((await scrape({ authorization: bearer(metricsOnly.token) })).status).toBe(200);
    const withFolders = await serviceToken(admin, [{ folderId: folder.id, permissions: ["connections.use"] }]);
    expect((await scrape({ authorization: bearer(withFolders.token) })).status).toBe(404);
    const personal = await personalToken(admin, [{ folderId: folder.id, permissions: ["connections.use"] }]);
    expect((await scrape({ authorization: bearer(personal.token) })).status).toBe(404);
    // Revoked or expired: 401, whatever it was allowed.
    await db().apiToken.update({ where: { id: metricsOnly.row.id }, data: { revokedAt: new Date() } });
    expect((await scrape({ authorization: bearer(metricsOnly.token) })).status).toBe(401);
    const expired = await serviceToken(admin, [], undefined, ["metrics.read"]);
    await db().apiToken.update({ where: { id: expired.row.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await scrape({ authorization: bearer(expired.token) })).status).toBe(401);

    signInAs(await makeUser());
    expect((await scrape()).status).toBe(404);
    signInAs(admin);
    expect((await scrape()).status).toBe(200);
  });

  it("metrics.read is for service accounts only and opens no folder", async () => {
    const admin = await makeUser({ isAdmin: true });
    const folder = await makeFolder();
    const { token } = await serviceToken(admin, [], undefined, ["metrics.read"]);
    const { GET } = await import("@/app/api/v1/folders/[folderId]/route");
    expect((await GET(request("GET", `/api/v1/folders/${folder.id}`, { authorization: bearer(token) }), routeContext({ folderId: folder.id }))).status).toBe(404);
    // Personal tokens have no such field; the service schema refuses a token that grants nothing.
    expect(createServiceAccountTokenSchema.safeParse({ serviceAccountId: folder.id, name: "x", expiresInDays: 7, scopes: [], tenantPermissions: [] }).success).toBe(false);
    expect(createServiceAccountTokenSchema.safeParse({ serviceAccountId: folder.id, name: "x", expiresInDays: 7, scopes: [], tenantPermissions: ["metrics.read"] }).success).toBe(true);
    expect(createServiceAccountTokenSchema.safeParse({ serviceAccountId: folder.id, name: "x", expiresInDays: 7, scopes: [], tenantPermissions: ["stores.manage"] }).success).toBe(false);
  });
});

import { NextRequest } from "next/server";
import { describe, expect, it, vi } from "vitest";
import { makeUser, signInAs } from "@/test/fixtures";
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
  it("answers the scrape token and administrators, 404 to everyone else", async () => {
    metrics().invokes.inc({ connector: "postgres", outcome: "ok" });
    signInAs(null);
    expect((await scrape()).status).toBe(404);
    expect((await scrape({ authorization: "Bearer wrong-token-0123456789abcdef0123" })).status).toBe(404);
    expect((await scrape({ authorization: "Basic abc" })).status).toBe(404);
    const ok = await scrape({ authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('latch_invokes_total{connector="postgres",outcome="ok"} 1');
    expect(ok.text).toContain("latch_vault_call_duration_seconds");
    expect(ok.text).toContain("latch_refresh_broadcasts_total");

    signInAs(await makeUser());
    expect((await scrape()).status).toBe(404);
    signInAs(await makeUser({ isAdmin: true }));
    expect((await scrape()).status).toBe(200);
  });
});

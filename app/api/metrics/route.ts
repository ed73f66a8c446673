import { createHash, timingSafeEqual } from "node:crypto";
import { NextResponse, type NextRequest } from "next/server";
import { getCurrentUser } from "@/lib/auth/session";
import { canTenant } from "@/lib/authz";
import { env } from "@/lib/env";
import { metrics } from "@/lib/metrics";

export const dynamic = "force-dynamic";

const digest = (v: string) => createHash("sha256").update(v).digest();

/**
 * Prometheus scrape endpoint: `Authorization: Bearer <LATCH_METRICS_TOKEN>`, or an administrator's
 * browser session. Anyone else gets 404, like every other area that is not theirs.
 */
export async function GET(request: NextRequest) {
  const header = request.headers.get("authorization");
  const configured = env().LATCH_METRICS_TOKEN;
  let allowed = false;
  if (header) {
    const presented = header.startsWith("Bearer ") ? header.slice(7) : "";
    allowed = !!configured && presented !== "" && timingSafeEqual(digest(presented), digest(configured));
  } else {
    const user = await getCurrentUser();
    allowed = !!user && canTenant(user, "audit.read.all");
  }
  if (!allowed) return NextResponse.json({ error: { code: "NOT_FOUND", message: "Not found." } }, { status: 404, headers: { "Cache-Control": "no-store" } });
  const registry = metrics().registry;
  return new NextResponse(await registry.metrics(), { status: 200, headers: { "Content-Type": registry.contentType, "Cache-Control": "no-store" } });
}

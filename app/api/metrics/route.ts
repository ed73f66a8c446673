import { NextResponse, type NextRequest } from "next/server";
import { requestLogger } from "@/lib/log";
import { metrics } from "@/lib/metrics";
import { metricsAccess } from "@/lib/metrics/access";
import { REQUEST_ID_HEADER, requestIdFrom } from "@/lib/request-context";

export const dynamic = "force-dynamic";

const CHALLENGE = 'Bearer realm="latch"';

/** Prometheus scrape endpoint; who may read it is lib/metrics/access.ts's decision. */
export async function GET(request: NextRequest) {
  const requestId = requestIdFrom(request.headers);
  const access = await metricsAccess(request.headers, requestLogger(requestId), requestId);
  if (!access.allowed) {
    const headers: Record<string, string> = { "Cache-Control": "no-store", [REQUEST_ID_HEADER]: requestId };
    if (access.status === 401) headers["WWW-Authenticate"] = CHALLENGE;
    return NextResponse.json({ error: { code: access.status === 401 ? "UNAUTHENTICATED" : "NOT_FOUND", message: access.message, requestId } }, { status: access.status, headers });
  }
  const registry = metrics().registry;
  return new NextResponse(await registry.metrics(), { status: 200, headers: { "Content-Type": registry.contentType, "Cache-Control": "no-store", [REQUEST_ID_HEADER]: requestId } });
}

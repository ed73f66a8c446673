import { NextResponse, type NextRequest } from "next/server";
import { getCurrentUser } from "@/lib/auth/session";
import { canTenant } from "@/lib/authz";
import { AppError } from "@/lib/errors";
import { requestLogger } from "@/lib/log";
import { metrics, metricsTokenMatches } from "@/lib/metrics";
import { REQUEST_ID_HEADER, requestIdFrom } from "@/lib/request-context";
import { bearerHasTenantPermission, looksLikeApiToken } from "@/lib/tokens/authenticate";

export const dynamic = "force-dynamic";

const CHALLENGE = 'Bearer realm="latch"';

function refuse(status: 401 | 404, requestId: string, message: string) {
  const headers: Record<string, string> = { "Cache-Control": "no-store", [REQUEST_ID_HEADER]: requestId };
  if (status === 401) headers["WWW-Authenticate"] = CHALLENGE;
  return NextResponse.json({ error: { code: status === 401 ? "UNAUTHENTICATED" : "NOT_FOUND", message, requestId } }, { status, headers });
}

/**
 * Prometheus scrape endpoint. Accepted: a service account's API token with the `metrics.read`
 * permission; the static LATCH_METRICS_TOKEN (for scrapers configured before tokens existed); or an
 * administrator's browser session. No credentials, or a token that is refused: 401. Credentials
 * that are valid but do not allow metrics: 404, like every other area that is not theirs.
 */
export async function GET(request: NextRequest) {
  const requestId = requestIdFrom(request.headers);
  const header = request.headers.get("authorization");
  let allowed: boolean;
  if (header) {
    if (metricsTokenMatches(header)) {
      allowed = true;
    } else if (looksLikeApiToken(header)) {
      try {
        allowed = await bearerHasTenantPermission(header, request.headers, "metrics.read", requestLogger(requestId), requestId);
      } catch (error) {
        if (error instanceof AppError && error.code === "UNAUTHENTICATED") return refuse(401, requestId, error.userMessage);
        throw error;
      }
    } else {
      return refuse(401, requestId, "Send a service account token with the metrics permission (“Authorization: Bearer lt_…”), or the static token set as LATCH_METRICS_TOKEN.");
    }
  } else {
    const user = await getCurrentUser();
    if (!user) return refuse(401, requestId, "Sign in as an administrator, or send a service account token with the metrics permission or the static token set as LATCH_METRICS_TOKEN.");
    allowed = canTenant(user, "audit.read.all");
  }
  if (!allowed) return refuse(404, requestId, "Not found.");
  const registry = metrics().registry;
  return new NextResponse(await registry.metrics(), { status: 200, headers: { "Content-Type": registry.contentType, "Cache-Control": "no-store", [REQUEST_ID_HEADER]: requestId } });
}

import "server-only";
import { getCurrentUser } from "@/lib/auth/session";
import { canTenant } from "@/lib/authz";
import { AppError } from "@/lib/errors";
import type { Logger } from "@/lib/log";
import { bearerHasTenantPermission, looksLikeApiToken } from "@/lib/tokens/authenticate";
import { metricsTokenMatches } from "./index";

export type MetricsAccess = { allowed: true } | { allowed: false; status: 401 | 404; message: string };

/**
 * Who may scrape /api/metrics: a service account's API token with the `metrics.read` permission; the
 * static LATCH_METRICS_TOKEN (for scrapers configured before tokens existed); or an administrator's
 * browser session. No credentials, or a token that is refused: 401. Credentials that are valid but do
 * not allow metrics: 404, like every other area that is not theirs.
 */
export async function metricsAccess(headers: Headers, log: Logger, requestId: string): Promise<MetricsAccess> {
  const header = headers.get("authorization");
  if (!header) {
    const user = await getCurrentUser();
    if (!user) return { allowed: false, status: 401, message: "Sign in as an administrator, or send a service account token with the metrics permission or the static token set as LATCH_METRICS_TOKEN." };
    return canTenant(user, "audit.read.all") ? { allowed: true } : { allowed: false, status: 404, message: "Not found." };
  }
  if (metricsTokenMatches(header)) return { allowed: true };
  if (!looksLikeApiToken(header)) {
    return { allowed: false, status: 401, message: "Send a service account token with the metrics permission (“Authorization: Bearer lt_…”), or the static token set as LATCH_METRICS_TOKEN." };
  }
  try {
    return (await bearerHasTenantPermission(header, headers, "metrics.read", log, requestId)) ? { allowed: true } : { allowed: false, status: 404, message: "Not found." };
  } catch (error) {
    if (error instanceof AppError && error.code === "UNAUTHENTICATED") return { allowed: false, status: 401, message: error.userMessage };
    throw error;
  }
}

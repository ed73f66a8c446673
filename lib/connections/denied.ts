import "server-only";
import type { ActionContext } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { firstThisMinute, refusalKey } from "@/lib/audit/throttle";
import { db } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { logger } from "@/lib/log";

type Ctx = Pick<ActionContext, "actor" | "requestId">;
type Target = { id: string; name: string; folderId: string; kind: string };

/**
 * A refused use of something that exists (a connection invoked, tested or refreshed, an asset
 * refreshed, by someone without the permission): the caller gets the 404 an unknown id gets, and
 * the trail of the folder it lives in records who tried, as DENIED with failure "access_denied",
 * as the resolver does for a refused asset. An unknown id records nothing (there is no folder to
 * tell), and neither does a request without valid credentials (a 401 has no actor). The same
 * caller's repeats of one refused use are recorded once a minute (lib/audit/throttle.ts).
 */
export async function checkedUse<T>(ctx: Ctx, action: string, target: Target, check: () => T | Promise<T>, details?: Record<string, unknown>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    await auditRefusedUse(ctx, action, target, error, details);
    throw error;
  }
}

/** The same for a check that cannot wait (an invoke's, on its hot path): call it with what the check threw. */
export async function auditRefusedUse(ctx: Ctx, action: string, target: Target, error: unknown, details?: Record<string, unknown>): Promise<void> {
  if (!(error instanceof AppError && error.code === "NOT_FOUND")) return;
  if (!firstThisMinute(refusalKey(ctx, action, target.id))) return;
  await recordAuditEvent(db(), {
    actor: ctx.actor,
    action,
    target: { type: target.kind, id: target.id, label: target.name },
    folderId: target.folderId,
    outcome: "DENIED",
    requestId: ctx.requestId,
    details: { ...details, failure: "access_denied" },
  }).catch((auditError: unknown) => logger().error({ err: auditError }, "could not audit a refused use"));
}

/** A connection as checkedUse records it. */
export const useTarget = (connection: { id: string; name: string; folderId: string }): Target => ({ kind: "connection", id: connection.id, name: connection.name, folderId: connection.folderId });

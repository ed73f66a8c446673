import "server-only";
import { randomUUID } from "node:crypto";
import type { AuditOutcome } from "@prisma/client";
import { execute, type Db } from "@/lib/db";
import { redact } from "@/lib/log/redact";

export type AuditInput = {
  /** An Actor acting through an API token is recorded with the token's id and prefix under details.via. */
  actor: { id: string; email: string; scope?: { kind: "personal" | "service"; tokenId: string; tokenPrefix: string } } | null;
  action: string;
  target: { type: string; id?: string | null; label?: string | null };
  folderId?: string | null;
  outcome?: AuditOutcome;
  requestId?: string | null;
  /** Names and references only; run through the redaction layer as a second guard. */
  details?: Record<string, unknown>;
};

/**
 * Write with the same transaction client as the change it records, so both land or neither does.
 * Plain SQL rather than a model call: every invoke writes one, and this skips Prisma's per-call
 * query compilation (bench/README.md, "Where the time goes").
 */
export async function recordAuditEvent(db: Db, input: AuditInput): Promise<void> {
  const scope = input.actor?.scope;
  const details = scope ? { ...input.details, via: { kind: scope.kind, id: scope.tokenId, prefix: scope.tokenPrefix } } : input.details;
  const outcome: AuditOutcome = input.outcome ?? "SUCCESS";
  const json = details ? JSON.stringify(redact(details)) : null;
  // The database's clock, truncated (not rounded) to the column's milliseconds: an event is never stamped after it was written.
  await execute(
    db,
    `INSERT INTO audit_events (id, occurred_at, actor_id, actor_email, action, target_type, target_id, target_label, folder_id, outcome, request_id, details)
     VALUES ($1::uuid, date_trunc('milliseconds', clock_timestamp()), $2::uuid, $3, $4, $5, $6, $7, $8::uuid, $9::"AuditOutcome", $10, $11::jsonb)`,
    [
      randomUUID(),
      input.actor?.id ?? null,
      input.actor?.email ?? null,
      input.action,
      input.target.type,
      input.target.id ?? null,
      input.target.label?.slice(0, 300) ?? null,
      input.folderId ?? null,
      outcome,
      input.requestId ?? null,
      json,
    ],
  );
}

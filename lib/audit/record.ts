import "server-only";
import type { AuditOutcome, Prisma } from "@prisma/client";
import type { Db } from "@/lib/db";
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

/** Write with the same transaction client as the change it records, so both land or neither does. */
export async function recordAuditEvent(db: Db, input: AuditInput): Promise<void> {
  const scope = input.actor?.scope;
  const details = scope ? { ...input.details, via: { kind: scope.kind, id: scope.tokenId, prefix: scope.tokenPrefix } } : input.details;
  await db.auditEvent.create({
    data: {
      actorId: input.actor?.id ?? null,
      actorEmail: input.actor?.email ?? null,
      action: input.action,
      targetType: input.target.type,
      targetId: input.target.id ?? null,
      targetLabel: input.target.label?.slice(0, 300) ?? null,
      folderId: input.folderId ?? null,
      outcome: input.outcome ?? "SUCCESS",
      requestId: input.requestId ?? null,
      details: details ? (redact(details) as Prisma.InputJsonValue) : undefined,
    },
  });
}

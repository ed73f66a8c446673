import "server-only";
import { randomUUID } from "node:crypto";
import type { AuditOutcome } from "@prisma/client";
import { db as rootDb, execute, isRootClient, type Db } from "@/lib/db";
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
 * query compilation (bench/README.md, "Where the time goes"). Outside a transaction, events are
 * written in groups (below); the promise still settles only when this event is stored.
 */
export async function recordAuditEvent(db: Db, input: AuditInput): Promise<void> {
  const scope = input.actor?.scope;
  const details = scope ? { ...input.details, via: { kind: scope.kind, id: scope.tokenId, prefix: scope.tokenPrefix } } : input.details;
  const outcome: AuditOutcome = input.outcome ?? "SUCCESS";
  const json = details ? JSON.stringify(redact(details)) : null;
  const row: Row = [
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
  ];
  if (isRootClient(db)) return group().add(row);
  await execute(db, INSERT_ONE, row);
}

type Row = [string, string | null, string | null, string, string, string | null, string | null, string | null, AuditOutcome, string | null, string | null];

// The database's clock, truncated (not rounded) to the column's milliseconds: an event is never stamped after it was written.
const INSERT_ONE = `INSERT INTO audit_events (id, occurred_at, actor_id, actor_email, action, target_type, target_id, target_label, folder_id, outcome, request_id, details)
  VALUES ($1::uuid, date_trunc('milliseconds', clock_timestamp()), $2::uuid, $3, $4, $5, $6, $7, $8::uuid, $9::"AuditOutcome", $10, $11::jsonb)`;

/** One statement for any number of events: the same text whatever the count, one array per column. */
const INSERT_MANY = `INSERT INTO audit_events (id, occurred_at, actor_id, actor_email, action, target_type, target_id, target_label, folder_id, outcome, request_id, details)
  SELECT id, date_trunc('milliseconds', clock_timestamp()), actor_id, actor_email, action, target_type, target_id, target_label, folder_id, outcome, request_id, details
  FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::"AuditOutcome"[], $10::text[], $11::jsonb[])
    AS e(id, actor_id, actor_email, action, target_type, target_id, target_label, folder_id, outcome, request_id, details)`;

const MAX_GROUP = 500;

/**
 * Group commit for events written outside a transaction (every invoke writes one). The first event
 * is written at once; those that arrive while a write is on its way go together in the next one, in
 * one statement and one commit. Nobody's promise settles before their own event is stored, so an
 * answer is never sent for an event that is not in the table; with one caller at a time this is
 * exactly one INSERT per event, as before. If a group fails, its events are written one by one, so
 * one bad event (a value too long for its column) fails only its own caller.
 */
class AuditGroup {
  #queue: { row: Row; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #writing = false;

  add(row: Row): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ row, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue.splice(0, MAX_GROUP);
        try {
          if (group.length === 1) await execute(rootDb(), INSERT_ONE, group[0]!.row);
          else await execute(rootDb(), INSERT_MANY, group[0]!.row.map((_, column) => group.map((g) => g.row[column])));
          for (const g of group) g.resolve();
        } catch (error) {
          if (group.length === 1) group[0]!.reject(error);
          else
            for (const g of group) {
              try {
                await execute(rootDb(), INSERT_ONE, g.row);
                g.resolve();
              } catch (one) {
                g.reject(one);
              }
            }
        }
      }
    } finally {
      this.#writing = false;
    }
  }
}

const holder = globalThis as unknown as { latchAuditGroup?: AuditGroup };
const group = () => (holder.latchAuditGroup ??= new AuditGroup());

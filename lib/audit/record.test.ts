import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterEach, expect, it, vi } from "vitest";
import { db } from "@/lib/db";
import { recordAuditEvent } from "./record";

/** Events written outside a transaction are group-committed (lib/audit/record.ts). */
afterEach(() => vi.restoreAllMocks());

const event = (requestId: string, action = "connection.invoke") => ({
  actor: null,
  action,
  target: { type: "connection", id: randomUUID(), label: "group" },
  outcome: "SUCCESS" as const,
  requestId,
  details: { connector: "postgres", operation: "query" },
});

it("events recorded together are stored in fewer statements, each caller only once its own row is stored", async () => {
  const inserts = vi.spyOn(pg.Pool.prototype, "query");
  const tag = randomUUID().slice(0, 8);
  const ids = Array.from({ length: 60 }, (_, i) => `group-${tag}-${i}`);
  await Promise.all(
    ids.map(async (requestId) => {
      await recordAuditEvent(db(), event(requestId));
      // Resolved means stored: the row is there for whoever reads next.
      expect(await db().auditEvent.count({ where: { requestId } })).toBe(1);
    }),
  );
  const stored = await db().auditEvent.findMany({ where: { requestId: { in: ids } } });
  expect(stored).toHaveLength(60);
  expect(stored.every((e) => e.action === "connection.invoke" && e.targetType === "connection" && e.outcome === "SUCCESS")).toBe(true);
  expect(stored.find((e) => e.requestId === ids[7])?.details).toEqual({ connector: "postgres", operation: "query" });
  const statements = inserts.mock.calls.filter(([text]) => typeof text === "string" && text.includes("INSERT INTO audit_events")).length;
  expect(statements).toBeGreaterThanOrEqual(2);
  expect(statements).toBeLessThan(60);
});

it("an event the table refuses fails its own caller only; the rest of its group is stored", async () => {
  const tag = randomUUID().slice(0, 8);
  const results = await Promise.allSettled([
    recordAuditEvent(db(), event(`ok-${tag}-1`)),
    recordAuditEvent(db(), event(`ok-${tag}-2`)),
    // Too long for the column.
    recordAuditEvent(db(), event(`bad-${tag}`, "x".repeat(80))),
    recordAuditEvent(db(), event(`ok-${tag}-3`)),
  ]);
  expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
  expect(await db().auditEvent.count({ where: { requestId: { startsWith: `ok-${tag}` } } })).toBe(3);
  expect(await db().auditEvent.count({ where: { requestId: `bad-${tag}` } })).toBe(0);
});

import { randomUUID } from "node:crypto";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { env } from "@/lib/env";
import { DatabaseBusyError, db, execute, sql, transactionWithin } from "./index";

/**
 * sql() and execute() run the hot path's hand-written statements on the shared pool, or through a
 * transaction's client: both must bind the same values to the same places and return the same shapes.
 */
const STATEMENT = `SELECT $2::text AS second, $1::int AS first, $2::text || '!' AS again, $3::uuid::text AS id, (SELECT 1 WHERE $4::boolean) AS maybe`;

describe("sql()", () => {
  it("binds $n placeholders out of order and repeated, alike on the pool and in a transaction", async () => {
    const id = randomUUID();
    const values = [7, "two's; DROP TABLE users; --", id, false];
    const outside = await sql(db(), STATEMENT, values);
    const inside = await db().$transaction((tx) => sql(tx, STATEMENT, values));
    const expected = [{ second: "two's; DROP TABLE users; --", first: 7, again: "two's; DROP TABLE users; --!", id, maybe: null }];
    expect(outside).toEqual(expected);
    expect(inside).toEqual(expected);
  });

  it("execute() writes in the transaction it is given: rolled back with it", async () => {
    const name = `sql-test-${randomUUID().slice(0, 8)}`;
    await db()
      .$transaction(async (tx) => {
        await execute(tx, "INSERT INTO audit_events (id, occurred_at, action, target_type, outcome) VALUES ($1::uuid, now(), $2, 'test', 'SUCCESS')", [randomUUID(), name]);
        expect(await sql(tx, "SELECT count(*)::int AS n FROM audit_events WHERE action = $1", [name])).toEqual([{ n: 1 }]);
        throw new Error("roll back");
      })
      .catch((error: Error) => expect(error.message).toBe("roll back"));
    expect(await sql(db(), "SELECT count(*)::int AS n FROM audit_events WHERE action = $1", [name])).toEqual([{ n: 0 }]);
  });

  it("refuses a placeholder with no value instead of sending the statement", async () => {
    await expect(db().$transaction((tx) => sql(tx, "SELECT $1::int + $2::int AS n", [1]))).rejects.toThrow("SQL placeholder $2 has no value (1 given)");
  });
});

describe("transactionWithin()", () => {
  it("waits no longer than it is given for a session of a busy pool, and hands a late session straight back", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // Every session of the pool (10) busy with a slow caller.
    const busy = Array.from({ length: 10 }, () => transactionWithin(10_000, () => held));
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await expect(transactionWithin(300, (c) => c.query("SELECT 1"))).rejects.toBeInstanceOf(DatabaseBusyError);
    expect(Date.now() - started).toBeLessThan(1_000);
    release();
    await Promise.all(busy);
    // Nothing was kept: the pool serves ten callers at once again.
    const again = await Promise.all(Array.from({ length: 10 }, (_, i) => transactionWithin(2_000, async (c) => (await c.query("SELECT $1::int AS n", [i])).rows[0].n)));
    expect(again).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it("bounds the statements too (a lock another session holds), and rolls back what the work wrote", async () => {
    const other = new pg.Client({ connectionString: env().DATABASE_URL });
    await other.connect();
    const name = `within-${randomUUID().slice(0, 8)}`;
    try {
      await other.query("SELECT pg_advisory_lock(742001)");
      const started = Date.now();
      const waited = transactionWithin(300, async (c) => {
        await c.query("INSERT INTO audit_events (id, occurred_at, action, target_type, outcome) VALUES ($1::uuid, now(), $2, 'test', 'SUCCESS')", [randomUUID(), name]);
        await c.query("SELECT pg_advisory_xact_lock(742001)");
      });
      await expect(waited).rejects.toBeInstanceOf(DatabaseBusyError);
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(await sql(db(), "SELECT count(*)::int AS n FROM audit_events WHERE action = $1", [name])).toEqual([{ n: 0 }]);
      // Committed when it finishes in time.
      await other.query("SELECT pg_advisory_unlock(742001)");
      await transactionWithin(2_000, (c) => c.query("INSERT INTO audit_events (id, occurred_at, action, target_type, outcome) VALUES ($1::uuid, now(), $2, 'test', 'SUCCESS')", [randomUUID(), name]));
      expect(await sql(db(), "SELECT count(*)::int AS n FROM audit_events WHERE action = $1", [name])).toEqual([{ n: 1 }]);
    } finally {
      await other.end();
    }
  });
});

import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { db, execute, sql } from "./index";

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

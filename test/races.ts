import pg from "pg";
import { expect, vi } from "vitest";
import { env } from "@/lib/env";

/**
 * Holds a race deterministically: another session runs `statement` and does not commit; `change`
 * starts (its checks cannot see the uncommitted change), and once it waits on that session (a row
 * lock, a unique index, a foreign key) the other session commits. Returns what `change` returned.
 */
export async function whileAnotherSession<T>(statement: string | [string, unknown[]][], values: unknown[], change: () => Promise<T>): Promise<T> {
  const other = new pg.Client({ connectionString: env().DATABASE_URL });
  await other.connect();
  try {
    await other.query("BEGIN");
    // Several statements, each with its own values, when the other session does more than one thing.
    for (const [sql, params] of typeof statement === "string" ? ([[statement, values]] as [string, unknown[]][]) : statement) await other.query(sql, params);
    const changing = change();
    await vi.waitFor(
      async () => {
        const { rows } = await other.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))");
        expect(rows[0].n).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 20 },
    );
    await other.query("COMMIT");
    return await changing;
  } finally {
    await other.query("ROLLBACK").catch(() => undefined);
    await other.end();
  }
}

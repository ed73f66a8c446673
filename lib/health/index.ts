import "server-only";
import { listPendingMigrations } from "@/lib/db/migrate";
import { env } from "@/lib/env";

export type Readiness = { ready: boolean; checks: { database: "ok" | "unreachable" }; pending: string[] };

/** Ready when the database answers and every migration shipped with this build has been applied. */
export async function checkReadiness(): Promise<Readiness> {
  try {
    const pending = await listPendingMigrations(env().DATABASE_URL);
    return { ready: pending.length === 0, checks: { database: "ok" }, pending };
  } catch {
    return { ready: false, checks: { database: "unreachable" }, pending: [] };
  }
}

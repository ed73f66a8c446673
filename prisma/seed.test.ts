import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyPassword } from "@/lib/auth/password";
import { createThrowawayDatabase, type ThrowawayDatabase } from "@/scripts/test-db";
import { seed } from "./seed";

let db: ThrowawayDatabase;
beforeAll(async () => {
  db = await createThrowawayDatabase();
});
afterAll(() => db.drop());

async function rows<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("seed", () => {
  it("on an empty database, rejects a short LATCH_ADMIN_PASSWORD or a malformed e-mail and creates nothing", async () => {
    await expect(seed(db.url, { adminPassword: "short" })).rejects.toThrow(/LATCH_ADMIN_PASSWORD must be at least 12/);
    await expect(seed(db.url, { adminEmail: "ops-team" })).rejects.toThrow(/LATCH_ADMIN_EMAIL must be an e-mail address \(got "ops-team"\)/);
    expect(await rows("SELECT count(*)::int AS n FROM users")).toEqual([{ n: 0 }]);
    expect(await rows("SELECT count(*)::int AS n FROM credential_stores")).toEqual([{ n: 0 }]);
  });

  it("creates one administrator with an audit event, then never again", async () => {
    const first = await seed(db.url, { adminEmail: " Root@Example.COM " });
    expect(first).toMatchObject({ created: true, email: "root@example.com" });
    expect(first.password).toHaveLength(20);

    const users = await rows<{ email: string; name: string; is_admin: boolean; password_hash: string }>(
      "SELECT email, name, is_admin, password_hash FROM users",
    );
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ email: "root@example.com", name: "Administrator", is_admin: true });
    expect(await verifyPassword(first.password!, users[0]!.password_hash)).toBe(true);

    const events = await rows("SELECT action, target_type, outcome, actor_id, details FROM audit_events ORDER BY action");
    expect(events).toEqual([
      { action: "store.create", target_type: "store", outcome: "SUCCESS", actor_id: null, details: { via: "seed", kind: "latch" } },
      { action: "user.create", target_type: "user", outcome: "SUCCESS", actor_id: null, details: { via: "seed" } },
    ]);
    // The built-in Latch Database store: exactly one, read-write, tenant-wide.
    expect(await rows("SELECT name, kind, mode, folder_id FROM credential_stores WHERE is_built_in")).toEqual([
      { name: "Latch Database", kind: "latch", mode: "READ_WRITE", folder_id: null },
    ]);

    const again = await seed(db.url, { adminEmail: "other@example.com", adminPassword: "a-long-enough-password" });
    expect(again).toEqual({ created: false, email: "other@example.com" });
    // Ignored on an existing installation, even when they would be refused on a new one: they cannot stop a start.
    expect(await seed(db.url, { adminEmail: "ops-team", adminPassword: "short" })).toMatchObject({ created: false });
    expect(await rows("SELECT email FROM users")).toEqual([{ email: "root@example.com" }]);
    expect(await rows("SELECT count(*)::int AS n FROM credential_stores")).toEqual([{ n: 1 }]);
  });
});

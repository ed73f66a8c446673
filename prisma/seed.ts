import type pg from "pg";
import { generatePassword, hashPassword, PASSWORD_MIN_LENGTH } from "../lib/auth/password";
import { connectClient, scriptClient } from "../lib/db/migrate";

/**
 * First-run seed: creates the administrator when the users table is empty, and never touches an
 * existing installation. Plain `pg` (not lib/db, which is server-only) so scripts can run it.
 *   npm run db:seed   (reads DATABASE_URL, LATCH_ADMIN_EMAIL, LATCH_ADMIN_PASSWORD)
 */

export const DEFAULT_ADMIN_EMAIL = "admin@latch.local";

export interface SeedOptions {
  adminEmail?: string;
  adminPassword?: string;
}

export interface SeedResult {
  created: boolean;
  /** The admin e-mail that was (or would have been) created. */
  email: string;
  /** Only when `created` and the password was generated here. */
  password?: string;
}

// Serialises concurrent seeders so two cannot both see an empty table.
const SEED_LOCK_KEY = 72707370;

export async function seed(connectionString: string, opts: SeedOptions = {}): Promise<SeedResult> {
  const email = (opts.adminEmail?.trim() || DEFAULT_ADMIN_EMAIL).toLowerCase();
  const given = opts.adminPassword || undefined;

  // Bounded: `npm run up` and `db:seed` must fail, naming the server, when it accepts TCP and never answers.
  const client = scriptClient(connectionString);
  try {
    await connectClient(client, connectionString);
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [SEED_LOCK_KEY]);
    await ensureBuiltInStore(client);
    const { rowCount } = await client.query("SELECT 1 FROM users LIMIT 1");
    if (rowCount) {
      await client.query("COMMIT");
      return { created: false, email };
    }
    // Checked only now: on an existing installation both variables are ignored, as the README says,
    // so a leftover value cannot stop `npm run up`. Refused here, nothing is created (rolled back).
    if (email.length > 254 || !/^[^\s@]+@[^\s@]+$/.test(email)) {
      throw new Error(`LATCH_ADMIN_EMAIL must be an e-mail address (got "${opts.adminEmail}").`);
    }
    if (given !== undefined && given.length < PASSWORD_MIN_LENGTH) {
      throw new Error(`LATCH_ADMIN_PASSWORD must be at least ${PASSWORD_MIN_LENGTH} characters.`);
    }

    const password = given ?? generatePassword();
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO users (id, email, name, password_hash, is_admin, updated_at)
       VALUES (gen_random_uuid(), $1, 'Administrator', $2, true, now())
       RETURNING id`,
      [email, await hashPassword(password)],
    );
    await client.query(
      `INSERT INTO audit_events (id, actor_id, action, target_type, target_id, target_label, outcome, details)
       VALUES (gen_random_uuid(), NULL, 'user.create', 'user', $1, $2, 'SUCCESS', $3)`,
      [rows[0]!.id, email, JSON.stringify({ via: "seed" })],
    );
    await client.query("COMMIT");
    return { created: true, email, password: given ? undefined : password };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The Latch Database store: one per installation, created on first seed and never duplicated. */
async function ensureBuiltInStore(client: pg.Client) {
  const { rowCount } = await client.query("SELECT 1 FROM credential_stores WHERE is_built_in");
  if (rowCount) return;
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO credential_stores (id, name, kind, mode, is_built_in, updated_at)
     VALUES (gen_random_uuid(), 'Latch Database', 'latch', 'READ_WRITE', true, now()) RETURNING id`,
  );
  await client.query(
    `INSERT INTO audit_events (id, actor_id, action, target_type, target_id, target_label, outcome, details)
     VALUES (gen_random_uuid(), NULL, 'store.create', 'store', $1, 'Latch Database', 'SUCCESS', $2)`,
    [rows[0]!.id, JSON.stringify({ via: "seed", kind: "latch" })],
  );
}

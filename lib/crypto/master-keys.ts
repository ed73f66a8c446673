import { createHash } from "node:crypto";
import type { Queryable } from "../db/migrate";

/**
 * Which master keys Latch's database needs, and whether the configured ones cover them. No
 * `server-only` import: `npm run up` checks this before it starts the server, and before it would
 * generate a new key into .data/local-secrets.json.
 *
 * A master key is known by its id: the first 16 hex digits of a domain-separated SHA-256, which
 * names the key without revealing it. Each data key row records the id of the master key that wraps it.
 */
export function masterKeyId(key: Buffer): string {
  return createHash("sha256").update("latch-master-key-id").update(key).digest("hex").slice(0, 16);
}

/** The ids of LATCH_MASTER_KEY and of each key in LATCH_PREVIOUS_MASTER_KEYS (comma-separated), as given. */
export function configuredMasterKeyIds(current: string | undefined, previous: string | undefined): { current: string | null; all: Set<string> } {
  const id = (base64: string) => masterKeyId(Buffer.from(base64.trim(), "base64"));
  const currentId = current?.trim() ? id(current) : null;
  const all = new Set<string>(currentId ? [currentId] : []);
  for (const old of (previous ?? "").split(",").filter((s) => s.trim())) all.add(id(old));
  return { current: currentId, all };
}

/** master key id → how many data keys it wraps. Empty before the migrations have created the table. */
export async function dataKeysByMasterKey(db: Queryable): Promise<Map<string, number>> {
  const { rows: present } = await db.query<{ present: boolean }>(`SELECT to_regclass('data_keys') IS NOT NULL AS present`);
  if (!present[0]?.present) return new Map();
  const { rows } = await db.query<{ master_key_id: string; n: number }>(
    `SELECT master_key_id, count(*)::int AS n FROM data_keys GROUP BY master_key_id ORDER BY master_key_id`,
  );
  return new Map(rows.map((r) => [r.master_key_id, r.n]));
}

/** Master key ids the database needs and the configuration lacks (empty: everything stored can be opened). */
export function missingMasterKeys(stored: Map<string, number>, configured: Set<string>): string[] {
  return [...stored.keys()].filter((id) => !configured.has(id));
}

/**
 * Why `npm run up` must not start Latch with these keys, or null. `currentWasGenerated`: there was
 * no LATCH_MASTER_KEY, and one would be generated now (it is not saved when this refuses).
 */
export function masterKeyRefusal(
  stored: Map<string, number>,
  keys: { current: string | undefined; previous: string | undefined; currentWasGenerated: boolean; secretsFile: string },
): string | null {
  const configured = configuredMasterKeyIds(keys.current, keys.previous);
  const missing = missingMasterKeys(stored, configured.all);
  if (missing.length === 0) return null;
  const ids = missing.map((id) => `${id} (${stored.get(id)} data key${stored.get(id) === 1 ? "" : "s"})`).join(", ");
  if (keys.currentWasGenerated) {
    return (
      `This database already holds values sealed under master key ${ids}, but no LATCH_MASTER_KEY was given (neither in the environment nor in ${keys.secretsFile}). ` +
      `Restore the key that was used, from a backup of ${keys.secretsFile} or wherever it is kept, as LATCH_MASTER_KEY. ` +
      "Latch did not generate a new one: it could not open anything stored."
    );
  }
  return (
    `This database holds values sealed under master key ${ids}, which neither LATCH_MASTER_KEY (key id ${configured.current}) nor LATCH_PREVIOUS_MASTER_KEYS is. ` +
    "Set the missing key (in LATCH_PREVIOUS_MASTER_KEYS while a rotation is under way, then run `npm run keys:rewrap`), and start again."
  );
}

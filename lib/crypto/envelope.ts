import "server-only";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { db, type Db } from "@/lib/db";
import { env } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { masterKeyId } from "./master-keys";

/**
 * Envelope encryption for everything Latch itself must keep secret (its own store's values and the
 * credentials of external stores). Values are sealed with AES-256-GCM under a random data key; data
 * keys are stored wrapped by the master key (LATCH_MASTER_KEY). Each ciphertext names its data key
 * and each data key names its master key, so a new master key is rolled in by re-wrapping the data
 * keys alone (rewrapDataKeys) while earlier keys stay readable from LATCH_PREVIOUS_MASTER_KEYS.
 * The additional authenticated data binds a ciphertext to the row it belongs to.
 */
const FORMAT = 1;

type MasterKey = { id: string; key: Buffer };

export function masterKeyring(): { current: MasterKey; all: Map<string, Buffer> } {
  const raw = env().LATCH_MASTER_KEY;
  if (!raw) {
    throw new AppError("NOT_CONFIGURED", "Encryption is not configured on this Latch instance: its administrator must set LATCH_MASTER_KEY (32 random bytes, base64) and restart it.");
  }
  const current = Buffer.from(raw, "base64");
  const all = new Map<string, Buffer>([[masterKeyId(current), current]]);
  for (const old of (env().LATCH_PREVIOUS_MASTER_KEYS ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    const key = Buffer.from(old, "base64");
    all.set(masterKeyId(key), key);
  }
  return { current: { id: masterKeyId(current), key: current }, all };
}

function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT]), iv, cipher.getAuthTag(), body]);
}

const TAG_BYTES = 16;
const HEADER_BYTES = 1 + 12 + TAG_BYTES;

function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed[0] !== FORMAT) throw new Error("Unknown ciphertext format");
  // Node accepts tags of 4 to 16 bytes: a shortened tag would be a much weaker check. Only whole ones open.
  if (sealed.length < HEADER_BYTES) throw new Error("Ciphertext too short");
  const iv = sealed.subarray(1, 13);
  const tag = sealed.subarray(13, HEADER_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES)), decipher.final()]);
}

// Unwrapped data keys are kept per process: unwrapping on every read would cost a query each time.
const unwrapped = new Map<string, Buffer>();

async function activeDataKey(client: Db): Promise<{ id: string; key: Buffer }> {
  const { current, all } = masterKeyring();
  const existing = await client.dataKey.findFirst({ where: { masterKeyId: current.id, retiredAt: null }, orderBy: { createdAt: "desc" } });
  if (existing) return { id: existing.id, key: await dataKeyById(client, existing.id) };
  // No data key under this master key yet. If stored data keys need a master key this instance lacks,
  // its key is a mistake (mistyped, or the rotation's previous key left out), not a rotation: a data
  // key created under it would seal values that the correctly configured instances cannot open, and
  // their readiness checks would take them all out of service (lib/health).
  if (await client.dataKey.findFirst({ where: { masterKeyId: { notIn: [...all.keys()] } }, select: { id: true } })) throw missingMasterKey();
  const key = randomBytes(32);
  const row = await client.dataKey.create({
    data: { wrappedKey: new Uint8Array(seal(current.key, key, "latch-data-key")), masterKeyId: current.id },
  });
  unwrapped.set(row.id, key);
  return { id: row.id, key };
}

async function dataKeyById(client: Db, id: string): Promise<Buffer> {
  const cached = unwrapped.get(id);
  if (cached) return cached;
  const row = await client.dataKey.findUnique({ where: { id } });
  if (!row) throw new Error(`Data key ${id} is missing`);
  const master = masterKeyring().all.get(row.masterKeyId);
  if (!master) throw missingMasterKey();
  const key = open(master, Buffer.from(row.wrappedKey), "latch-data-key");
  unwrapped.set(id, key);
  return key;
}

/** A server fault, not the caller's: a 503 the operator fixes (/api/ready reports it too). */
const missingMasterKey = () =>
  new AppError(
    "NOT_CONFIGURED",
    "This Latch instance lacks the master key stored values are sealed with, so it can neither open them nor seal new ones: its administrator must configure that key (LATCH_MASTER_KEY, or LATCH_PREVIOUS_MASTER_KEYS during a rotation).",
  );

export type Sealed = { ciphertext: Uint8Array<ArrayBuffer>; dataKeyId: string };

export async function encrypt(plaintext: string, aad: string, client: Db = db()): Promise<Sealed> {
  return (await sealerFor(client))(plaintext, aad);
}

/**
 * Reads the active data key once and returns a function that seals with it and touches the
 * database no more: for a result that must be sealed even if the database fails meanwhile.
 */
export async function sealerFor(client: Db = db()): Promise<(plaintext: string, aad: string) => Sealed> {
  const { id, key } = await activeDataKey(client);
  return (plaintext, aad) => ({ ciphertext: new Uint8Array(seal(key, Buffer.from(plaintext, "utf8"), aad)), dataKeyId: id });
}

export async function decrypt(sealed: { ciphertext: Uint8Array; dataKeyId: string }, aad: string, client: Db = db()): Promise<string> {
  const key = await dataKeyById(client, sealed.dataKeyId);
  return open(key, Buffer.from(sealed.ciphertext), aad).toString("utf8");
}

/**
 * Re-wraps every data key not yet under the current master key. Values are untouched, so this is
 * quick and safe to run while Latch serves requests; afterwards the previous keys can be removed,
 * once `elsewhere` (data keys still under another master key when it finished) is 0.
 */
export async function rewrapDataKeys(client: Db = db()): Promise<{ rewrapped: number; elsewhere: number }> {
  const { current, all } = masterKeyring();
  const stale = await client.dataKey.findMany({ where: { masterKeyId: { not: current.id } } });
  for (const row of stale) {
    const master = all.get(row.masterKeyId);
    if (!master) {
      throw new AppError(
        "BAD_REQUEST",
        `Data key ${row.id} is wrapped by master key ${row.masterKeyId}, which is neither LATCH_MASTER_KEY nor in LATCH_PREVIOUS_MASTER_KEYS: add the old key to LATCH_PREVIOUS_MASTER_KEYS and run this again (the keys it did rewrap stay rewrapped).`,
      );
    }
    const key = open(master, Buffer.from(row.wrappedKey), "latch-data-key");
    await client.dataKey.update({
      where: { id: row.id },
      data: { wrappedKey: new Uint8Array(seal(current.key, key, "latch-data-key")), masterKeyId: current.id },
    });
  }
  // Counted afresh: what another instance, still on the previous key, wrapped meanwhile.
  const elsewhere = await client.dataKey.count({ where: { masterKeyId: { not: current.id } } });
  return { rewrapped: stale.length, elsewhere };
}

export function forgetUnwrappedKeysForTests() {
  unwrapped.clear();
}

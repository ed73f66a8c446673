import "server-only";
import { decrypt, encrypt, masterKeyring } from "@/lib/crypto/envelope";
import { db, type Tx } from "@/lib/db";
import { StoreError } from "../../errors";
import { defineProvider } from "../../define";
import type { SecretRef } from "../../types";
import { latchDescriptor } from "./descriptor";

const aad = (storeId: string, name: string, version: number) => `latch_secrets:${storeId}:${name}:${version}`;

function parseVersion(ref: SecretRef): number | undefined {
  if (ref.version === undefined || ref.version === "") return undefined;
  const n = Number(ref.version);
  if (!Number.isInteger(n) || n < 1) throw new StoreError("config", `“${ref.version}” is not a version of a Latch secret (versions are 1, 2, 3, …).`);
  return n;
}

/**
 * Writes a new version of a Latch secret with the caller's transaction, so it lands or rolls back
 * with the change that writes it (an asset's typed value) and needs no second database session:
 * a write that took another session from the pool while its change held one could, with enough
 * such changes at once, leave every session waiting for another.
 */
export async function putLatchSecret(tx: Tx, storeId: string, name: string, values: Record<string, string>): Promise<{ version: string }> {
  // Serialise writers of one name so versions stay gap-free and unique.
  await lockName(tx, storeId, name);
  const latest = await tx.latchSecret.findFirst({ where: { storeId, name }, orderBy: { version: "desc" }, select: { version: true } });
  const version = (latest?.version ?? 0) + 1;
  const sealed = await encrypt(JSON.stringify(values), aad(storeId, name, version), tx);
  await tx.latchSecret.create({ data: { storeId, name, version, ...sealed } });
  return { version: String(version) };
}

const lockName = (tx: Tx, storeId: string, name: string) => tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`latch-secret:${storeId}:${name}`}))`;

/**
 * Deletes every version of a secret Latch created for an asset, unless an asset points at it again:
 * another change may have typed a new value into the same name after this one let go of it. Taken
 * under the writers' lock, so a write that commits first is seen, and one that comes after writes anew.
 * Runs in the change's own transaction (the value goes with the asset, or neither does). Returns
 * whether it deleted anything.
 */
export async function deleteUnusedLatchSecret(tx: Tx, storeId: string, name: string): Promise<boolean> {
  await lockName(tx, storeId, name);
  if (await tx.credentialAsset.findFirst({ where: { storeId, secretName: name }, select: { id: true } })) return false;
  return (await tx.latchSecret.deleteMany({ where: { storeId, name } })).count > 0;
}

/**
 * Latch's own store: values live sealed in the latch_secrets table (envelope encryption), every
 * write adds a version. The only place Latch persists a secret value.
 */
export const latchProvider = defineProvider(latchDescriptor, {
  create: ({ storeId }) => ({
    async getSecret(ref) {
      const version = parseVersion(ref);
      const row = await db().latchSecret.findFirst({
        where: { storeId, name: ref.name, ...(version ? { version } : {}) },
        orderBy: { version: "desc" },
      });
      if (!row) throw new StoreError("not_found", `There is no secret named “${ref.name}”${version ? ` with version ${version}` : ""} in the Latch Database store.`);
      const values = JSON.parse(await decrypt(row, aad(storeId, row.name, row.version))) as Record<string, string>;
      return { values, version: String(row.version), updatedAt: row.createdAt };
    },
    async putSecret(ref, values) {
      return db().$transaction((tx) => putLatchSecret(tx, storeId, ref.name, values));
    },
    async deleteSecret(ref) {
      const { count } = await db().latchSecret.deleteMany({ where: { storeId, name: ref.name } });
      if (count === 0) throw new StoreError("not_found", `There is no secret named “${ref.name}” in the Latch Database store.`);
    },
    async health() {
      masterKeyring();
      await db().$queryRaw`SELECT 1`;
    },
  }),
});

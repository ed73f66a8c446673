import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { encrypt } from "./envelope";
import { configuredMasterKeyIds, dataKeysByMasterKey, masterKeyId, masterKeyRefusal } from "./master-keys";

const newKey = () => randomBytes(32).toString("base64");
const file = ".data/local-secrets.json";

describe("starting with the master key the data needs", () => {
  it("reads which master keys the stored data keys need", async () => {
    await encrypt("anything", "row:mk"); // at least one data key under the test's key
    const client = new pg.Client({ connectionString: env().DATABASE_URL });
    await client.connect();
    try {
      const stored = await dataKeysByMasterKey(client);
      expect(stored.get(masterKeyId(Buffer.from(env().LATCH_MASTER_KEY!, "base64")))).toBeGreaterThan(0);
      expect(stored.size).toBe(await db().dataKey.groupBy({ by: ["masterKeyId"] }).then((g) => g.length));
    } finally {
      await client.end();
    }
  });

  it("an empty database starts with any key, a new one included", () => {
    expect(masterKeyRefusal(new Map(), { current: newKey(), previous: undefined, currentWasGenerated: true, secretsFile: file })).toBeNull();
  });

  it("with the key that sealed the data (current or previous), it starts", () => {
    const [a, b] = [newKey(), newKey()];
    const stored = new Map([[masterKeyId(Buffer.from(a, "base64")), 3]]);
    expect(masterKeyRefusal(stored, { current: a, previous: undefined, currentWasGenerated: false, secretsFile: file })).toBeNull();
    expect(masterKeyRefusal(stored, { current: b, previous: ` ${a} `, currentWasGenerated: false, secretsFile: file })).toBeNull();
  });

  it("a lost key file is not replaced by a new key: the refusal says to restore the old one", () => {
    const lost = newKey();
    const id = masterKeyId(Buffer.from(lost, "base64"));
    const refusal = masterKeyRefusal(new Map([[id, 2]]), { current: newKey(), previous: undefined, currentWasGenerated: true, secretsFile: file });
    expect(refusal).toContain(`master key ${id} (2 data keys)`);
    expect(refusal).toContain(`Restore the key that was used, from a backup of ${file}`);
    expect(refusal).not.toContain(lost);
  });

  it("a wrong key, or a previous key dropped before the rewrap, is named by id", () => {
    const [sealedWith, given] = [newKey(), newKey()];
    const stored = new Map([[masterKeyId(Buffer.from(sealedWith, "base64")), 1], [configuredMasterKeyIds(given, undefined).current!, 4]]);
    const refusal = masterKeyRefusal(stored, { current: given, previous: undefined, currentWasGenerated: false, secretsFile: file });
    expect(refusal).toContain(`${masterKeyId(Buffer.from(sealedWith, "base64"))} (1 data key)`);
    expect(refusal).toContain(`LATCH_MASTER_KEY (key id ${configuredMasterKeyIds(given, undefined).current})`);
    expect(refusal).not.toContain(given);
  });
});

import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { latchProvider } from "@/lib/vault/providers/latch";
import { decrypt, encrypt, forgetUnwrappedKeysForTests, rewrapDataKeys } from "./envelope";

const original = { LATCH_MASTER_KEY: env().LATCH_MASTER_KEY, LATCH_PREVIOUS_MASTER_KEYS: env().LATCH_PREVIOUS_MASTER_KEYS };
afterEach(() => {
  Object.assign(env(), original);
  forgetUnwrappedKeysForTests();
});

async function latchStore() {
  const store = await db().credentialStore.create({ data: { name: `Latch ${randomBytes(4).toString("hex")}`, kind: "latch", mode: "READ_WRITE" } });
  return latchProvider.create({ config: {}, secrets: {}, common: { timeoutMs: 1000 }, storeId: store.id });
}

describe("envelope encryption", () => {
  it("round-trips, and a ciphertext only opens for the row it was sealed for", async () => {
    const sealed = await encrypt("p@ssw0rd-canary", "row:a");
    expect(Buffer.from(sealed.ciphertext).toString("latin1")).not.toContain("p@ssw0rd-canary");
    expect(await decrypt(sealed, "row:a")).toBe("p@ssw0rd-canary");
    await expect(decrypt(sealed, "row:b")).rejects.toThrow();
  });

  it("a new master key is rolled in by re-wrapping data keys; old values stay readable throughout", async () => {
    const client = await latchStore();
    await client.putSecret!({ name: "app/db" }, { username: "app", password: "before-rotation" });
    const oldKey = env().LATCH_MASTER_KEY!;
    const newKey = randomBytes(32).toString("base64");

    // Step 1: deploy the new key with the old one as previous — reads keep working (no downtime).
    Object.assign(env(), { LATCH_MASTER_KEY: newKey, LATCH_PREVIOUS_MASTER_KEYS: oldKey });
    forgetUnwrappedKeysForTests();
    expect((await client.getSecret({ name: "app/db" })).values.password).toBe("before-rotation");
    await client.putSecret!({ name: "app/db" }, { username: "app", password: "after-rotation" });

    // Step 2: re-wrap; then the old key can be dropped.
    expect((await rewrapDataKeys()).rewrapped).toBeGreaterThan(0);
    Object.assign(env(), { LATCH_PREVIOUS_MASTER_KEYS: undefined });
    forgetUnwrappedKeysForTests();
    expect((await client.getSecret({ name: "app/db", version: "1" })).values.password).toBe("before-rotation");
    expect((await client.getSecret({ name: "app/db" })).values.password).toBe("after-rotation");
    expect(await db().dataKey.count({ where: { masterKeyId: { not: (await db().dataKey.findFirstOrThrow({ orderBy: { createdAt: "desc" } })).masterKeyId } } })).toBe(0);

    // Without the right key nothing opens, and the error says what to do.
    Object.assign(env(), { LATCH_MASTER_KEY: randomBytes(32).toString("base64") });
    forgetUnwrappedKeysForTests();
    await expect(client.getSecret({ name: "app/db" })).rejects.toMatchObject({ code: "NOT_CONFIGURED", userMessage: expect.stringMatching(/LATCH_PREVIOUS_MASTER_KEYS/) });
    // And a rewrap without the key the data keys are under names it and the variable to put it in.
    await expect(rewrapDataKeys()).rejects.toMatchObject({ userMessage: expect.stringMatching(/is wrapped by master key \S+, which is neither LATCH_MASTER_KEY nor in LATCH_PREVIOUS_MASTER_KEYS: add the old key/) });

    // The test files share one database: every data key goes back under the key the others use.
    Object.assign(env(), { LATCH_MASTER_KEY: oldKey, LATCH_PREVIOUS_MASTER_KEYS: newKey });
    await rewrapDataKeys();
  });

  it("an instance given a wrong master key seals nothing: no data key under it, and both ways a 503 its operator must fix", async () => {
    const client = await latchStore();
    await client.putSecret!({ name: "app/wrong-key" }, { password: "sealed-under-the-real-key" });
    const keys = await db().dataKey.count();
    // A mistyped key: the stored data keys need one this instance lacks.
    Object.assign(env(), { LATCH_MASTER_KEY: randomBytes(32).toString("base64") });
    forgetUnwrappedKeysForTests();
    const refusal = { code: "NOT_CONFIGURED", userMessage: expect.stringMatching(/lacks the master key .* its administrator must configure/) };
    await expect(encrypt("new value", "row:w")).rejects.toMatchObject(refusal);
    await expect(client.putSecret!({ name: "app/other" }, { password: "x" })).rejects.toMatchObject(refusal);
    await expect(client.getSecret({ name: "app/wrong-key" })).rejects.toMatchObject(refusal);
    // Nothing sealed that the correctly configured instances could not open.
    expect(await db().dataKey.count()).toBe(keys);
    // Without any master key, the same kind of refusal.
    Object.assign(env(), { LATCH_MASTER_KEY: undefined });
    await expect(encrypt("v", "row:w")).rejects.toMatchObject({ code: "NOT_CONFIGURED", userMessage: expect.stringContaining("set LATCH_MASTER_KEY") });
  });

  it("a ciphertext whose authentication tag was cut short does not open", async () => {
    // GCM's shortened tags are the first bytes of the full one, and Node accepts 4 of them: for an
    // empty value, format byte + nonce + 4 tag bytes would open with a 1 in 2^32 check.
    const sealed = await encrypt("", "row:t");
    const bytes = Buffer.from(sealed.ciphertext);
    expect(bytes).toHaveLength(29);
    await expect(decrypt({ ...sealed, ciphertext: bytes.subarray(0, 17) }, "row:t")).rejects.toThrow();
    expect(await decrypt(sealed, "row:t")).toBe("");
  });
});

describe("the Latch Database store", () => {
  it("versions every write, reads latest or a given version, and deletes", async () => {
    const client = await latchStore();
    expect(await client.putSecret!({ name: "svc" }, { value: "one" })).toEqual({ version: "1" });
    expect(await client.putSecret!({ name: "svc" }, { value: "two" })).toEqual({ version: "2" });
    expect(await client.getSecret({ name: "svc" })).toMatchObject({ values: { value: "two" }, version: "2" });
    expect(await client.getSecret({ name: "svc", version: "1" })).toMatchObject({ values: { value: "one" } });
    await expect(client.getSecret({ name: "svc", version: "x" })).rejects.toMatchObject({ kind: "config" });
    await client.deleteSecret!({ name: "svc" });
    await expect(client.getSecret({ name: "svc" })).rejects.toMatchObject({ kind: "not_found" });
  });

  it("concurrent writes get distinct versions", async () => {
    const client = await latchStore();
    const versions = await Promise.all(Array.from({ length: 8 }, (_, i) => client.putSecret!({ name: "race" }, { value: String(i) })));
    expect(new Set(versions.map((v) => v.version)).size).toBe(8);
  });
});

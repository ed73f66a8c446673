import "server-only";
import { randomBytes, randomUUID } from "node:crypto";
import { STORE_ERROR_TITLES, StoreError, classifyNetworkError, type StoreErrorKind } from "@/lib/vault/errors";
import type { StoreClient, StoreTestOptions, StoreTestResult } from "@/lib/vault/types";

export type { StoreTestResult };

/**
 * The store test an admin runs before and after saving. Read-write stores write, read back and
 * delete a throwaway secret; read-only stores authenticate and, when configured, read the probe
 * secret. The outcome names what failed in words a person can act on, never with a value in them.
 */
export async function exerciseStore(client: StoreClient, opts: StoreTestOptions): Promise<StoreTestResult> {
  const started = performance.now();
  const done = (ok: boolean, message: string, kind?: StoreErrorKind): StoreTestResult => ({ ok, message, kind, durationMs: Math.round(performance.now() - started) });
  let step = "authenticating";
  try {
    if (opts.mode === "READ_WRITE") {
      if (!client.putSecret || !client.deleteSecret) return done(false, "This kind of store cannot be written; set it to read-only.", "config");
      const ref = { name: `latch-connection-test-${randomUUID()}` };
      const canary = randomBytes(24).toString("base64url");
      step = "writing a test secret";
      await client.putSecret(ref, { value: canary });
      let deleted = false;
      try {
        step = "reading the test secret back";
        const read = await client.getSecret(ref);
        if (read.values.value !== canary) return done(false, "The test secret read back differs from what was written.", "bad_response");
        step = "deleting the test secret";
        await client.deleteSecret(ref);
        deleted = true;
        return done(true, "Connected: wrote, read back and deleted a test secret.");
      } finally {
        // A store that lets Latch write but not read (or decrypt) still gets its test secret removed.
        if (!deleted) await client.deleteSecret(ref).catch(() => {});
      }
    }
    await client.health();
    if (opts.probeSecret) {
      step = `reading the probe secret “${opts.probeSecret}”`;
      const read = await client.getSecret({ name: opts.probeSecret });
      return done(true, `Connected and read the probe secret (keys: ${Object.keys(read.values).sort().join(", ") || "none"}).`);
    }
    return done(true, "Connected and authenticated.");
  } catch (error) {
    // The provider knows which host it dials (a region's endpoint, a vault name's URL); config fields may not say.
    const known = error instanceof StoreError ? error : classifyNetworkError(error, client.host ?? opts.host ?? "the store");
    if (known) return done(false, `${STORE_ERROR_TITLES[known.kind]} while ${step}: ${known.message}`, known.kind);
    throw error;
  } finally {
    await client.close?.().catch(() => {});
  }
}

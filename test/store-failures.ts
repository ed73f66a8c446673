import { expect } from "vitest";
import { StoreError, type StoreErrorKind } from "@/lib/vault/errors";

/**
 * Provider tests assert that a call fails with a StoreError (of a given kind) and keep every message,
 * so a final test can prove no message carries a credential or secret value.
 */
export function storeFailureRecorder() {
  const messages: string[] = [];
  async function failure(promise: Promise<unknown>, kind?: StoreErrorKind): Promise<StoreError> {
    const error = await promise.then(
      () => new Error("expected a failure"),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreError);
    const storeError = error as StoreError;
    messages.push(storeError.message);
    if (kind) expect(storeError.kind, storeError.message).toBe(kind);
    return storeError;
  }
  return { messages, failure };
}

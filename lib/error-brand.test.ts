import { describe, expect, it, vi } from "vitest";

/**
 * Two copies of the error modules, as two Next bundles load them (lib/error-brand.ts): an error made
 * by one copy must be recognised by the other's classes, and only by the right ones.
 */
async function copies() {
  const load = async () => ({
    errors: await import("@/lib/errors"),
    connectors: await import("@/lib/connectors/types"),
    sql: await import("@/lib/connectors/sql-shared"),
    vault: await import("@/lib/vault/errors"),
    azure: await import("@/lib/vault/providers/azure/errors"),
  });
  vi.resetModules();
  const a = await load();
  vi.resetModules();
  const b = await load();
  return { a, b };
}

describe("error classes across bundles", () => {
  it("are separate classes in each copy, and instanceof still holds from one to the other", async () => {
    const { a, b } = await copies();
    expect(a.vault.StoreError).not.toBe(b.vault.StoreError);
    const denied = new a.vault.StoreError("not_found", "Secret not found");
    expect(denied instanceof b.vault.StoreError).toBe(true);
    expect(new a.errors.AppError("CONFLICT", "x") instanceof b.errors.AppError).toBe(true);
    expect(new a.connectors.ConnectorError("credentials_rejected", "x") instanceof b.connectors.ConnectorError).toBe(true);
    // Subclasses: an instance of each class it extends, in every copy.
    const rowTooLarge = new a.sql.RowTooLargeError();
    for (const cls of [b.sql.RowTooLargeError, b.connectors.OperationInputError, b.connectors.ConnectorError]) expect(rowTooLarge instanceof cls, cls.name).toBe(true);
    expect(new a.azure.AccessDeniedError("permission", "x") instanceof b.vault.StoreError).toBe(true);
    expect(new a.azure.AccessDeniedError("permission", "x") instanceof b.azure.AccessDeniedError).toBe(true);
  });

  it("does not confuse one class with another, or with look-alikes", async () => {
    const { a, b } = await copies();
    expect(new a.connectors.ConnectorError("config", "x") instanceof b.connectors.OperationInputError).toBe(false);
    expect(new a.sql.RowTooLargeError() instanceof b.sql.OpenTransactionError).toBe(false);
    expect(new a.vault.StoreError("permission", "x") instanceof b.azure.AccessDeniedError).toBe(false);
    expect(new a.vault.StoreError("permission", "x") instanceof b.errors.AppError).toBe(false);
    expect(new a.azure.VaultRejectedTokenError("auth", "x") instanceof b.azure.SignInUnavailableError).toBe(false);
    // Same names, not branded: plain objects and other errors are not instances.
    expect({ name: "StoreError", kind: "not_found", brand: "latch.StoreError" } instanceof b.vault.StoreError).toBe(false);
    expect(new Error("x") instanceof b.vault.StoreError).toBe(false);
    expect((null as unknown) instanceof b.vault.StoreError).toBe(false);
  });

  it("a store failure from the other copy keeps its kind where it is classified", async () => {
    const { a, b } = await copies();
    const failure = new a.vault.StoreError("not_found", "Secret “x” not found in “Vault”.");
    expect(b.vault.classifyNetworkError(failure, "vault.example")).toBe(failure);
  });
});

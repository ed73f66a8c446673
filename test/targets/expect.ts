import { expect } from "vitest";
import { ConnectorError, type ConnectorErrorKind } from "@/lib/connectors/types";

/**
 * Awaits a promise that must fail with a ConnectorError of `kind`, and checks that none of `values`
 * (passwords, wrong passwords) appears in its message. Returns the error for further checks.
 */
export async function expectConnectorError(promise: Promise<unknown>, kind: ConnectorErrorKind, values: string[] = []): Promise<ConnectorError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, "expected a failure").toBeInstanceOf(ConnectorError);
  const ce = error as ConnectorError;
  expect({ kind: ce.kind, message: ce.message }).toMatchObject({ kind });
  for (const v of values) if (v) expect(ce.message).not.toContain(v);
  return ce;
}

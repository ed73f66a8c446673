import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { E2E_ADMIN } from "../playwright.config";
import { dumpConsoleDatabase, expectNotInDump } from "./fixtures";

/**
 * Runs after every other spec (its project depends on theirs): nothing secret that the specs typed
 * or uploaded — passwords, store keys, private keys — may appear in the server's log.
 */
test("the server log contains no password, store credential or private key", () => {
  const log = readFileSync(path.join(process.cwd(), "e2e", ".output", "server.log"), "utf8");
  // Positive control: this is the log of the server the specs used.
  expect(log).toContain("Ready in");
  // Forbidden and absent pages answer 404 without the server treating them as crashes.
  expect(log).not.toMatch(/⨯ Error|"level":"error"/);
  for (const secret of [E2E_ADMIN.password, "latch-demo-secret-access-key", "wrong-secret-key-0000", "PRIVATE KEY-----", "e2e-typed-asset-secret-", "demo-crm-api-key-123"]) {
    expect(log, `server log contains ${secret.slice(0, 12)}…`).not.toContain(secret);
  }
});

test("the database holds no value typed into an asset or read from a store, only references", async () => {
  const dump = await dumpConsoleDatabase();
  expect(dump).toContain("asset.resolve"); // positive control: the specs resolved assets
  for (const value of ["e2e-typed-asset-secret-", "demo-crm-api-key-123", "some-password-123"]) expectNotInDump(dump, value);
});

import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { E2E_ADMIN } from "../playwright.config";
import { dumpConsoleDatabaseWithTool, expectNotInDump, registeredSecrets } from "./fixtures";

/**
 * Runs after every other spec (its project depends on theirs). Every secret value any spec used and
 * registered (e2e/fixtures.ts registerSecret: passwords typed into assets, store credentials, client
 * secrets, tokens, the server's own keys) must appear neither in the server's log — written at debug
 * level — nor in a pg_dump of its database. A few fixed values that specs type are checked as well.
 */
const FIXED = [
  { label: "the e2e admin's password", value: E2E_ADMIN.password },
  { label: "the demo AWS secret access key", value: "latch-demo-secret-access-key" },
  { label: "a wrong AWS key", value: "wrong-secret-key-0000" },
  { label: "a private key", value: "PRIVATE KEY-----" },
  { label: "typed asset secrets", value: "e2e-typed-asset-secret-" },
  { label: "the demo Vault value", value: "demo-crm-api-key-123" },
];

function secrets() {
  const registered = registeredSecrets();
  // Positive control: the server registered its own keys, and the specs theirs.
  expect(registered.filter((s) => s.spec === "scripts/e2e-server.ts")).toHaveLength(3);
  expect(registered.length, "no spec registered a secret: is registerSecret used?").toBeGreaterThan(3);
  return [...FIXED.map((f) => ({ ...f, spec: "fixed" })), ...registered];
}

test("the server log (debug level) contains none of the run's secrets", () => {
  const log = readFileSync(path.join(process.cwd(), "e2e", ".output", "server.log"), "utf8");
  // Positive controls: this is the log of the server the specs used, at a level that includes info.
  expect(log).toContain("Latch listening on");
  expect(log).toContain('"msg":"signed in"');
  // Forbidden and absent pages answer 404 without the server treating them as crashes.
  expect(log).not.toMatch(/⨯ Error|"level":"error"/);
  for (const secret of secrets()) {
    expect(log.includes(secret.value), `server log contains ${secret.label} (${secret.spec})`).toBe(false);
  }
});

test("a pg_dump of the database contains none of the run's secrets, only references", async () => {
  const dump = await dumpConsoleDatabaseWithTool();
  test.info().annotations.push({ type: "dump", description: dump.tool });
  expect(dump.text).toContain("asset.resolve"); // positive control: the specs resolved assets
  expect(dump.text).toContain("connection.create");
  for (const secret of secrets()) {
    expectNotInDump(dump.text, secret.value, `${secret.label} (${secret.spec})`);
  }
});

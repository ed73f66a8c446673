import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { E2E_ADMIN } from "../playwright.config";
import { dumpConsoleDatabaseWithTool, expectNotInDump, instanceLogsOfThisRun, registeredSecrets } from "./fixtures";

/**
 * Runs after every other spec (its project, leak-check in playwright.config.ts, depends on theirs).
 * Every secret value any spec used and registered (e2e/fixtures.ts registerSecret: passwords typed
 * into assets, people's passwords, store credentials, client secrets, API tokens, the server's own
 * keys) must appear neither in the server's log — written at debug level — nor in the logs of the
 * extra instances specs started (startAnotherInstance), nor in a pg_dump of the database. A few fixed
 * values that specs type are checked as well.
 */
const FIXED = [
  { label: "the e2e admin's password", value: E2E_ADMIN.password },
  { label: "the demo AWS secret access key", value: "latch-demo-secret-access-key" },
  { label: "a wrong AWS key", value: "wrong-secret-key-0000" },
  { label: "a private key", value: "PRIVATE KEY-----" },
  { label: "typed asset secrets", value: "e2e-typed-asset-secret-" },
  { label: "the demo Vault value", value: "demo-crm-api-key-123" },
];

/**
 * Next's own "⨯ Error" blocks that no refusal explains. server.spec sends server action requests Next
 * fails before any action runs, which server.mjs answers 400: Next still prints each error, and
 * instrumentation.ts logs it as a warning with the same digest. Its origin check's refusal of a form
 * posted from another site carries no digest and is printed by name.
 */
function unexplainedCrashes(log: string): string[] {
  const explained = new Set([...log.matchAll(/"digest":"(\w+)","msg":"a server action request failed before any action ran \(undecodable, or refused\); answered 400"/g)].map((m) => m[1]));
  const lines = log.split("\n");
  const crashes: string[] = [];
  lines.forEach((line, i) => {
    if (!line.includes("⨯")) return;
    if (/⨯ Error: Invalid Server Actions request\.$/.test(line)) return;
    // The block's own lines, up to the next JSON log line.
    const block = lines.slice(i + 1, i + 40);
    const end = block.findIndex((l) => l.startsWith("{"));
    const digest = /digest: '(\w+)'/.exec((end < 0 ? block : block.slice(0, end)).join("\n"))?.[1];
    if (!digest || !explained.has(digest)) crashes.push(line);
  });
  return crashes;
}

function secrets() {
  const registered = registeredSecrets();
  // Positive control: the server registered its own keys, and the specs theirs.
  expect(registered.filter((s) => s.spec === "scripts/e2e-server.ts")).toHaveLength(3);
  expect(registered.length, "no spec registered a secret: is registerSecret used?").toBeGreaterThan(3);
  return [...FIXED.map((f) => ({ ...f, spec: "fixed" })), ...registered];
}

test("the server log (debug level) contains none of the run's secrets", async ({ request }) => {
  const file = path.join(process.cwd(), "e2e", ".output", "server.log");
  // Positive control made now: a request with a known id and a made-up API token. The server logs the
  // refusal with the id and the token's public prefix (never its secret), so the file read below is
  // what the running server writes, and a value it logs is found in it.
  const requestId = `leak-control-${randomUUID()}`;
  const prefix = `lt_${randomUUID().replace(/-/g, "").slice(0, 8)}`;
  const secret = randomBytes(32).toString("base64url");
  const refused = await request.get("/api/v1/folders", { headers: { authorization: `Bearer ${prefix}_${secret}`, "x-request-id": requestId } });
  expect(refused.status()).toBe(401);
  await expect.poll(() => readFileSync(file, "utf8").includes(requestId), { message: "the control request is in the log" }).toBe(true);
  const log = readFileSync(file, "utf8");
  expect(log.split("\n").find((line) => line.includes(requestId))).toContain(prefix);
  expect(log.includes(secret), "server log contains the control token's secret").toBe(false);
  // Positive controls: this is the log of the server the specs used, at a level that includes info.
  expect(log).toContain("Latch listening on");
  expect(log).toContain('"msg":"signed in"');
  // Forbidden and absent pages answer 404 without the server treating them as crashes. Colour codes
  // (Next colours its "⨯" when it thinks it may) would otherwise hide a crash from the match.
  const plain = log.replace(/\x1b\[[0-9;]*m/g, "");
  expect(plain).not.toMatch(/"level":"error"/);
  expect(unexplainedCrashes(plain)).toEqual([]);
  for (const secret of secrets()) {
    expect(log.includes(secret.value), `server log contains ${secret.label} (${secret.spec})`).toBe(false);
  }
});

test("the extra instances' logs contain none of the run's secrets", () => {
  const logs = instanceLogsOfThisRun();
  const all = secrets();
  // instances.spec starts instances whenever it runs: its secrets registered, their logs must be here.
  if (all.some((s) => s.label.startsWith("instances.spec:"))) expect(logs.length, "instances.spec ran, but no instance log was written").toBeGreaterThan(0);
  test.info().annotations.push({ type: "instance logs", description: logs.map((l) => path.basename(l.file)).join(", ") || "none in this run" });
  for (const { port, file } of logs) {
    const log = readFileSync(file, "utf8");
    const name = path.basename(file);
    // Positive controls: the instance's own stdout (server.mjs), and its JSON logger, reached the file.
    expect(log, name).toMatch(new RegExp(`Latch listening on http://[^\\s]+:${port}\\b`));
    expect(log, name).toContain('"service":"latch"');
    for (const secret of all) {
      expect(log.includes(secret.value), `${name} contains ${secret.label} (${secret.spec})`).toBe(false);
    }
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

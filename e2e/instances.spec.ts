import { expect, request as playwrightRequest, test as base, type Page } from "@playwright/test";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { startHashicorpEmulator, type HashicorpEmulator } from "../test/emulators/hashicorp";
import { createTestPki, type TestPki } from "../test/emulators/tls";
import { startPasswordPostgres, type PasswordPostgres } from "../test/targets/postgres";
import { createFolder, createTokenIn, pickAsset, queryConsoleDatabase, registerSecret, startAnotherInstance, unique } from "./fixtures";

/**
 * Instances sharing one database behave as one: a refresh sent to instance B makes instance A fetch
 * the rotated value at its next invoke; the refresh reaches every instance by NOTIFY (not only by the
 * safety net read at use); and a server action rendered by one instance can be posted to another.
 */
type World = { pki: TestPki; vault: HashicorpEmulator; target: PasswordPostgres; token: string };

const test = base.extend<object, { world: World }>({
  world: [
    async ({}, use) => {
      const pki = createTestPki();
      const [vault, target] = await Promise.all([startHashicorpEmulator({ pki }), startPasswordPostgres()]);
      const token = registerSecret(vault.createToken({ ttlSeconds: 3600 }), "instances.spec: the Vault token");
      registerSecret(target.password, "instances.spec: the target PostgreSQL password");
      await use({ pki, vault, target, token });
      await Promise.allSettled([vault.close(), target.stop()]);
    },
    { scope: "worker", timeout: 120_000 },
  ],
});

// Each test builds its world through the console and starts one or two more server processes (server.mjs).
test.describe.configure({ timeout: 180_000 });

/** Ports for extra instances, apart from every other run's (each has its own E2E_PORT). */
const instancePort = (n: number) => Number(process.env.E2E_PORT ?? 3100) + 1000 + n * 7 + (test.info().workerIndex % 7);

/** A counter's value on an instance (scraped with the admin's session), summed over the series whose labels include `labels`. */
function counter(text: string, name: string, labels: string[] = []) {
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) && labels.every((label) => line.includes(label)))
    .reduce((n, line) => n + Number(line.split(" ").at(-1)), 0);
}

async function scrape(page: Page, origin: string) {
  const res = await page.request.get(`${origin}/api/metrics`);
  expect(res.status()).toBe(200);
  return res.text();
}

/** Refreshes this instance applied because another one told it, by NOTIFY or by the safety net. */
async function refreshCounts(page: Page, origin: string) {
  const text = await scrape(page, origin);
  const sum = (direction: string) => counter(text, "latch_refresh_broadcasts_total", [`direction="${direction}"`]);
  return { received: sum("received"), caughtUp: sum("caught_up"), sent: sum("sent") };
}

async function setUp(page: Page, world: World, path: string) {
  const storeName = unique("Vault");
  await page.goto("/stores/new?kind=hashicorp");
  await page.getByLabel(/^Name\b/).fill(storeName);
  await page.getByLabel("Vault address").fill(world.vault.url);
  await page.getByRole("textbox", { name: "Token", exact: true }).fill(world.token);
  await page.getByLabel("CA bundle (PEM)").fill(world.pki.caCert);
  await page.getByRole("button", { name: "Create store" }).click();
  await expect(page.getByRole("heading", { level: 1, name: storeName })).toBeVisible();

  const secrets = await createFolder(page, unique("Secrets"));
  const assetName = unique("Reporting login");
  await page.goto(`/folders/${secrets}/assets/new`);
  await page.getByRole("textbox", { name: /^Name\b/ }).fill(assetName);
  await page.getByRole("combobox", { name: "Credential store" }).click();
  await page.getByRole("option", { name: new RegExp(storeName) }).click();
  await page.getByRole("radio", { name: /^Use an existing secret/ }).check();
  await page.getByRole("textbox", { name: /^Path\b/ }).fill(path);
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.getByRole("heading", { level: 1, name: assetName })).toBeVisible();

  const apps = await createFolder(page, unique("Apps"));
  await page.goto(`/folders/${apps}/connections/new?kind=postgres`);
  await page.getByRole("textbox", { name: /^Connection name\b/ }).fill("Reporting");
  await page.getByRole("textbox", { name: /^Host\b/ }).fill(world.target.host);
  await page.getByRole("spinbutton", { name: /^Port\b/ }).fill(String(world.target.port));
  await page.getByRole("textbox", { name: /^Database\b/ }).fill(world.target.database);
  await page.getByRole("combobox", { name: /^TLS\b/ }).click();
  await page.getByRole("option", { name: /^Off/ }).click();
  await page.getByRole("button", { name: "Password options" }).click();
  await page.getByRole("menuitem", { name: "Use credential asset" }).click();
  await pickAsset(page, assetName);
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Reporting" })).toBeVisible({ timeout: 30_000 });
  return page.url().split("/connections/")[1]!.split(/[?#]/)[0]!;
}

test("a refresh sent to one instance makes the other fetch the rotated value", async ({ page, world }) => {
  const path = `reporting/${randomUUID().slice(0, 8)}`;
  world.vault.seedSecret({ path, data: { username: world.target.user, password: world.target.password } });
  const connectionId = await setUp(page, world, path);
  const a = new URL(page.url()).origin;
  const b = await startAnotherInstance(instancePort(1));
  try {
    const invokeOnA = (requestId?: string) =>
      page.request.post(`/api/v1/connections/${connectionId}/invoke`, {
        data: { operation: "query", input: { sql: "SELECT current_user AS who", params: [] } },
        headers: requestId ? { "x-request-id": requestId } : {},
      });
    const reads = () => world.vault.count(`/data/${path}`, "GET");
    expect((await invokeOnA()).status()).toBe(200); // A now holds the value (and a pooled login)

    // Rotated at the target and in the vault, behind Latch's back.
    const rotated = registerSecret(`rot-${randomUUID()}`, "instances.spec: the rotated PostgreSQL password");
    const admin = new pg.Client({ connectionString: world.target.adminUrl });
    await admin.connect();
    await admin.query(`ALTER ROLE "${world.target.user}" PASSWORD '${rotated}'`);
    await admin.end();
    world.vault.seedSecret({ path, data: { username: world.target.user, password: rotated } });
    let before = reads();
    expect((await invokeOnA()).status()).toBe(200); // A's pooled login still works: no reason to read
    expect(reads()).toBe(before);

    // A rotation recovery (A's cached value rejected by the target, fetched again, retried) would also
    // read the vault once and answer 200: what A counted and audited tells the two apart.
    const rotationEvents = async () =>
      Number((await queryConsoleDatabase<{ n: string }>("SELECT count(*) AS n FROM audit_events WHERE action = 'connection.rotation' AND target_id = $1", [connectionId]))[0]!.n);
    const onA = async () => {
      const text = await scrape(page, a);
      return {
        rotations: counter(text, "latch_rotations_total"),
        applied: counter(text, "latch_refresh_broadcasts_total", ['kind="connection"', 'direction="received"']) + counter(text, "latch_refresh_broadcasts_total", ['kind="connection"', 'direction="caught_up"']),
      };
    };
    const beforeStep = { ...(await onA()), rotationEvents: await rotationEvents() };

    // The refresh goes to B.
    const refreshed = await page.request.post(`${b.origin}/api/v1/connections/${connectionId}/refresh`);
    expect(refreshed.status()).toBe(200);

    before = reads();
    const requestId = `refresh-step-${randomUUID()}`;
    const after = await invokeOnA(requestId);
    expect(after.status()).toBe(200);
    expect(reads() - before).toBe(1);
    expect(await after.text()).not.toContain(rotated);

    // A applied a refresh it was told of (by NOTIFY, or read from the log at this invoke)...
    const afterStep = await onA();
    expect(afterStep.applied, "A applied the refresh B sent").toBeGreaterThan(beforeStep.applied);
    // ...and recovered from no rotation: none counted, none in the trail.
    expect(afterStep.rotations, "A counted a rotation").toBe(beforeStep.rotations);
    expect(await rotationEvents(), "a connection.rotation event was recorded").toBe(beforeStep.rotationEvents);
    // The invoke's own events, by its request id: the invoke, and no rotation (a rotation is audited
    // with its invoke's request id, before the answer). Also shows the trail is read where A writes it.
    const events = await queryConsoleDatabase<{ action: string; outcome: string }>(
      "SELECT action, outcome::text AS outcome FROM audit_events WHERE request_id = $1 AND target_id = $2 ORDER BY occurred_at",
      [requestId, connectionId],
    );
    expect(events).toEqual([{ action: "connection.invoke", outcome: "SUCCESS" }]);
  } finally {
    await b.stop();
    // The target is shared by this worker's tests: its password goes back.
    const admin = new pg.Client({ connectionString: world.target.adminUrl });
    await admin.connect();
    await admin.query(`ALTER ROLE "${world.target.user}" PASSWORD '${world.target.password}'`);
    await admin.end();
  }
});

/**
 * The runner's route (lib/api/direct.ts, loaded with instrumentation), the API's routes and the
 * console's actions are separate bundles, each with its own copy of lib/, but they share the store
 * clients, pools and secret cache of the process. A failure raised by one copy's code must keep its
 * meaning in another's, or a runner sees a bare 500 where the console says what happened.
 */
test("a runner's invoke reports a store failure as the console's route does, whichever bundle made the store client", async ({ page, world, baseURL }) => {
  const path = `reporting/${randomUUID().slice(0, 8)}`;
  world.vault.seedSecret({ path, data: { username: world.target.user, password: world.target.password } });
  // Creating the store, the asset and the connection: the console's actions make the store's kept client.
  const connectionId = await setUp(page, world, path);
  const [{ name: folderName } = { name: "" }] = await queryConsoleDatabase<{ name: string }>("SELECT f.name FROM folders f JOIN connections c ON c.folder_id = f.id WHERE c.id = $1", [connectionId]);
  await page.goto("/settings");
  await page.locator("#personal-tokens").getByRole("button", { name: "New token" }).click();
  const token = await createTokenIn(page, folderName, unique("runner"));
  const runner = await playwrightRequest.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const body = { operation: "query", input: { sql: "SELECT 1 AS one", params: [] } };
  const viaToken = () => runner.post(`/api/v1/connections/${connectionId}/invoke`, { headers: { Authorization: `Bearer ${token}` }, data: body });
  expect((await viaToken()).status()).toBe(200);

  // The secret is deleted from the vault, and the cached value dropped: the next use reads the store.
  world.vault.deleteSecret({ path, mode: "all" });
  for (const invoke of [viaToken, () => page.request.post(`/api/v1/connections/${connectionId}/invoke`, { data: body })]) {
    expect((await page.request.post(`/api/v1/connections/${connectionId}/refresh`)).status()).toBe(200);
    const failed = await invoke();
    const answer = await failed.json();
    expect(failed.status(), JSON.stringify(answer)).toBe(502);
    // In full to whoever may open the asset's folder (the console's session); by its title to a token scoped elsewhere.
    expect(answer.error).toMatchObject({ code: "UPSTREAM_FAILED", message: expect.stringMatching(/There is no secret “reporting\/|\(Secret not found\)/) });
  }
  await runner.dispose();
});

test("a refresh reaches every other instance by NOTIFY within a second, before any of them uses the connection", async ({ page, world }) => {
  const path = `reporting/${randomUUID().slice(0, 8)}`;
  world.vault.seedSecret({ path, data: { username: world.target.user, password: world.target.password } });
  const connectionId = await setUp(page, world, path);
  const [b, c] = await Promise.all([startAnotherInstance(instancePort(2)), startAnotherInstance(instancePort(3))]);
  try {
    const a = new URL(page.url()).origin;
    // C has served nothing but its readiness check: its listener must be running from boot.
    const before = { a: await refreshCounts(page, a), c: await refreshCounts(page, c.origin) };
    expect((await page.request.post(`${b.origin}/api/v1/connections/${connectionId}/refresh`)).status()).toBe(200);
    // Each instance must show it within a second of the refresh's answer (scrapes included).
    for (const [name, origin] of [["a", a], ["c", c.origin]] as const) {
      await expect
        .poll(async () => (await refreshCounts(page, origin)).received, { intervals: [25], timeout: 1000, message: `instance ${name} heard the NOTIFY` })
        .toBe(before[name].received + 1);
      // Heard, not read from the log: nothing on that instance has asked for the connection.
      expect((await refreshCounts(page, origin)).caughtUp).toBe(before[name].caughtUp);
    }
  } finally {
    await Promise.all([b.stop(), c.stop()]);
  }
});

test("a server action rendered by one instance works when posted to another", async ({ page, world }) => {
  const path = `reporting/${randomUUID().slice(0, 8)}`;
  world.vault.seedSecret({ path, data: { username: world.target.user, password: world.target.password } });
  const connectionId = await setUp(page, world, path);
  const b = await startAnotherInstance(instancePort(4));
  try {
    const a = new URL(page.url()).origin;
    await page.goto(`/connections/${connectionId}`);
    // The page came from A; its server action call goes to B, as a load balancer might send it.
    let servedByB = 0;
    await page.route(`${a}/**`, async (route) => {
      const request = route.request();
      if (request.method() !== "POST" || !request.headers()["next-action"]) return route.continue();
      // A load balancer keeps the address the browser used: Next checks the action's Origin against it.
      const response = await route.fetch({ url: request.url().replace(a, b.origin), headers: { ...(await request.allHeaders()), "x-forwarded-host": new URL(a).host } });
      servedByB++;
      await route.fulfill({ response });
    });
    const sentByB = (await refreshCounts(page, b.origin)).sent;
    await page.getByRole("button", { name: "Refresh credentials" }).click();
    await expect(page.getByText("Cached credentials cleared on every instance")).toBeVisible();
    expect(servedByB).toBe(1);
    // B ran the action: it is the instance that sent the refresh.
    expect((await refreshCounts(page, b.origin)).sent).toBe(sentByB + 1);
  } finally {
    await b.stop();
  }
});

test("after a restart the cache is gone (one store read) and nothing else is: sessions, the connection and its pool come back", async ({ page, world }) => {
  const path = `reporting/${randomUUID().slice(0, 8)}`;
  world.vault.seedSecret({ path, data: { username: world.target.user, password: world.target.password } });
  const connectionId = await setUp(page, world, path);
  const port = instancePort(5);
  const reads = () => world.vault.count(`/data/${path}`, "GET");
  const invokeOn = (origin: string) =>
    page.request.post(`${origin}/api/v1/connections/${connectionId}/invoke`, { data: { operation: "query", input: { sql: "SELECT current_user AS who", params: [] } } });
  let b = await startAnotherInstance(port);
  try {
    let before = reads();
    expect((await invokeOn(b.origin)).status()).toBe(200);
    expect((await invokeOn(b.origin)).status()).toBe(200);
    expect(reads() - before, "B read the store once, then used its cache").toBe(1);

    expect(await b.stop()).toBe(0);
    b = await startAnotherInstance(port);
    // The same browser session (its cookie was issued by another instance) still works on the restarted one.
    expect((await page.request.get(`${b.origin}/api/v1/connections/${connectionId}`)).status()).toBe(200);
    before = reads();
    const after = await invokeOn(b.origin);
    expect(after.status()).toBe(200);
    expect(await after.json()).toMatchObject({ result: { rows: [[world.target.user]] } });
    expect(reads() - before, "the restarted instance had nothing cached: it read the store once").toBe(1);
    expect((await invokeOn(b.origin)).status()).toBe(200);
    expect(reads() - before).toBe(1);
  } finally {
    await b.stop();
  }
});

import { expect, test as base, type Page } from "@playwright/test";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { startHashicorpEmulator, type HashicorpEmulator } from "../test/emulators/hashicorp";
import { createTestPki, type TestPki } from "../test/emulators/tls";
import { startPasswordPostgres, type PasswordPostgres } from "../test/targets/postgres";
import { createFolder, startAnotherInstance, unique } from "./fixtures";

/**
 * Two instances sharing one database behave as one: a refresh sent to instance B makes instance A
 * fetch the rotated value at its next invoke, although nobody told A directly.
 */
type World = { pki: TestPki; vault: HashicorpEmulator; target: PasswordPostgres; token: string };

const test = base.extend<object, { world: World }>({
  world: [
    async ({}, use) => {
      const pki = createTestPki();
      const [vault, target] = await Promise.all([startHashicorpEmulator({ pki }), startPasswordPostgres()]);
      await use({ pki, vault, target, token: vault.createToken({ ttlSeconds: 3600 }) });
      await Promise.allSettled([vault.close(), target.stop()]);
    },
    { scope: "worker", timeout: 120_000 },
  ],
});

async function setUp(page: Page, world: World, path: string) {
  const storeName = unique("Vault");
  await page.goto("/stores/new?kind=hashicorp");
  await page.getByLabel(/^Name\b/).fill(storeName);
  await page.getByLabel("Vault address").fill(world.vault.url);
  await page.getByLabel("Token", { exact: true }).fill(world.token);
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
  await page.getByRole("textbox", { name: /^Secret name or path\b/ }).fill(path);
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
  const dialog = page.getByRole("dialog", { name: "Use credential asset" });
  await dialog.getByRole("combobox", { name: "Search assets" }).fill(assetName);
  await dialog.getByRole("option", { name: new RegExp(assetName) }).click();
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Reporting" })).toBeVisible({ timeout: 30_000 });
  return page.url().split("/connections/")[1]!.split(/[?#]/)[0]!;
}

test("a refresh sent to one instance makes the other fetch the rotated value", async ({ page, world }) => {
  const path = `reporting/${randomUUID().slice(0, 8)}`;
  world.vault.seedSecret({ path, data: { username: world.target.user, password: world.target.password } });
  const connectionId = await setUp(page, world, path);
  const b = await startAnotherInstance(3100 + 1 + Math.floor(Math.random() * 500));
  try {
    const invokeOnA = () => page.request.post(`/api/v1/connections/${connectionId}/invoke`, { data: { operation: "query", input: { sql: "SELECT current_user AS who", params: [] } } });
    const reads = () => world.vault.count(`/data/${path}`, "GET");
    expect((await invokeOnA()).status()).toBe(200); // A now holds the value (and a pooled login)

    // Rotated at the target and in the vault, behind Latch's back.
    const rotated = `rot-${randomUUID()}`;
    const admin = new pg.Client({ connectionString: world.target.adminUrl });
    await admin.connect();
    await admin.query(`ALTER ROLE "${world.target.user}" PASSWORD '${rotated}'`);
    await admin.end();
    world.vault.seedSecret({ path, data: { username: world.target.user, password: rotated } });
    let before = reads();
    expect((await invokeOnA()).status()).toBe(200); // A's pooled login still works: no reason to read
    expect(reads()).toBe(before);

    // The refresh goes to B.
    const refreshed = await page.request.post(`${b.origin}/api/v1/connections/${connectionId}/refresh`);
    expect(refreshed.status()).toBe(200);

    before = reads();
    const after = await invokeOnA();
    expect(after.status()).toBe(200);
    expect(reads() - before).toBe(1);
    expect(await after.text()).not.toContain(rotated);
  } finally {
    await b.stop();
  }
});

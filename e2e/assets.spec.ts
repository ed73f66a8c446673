import { expect, type Page } from "@playwright/test";
import { startHashicorpEmulator, seedDemoHashicorp, type HashicorpEmulator } from "../test/emulators/hashicorp";
import { createTestPki, type TestPki } from "../test/emulators/tls";
import { chooseStore, expectFound, openNewAsset, resolveTest } from "./asset-helpers";
import { captureBodies, createFolder, createUser, freshPage, newSecret, queryConsoleDatabase, signIn, test as base, unique } from "./fixtures";

/**
 * Credential assets end to end: a typed Credential in the Latch store, a Secret pointing at an
 * existing Vault (emulator) secret, Resolve test on both (metadata shown, the value in no response),
 * edit, delete, settings with validation, and a store that cannot be deleted while in use.
 */
type Vault = { pki: TestPki; emulator: HashicorpEmulator; config: Record<string, unknown>; secrets: Record<string, string> };

const test = base.extend<object, { vault: Vault }>({
  vault: [
    async ({}, use) => {
      const pki = createTestPki();
      const emulator = await startHashicorpEmulator({ pki });
      const demo = seedDemoHashicorp(emulator);
      await use({ pki, emulator, config: demo.storeConfig, secrets: demo.storeSecrets });
      await emulator.close();
    },
    { scope: "worker" },
  ],
});

/** Prefix of every password the spec types (each also registered for e2e/leak.spec.ts). */
const TYPED_PREFIX = "e2e-typed-asset-secret";
const VAULT_VALUE = "demo-crm-api-key-123";

async function createVaultStore(page: Page, vault: Vault) {
  const name = unique("Vault");
  await page.goto("/stores/new?kind=hashicorp");
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("Vault address").fill(String(vault.config.address));
  await page.getByRole("combobox", { name: "Authentication" }).click();
  await page.getByRole("option", { name: "AppRole (recommended)" }).click();
  await page.getByLabel("Role ID").fill(String(vault.config.roleId));
  await page.getByLabel("Secret ID").fill(vault.secrets.secretId!);
  await page.getByLabel("CA bundle (PEM)").fill(vault.pki.caCert);
  await page.getByRole("button", { name: "Create store" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  return { name, id: page.url().split("/stores/")[1]! };
}

test("credential and secret assets: create, resolve test without the value, edit, delete; a store in use stays", async ({ page, vault }) => {
  test.slow(); // one long flow: a store, two assets, four resolve tests, edits and deletes
  const bodies = await captureBodies(page);
  const folderName = unique("Assets");
  const folderId = await createFolder(page, folderName);
  const store = await createVaultStore(page, vault);

  // A Credential in the built-in Latch store, typed in.
  const password = newSecret(TYPED_PREFIX);
  await openNewAsset(page, folderId);
  await expect(page.getByRole("radio", { name: /^Credential/ })).toBeChecked();
  await page.getByRole("textbox", { name: /^Name\b/ }).fill("Payroll database");
  await chooseStore(page, /Latch Database \(built-in\)/);
  await expect(page.getByRole("radio", { name: /^Enter the value/ })).toBeChecked();
  await page.getByRole("textbox", { name: /^Username\b/ }).fill("payroll_app");
  const passwordField = page.getByLabel(/^Password\b/);
  await expect(passwordField).toHaveAttribute("type", "password");
  await expect(passwordField).toHaveAttribute("autocomplete", "new-password");
  await passwordField.fill(password);
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Payroll database", exact: true })).toBeVisible();
  const credentialUrl = page.url();

  let result = await resolveTest(page);
  await expectFound(result, { version: "1", keys: "password, username", username: "payroll_app" });
  await expect(result).toContainText("The value itself is never shown.");

  // A Secret that points at an existing secret in Vault.
  await openNewAsset(page, folderId);
  await page.getByRole("radio", { name: /^Secret/ }).check();
  await page.getByRole("textbox", { name: /^Name\b/ }).fill("CRM API key");
  await chooseStore(page, new RegExp(store.name));
  await page.getByRole("radio", { name: /^Use an existing secret/ }).check();
  // Vault references are a path and a version number.
  await expect(page.getByRole("textbox", { name: /^Version\b/ })).toBeVisible();
  await page.getByRole("textbox", { name: /^Path\b/ }).fill("prod/crm-api-key");
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "CRM API key", exact: true })).toBeVisible();
  result = await resolveTest(page);
  await expectFound(result, { version: "1", keys: "value" });

  // A reference to a secret that is not there fails precisely.
  await page.getByRole("link", { name: "Edit" }).click();
  await page.getByRole("textbox", { name: /^Path\b/ }).fill("prod/no-such-secret");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "CRM API key", exact: true })).toBeVisible();
  result = await resolveTest(page);
  await expect(result).toContainText("Secret not found");
  await expect(result).toContainText("prod/no-such-secret");

  // Editing the credential: the password field is never pre-filled; a new value makes a new version.
  await page.goto(credentialUrl);
  await page.getByRole("link", { name: "Edit" }).click();
  await page.getByLabel("Description", { exact: true }).fill("Used by the nightly payroll export");
  await page.getByRole("radio", { name: /^Enter a new value/ }).check();
  await expect(page.getByRole("textbox", { name: /^Username\b/ })).toHaveValue("payroll_app");
  await expect(page.getByLabel(/^Password\b/)).toHaveValue("");
  await page.getByLabel(/^Password\b/).fill(newSecret(TYPED_PREFIX));
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("Used by the nightly payroll export")).toBeVisible();
  result = await resolveTest(page);
  await expectFound(result, { version: "2", keys: "password, username", username: "payroll_app" });

  // The Vault store is in use, so it cannot be deleted; the dialog names the asset.
  await page.goto(`/stores/${store.id}`);
  await page.getByRole("button", { name: "Delete" }).click();
  await expect(page.getByRole("alertdialog")).toContainText("CRM API key");
  await expect(page.getByRole("button", { name: "Delete store" })).toBeDisabled();
  await page.getByRole("button", { name: "Cancel" }).click();

  // Delete the secret asset; the list no longer shows it.
  await page.goto(`/folders/${folderId}/assets`);
  await page.getByRole("link", { name: "CRM API key" }).click();
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("button", { name: "Delete asset" }).click();
  await expect(page).toHaveURL(new RegExp(`/folders/${folderId}/assets$`));
  await expect(page.getByRole("link", { name: "CRM API key" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Payroll database" })).toBeVisible();

  // No value ever reached the browser: neither the typed password nor the Vault secret.
  const all = await bodies.text();
  expect(all).toContain("payroll_app"); // positive control: the username (metadata) did
  expect(all).not.toContain(password);
  expect(all).not.toContain(VAULT_VALUE);
  expect(all).not.toContain(TYPED_PREFIX);
});

test("settings: Text, Integer and Boolean assets, with the Integer checked next to its field; type filter", async ({ page }) => {
  test.slow(); // four assets through the form
  const folderId = await createFolder(page, unique("Settings"));
  await openNewAsset(page, folderId);
  await page.getByRole("radio", { name: /^Integer/ }).check();
  await page.getByRole("textbox", { name: /^Name\b/ }).fill("Batch size");
  await page.getByRole("textbox", { name: /^Integer\b/ }).fill("12a");
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.getByRole("textbox", { name: /^Integer\b/ })).toHaveAttribute("aria-invalid", "true");
  await expect(page.locator("#asset-plain-value-error")).toHaveText("Enter a whole number, such as 42 or -7.");
  // The first refused field takes focus; the name before it was accepted.
  await expect(page.getByRole("textbox", { name: /^Integer\b/ })).toBeFocused();
  await page.getByRole("textbox", { name: /^Integer\b/ }).fill("042");
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Batch size", exact: true })).toBeVisible();
  // An asset's page belongs to its folder: the sidebar says the person is within Folders.
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Folders" })).toHaveAttribute("aria-current", "true");
  await expect(page.getByRole("main")).toContainText("42");
  await expect(page.getByRole("button", { name: "Resolve test" })).toHaveCount(0);

  await openNewAsset(page, folderId);
  await page.getByRole("radio", { name: /^Boolean/ }).check();
  await page.getByRole("textbox", { name: /^Name\b/ }).fill("Dry run");
  await page.getByRole("combobox", { name: "Boolean" }).click();
  await page.getByRole("option", { name: "True" }).click();
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dry run", exact: true })).toBeVisible();

  await openNewAsset(page, folderId);
  await page.getByRole("radio", { name: /^Text/ }).check();
  await page.getByRole("textbox", { name: /^Name\b/ }).fill("Report title");
  await page.getByRole("textbox", { name: "Text" }).fill("Monthly payroll");
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Report title", exact: true })).toBeVisible();

  // A duplicate name (any case) is refused next to the name.
  await openNewAsset(page, folderId);
  await page.getByRole("radio", { name: /^Text/ }).check();
  await page.getByRole("textbox", { name: /^Name\b/ }).fill("report TITLE");
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.locator("#asset-name-error")).toContainText("already exists");

  await page.goto(`/folders/${folderId}/assets`);
  await expect(page.getByRole("row")).toHaveCount(4); // header + three assets
  // The filter says what it shows before it is first opened, and after a reload.
  await expect(page.getByRole("combobox", { name: "Filter by type" })).toHaveText("All types");
  await page.getByRole("combobox", { name: "Filter by type" }).click();
  await page.getByRole("option", { name: "Integer" }).click();
  await expect(page).toHaveURL(/type=INTEGER/);
  await page.reload();
  await expect(page.getByRole("combobox", { name: "Filter by type" })).toHaveText("Integer");
  await expect(page.getByRole("row")).toHaveCount(2);
  await expect(page.getByRole("link", { name: "Batch size" })).toBeVisible();
  await page.getByRole("searchbox", { name: "Search assets" }).or(page.getByLabel("Search assets")).fill("nothing-like-this");
  await expect(page.getByText("No assets match")).toBeVisible();
});

/** Many assets at once, written straight to the console's database (creating 23 through the form adds nothing). */
async function insertTextAssets(folderId: string, names: string[]) {
  for (const name of names) {
    await queryConsoleDatabase("INSERT INTO credential_assets (id, folder_id, name, type, plain_value, updated_at) VALUES (gen_random_uuid(), $1, $2, 'TEXT', 'x', now())", [folderId, name]);
  }
}

test("the assets tab pages: 20 a page, the rest on page 2, and back", async ({ page }) => {
  const folderId = await createFolder(page, unique("Paged"));
  const names = Array.from({ length: 23 }, (_, i) => `Setting ${String(i + 1).padStart(2, "0")}`);
  await insertTextAssets(folderId, names);
  await page.goto(`/folders/${folderId}/assets`);
  const pagination = page.getByRole("navigation", { name: "Pagination" });
  await expect(pagination).toContainText("Showing 1–20 of 23");
  await expect(page.getByRole("row")).toHaveCount(21); // header + 20
  await expect(page.getByRole("link", { name: "Setting 20" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Setting 21" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Previous page" })).toHaveAttribute("aria-disabled", "true");

  await page.getByRole("link", { name: "Next page" }).click();
  await expect(page).toHaveURL(/[?&]page=2\b/);
  await expect(pagination).toContainText("Showing 21–23 of 23");
  await expect(page.getByRole("row")).toHaveCount(4);
  for (const name of names.slice(20)) await expect(page.getByRole("link", { name })).toBeVisible();
  await expect(page.getByRole("link", { name: "Setting 01" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Next page" })).toHaveAttribute("aria-disabled", "true");

  // A search narrows the list and starts again at page 1.
  await page.getByLabel("Search assets").fill("Setting 2");
  await expect(pagination).toContainText("Showing 1–4 of 4");
  await expect(page).not.toHaveURL(/[?&]page=2\b/);
  // Nothing matches: the empty state says so, with no pager under it.
  await page.getByLabel("Search assets").fill("no such setting");
  await expect(page.getByText("No assets match")).toBeVisible();
  await expect(page.getByRole("table")).toHaveCount(0);
  await expect(pagination).toHaveCount(0);

  await page.getByLabel("Search assets").fill("");
  await page.goto(`/folders/${folderId}/assets?page=2`);
  await page.getByRole("link", { name: "Previous page" }).click();
  await expect(pagination).toContainText("Showing 1–20 of 23");

  // A page past the end (an old link) goes to the last page there is, not to "No assets yet".
  await page.goto(`/folders/${folderId}/assets?page=5`);
  await expect(page).toHaveURL(/[?&]page=2\b/);
  await expect(pagination).toContainText("Showing 21–23 of 23");
  await expect(page.getByRole("link", { name: "Setting 23" })).toBeVisible();
});

test("someone without access to the folder gets the not-found page for its assets", async ({ page, browser }) => {
  const folderId = await createFolder(page, unique("Private"));
  await openNewAsset(page, folderId);
  await page.getByRole("radio", { name: /^Text/ }).check();
  await page.getByRole("textbox", { name: /^Name\b/ }).fill("Internal note");
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Internal note", exact: true })).toBeVisible();
  const assetUrl = new URL(page.url()).pathname;

  const outsider = await createUser(page);
  const other = await freshPage(browser);
  await signIn(other, outsider.email, outsider.password);
  for (const path of [assetUrl, `${assetUrl}/edit`, `/folders/${folderId}/assets`, `/folders/${folderId}/assets/new`]) {
    const response = await other.goto(path);
    expect(response?.status(), path).toBe(404);
    await expect(other.getByRole("heading", { name: /not found/i })).toBeVisible();
  }
  await other.context().close();
});

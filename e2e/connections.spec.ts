import { expect, test as base, type Page } from "@playwright/test";
import { startPasswordPostgres, type PasswordPostgres } from "../test/targets/postgres";
import { createFolder, createUser, dumpConsoleDatabase, expectNotInDump, freshPage, signIn, unique } from "./fixtures";

/**
 * The path a new user takes (reference doc, step 3): a folder's Connections tab → Add connection →
 * PostgreSQL → the password field's menu → Use credential asset → an asset from another folder →
 * Connect → connected, against a real password-auth PostgreSQL. The password is typed once, into
 * the asset, and never comes back in any response.
 */
const test = base.extend<object, { pg: PasswordPostgres }>({
  pg: [
    async ({}, use) => {
      const pg = await startPasswordPostgres();
      await use(pg);
      await pg.stop();
    },
    { scope: "worker", timeout: 120_000 },
  ],
});

function captureBodies(page: Page) {
  const bodies: string[] = [];
  page.on("response", async (response) => {
    try {
      bodies.push(await response.text());
    } catch {
      /* redirects have no body */
    }
  });
  return bodies;
}

async function createCredentialAsset(page: Page, folderId: string, name: string, username: string, password: string) {
  await page.goto(`/folders/${folderId}/assets/new`);
  await page.getByRole("textbox", { name: /^Name\b/ }).fill(name);
  await page.getByRole("textbox", { name: /^Username\b/ }).fill(username);
  await page.getByLabel(/^Password\b/).fill(password);
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
}

/** The test server speaks plain TCP on loopback; TLS is on by default and must be switched off. */
async function chooseTlsOff(page: Page) {
  await page.getByRole("combobox", { name: /^TLS\b/ }).click();
  await page.getByRole("option", { name: /^Off/ }).click();
}

async function openPostgresForm(page: Page, folderId: string) {
  await page.goto(`/folders/${folderId}/connections`);
  await page.getByRole("link", { name: "Add connection" }).first().click();
  await page.getByRole("link", { name: /PostgreSQL/ }).click();
  await expect(page.getByRole("heading", { name: "Add connection" })).toBeVisible();
}

test("connect PostgreSQL with a credential asset from another folder", async ({ page, pg }) => {
  const bodies = captureBodies(page);
  const secretsFolder = await createFolder(page, unique("Secrets"));
  const appsFolder = await createFolder(page, unique("Apps"));
  const assetName = unique("Payroll login");
  await createCredentialAsset(page, secretsFolder, assetName, pg.user, pg.password);
  bodies.length = 0; // the asset form posted the password once; from here on nothing may carry it

  await openPostgresForm(page, appsFolder);
  await page.getByRole("textbox", { name: /^Connection name\b/ }).fill("Payroll database");
  await page.getByRole("textbox", { name: /^Host\b/ }).fill(pg.host);
  await page.getByRole("spinbutton", { name: /^Port\b/ }).fill(String(pg.port));
  await page.getByRole("textbox", { name: /^Database\b/ }).fill(pg.database);
  await chooseTlsOff(page);
  await page.getByRole("button", { name: "Password options" }).click();
  await page.getByRole("menuitem", { name: "Use credential asset" }).click();

  const dialog = page.getByRole("dialog", { name: "Use credential asset" });
  await dialog.getByRole("combobox", { name: "Search assets" }).fill(assetName.split(" ").at(-1)!);
  const option = dialog.getByRole("option", { name: new RegExp(assetName) });
  await expect(option).toBeVisible();
  await expect(option).toContainText(/Secrets/);
  await expect(dialog.getByRole("option")).toHaveCount(1);
  await page.keyboard.press("Enter");
  await expect(dialog).toBeHidden();

  await expect(page.getByTestId("asset-chip-password")).toContainText(assetName);
  await expect(page.getByRole("checkbox", { name: /Fill “User” from this asset/ })).toBeChecked();
  await expect(page.getByRole("textbox", { name: /^User\b/ })).toHaveValue(`From “${assetName}”`);
  await page.getByRole("button", { name: "Connect" }).click();

  await expect(page.getByRole("heading", { level: 1, name: "Payroll database" })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText("Connected");
  await expect(page.getByRole("main")).toContainText("PostgreSQL");
  await expect(page.getByRole("link", { name: assetName })).toBeVisible();

  await page.getByRole("button", { name: "Reconnect" }).click();
  await expect(page.getByText("Connected.")).toBeVisible({ timeout: 30_000 });

  // The asset now lists where it is used, and cannot be deleted.
  await page.getByRole("link", { name: assetName }).click();
  await expect(page.getByRole("main")).toContainText("Payroll database");

  const all = bodies.join("\n");
  expect(all).toContain(assetName); // positive control
  expect(all).not.toContain(pg.password);

  // Nor is it anywhere in Latch's database: the asset's value is sealed, the connection holds a reference.
  const dump = await dumpConsoleDatabase();
  expect(dump).toContain("Payroll database"); // positive control
  expectNotInDump(dump, pg.password);
});

test("a wrong password fails with a precise reason and saves nothing", async ({ page, pg }) => {
  const folder = await createFolder(page, unique("Apps"));
  await openPostgresForm(page, folder);
  await page.getByRole("textbox", { name: /^Connection name\b/ }).fill("Wrong password");
  await page.getByRole("textbox", { name: /^Host\b/ }).fill(pg.host);
  await page.getByRole("spinbutton", { name: /^Port\b/ }).fill(String(pg.port));
  await page.getByRole("textbox", { name: /^Database\b/ }).fill(pg.database);
  await page.getByRole("textbox", { name: /^User\b/ }).fill(pg.user);
  await chooseTlsOff(page);
  await page.getByLabel(/^Password\*?$/).fill("definitely-not-the-password");
  await page.getByRole("button", { name: "Connect" }).click();
  const alert = page.getByRole("alert").filter({ hasText: "Could not connect" });
  await expect(alert).toContainText("Credentials rejected by the target", { timeout: 30_000 });
  await expect(alert).toContainText("Nothing was saved.");
  await page.goto(`/folders/${folder}/connections`);
  await expect(page.getByText("No connections yet")).toBeVisible();
});

test("the picker shows only folders where the person may use assets", async ({ page, browser }) => {
  const secrets = await createFolder(page, unique("Restricted"));
  const apps = await createFolder(page, unique("Apps"));
  const hidden = unique("Hidden login");
  await createCredentialAsset(page, secrets, hidden, "svc", "some-password-123");
  const person = await createUser(page);
  for (const [folderId, role] of [
    [secrets, "Viewer"],
    [apps, "Editor"],
  ] as const) {
    await page.goto(`/folders/${folderId}/members`);
    await page.getByRole("button", { name: "Add member" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("E-mail").fill(person.email);
    await dialog.getByRole("combobox", { name: "Role" }).click();
    await page.getByRole("option", { name: role }).click();
    await dialog.getByRole("button", { name: /Add member|Add/ }).click();
    await expect(dialog).toBeHidden();
  }
  const other = await freshPage(browser);
  await signIn(other, person.email, person.password);
  await openPostgresForm(other, apps);
  await other.getByRole("button", { name: "Password options" }).click();
  await other.getByRole("menuitem", { name: "Use credential asset" }).click();
  const dialog = other.getByRole("dialog", { name: "Use credential asset" });
  await dialog.getByRole("combobox", { name: "Search assets" }).fill(hidden.split(" ").at(-1)!);
  await expect(dialog.getByText(/No assets match/)).toBeVisible();
  await other.context().close();
});

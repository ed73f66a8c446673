import { randomUUID } from "node:crypto";
import { expect, type Locator, type Page } from "@playwright/test";
import { startPasswordPostgres, type PasswordPostgres } from "../test/targets/postgres";
import { addMember, captureBodies, chooseTlsOff, createCredentialAsset, createFolder, createUser, dumpConsoleDatabase, expectNotInDump, freshPage, newSecret, queryConsoleDatabase, registerSecret, signIn, test as base, unique } from "./fixtures";

/**
 * The path a new user takes (reference doc, step 3): a folder's Connections tab → Add connection →
 * PostgreSQL → the password field's menu → Use credential asset → an asset from another folder →
 * Connect → connected, against a real password-auth PostgreSQL. The password is typed once, into
 * the asset, and never comes back in any response. Then Edit, Reconnect and Delete; the picker's
 * keyboard use; and what a person without assets.use on a folder can (not) do with its assets.
 */
const test = base.extend<object, { pg: PasswordPostgres }>({
  pg: [
    async ({}, use) => {
      const pg = await startPasswordPostgres();
      registerSecret(pg.password, "password-auth PostgreSQL password");
      await use(pg);
      await pg.stop();
    },
    { scope: "worker", timeout: 120_000 },
  ],
});

async function openPostgresForm(page: Page, folderId: string) {
  await page.goto(`/folders/${folderId}/connections`);
  await page.getByRole("link", { name: "Add connection" }).first().click();
  await page.getByRole("link", { name: /PostgreSQL/ }).click();
  await expect(page.getByRole("heading", { name: "Add connection" })).toBeVisible();
}

async function fillPostgres(page: Page, pg: PasswordPostgres, name: string) {
  await page.getByRole("textbox", { name: /^Connection name\b/ }).fill(name);
  await page.getByRole("textbox", { name: /^Host\b/ }).fill(pg.host);
  await page.getByRole("spinbutton", { name: /^Port\b/ }).fill(String(pg.port));
  await page.getByRole("textbox", { name: /^Database\b/ }).fill(pg.database);
  await chooseTlsOff(page);
}

async function openPicker(page: Page) {
  await page.getByRole("button", { name: "Password options" }).click();
  await page.getByRole("menuitem", { name: "Use credential asset" }).click();
  return page.getByRole("dialog", { name: "Use credential asset" });
}

/** Types into the picker's search box and waits for the results for it (the listbox is busy until then). */
async function search(dialog: Locator, text: string) {
  await dialog.getByRole("combobox", { name: "Search assets" }).fill(text);
  await expect(dialog.getByRole("listbox", { name: "Assets" }).or(dialog.getByText(/No assets match/))).toBeVisible();
  await expect(dialog.getByRole("listbox", { name: "Assets" })).not.toHaveAttribute("aria-busy", "true");
}

/** The picker's folder filter, open (the results are a listbox too). */
const folderList = (page: Page) => page.getByRole("listbox").filter({ has: page.getByRole("option", { name: "All folders" }) });

const connectionsIn = async (folderId: string) =>
  Number((await queryConsoleDatabase<{ n: string }>("SELECT count(*) AS n FROM connections WHERE folder_id = $1", [folderId]))[0]!.n);

test("connect PostgreSQL with a credential asset from another folder, edit it, reconnect and delete it", async ({ page, pg }) => {
  test.slow(); // a long flow through several forms and targets
  const bodies = await captureBodies(page);
  const secretsFolder = await createFolder(page, unique("Secrets"));
  const appsFolder = await createFolder(page, unique("Apps"));
  const assetName = unique("Payroll login");
  await createCredentialAsset(page, secretsFolder, assetName, pg.user, pg.password);

  await openPostgresForm(page, appsFolder);
  await fillPostgres(page, pg, "Payroll database");
  // Opened from the link under the field and closed with Escape: focus goes back to the link, not elsewhere.
  const useLink = page.getByRole("button", { name: "Use credential asset for Password" });
  await useLink.focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("dialog", { name: "Use credential asset" })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("dialog", { name: "Use credential asset" })).toBeHidden();
  await expect(useLink).toBeFocused();
  const dialog = await openPicker(page);
  await search(dialog, assetName.split(" ").at(-1)!);
  const option = dialog.getByRole("option", { name: new RegExp(assetName) });
  await expect(option).toBeVisible();
  await expect(option).toContainText(/Secrets/);
  await expect(dialog.getByRole("option")).toHaveCount(1);
  // Each search's outcome is announced: the list itself is replaced silently.
  await expect(dialog.getByRole("status")).toHaveText(`1 asset matches “${assetName.split(" ").at(-1)!}”.`);
  await page.keyboard.press("Enter");
  await expect(dialog).toBeHidden();

  await expect(page.getByTestId("asset-chip-password")).toContainText(assetName);
  // The name is shown whole (wrapped if it must be), never cut with an ellipsis: it is what the person checks.
  expect(await page.getByTestId("asset-chip-password").getByText(assetName, { exact: true }).evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
  // Keyboard users carry on where they were: the field's Change button has focus, not the page.
  await expect(page.getByRole("button", { name: "Change the asset for Password" })).toBeFocused();
  await expect(page.getByRole("checkbox", { name: /Fill “User” from this asset/ })).toBeChecked();
  await expect(page.getByRole("textbox", { name: /^User\b/ })).toHaveValue(`From “${assetName}”`);
  // Change opens the picker at the asset in use, marked as such.
  await page.getByRole("button", { name: "Change the asset for Password" }).click();
  await search(dialog, assetName.split(" ").at(-1)!);
  await expect(dialog.getByRole("option", { selected: true })).toContainText(`${assetName}`);
  await expect(dialog.getByRole("option", { selected: true })).toContainText("In use here");
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await page.getByRole("button", { name: "Connect" }).click();

  await expect(page.getByRole("heading", { level: 1, name: "Payroll database" })).toBeVisible({ timeout: 30_000 });
  // The Connect button is gone with the form: focus goes to the new page's content, not back to the top.
  await expect(page.getByRole("main")).toBeFocused();
  await expect(page.getByRole("main")).toContainText("Connected");
  await expect(page.getByRole("main")).toContainText("PostgreSQL");
  await expect(page.getByRole("link", { name: assetName })).toBeVisible();
  const connectionUrl = page.url();

  await page.getByRole("button", { name: "Reconnect" }).click();
  await expect(page.getByText("Connected.")).toBeVisible({ timeout: 30_000 });

  // The asset now lists where it is used.
  await page.getByRole("link", { name: assetName }).click();
  await expect(page.getByRole("main")).toContainText("Payroll database");

  // Edit: the asset stays as it is unless replaced; saving reconnects and keeps the reference.
  await page.goto(connectionUrl);
  await page.getByRole("link", { name: "Edit" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Edit “Payroll database”" })).toBeVisible();
  await expect(page.getByTestId("asset-chip-password")).toContainText(assetName);
  await expect(page.getByRole("button", { name: "Change the asset for Password" })).toBeVisible();
  await expect(page.getByRole("checkbox", { name: /Fill “User” from this asset/ })).toBeChecked();
  await page.getByRole("textbox", { name: /^Connection name\b/ }).fill("Payroll database (primary)");
  await page.getByRole("button", { name: "Save and connect" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Payroll database (primary)" })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText("Connected");
  await expect(page.getByRole("link", { name: assetName })).toBeVisible();
  await expect(page.getByRole("main")).toContainText(`From the asset “${assetName}”`);

  // The asset is in use now: its page offers no Delete, and says why.
  await page.getByRole("link", { name: assetName }).click();
  await expect(page.getByRole("heading", { level: 1, name: assetName })).toBeVisible();
  await expect(page.getByText("Used by a connection (see “Where used”): it can be deleted once none uses it.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Delete" })).toHaveCount(0);
  await page.goBack();
  await expect(page.getByRole("heading", { level: 1, name: "Payroll database (primary)" })).toBeVisible();

  // Delete: confirmed in a dialog, then gone from the folder's list.
  await page.getByRole("button", { name: "Delete" }).click();
  const confirm = page.getByRole("alertdialog", { name: "Delete “Payroll database (primary)”?" });
  await confirm.getByRole("button", { name: "Delete connection" }).click();
  await expect(page).toHaveURL(new RegExp(`/folders/${appsFolder}/connections$`));
  await expect(page.getByText("No connections yet")).toBeVisible();
  expect(await connectionsIn(appsFolder)).toBe(0);

  const all = await bodies.text();
  expect(all).toContain(assetName); // positive control
  expect(all.includes(pg.password), "a response carried the password").toBe(false);

  // Nor is it anywhere in Latch's database: the asset's value is sealed, the connection held a reference.
  const dump = await dumpConsoleDatabase();
  expect(dump).toContain("Payroll database"); // positive control
  expectNotInDump(dump, pg.password, "the PostgreSQL password");
});

test("errors of a refused Connect go once the field they were about is filled from an asset", async ({ page, pg }) => {
  const secretsFolder = await createFolder(page, unique("Secrets"));
  const apps = await createFolder(page, unique("Apps"));
  const assetName = unique("Errors login");
  await createCredentialAsset(page, secretsFolder, assetName, pg.user, pg.password);

  await openPostgresForm(page, apps);
  await page.getByRole("textbox", { name: /^Connection name\b/ }).fill("Errors");
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByText("Enter the user name.")).toBeVisible();
  await expect(page.getByText("Enter password, or use a credential asset.")).toBeVisible();

  // The asset now fills both Password and User: neither old error may stay, nor move above the form.
  const dialog = await openPicker(page);
  await search(dialog, assetName.split(" ").at(-1)!);
  await dialog.getByRole("option", { name: new RegExp(assetName) }).click();
  await expect(page.getByTestId("asset-chip-password")).toContainText(assetName);
  await expect(page.getByText("Enter password, or use a credential asset.")).toBeHidden();
  await expect(page.getByText("Enter the user name.")).toBeHidden();
  await expect(page.getByRole("alert").filter({ hasText: "Could not create the connection" })).toHaveCount(0);
  // The errors of fields still empty stay by them.
  await expect(page.getByText("Enter the database name.")).toBeVisible();
});

test("removing a field's asset returns it to Enter value; the folder's list shows when each connection last connected and which fields use assets", async ({ page, pg }) => {
  test.slow(); // a long flow through several forms and targets
  const secretsFolder = await createFolder(page, unique("Secrets"));
  const apps = await createFolder(page, unique("Apps"));
  const assetName = unique("Billing login");
  await createCredentialAsset(page, secretsFolder, assetName, pg.user, pg.password);

  // Pick the asset, then remove it again: the chip goes and the field is a plain password input.
  await openPostgresForm(page, apps);
  await fillPostgres(page, pg, "Billing typed");
  let dialog = await openPicker(page);
  await search(dialog, assetName.split(" ").at(-1)!);
  await dialog.getByRole("option", { name: new RegExp(assetName) }).click();
  const chip = page.getByTestId("asset-chip-password");
  await expect(chip).toContainText(assetName);
  await expect(page.getByRole("textbox", { name: /^User\b/ })).toHaveValue(`From “${assetName}”`);
  await page.getByRole("button", { name: "Remove the asset from Password" }).click();
  await expect(chip).toBeHidden();
  await expect(page.getByRole("button", { name: "Change the asset for Password" })).toBeHidden();
  await expect(page.getByRole("checkbox", { name: /Fill “User” from this asset/ })).toBeHidden();
  const password = page.getByLabel(/^Password\*?$/);
  await expect(password).toBeEditable();
  await expect(password).toHaveValue("");
  // The Remove button went with the chip: focus is on the input that took its place, not the page.
  await expect(password).toBeFocused();
  await expect(page.getByRole("button", { name: "Password options" })).toBeVisible();
  const user = page.getByRole("textbox", { name: /^User\b/ });
  await expect(user).toBeEditable();
  await expect(user).toHaveValue("");
  // What is typed now is what Connect uses: no asset reference is left behind.
  await user.fill(pg.user);
  await password.fill(pg.password);
  // Choosing Enter value again while typing one keeps what was typed.
  await page.getByRole("button", { name: "Password options" }).click();
  await page.getByRole("menuitem", { name: "Enter value" }).click();
  await expect(password).toHaveValue(pg.password);
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Billing typed" })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText("Typed value (hidden, stored encrypted)");

  // A second connection keeps the asset.
  await openPostgresForm(page, apps);
  await fillPostgres(page, pg, "Billing from asset");
  dialog = await openPicker(page);
  await search(dialog, assetName.split(" ").at(-1)!);
  await dialog.getByRole("option", { name: new RegExp(assetName) }).click();
  await expect(chip).toContainText(assetName);
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Billing from asset" })).toBeVisible({ timeout: 30_000 });

  await page.goto(`/folders/${apps}/connections`);
  const table = page.getByRole("table", { name: "Connections" });
  // allTextContents() does not wait: let the list render (both rows) before reading its headers.
  await expect(table.getByRole("row").filter({ has: page.getByRole("link", { name: "Billing typed", exact: true }) })).toBeVisible();
  const headers = await table.getByRole("columnheader").allTextContents();
  const column = (header: string) => {
    const index = headers.map((h) => h.trim()).indexOf(header);
    expect(index, `column “${header}” in ${JSON.stringify(headers)}`).toBeGreaterThanOrEqual(0);
    return index;
  };
  const cell = (name: string, header: string) => table.getByRole("row").filter({ has: page.getByRole("link", { name, exact: true }) }).getByRole("cell").nth(column(header));
  const connectedAt = await queryConsoleDatabase<{ name: string; last_connected_at: Date }>("SELECT name, last_connected_at FROM connections WHERE folder_id = $1", [apps]);
  expect(connectedAt.map((c) => c.name).sort()).toEqual(["Billing from asset", "Billing typed"]);
  for (const c of connectedAt) {
    expect(c.last_connected_at).toBeInstanceOf(Date);
    // In the browser's own time zone, in the console's one format.
    const zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
    await expect(cell(c.name, "Last connected")).toHaveText(new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "short", timeZone: zone }).format(c.last_connected_at));
  }
  // The Credential asset fills the user name too.
  await expect(cell("Billing from asset", "Uses assets for")).toHaveText("User, Password");
  await expect(cell("Billing typed", "Uses assets for")).toHaveText("—");
});

test("a typed password is never shown again: Edit leaves the field empty and keeps it", async ({ page, pg }) => {
  const bodies = await captureBodies(page);
  const folder = await createFolder(page, unique("Apps"));
  await openPostgresForm(page, folder);
  await fillPostgres(page, pg, "Reporting database");
  await page.getByRole("textbox", { name: /^User\b/ }).fill(pg.user);
  await page.getByLabel(/^Password\*?$/).fill(pg.password);
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Reporting database" })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText("Typed value (hidden, stored encrypted)");

  await page.getByRole("link", { name: "Edit" }).click();
  const password = page.getByLabel(/^Password\*?$/);
  await expect(password).toHaveValue("");
  await expect(password).toHaveAttribute("placeholder", "Stored value kept");
  for (const input of await page.locator("input").all()) expect(await input.inputValue()).not.toContain(pg.password);
  await page.getByRole("textbox", { name: /^Connection name\b/ }).fill("Reporting database (kept)");
  await page.getByRole("button", { name: "Save and connect" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Reporting database (kept)" })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText("Connected");

  // From the keyboard: while it works the button is busy, not disabled, so focus stays on it.
  await page.getByRole("button", { name: "Reconnect" }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByText("Connected.")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("button", { name: "Reconnect" })).toBeFocused();
  expect((await bodies.text()).includes(pg.password), "a response carried the password").toBe(false);
});

test("a connection's pages answer 404 to whoever may not see or change it, with titles that name what is open", async ({ page, browser, pg }) => {
  const folderName = unique("Apps");
  const folder = await createFolder(page, folderName);
  await openPostgresForm(page, folder);
  await expect(page).toHaveTitle(`Add connection · ${folderName} · Latch`);
  await fillPostgres(page, pg, "Ledger database");
  await page.getByRole("textbox", { name: /^User\b/ }).fill(pg.user);
  await page.getByLabel(/^Password\*?$/).fill(pg.password);
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Ledger database" })).toBeVisible({ timeout: 30_000 });
  await expect(page).toHaveTitle("Ledger database · Latch");
  const connection = new URL(page.url()).pathname;
  await page.goto(`${connection}/edit`);
  await expect(page).toHaveTitle("Edit Ledger database · Latch");

  const viewer = await createUser(page);
  await addMember(page, folder, viewer.email, "Viewer");
  const outsider = await createUser(page);
  for (const [person, pages] of [
    [viewer, { [connection]: 200, [`${connection}/edit`]: 404, [`/folders/${folder}/connections/new`]: 404, [`/folders/${folder}/audit`]: 404, [`/folders/${folder}/connections`]: 200 }],
    [outsider, { [connection]: 404, [`${connection}/edit`]: 404, [`/folders/${folder}/connections/new`]: 404 }],
  ] as const) {
    const other = await freshPage(browser);
    try {
      await signIn(other, person.email, person.password);
      for (const [path, status] of Object.entries(pages)) {
        // Decided before the page streams: a refusal is a real 404, not a 200 carrying the not-found page.
        expect((await other.goto(path))?.status(), path).toBe(status);
        if (status === 404) await expect(other.getByRole("heading", { level: 1 })).toContainText(/not found/i);
      }
      if (person === viewer) {
        // The Viewer is told why the connection's actions are not there.
        await other.goto(connection);
        await expect(other.getByText("View only: reconnecting or changing it needs the Editor role in its folder.")).toBeVisible();
        await expect(other.getByRole("button", { name: "Reconnect" })).toHaveCount(0);
      }
    } finally {
      await other.context().close();
    }
  }
});

test("a wrong password fails with a precise reason and saves nothing", async ({ page, pg }) => {
  const folder = await createFolder(page, unique("Apps"));
  await openPostgresForm(page, folder);
  await fillPostgres(page, pg, "Wrong password");
  await page.getByRole("textbox", { name: /^User\b/ }).fill(pg.user);
  await page.getByLabel(/^Password\*?$/).fill(newSecret("not-the-password"));
  await page.getByRole("button", { name: "Connect" }).click();
  const alert = page.getByRole("alert").filter({ hasText: "Could not connect" });
  await expect(alert).toContainText("Credentials rejected by the target", { timeout: 30_000 });
  await expect(alert).toContainText("Nothing was saved.");
  await page.goto(`/folders/${folder}/connections`);
  await expect(page.getByText("No connections yet")).toBeVisible();
});

test("the picker: arrows move, Enter picks, Esc and the close button cancel; keys elsewhere keep their meaning", async ({ page, pg }) => {
  test.slow(); // a long flow through several forms and targets
  const keys = await createFolder(page, unique("Keys"));
  const apps = await createFolder(page, unique("Apps"));
  const tag = `K${randomUUID().slice(0, 6)}`;
  await createCredentialAsset(page, keys, `${tag} a-first`, pg.user, newSecret("picker-first"));
  await createCredentialAsset(page, keys, `${tag} b-second`, pg.user, newSecret("picker-second"));
  // More results than one page (20): settings, listed but not selectable.
  for (let i = 1; i <= 22; i++) {
    await queryConsoleDatabase("INSERT INTO credential_assets (id, folder_id, name, type, plain_value, updated_at) VALUES (gen_random_uuid(), $1, $2, 'TEXT', 'x', now())", [
      keys,
      `${tag} t-${String(i).padStart(2, "0")}`,
    ]);
  }

  await openPostgresForm(page, apps);
  let dialog = await openPicker(page);
  const searchBox = dialog.getByRole("combobox", { name: "Search assets" });
  await expect(searchBox).toBeFocused();
  await search(dialog, tag);
  const options = dialog.getByRole("option");
  await expect(options).toHaveCount(20);
  const first = options.filter({ hasText: `${tag} a-first` });
  const second = options.filter({ hasText: `${tag} b-second` });
  await expect(first).toHaveAttribute("aria-selected", "true");
  await page.keyboard.press("ArrowDown");
  await expect(second).toHaveAttribute("aria-selected", "true");
  await expect(searchBox).toHaveAttribute("aria-activedescendant", (await second.getAttribute("id"))!);
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowUp");
  await expect(second).toHaveAttribute("aria-selected", "true");
  await page.keyboard.press("Enter");
  await expect(dialog).toBeHidden();
  const chip = page.getByTestId("asset-chip-password");
  await expect(chip).toContainText(`${tag} b-second`);

  // Esc closes without a change.
  await page.getByRole("button", { name: "Change the asset for Password" }).click();
  dialog = page.getByRole("dialog", { name: "Use credential asset" });
  await search(dialog, tag);
  // It opens at the asset in use.
  await expect(dialog.getByRole("option").filter({ hasText: `${tag} b-second` })).toHaveAttribute("aria-selected", "true");
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(chip).toContainText(`${tag} b-second`);

  // Enter on "Load more" loads the next page; Enter in the folder filter chooses a folder; neither picks.
  await page.getByRole("button", { name: "Change the asset for Password" }).click();
  await search(dialog, tag);
  await expect(dialog.getByRole("option")).toHaveCount(20);
  await dialog.getByRole("button", { name: "Load more" }).focus();
  await page.keyboard.press("Enter");
  await expect(dialog.getByRole("option")).toHaveCount(24);
  await expect(dialog).toBeVisible();
  const folderFilter = dialog.getByRole("combobox", { name: "Folder" });
  await folderFilter.focus();
  await page.keyboard.press("Enter");
  const listbox = folderList(page);
  await expect(listbox.getByRole("option", { name: "All folders" })).toBeFocused();
  await page.keyboard.press("ArrowDown");
  await expect(listbox.getByRole("option").nth(1)).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(listbox).toBeHidden();
  await expect(dialog).toBeVisible();
  await expect(folderFilter).not.toHaveText("All folders");
  // Enter on the close button closes, and picks nothing.
  await dialog.getByRole("button", { name: "Close" }).focus();
  await page.keyboard.press("Enter");
  await expect(dialog).toBeHidden();
  await expect(chip).toContainText(`${tag} b-second`);

  // Enter straight after typing picks the first result for what was typed, once it is in, that can
  // fill the field: a Text asset listed above it is passed over.
  await queryConsoleDatabase("UPDATE credential_assets SET name = $1 WHERE folder_id = $2 AND name = $3", [`${tag} a-0 text`, keys, `${tag} t-01`]);
  await page.getByRole("button", { name: "Change the asset for Password" }).click();
  await dialog.getByRole("combobox", { name: "Search assets" }).fill(`${tag} a-`);
  await page.keyboard.press("Enter");
  await expect(dialog).toBeHidden();
  await expect(chip).toContainText(`${tag} a-first`);
});

test("the picker offers only assets and folders the person may use; a forged Connect with another asset saves nothing", async ({ page, browser, pg }) => {
  test.slow(); // a long flow through several forms and targets
  const restricted = await createFolder(page, unique("Restricted"));
  const ownName = unique("Own secrets");
  const own = await createFolder(page, ownName);
  const appsName = unique("Apps");
  const apps = await createFolder(page, appsName);
  const tag = unique("login").split(" ")[1]!;
  const hiddenId = await createCredentialAsset(page, restricted, `Hidden ${tag}`, pg.user, pg.password);
  await createCredentialAsset(page, own, `Usable ${tag}`, "svc", newSecret("usable-asset-password"));
  const person = await createUser(page);
  registerSecret(person.password, "a person's password");
  await addMember(page, restricted, person.email, "Viewer");
  await addMember(page, own, person.email, "Editor");
  await addMember(page, apps, person.email, "Editor");

  const other = await freshPage(browser);
  try {
    await signIn(other, person.email, person.password);
    await openPostgresForm(other, apps);
    await fillPostgres(other, pg, "Forged");
    const dialog = await openPicker(other);
    await search(dialog, tag);
    // Positive control: the asset in a folder the person may use is there; the other is not.
    await expect(dialog.getByRole("option", { name: new RegExp(`Usable ${tag}`) })).toBeVisible();
    await expect(dialog.getByRole("option")).toHaveCount(1);
    // The folder filter lists exactly the folders where the person may use assets.
    const folderFilter = dialog.getByRole("combobox", { name: "Folder" });
    await folderFilter.click();
    await expect(folderList(other).getByRole("option")).toHaveText(["All folders", appsName, ownName]);
    await other.keyboard.press("Escape");
    await dialog.getByRole("option", { name: new RegExp(`Usable ${tag}`) }).click();
    await expect(dialog).toBeHidden();

    // The browser's Connect request is rewritten to reference the hidden asset: the server refuses it.
    let forged = false;
    await other.route("**/*", async (route) => {
      const request = route.request();
      const body = request.postData() ?? "";
      if (request.method() === "POST" && request.headers()["next-action"] && body.includes('"mode":"asset"')) {
        const visibleId = /"assetId":"([0-9a-f-]{36})"/.exec(body)?.[1];
        if (visibleId && visibleId !== hiddenId) {
          forged = true;
          return route.continue({ postData: body.replaceAll(visibleId, hiddenId) });
        }
      }
      return route.continue();
    });
    await other.getByRole("button", { name: "Connect" }).click();
    const alert = other.getByRole("alert").filter({ hasText: "Could not create the connection" });
    await expect(alert).toContainText("Credential asset was not found.");
    await expect(alert).toContainText("Nothing was saved.");
    expect(forged).toBe(true);
    // A lasting alert in the form, not only a toast; and nothing was saved.
    await expect(other.locator("form").getByRole("alert").filter({ hasText: "Credential asset was not found." })).toBeVisible();
    expect(await connectionsIn(apps)).toBe(0);
    // Where the person is a Viewer, the asset's page says why it offers no actions.
    await other.goto(`/assets/${hiddenId}`);
    await expect(other.getByText("View only: changing it needs the Editor role in its folder.")).toBeVisible();
  } finally {
    await other.context().close();
  }
});

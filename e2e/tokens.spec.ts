import { randomUUID } from "node:crypto";
import { expect, request as playwrightRequest } from "@playwright/test";
import { addMember, chooseTokenFolder, createFolder, createTokenIn, createUser, dumpConsoleDatabase, expectNotInDump, freshPage, heapHolds, holdServerActions, registerApiToken, signIn, test, unique } from "./fixtures";

/**
 * API tokens end to end: created in the console, shown once, used by a client that has no session,
 * refused outside their folder and after revocation.
 */
async function apiClient(baseURL: string) {
  // No cookies: the token alone must authenticate.
  return playwrightRequest.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
}

test("a service account's token works in its folder only, is never shown again, and stops when revoked", async ({ page, baseURL }) => {
  const folderName = unique("Runner home");
  const folderId = await createFolder(page, folderName);
  const otherId = await createFolder(page, unique("Elsewhere"));

  await page.goto("/tokens");
  await page.getByRole("button", { name: "New service account" }).first().click();
  const saDialog = page.getByRole("dialog", { name: "New service account" });
  const account = unique("runner");
  await saDialog.getByLabel("Name").fill(account);
  await saDialog.getByRole("button", { name: "Create service account" }).click();
  await expect(saDialog).toBeHidden();

  const card = page.locator('[data-slot="card"]', { has: page.getByRole("heading", { name: account, exact: true }) });
  // Keyboard users go on from the new account: its New token button has focus, not the page.
  await expect(card.getByRole("button", { name: "New token" })).toBeFocused();
  await card.getByRole("button", { name: "New token" }).click();
  const tokenName = unique("deploy");
  const token = await createTokenIn(page, folderName, tokenName);

  await expect(card.getByText(tokenName)).toBeVisible();
  await expect(page.getByText(token)).toHaveCount(0);

  const api = await apiClient(baseURL!);
  const auth = { Authorization: `Bearer ${token}` };
  // A client naming its own address is not believed: the server appends the peer it sees (server.mjs).
  expect((await api.get(`/api/v1/folders/${folderId}`, { headers: { ...auth, "X-Forwarded-For": "203.0.113.7" } })).status()).toBe(200);
  expect((await api.get(`/api/v1/folders/${otherId}`, { headers: auth })).status()).toBe(404);
  const list = await (await api.get("/api/v1/folders", { headers: auth })).json();
  expect(list.folders.map((f: { id: string }) => f.id)).toEqual([folderId]);
  expect((await api.get("/api/v1/folders")).status()).toBe(401);

  await page.reload();
  await expect(card.getByText("from 127.0.0.1")).toBeVisible();
  await expect(page.getByText("203.0.113.7")).toHaveCount(0);

  const dump = await dumpConsoleDatabase();
  expectNotInDump(dump, token);
  expectNotInDump(dump, token.slice(12));

  await card.getByRole("button", { name: new RegExp(`^Revoke token ${tokenName}`) }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Revoke token" }).click();
  await expect(card.getByText("Revoked")).toBeVisible();
  const refused = await api.get(`/api/v1/folders/${folderId}`, { headers: auth });
  expect(refused.status()).toBe(401);
  expect(refused.headers()["www-authenticate"]).toContain("Bearer");
  // The invoke route, which the server answers without Next's router, refuses it too, at once.
  const invoke = await api.post(`/api/v1/connections/${randomUUID()}/invoke`, { headers: auth, data: { operation: "query", input: {} } });
  expect(invoke.status()).toBe(401);
  expect((await invoke.json()).error.message).toBe("This API token has been revoked.");
  await api.dispose();

  // The audit log tells the token's story in words: the account by name, no JSON.
  await page.goto(`/audit?q=${encodeURIComponent(tokenName)}`);
  const created = page.getByRole("table", { name: "Audit events" }).getByRole("row", { name: /api_token\.create/ });
  await expect(created).toContainText(`API token ${tokenName}`);
  await expect(created).toContainText(`Service account: ${account}`);
  await expect(created).toContainText("permissions folders.read, connections.use");
  await expect(created).not.toContainText("{");

  // On a phone-width window the page fits: the token table scrolls inside its card.
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto("/tokens");
  await expect(page.getByRole("heading", { level: 3, name: account })).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
});

test("a personal access token from Settings acts as its owner within its scope", async ({ page, baseURL }) => {
  const folderName = unique("Mine");
  const folderId = await createFolder(page, folderName);
  await page.goto("/settings");
  const section = page.locator("#personal-tokens");
  await section.getByRole("button", { name: "New token" }).click();
  const tokenName = unique("laptop script");
  const token = await createTokenIn(page, folderName, tokenName);
  await expect(section.getByText(tokenName)).toBeVisible();
  // Gone from the page once copied: no cache of the page's scripts keeps the only copy either.
  // (The positive control: the name it was created with is still on the page, so in the heap.)
  expect(await heapHolds(page, tokenName)).toBe(true);
  // (Polled: the page's refresh after the change may still be settling on a busy machine.)
  await expect.poll(() => heapHolds(page, token.slice(12)), { timeout: 20_000 }).toBe(false);

  const api = await apiClient(baseURL!);
  expect((await api.get(`/api/v1/folders/${folderId}`, { headers: { Authorization: `Bearer ${token}` } })).status()).toBe(200);
  // Administrator or not, a token never reaches the admin areas.
  expect((await api.post("/api/v1/folders", { headers: { Authorization: `Bearer ${token}` }, data: { name: "Top", parentId: null } })).status()).toBe(404);

  await section.getByRole("button", { name: new RegExp(`^Revoke token ${tokenName}`) }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Revoke token" }).click();
  await expect(section.getByText("Revoked")).toBeVisible();
  expect((await api.get(`/api/v1/folders/${folderId}`, { headers: { Authorization: `Bearer ${token}` } })).status()).toBe(401);
  await api.dispose();
});

test("a service account's token can carry only the metrics permission: Prometheus reads /api/metrics with it, and it opens no folder", async ({ page, baseURL }) => {
  await page.goto("/tokens");
  await page.getByRole("button", { name: "New service account" }).first().click();
  const saDialog = page.getByRole("dialog", { name: "New service account" });
  const account = unique("prometheus");
  await saDialog.getByLabel("Name").fill(account);
  await saDialog.getByRole("button", { name: "Create service account" }).click();
  await expect(saDialog).toBeHidden();

  const card = page.locator('[data-slot="card"]', { has: page.getByRole("heading", { name: account, exact: true }) });
  await card.getByRole("button", { name: "New token" }).click();
  const dialog = page.getByRole("dialog");
  const tokenName = unique("scrape");
  await dialog.getByLabel("Name").fill(tokenName);
  await dialog.getByRole("checkbox", { name: /Read metrics/ }).check();
  await page.screenshot({ path: "e2e/.output/metrics-token-dialog.png" });
  await dialog.getByRole("button", { name: "Create token" }).click();
  await expect(dialog.getByText("you will not see it again")).toBeVisible();
  // Focus is on what to do next, not lost with the form's button.
  await expect(dialog.getByRole("button", { name: "Copy token" })).toBeFocused();
  const token = registerApiToken(await dialog.getByLabel("Token", { exact: true }).inputValue(), `tokens.spec: the metrics token ${tokenName}`);
  await dialog.getByRole("button", { name: "I have copied it" }).click();
  await expect(card.getByText("Read metrics (/api/metrics)")).toBeVisible();

  const api = await apiClient(baseURL!);
  const auth = { Authorization: `Bearer ${token}` };
  const scraped = await api.get("/api/metrics", { headers: auth });
  expect(scraped.status()).toBe(200);
  expect(await scraped.text()).toContain("latch_invokes_total");
  expect((await api.get("/api/metrics")).status()).toBe(401);
  // Tenant-wide for metrics, nothing else: it sees no folder.
  expect((await (await api.get("/api/v1/folders", { headers: auth })).json()).folders).toEqual([]);

  await card.getByRole("button", { name: new RegExp(`^Revoke token ${tokenName}`) }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Revoke token" }).click();
  await expect(card.getByText("Revoked")).toBeVisible();
  expect((await api.get("/api/metrics", { headers: auth })).status()).toBe(401);
  await api.dispose();
});

test("a token being created keeps its dialog open until it exists, and is then shown in it", async ({ page }) => {
  const folderName = unique("Slow network");
  await createFolder(page, folderName);
  await page.goto("/settings");
  await page.locator("#personal-tokens").getByRole("button", { name: "New token" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Name").fill(unique("held"));
  await chooseTokenFolder(page, folderName);
  await dialog.getByRole("checkbox", { name: /Use connections/ }).check();

  const actions = await holdServerActions(page);
  await dialog.getByRole("button", { name: "Create token" }).click();
  await expect(dialog.getByRole("button", { name: "Creating…" })).toBeVisible();
  // Closed now, the token would be created with nobody to see its only copy.
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeDisabled();
  await expect(dialog.getByRole("button", { name: "Close" })).toBeDisabled();
  await page.keyboard.press("Escape");
  await page.mouse.click(4, 4);
  await expect(dialog).toHaveAttribute("data-state", "open");
  actions.release();
  await expect(dialog.getByText("you will not see it again")).toBeVisible();
  registerApiToken(await dialog.getByLabel("Token", { exact: true }).inputValue(), "tokens.spec: a token created on a slow network");
  await dialog.getByRole("button", { name: "I have copied it" }).click();
  await expect(dialog).toBeHidden();
});

test("New service account opens blank after a cancel; disabling asks first; once one is deleted, focus goes to the Service accounts heading", async ({ page }) => {
  await page.goto("/tokens");
  const saDialog = page.getByRole("dialog", { name: "New service account" });
  await page.getByRole("button", { name: "New service account" }).first().click();
  await saDialog.getByLabel("Name").fill("abandoned-runner");
  await saDialog.getByLabel("Description").fill("Typed, then cancelled.");
  await saDialog.getByRole("button", { name: "Close" }).click();
  await expect(saDialog).toBeHidden();
  // Keyboard users carry on from where they were, not from the top of the page.
  await expect(page.getByRole("button", { name: "New service account" }).first()).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(saDialog.getByLabel("Name")).toHaveValue("");
  await expect(saDialog.getByLabel("Description")).toHaveValue("");

  const account = unique("short-lived");
  await saDialog.getByLabel("Name").fill(account);
  await saDialog.getByRole("button", { name: "Create service account" }).click();
  await expect(saDialog).toBeHidden();
  const card = page.locator('[data-slot="card"]', { has: page.getByRole("heading", { name: account, exact: true }) });
  // Disabling stops every runner using its tokens: it is asked first, and Cancel changes nothing.
  await card.getByRole("button", { name: `Actions for ${account}` }).click();
  await page.getByRole("menuitem", { name: "Disable" }).click();
  const disable = page.getByRole("alertdialog", { name: `Disable ${account}?` });
  await expect(disable).toContainText("refused until you enable it again");
  await disable.getByRole("button", { name: "Cancel" }).click();
  await expect(disable).toBeHidden();
  // Read again from the server: the badge was absent before the Cancel too.
  await page.reload();
  await expect(card.getByRole("heading", { name: account, exact: true })).toBeVisible();
  await expect(card.getByText("Disabled: tokens refused")).toHaveCount(0);
  await card.getByRole("button", { name: `Actions for ${account}` }).click();
  await page.getByRole("menuitem", { name: "Disable" }).click();
  await disable.getByRole("button", { name: "Disable service account" }).click();
  await expect(card.getByText("Disabled: tokens refused")).toBeVisible();
  await card.getByRole("button", { name: `Actions for ${account}` }).click();
  await page.getByRole("menuitem", { name: "Enable" }).click();
  await expect(card.getByText("Disabled: tokens refused")).toHaveCount(0);
  await card.getByRole("button", { name: `Actions for ${account}` }).click();
  await page.getByRole("menuitem", { name: "Delete" }).click();
  await page.getByRole("alertdialog", { name: `Delete ${account}?` }).getByRole("button", { name: "Delete service account" }).click();
  await expect(card).toHaveCount(0);
  // Its card, and the Actions button focus went back to, are gone: focus is on the section, not the page.
  await expect(page.getByRole("heading", { level: 2, name: "Service accounts" })).toBeFocused();
});

test("after a token is revoked, focus goes on to the next token's Revoke button, and after the last one to the section's title", async ({ page, browser }) => {
  test.slow(); // a person of their own, so that the list holds only this test's tokens
  const folderName = unique("Scripts");
  const folderId = await createFolder(page, folderName);
  const person = await createUser(page);
  await addMember(page, folderId, person.email, "Editor");
  const p = await freshPage(browser);
  await signIn(p, person.email, person.password);
  await p.goto("/settings");
  const section = p.locator("#personal-tokens");
  const names = [unique("first script"), unique("second script")];
  for (const name of names) {
    await section.getByRole("button", { name: "New token" }).click();
    await createTokenIn(p, folderName, name);
    await expect(section.getByText(name)).toBeVisible();
  }
  const revoke = (name: string) => section.getByRole("button", { name: new RegExp(`^Revoke token ${name}`) });

  await revoke(names[0]!).click();
  await p.getByRole("alertdialog").getByRole("button", { name: "Revoke token" }).click();
  await expect(revoke(names[0]!)).toHaveCount(0);
  await expect(revoke(names[1]!)).toBeFocused();

  await p.keyboard.press("Enter");
  await p.getByRole("alertdialog").getByRole("button", { name: "Revoke token" }).click();
  await expect(revoke(names[1]!)).toHaveCount(0);
  await expect(section.getByText("Personal access tokens", { exact: true })).toBeFocused();
});

import { expect, type Locator, type Page } from "@playwright/test";

/** Steps through the asset pages shared by the asset specs (assets.spec.ts, asset-kinds.spec.ts). */

export async function openNewAsset(page: Page, folderId: string) {
  await page.goto(`/folders/${folderId}/assets`);
  await page.getByRole("link", { name: "Add asset" }).first().click();
  // Said once, as the tab's link and the tab's title say it (not "Add asset" over a "New asset" card).
  await expect(page.getByRole("heading", { name: /asset$/i })).toHaveText(["Add asset", "Asset"]);
  await expect(page).toHaveTitle(/^Add asset · /);
}

export async function chooseStore(page: Page, name: RegExp) {
  await page.getByRole("combobox", { name: "Credential store" }).click();
  await page.getByRole("option", { name }).click();
}

/**
 * The Resolve test's metadata, field by field: Version, Updated, Keys present (and Username for
 * credentials). `updated` defaults to a date; stores that report no update time show "—".
 */
export async function expectFound(result: Locator, expected: { version: string; keys: string; username?: string; updated?: RegExp | string }) {
  await expect(result).toContainText("Found the secret");
  await expect(result.locator("dt")).toHaveText(["Version", "Updated", "Keys present", ...(expected.username === undefined ? [] : ["Username"])]);
  const values = result.locator("dd");
  await expect(values.nth(0)).toHaveText(expected.version);
  await expect(values.nth(1)).toHaveText(expected.updated ?? /\d/);
  await expect(values.nth(2)).toHaveText(expected.keys);
  if (expected.username !== undefined) await expect(values.nth(3)).toHaveText(expected.username);
}

export async function resolveTest(page: Page) {
  await page.getByRole("button", { name: "Resolve test" }).click();
  const result = page.getByRole("status", { name: "Resolve test result" }).or(page.getByRole("alert", { name: "Resolve test result" }));
  await expect(result).toBeVisible({ timeout: 30_000 });
  return result;
}

/** Deletes the asset from its own page; back on the folder's list, it is gone. */
export async function deleteAsset(page: Page, folderId: string, name: string) {
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("button", { name: "Delete asset" }).click();
  await expect(page).toHaveURL(new RegExp(`/folders/${folderId}/assets$`));
  await expect(page.getByRole("link", { name, exact: true })).toHaveCount(0);
}

import { randomUUID } from "node:crypto";
import AxeBuilder from "@axe-core/playwright";
import { expect, type Page } from "@playwright/test";
import { chooseTlsOff, createCredentialAsset, createFolder, createUser, freshPage, newSecret, pickAsset, test, unique } from "./fixtures";

/**
 * Every page and the main dialogs, with data in them, checked by axe-core against WCAG 2.2 A and AA
 * (names, roles, labels, contrast, landmarks, focusable hidden content, ...), in the light theme and
 * in the dark one. The specs already select by role and label; this catches what they cannot see,
 * such as text too faint to read or a control a screen reader announces with no name.
 */
const WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"];
const LANDMARK_RULES = ["landmark-no-duplicate-main", "landmark-main-is-top-level", "landmark-one-main", "landmark-unique"];

/**
 * Scans what the page shows now with every WCAG rule, in the light theme; with `dark`, contrast again
 * in the dark theme (the only rule a theme changes; its colours are shared tokens, so a few kinds of
 * page stand for all). The theme follows the system's (next-themes "system"), so the emulated colour
 * scheme switches it in place, without a second visit.
 */
async function expectAccessible(page: Page, what: string, opts: { only?: string; dark?: boolean } = {}) {
  const found: string[] = [];
  for (const scheme of opts.dark ? (["light", "dark"] as const) : (["light"] as const)) {
    await page.emulateMedia({ colorScheme: scheme });
    await expect(page.locator("html")).toHaveClass(scheme === "dark" ? /\bdark\b/ : /^(?!.*\bdark\b)/);
    // Radix fades dialogs and menus in; axe would otherwise measure the contrast of half-drawn text.
    await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== "running"));
    const builder = new AxeBuilder({ page });
    // Landmarks are axe's best practice, not WCAG: one main, at the top, and no two regions of one name
    // (an embedded viewer such as the API reference's brings its own). Added to the same pass, for whole pages.
    if (scheme === "light" && !opts.only) builder.options({ rules: Object.fromEntries(LANDMARK_RULES.map((rule) => [rule, { enabled: true }])) });
    if (scheme === "light") builder.withTags(WCAG);
    else builder.withRules(["color-contrast"]);
    if (opts.only) builder.include(opts.only);
    const { violations } = await builder.analyze();
    found.push(
      ...violations.map(
        (v) => `${scheme}: ${v.id} (${v.impact}): ${v.help}\n${v.nodes.slice(0, 4).map((n) => `    ${n.html.slice(0, 300)} — ${n.failureSummary?.split("\n").slice(1).join(" ")}`).join("\n")}`,
      ),
    );
  }
  await page.emulateMedia({ colorScheme: "light" });
  expect.soft(found, `axe found problems on ${what}`).toEqual([]);
}

/** Goes to the page and waits for its heading and its data (nothing still marked busy). */
async function visit(page: Page, url: string) {
  await page.goto(url);
  await expect(page.getByRole("main").getByRole("heading").first()).toBeVisible();
  await expect(page.locator('[aria-busy="true"]')).toHaveCount(0);
}

test.use({ colorScheme: "light", reducedMotion: "reduce" });

test("every page and the main dialogs meet WCAG 2.2 AA, in the light theme and the dark one", async ({ page, browser }) => {
  test.slow(); // some twenty pages, each scanned
  // Sample data, so the pages show their tables and details rather than only empty states.
  const folderName = unique("Accessible");
  const folderId = await createFolder(page, folderName);
  const assetName = unique("Reporting login");
  const assetId = await createCredentialAsset(page, folderId, assetName, "postgres", newSecret("a11y-asset-password"));

  await visit(page, `/folders/${folderId}/connections/new`);
  await expectAccessible(page, "the connector chooser");
  await page.getByRole("link", { name: /PostgreSQL/ }).click();
  await page.getByRole("textbox", { name: /^Connection name\b/ }).fill("Reporting database");
  await page.getByRole("textbox", { name: /^Host\b/ }).fill("127.0.0.1");
  await page.getByRole("spinbutton", { name: /^Port\b/ }).fill("5432");
  await page.getByRole("textbox", { name: /^Database\b/ }).fill("postgres");
  await chooseTlsOff(page);
  await expectAccessible(page, "the PostgreSQL connection form", { dark: true });
  await page.getByRole("button", { name: "Password options" }).click();
  // An open menu holds focus and hides the page behind it (aria-hidden, scanned above): the menu itself is what is new.
  await expectAccessible(page, "a secret field's options menu", { only: '[role="menu"]' });
  await page.getByRole("menuitem", { name: "Use credential asset" }).click();
  await expect(page.getByRole("dialog", { name: "Use credential asset" }).getByRole("listbox", { name: "Assets" })).toBeVisible();
  await expectAccessible(page, "the credential asset picker", { dark: true });
  await pickAsset(page, assetName);
  await expectAccessible(page, "the connection form with an asset picked");
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Reporting database" })).toBeVisible({ timeout: 30_000 });
  const connectionId = page.url().split("/connections/")[1]!.split(/[/?]/)[0]!;

  // A deactivated person: the users list then shows both of its status tones.
  const person = await createUser(page);
  await page.goto(`/users?q=${encodeURIComponent(person.email)}`);
  await page.getByRole("button", { name: `Actions for ${person.name}` }).click();
  await page.getByRole("menuitem", { name: "Deactivate" }).click();
  await page.getByRole("button", { name: "Deactivate" }).click();
  await expect(page.getByRole("row", { name: new RegExp(person.email) }).getByText("Deactivated")).toBeVisible();

  await page.goto("/stores");
  await page.getByRole("link", { name: "Latch Database" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Latch Database" })).toBeVisible();
  const storeId = page.url().split("/stores/")[1]!.split(/[/?]/)[0]!;

  const pages = [
    "/folders",
    `/folders/${folderId}`,
    `/folders/${folderId}/assets`,
    `/folders/${folderId}/connections`,
    `/folders/${folderId}/members`,
    `/folders/${folderId}/audit`,
    `/folders/${folderId}/assets/new`,
    `/assets/${assetId}`,
    `/assets/${assetId}/edit`,
    `/connections/${connectionId}`,
    `/connections/${connectionId}/edit`,
    "/stores",
    "/stores/new",
    `/stores/${storeId}`,
    "/tokens",
    "/users",
    `/users?q=${encodeURIComponent(person.email)}`,
    "/audit",
    "/settings",
    "/api-reference",
    `/folders/${randomUUID()}`,
  ];
  // In the dark theme too: lists, detail pages, a warning badge, the audit log, and the API reference (its own colours).
  const darkToo = new Set(["/folders", `/assets/${assetId}`, `/stores/${storeId}`, `/users?q=${encodeURIComponent(person.email)}`, "/audit", "/api-reference"]);
  for (const url of pages) {
    await visit(page, url);
    await expectAccessible(page, url, { dark: darkToo.has(url) });
  }

  // Dialogs: each is its own piece of page once open.
  await visit(page, "/folders");
  await page.getByRole("button", { name: "New folder" }).first().click();
  await expectAccessible(page, "the New folder dialog");
  await page.keyboard.press("Escape");

  await visit(page, "/users");
  await page.getByRole("button", { name: "New user" }).click();
  await expectAccessible(page, "the New user dialog");
  await page.getByRole("dialog").getByRole("button", { name: "Create user" }).click();
  await expectAccessible(page, "the New user dialog showing what is missing", { dark: true });
  await page.keyboard.press("Escape");

  await visit(page, `/connections/${connectionId}`);
  await page.getByRole("button", { name: "Delete" }).click();
  await expectAccessible(page, "a delete confirmation", { dark: true });
  await page.keyboard.press("Escape");

  // Signed out: the sign-in page, and its error.
  const signedOut = await freshPage(browser, { colorScheme: "light", reducedMotion: "reduce" });
  await signedOut.goto("/login");
  await expect(signedOut.getByRole("button", { name: "Sign in" })).toBeVisible();
  await expectAccessible(signedOut, "the sign-in page");
  await signedOut.getByLabel("E-mail").fill(`nobody-${randomUUID()}@e2e.latch.test`);
  await signedOut.getByLabel("Password").fill("not-the-password");
  await signedOut.getByRole("button", { name: "Sign in" }).click();
  await expect(signedOut.getByRole("alert")).toBeVisible();
  await expectAccessible(signedOut, "the sign-in page with an error", { dark: true });
  await signedOut.context().close();
});

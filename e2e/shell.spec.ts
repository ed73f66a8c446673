import { expect, test } from "@playwright/test";
import { createFolder, unique } from "./fixtures";

test("on a narrow window the navigation is a drawer that reaches every area", async ({ page }) => {
  const name = unique("Mobile");
  const id = await createFolder(page, name);
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto("/audit");
  await expect(page.getByRole("navigation", { name: "Main" })).toBeHidden();
  await page.getByRole("button", { name: "Open navigation" }).click();
  const drawer = page.getByRole("dialog", { name: "Navigation" });
  await drawer.getByRole("link", { name, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/folders/${id}$`));
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  await expect(drawer).toBeHidden();
  // Nothing is wider than the window: wide tables scroll inside their own box.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  // The folder's tabs do not fit: a fade says there are more, and the current tab is scrolled into view.
  const sections = page.getByRole("navigation", { name: "Folder sections" });
  await expect(sections.getByRole("list")).toHaveAttribute("data-more", "right");
  await expect(sections.getByRole("link", { name: "Audit" })).not.toBeInViewport();
  await page.goto(`/folders/${id}/audit`);
  await expect(sections.getByRole("link", { name: "Audit" })).toBeInViewport({ ratio: 0.9 });
  await expect(sections.getByRole("list")).toHaveAttribute("data-more", "left");
});

test("the theme can be switched to dark and back", async ({ page }) => {
  await page.goto("/settings");
  const html = page.locator("html");
  const toggle = page.getByRole("button", { name: "Toggle theme" }).first();
  for (let i = 0; i < 3 && !(await html.getAttribute("class"))?.includes("dark"); i++) await toggle.click();
  await expect(html).toHaveClass(/dark/);
  await page.reload();
  await expect(html).toHaveClass(/dark/);
});

test.describe("in another time zone", () => {
  test.use({ timezoneId: "America/New_York" });

  test("times are shown in the reader's own zone, not the server's", async ({ page }) => {
    await createFolder(page, unique("Clock")); // leaves an audit event
    await page.goto("/audit");
    const first = page.getByRole("main").locator("time").first();
    const iso = await first.getAttribute("datetime");
    const expected = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "medium", timeZone: "America/New_York" }).format(new Date(iso!));
    await expect(first).toHaveText(expected);
  });
});

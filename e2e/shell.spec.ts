import { connect } from "node:net";
import { expect, test } from "@playwright/test";
import { E2E_ORIGIN } from "../playwright.config";
import { createFolder, unique } from "./fixtures";

/** Writes raw bytes to the console and reads until it closes the connection: what no HTTP client will send. */
function rawExchange(bytes: string): Promise<string> {
  const { hostname, port } = new URL(E2E_ORIGIN);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => socket.end(bytes));
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

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
  // Focus goes on to the page the link opened, not back to the button that opened the drawer.
  await expect(page.locator("#main")).toBeFocused();
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
  // Below a tab (a new asset), that tab still marks where the person is: one current tab, as a location.
  await page.goto(`/folders/${id}/assets/new`);
  await expect(sections.getByRole("link", { name: "Assets" })).toHaveAttribute("aria-current", "location");
  await expect(sections.locator("[aria-current]")).toHaveCount(1);
});

test("on a phone the audit log shows each event as a card, still read as a table", async ({ page }) => {
  const name = unique("Cards");
  await createFolder(page, name);
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto("/audit");
  const table = page.getByRole("table", { name: "Audit events" });
  await expect(table.getByRole("columnheader", { name: "What" })).toBeAttached();
  const row = table.getByRole("row").filter({ hasText: name });
  const who = row.getByRole("cell").nth(1);
  const what = row.getByRole("cell", { name: /folder\.create/ });
  await expect(what).toBeVisible();
  // The cells are stacked, each labelled with its column, and the table needs no sideways scrolling.
  const [whoBox, whatBox] = [await who.boundingBox(), await what.boundingBox()];
  expect(whatBox!.y).toBeGreaterThanOrEqual(whoBox!.y + whoBox!.height);
  expect(await what.evaluate((cell) => getComputedStyle(cell, "::before").content)).toBe('"What"');
  expect(await table.evaluate((t) => t.parentElement!.scrollWidth - t.parentElement!.clientWidth)).toBeLessThanOrEqual(0);
});

test("the theme menu says the current theme, switches it, and Settings shows the same choice", async ({ page }) => {
  await page.goto("/settings");
  const html = page.locator("html");
  const themes = page.getByRole("radiogroup", { name: "Theme" });
  await themes.getByRole("radio", { name: "Light" }).check();
  await expect(html).not.toHaveClass(/dark/);
  await expect(page.getByRole("button", { name: "Theme: Light" })).toBeVisible();

  await page.getByRole("button", { name: "Theme: Light" }).click();
  const dark = page.getByRole("menuitemradio", { name: "Dark" });
  await expect(page.getByRole("menuitemradio", { name: "Light" })).toBeChecked();
  await dark.click();
  await expect(html).toHaveClass(/dark/);
  await expect(page.getByRole("button", { name: "Theme: Dark" })).toBeVisible();
  await expect(themes.getByRole("radio", { name: "Dark" })).toBeChecked();

  await page.reload();
  await expect(html).toHaveClass(/dark/);
  await expect(themes.getByRole("radio", { name: "Dark" })).toBeChecked();
  // From the keyboard in Settings: arrows move the choice, as in any radio group.
  await themes.getByRole("radio", { name: "Dark" }).focus();
  await page.keyboard.press("ArrowRight");
  await expect(themes.getByRole("radio", { name: "System" })).toBeChecked();
  await expect(page.getByRole("button", { name: "Theme: System" })).toBeVisible();
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

test("an address with a broken %-escape is a 400 with the usual headers, for pages and for the API", async ({ request }) => {
  for (const path of ["/api/v1/folders/%E0%A4%A", "/api/v1/connections/%ZZ/invoke", "/folders/%E0%A4%A"]) {
    const res = await request.fetch(path, { method: path.endsWith("invoke") ? "POST" : "GET", headers: { authorization: "Bearer lt_x" } });
    expect(res.status(), path).toBe(400);
    expect(res.headers()["x-content-type-options"]).toBe("nosniff");
    expect(res.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(res.headers()["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    if (path.startsWith("/api/")) expect(await res.json()).toMatchObject({ error: { code: "BAD_REQUEST", requestId: res.headers()["x-request-id"] } });
  }
});

test("what Node's parser refuses (oversized headers, a request line that is not HTTP) is answered in JSON, not a bare status", async () => {
  const huge = await rawExchange(`GET /api/v1/folders HTTP/1.1\r\nHost: x\r\nX-Filler: ${"a".repeat(20_000)}\r\n\r\n`);
  expect(huge).toMatch(/^HTTP\/1\.1 431 /);
  const garbled = await rawExchange("GET /api/v1/folders HTTP/1.1\r\nHost x\r\n\r\n");
  expect(garbled).toMatch(/^HTTP\/1\.1 400 /);
  for (const answer of [huge, garbled]) {
    const [head, body] = answer.split("\r\n\r\n");
    expect(head).toMatch(/\r\ncontent-type: application\/json\r\n/i);
    expect(head).toMatch(/\r\nx-content-type-options: nosniff\r\n/i);
    const requestId = /\r\nx-request-id: ([0-9a-f-]{36})\r\n/i.exec(head!)?.[1];
    expect(JSON.parse(body!)).toEqual({ error: { code: "BAD_REQUEST", message: expect.any(String), requestId } });
  }
  expect(JSON.parse(huge.split("\r\n\r\n")[1]!).error.message).toContain("headers are too large");
});

test("an API address asked with a method it does not take answers JSON 405 with Allow", async ({ request }) => {
  const res = await request.fetch("/api/v1/connections/3f2b8c1e-7d4a-4b9e-9c1f-0a2b3c4d5e6f/invoke", { method: "GET" });
  expect(res.status()).toBe(405);
  expect(res.headers()["allow"]).toBe("POST, OPTIONS");
  expect(res.headers()["cache-control"]).toBe("no-store");
  expect(await res.json()).toMatchObject({ error: { code: "METHOD_NOT_ALLOWED", requestId: res.headers()["x-request-id"] } });
});

test("a page no route serves gets the security headers too, whatever its name looks like", async ({ request }) => {
  for (const path of ["/favicon.icoo", "/icon.svgx", "/_next/staticfoo", "/no-such-page"]) {
    const res = await request.get(path);
    expect(res.status(), path).toBe(404);
    expect(res.headers()["content-security-policy"], path).toContain("frame-ancestors 'none'");
    expect(res.headers()["x-frame-options"], path).toBe("DENY");
  }
  // The files themselves are still served as they are.
  expect((await request.get("/icon.svg")).status()).toBe(200);
});

test("an address no page serves keeps the console around its message, for someone signed in", async ({ page }) => {
  for (const path of ["/no-such-page", "/folders/3f2b8c1e-7d4a-4b9e-9c1f-0a2b3c4d5e6f/no-such-tab"]) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(404);
    await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
    await expect(page.getByRole("navigation", { name: "Main" }), path).toBeVisible();
    await expect(page.getByRole("main"), path).toHaveCount(1);
    await expect(page).toHaveTitle("Not found · Latch");
  }
});

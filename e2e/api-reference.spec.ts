import { expect, test } from "@playwright/test";

type Violation = { directive: string; blocked: string; sample: string };

test("the API reference renders offline under the console's CSP", async ({ page, baseURL }) => {
  const origin = new URL(baseURL!).origin;
  const foreign: string[] = [];
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (url.protocol.startsWith("http") && url.origin !== origin) foreign.push(r.url());
  });
  await page.addInitScript(() => {
    const seen: Violation[] = [];
    (window as unknown as { __csp: Violation[] }).__csp = seen;
    document.addEventListener("securitypolicyviolation", (e) => seen.push({ directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample }));
  });

  await page.goto("/api-reference");
  await expect(page.getByRole("heading", { level: 1, name: "API reference" })).toBeVisible();
  const viewer = page.locator(".scalar-app");
  await expect(viewer.getByText("List a folder's assets").first()).toBeVisible({ timeout: 30_000 });
  // One main landmark, the console's: the viewer's own <main> is a region inside it.
  await expect(page.getByRole("main")).toHaveCount(1);
  // One way to download the document: the page's, not a second one in the viewer.
  await expect(page.getByRole("link", { name: "Download OpenAPI 3.1" })).toBeVisible();
  await expect(page.getByRole("main").getByRole("link", { name: /download/i })).toHaveCount(1);
  await expect(page.getByRole("main").getByRole("button", { name: /download/i })).toHaveCount(0);
  // Open an operation with a request body and error responses: schemas render without eval too.
  await viewer.getByText("Connections", { exact: true }).first().click();
  await viewer.getByText("Run a connector operation").first().click();
  await expect(viewer.getByRole("heading", { name: "Run a connector operation" })).toBeVisible();
  await expect(viewer.getByText("RATE_LIMITED").first()).toBeAttached();

  const violations = await page.evaluate(() => (window as unknown as { __csp: Violation[] }).__csp);
  // zod 4 probes once with Function("") whether eval is allowed, and falls back; nothing else may be refused.
  expect(violations.filter((v) => !(v.directive === "script-src" && v.blocked === "eval" && v.sample === ""))).toEqual([]);
  expect(foreign).toEqual([]);

  // The document itself: signed in, JSON, OpenAPI 3.1.
  const res = await page.request.get("/api/v1/openapi.json");
  expect(res.status()).toBe(200);
  expect((await res.json()).openapi).toMatch(/^3\.1\./);
});

test("the sidebar links to the API reference", async ({ page }) => {
  await page.goto("/folders");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API reference" }).click();
  await expect(page).toHaveURL(/\/api-reference$/);
});

test("an API address no operation has answers the API's JSON 404, /api/v1 itself included", async ({ request }) => {
  for (const path of ["/api/v1", "/api/v1/", "/api/v1/conections"]) {
    const res = await request.get(path, { headers: { "x-request-id": "e2e-unknown-path" } });
    expect(res.status(), path).toBe(404);
    expect(res.headers()["content-type"], path).toBe("application/json");
    // The API's own headers, not a page's (no script nonce to stamp on JSON).
    expect(res.headers()["content-security-policy"] ?? "", path).not.toContain("nonce-");
    expect(await res.json(), path).toMatchObject({ error: { code: "NOT_FOUND", requestId: "e2e-unknown-path" } });
  }
});

import { expect, test as base, type Page } from "@playwright/test";
import { createTestPki, type TestPki } from "../test/emulators/tls";
import { startHttpTarget, type HttpTarget } from "../test/targets/http-target";
import { createMariadbUser, type MariadbUser } from "../test/targets/mariadb";
import { startOidcServer, type OidcServer } from "../test/targets/oidc";
import { createRabbitUser, type RabbitUser } from "../test/targets/rabbitmq";
import { createRedisUser, type RedisUser } from "../test/targets/redis";
import { randomUUID } from "node:crypto";
import { E2E_ADMIN, E2E_ORIGIN } from "../playwright.config";
import { captureBodies, type CapturedBodies, createFolder, pickAsset, registerSecret, unique } from "./fixtures";

/**
 * Every other connector connects in the browser with its secret from a credential asset that lives
 * in another folder, against a real server: the machine's MariaDB, Redis and RabbitMQ, a test HTTPS
 * API, and an oidc-provider OAuth server (client credentials, and the authorization-code redirect).
 */
type Targets = { pki: TestPki; mariadb: MariadbUser; redis: RedisUser; rabbit: RabbitUser; http: HttpTarget; oidc: OidcServer };

const test = base.extend<object, { targets: Targets }>({
  targets: [
    async ({}, use) => {
      const pki = createTestPki();
      // Random per run, and registered for e2e/leak.spec.ts.
      const httpCredentials = { apiKey: `api-key-${randomUUID()}`, token: `token-${randomUUID()}`, user: "latch-e2e", password: `pw-${randomUUID()}` };
      const [mariadb, redis, rabbit, http, oidc] = await Promise.all([
        createMariadbUser(),
        createRedisUser(),
        createRabbitUser(),
        startHttpTarget({ pki, credentials: httpCredentials }),
        startOidcServer({ pki, redirectUri: `${E2E_ORIGIN}/api/v1/connections/oauth/callback` }),
      ]);
      for (const [value, label] of [
        [mariadb.password, "MariaDB password"],
        [redis.password, "Redis password"],
        [rabbit.password, "RabbitMQ password"],
        [httpCredentials.apiKey, "HTTP API key"],
        [httpCredentials.token, "HTTP bearer token"],
        [httpCredentials.password, "HTTP Basic password"],
        [oidc.clientSecret, "OAuth client secret"],
        [oidc.postClient.clientSecret, "OAuth client secret (post)"],
      ] as const)
        registerSecret(value, label);
      await use({ pki, mariadb, redis, rabbit, http, oidc });
      await Promise.allSettled([mariadb.cleanup(), redis.cleanup(), rabbit.cleanup(), http.close(), oidc.close()]);
    },
    { scope: "worker", timeout: 120_000 },
  ],
});

async function createAsset(page: Page, folderId: string, kind: "credential" | "secret", name: string, username: string, value: string) {
  await page.goto(`/folders/${folderId}/assets/new`);
  if (kind === "secret") await page.getByRole("radio", { name: /^Secret/ }).check();
  await page.getByRole("textbox", { name: /^Name\b/ }).fill(name);
  if (kind === "credential") {
    await page.getByRole("textbox", { name: /^Username\b/ }).fill(username);
    await page.getByLabel(/^Password\*?$/).fill(value);
  } else {
    await page.getByLabel(/^Value\*?$/).fill(value);
  }
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
}

async function openForm(page: Page, folderId: string, connector: RegExp, name: string) {
  await page.goto(`/folders/${folderId}/connections/new`);
  await page.getByRole("link", { name: connector }).click();
  await page.getByRole("textbox", { name: /^Connection name\b/ }).fill(name);
}

/** Through the link under the field (connections.spec goes through the field's menu). */
async function useAsset(page: Page, field: string, assetName: string) {
  await page.getByRole("button", { name: `Use credential asset for ${field}` }).click();
  await pickAsset(page, assetName);
}

async function select(page: Page, label: RegExp, option: RegExp) {
  await page.getByRole("combobox", { name: label }).click();
  await page.getByRole("option", { name: option }).click();
}

async function connectAndExpectConnected(page: Page, name: string) {
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText("Connected");
}

/** No response the browser received carried one of these values. */
async function expectNoneIn(bodies: CapturedBodies, values: Record<string, string>) {
  const all = await bodies.text();
  expect(all.length).toBeGreaterThan(0);
  for (const [label, value] of Object.entries(values)) expect(all.includes(value), `a response carried the ${label}`).toBe(false);
}

// Each test creates folders and assets and connects several targets through the browser.
test.describe.configure({ mode: "serial", timeout: 150_000 });
// Only the OAuth test leaves the console: its IdP's certificate is from the throwaway test CA.
test.use({ ignoreHTTPSErrors: true });

test("MariaDB, Redis and RabbitMQ connect with a password from another folder's asset", async ({ page, targets }) => {
  const bodies = await captureBodies(page);
  const secrets = await createFolder(page, unique("Secrets"));
  const apps = await createFolder(page, unique("Apps"));
  const { mariadb, redis, rabbit } = targets;
  const tag = unique("t").split(" ")[1];

  await createAsset(page, secrets, "credential", `MariaDB ${tag}`, mariadb.user, mariadb.password);
  await openForm(page, apps, /MariaDB/, "Shop database");
  await page.getByRole("textbox", { name: /^Host\b/ }).fill(mariadb.host);
  await page.getByRole("spinbutton", { name: /^Port\b/ }).fill(String(mariadb.port));
  await page.getByRole("textbox", { name: /^Database\b/ }).fill(mariadb.database);
  await page.getByRole("checkbox", { name: /^Use TLS/ }).uncheck(); // this machine's MariaDB has TLS off
  await useAsset(page, "Password", `MariaDB ${tag}`);
  await connectAndExpectConnected(page, "Shop database");

  await createAsset(page, secrets, "credential", `Redis ${tag}`, redis.username, redis.password);
  await openForm(page, apps, /Redis/, "Session cache");
  await page.getByRole("textbox", { name: /^Host\b/ }).fill(redis.host);
  await page.getByRole("spinbutton", { name: /^Port\b/ }).fill(String(redis.port));
  await useAsset(page, "Password", `Redis ${tag}`);
  await expect(page.getByRole("textbox", { name: /^ACL user\b/ })).toHaveValue(`From “Redis ${tag}”`);
  await connectAndExpectConnected(page, "Session cache");

  await createAsset(page, secrets, "credential", `RabbitMQ ${tag}`, rabbit.username, rabbit.password);
  await openForm(page, apps, /RabbitMQ/, "Order events");
  await page.getByRole("textbox", { name: /^Host\b/ }).fill(rabbit.host);
  await page.getByRole("spinbutton", { name: /^Port\b/ }).fill(String(rabbit.port));
  await useAsset(page, "Password", `RabbitMQ ${tag}`);
  await connectAndExpectConnected(page, "Order events");

  await page.goto(`/folders/${apps}/connections`);
  await expect(page.getByRole("row")).toHaveCount(4);
  await expect(page.getByRole("table")).not.toContainText("Failed");
  await expectNoneIn(bodies, { "MariaDB password": mariadb.password, "Redis password": redis.password, "RabbitMQ password": rabbit.password });
});

test("Redis that asks for no password: connects without one; a typed one is said to be unchecked, and can be removed again", async ({ page }) => {
  const folder = await createFolder(page, unique("Cache"));
  // The chooser's link leads to a step of the same address (?kind=): by keyboard, focus goes on to the page, not to <body>.
  await page.goto(`/folders/${folder}/connections/new`);
  await page.getByRole("link", { name: /Redis/ }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("textbox", { name: /^Connection name\b/ })).toBeVisible();
  await expect(page.locator("#main")).toBeFocused();
  await page.getByRole("textbox", { name: /^Connection name\b/ }).fill("Open cache");
  await page.getByRole("textbox", { name: /^Host\b/ }).fill("127.0.0.1"); // the machine's Redis: its default user has no password
  await page.getByRole("spinbutton", { name: /^Port\b/ }).fill("6379");
  await connectAndExpectConnected(page, "Open cache");
  await expect(page.getByRole("main")).toContainText(/Redis [\d.]+ · db 0/);
  await expect(page.getByRole("main")).not.toContainText("asks for no password");

  await page.getByRole("link", { name: "Edit" }).click();
  await page.getByLabel("Password", { exact: true }).fill("typed-but-never-checked-1");
  await page.getByRole("button", { name: "Save and connect" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Open cache" })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText("this server asks for no password, so the one given was not checked");

  await page.getByRole("link", { name: "Edit" }).click();
  // The hint the last step checks is gone: here, with a value stored, it is shown.
  await expect(page.getByText("A value is stored, encrypted and never shown.")).toBeVisible();
  await page.getByRole("button", { name: "Password options" }).click();
  await page.getByRole("menuitem", { name: "Remove the stored value" }).click();
  await expect(page.getByText("The stored value is removed when you save, and none is sent.")).toBeVisible();
  await page.getByRole("button", { name: "Save and connect" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Open cache" })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText(/Redis [\d.]+ · db 0/);
  await expect(page.getByRole("main")).not.toContainText("asks for no password");
  // Nothing stored any more: the edit form has no value to keep and no removal to offer.
  await page.getByRole("link", { name: "Edit" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Edit “Open cache”" })).toBeVisible();
  await expect(page.getByText("A value is stored, encrypted and never shown.")).toHaveCount(0);
  await page.getByRole("button", { name: "Password options" }).click();
  await expect(page.getByRole("menuitem", { name: "Remove the stored value" })).toHaveCount(0);
});

test("HTTP API with a bearer token from an asset", async ({ page, targets }) => {
  const bodies = await captureBodies(page);
  const secrets = await createFolder(page, unique("Secrets"));
  const apps = await createFolder(page, unique("Apps"));
  const tokenAsset = unique("API token");
  await createAsset(page, secrets, "secret", tokenAsset, "", targets.http.credentials.token);
  await openForm(page, apps, /HTTP API/, "Billing API");
  await page.getByRole("textbox", { name: /^Base URL\b/ }).fill(targets.http.url);
  await select(page, /^Authentication\b/, /^Bearer token/);
  await page.getByRole("textbox", { name: /^Test path\b/ }).fill("/health");
  await page.getByRole("textbox", { name: /^CA bundle/ }).fill(targets.pki.caCert);
  await useAsset(page, "Bearer token", tokenAsset);
  await connectAndExpectConnected(page, "Billing API");
  await expectNoneIn(bodies, { "bearer token": targets.http.credentials.token });
});

test("Cancel while connecting: the save already sent finishes, and says so without taking the person back", async ({ page, targets }) => {
  const secrets = await createFolder(page, unique("Secrets"));
  const apps = await createFolder(page, unique("Apps"));
  const tokenAsset = unique("API token");
  await createAsset(page, secrets, "secret", tokenAsset, "", targets.http.credentials.token);
  const name = unique("Slow API");
  await openForm(page, apps, /HTTP API/, name);
  await page.getByRole("textbox", { name: /^Base URL\b/ }).fill(targets.http.url);
  await select(page, /^Authentication\b/, /^Bearer token/);
  await page.getByRole("textbox", { name: /^Test path\b/ }).fill("/health");
  await page.getByRole("textbox", { name: /^CA bundle/ }).fill(targets.pki.caCert);
  await useAsset(page, "Bearer token", tokenAsset);
  // The target takes 3 s to answer the test: long enough to leave the form while it runs.
  targets.http.inject({ fault: { type: "latency", ms: 3000 }, pathIncludes: "/health", times: 1 });
  try {
    await page.getByRole("button", { name: "Connect" }).click();
    await expect(page.getByText("Connecting to the target…")).toBeVisible();
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect(page).toHaveURL(new RegExp(`/folders/${apps}/connections$`));
    await expect(page.getByText("The connection was saved and connected before Cancel took effect.")).toBeVisible({ timeout: 15_000 });
    // The person stays where they went, and the list shows what was saved.
    await expect(page).toHaveURL(new RegExp(`/folders/${apps}/connections$`));
    await expect(page.getByRole("link", { name, exact: true })).toBeVisible();
  } finally {
    targets.http.clearFaults();
  }
});

test("OAuth 2.0 app: client credentials, and the authorization-code redirect through the app's sign-in", async ({ page, targets }) => {
  const bodies = await captureBodies(page);
  const secrets = await createFolder(page, unique("Secrets"));
  const apps = await createFolder(page, unique("Apps"));
  const { oidc, pki } = targets;
  const secretAsset = unique("CRM client secret");
  await createAsset(page, secrets, "secret", secretAsset, "", oidc.clientSecret);

  await openForm(page, apps, /OAuth 2\.0 app/, "CRM (service)");
  await select(page, /^Grant type\b/, /^Client credentials/);
  await page.getByRole("textbox", { name: /^Token URL\b/ }).fill(oidc.tokenUrl);
  await page.getByRole("textbox", { name: /^Client ID\b/ }).fill(oidc.clientId);
  await page.getByRole("textbox", { name: /^Scopes\b/ }).fill("api:read");
  await page.getByRole("textbox", { name: /^CA bundle/ }).fill(pki.caCert);
  await useAsset(page, "Client secret", secretAsset);
  await connectAndExpectConnected(page, "CRM (service)");

  await openForm(page, apps, /OAuth 2\.0 app/, "CRM (on behalf of a person)");
  await select(page, /^Grant type\b/, /^Authorization code/);
  // What to register in the app before authorising: Latch's callback, at the console's own address.
  const callback = new URL("/api/v1/connections/oauth/callback", page.url()).toString();
  await expect(page.getByRole("textbox", { name: /^Redirect URI\b/ })).toHaveValue(callback);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.getByRole("button", { name: "Copy", exact: true }).click();
  await expect(page.getByText("Redirect URI copied.")).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(callback);
  await page.getByRole("textbox", { name: /^Authorization URL\b/ }).fill(oidc.authorizationUrl);
  await page.getByRole("textbox", { name: /^Token URL\b/ }).fill(oidc.tokenUrl);
  await page.getByRole("textbox", { name: /^Client ID\b/ }).fill(oidc.clientId);
  await page.getByRole("textbox", { name: /^Scopes\b/ }).fill("api:read offline_access");
  await page.getByRole("textbox", { name: /^CA bundle/ }).fill(pki.caCert);
  await useAsset(page, "Client secret", secretAsset);
  await page.getByRole("button", { name: "Connect" }).click();
  // The browser visits the app's sign-in (which approves the test account) and comes back.
  await expect(page.getByRole("heading", { level: 1, name: "CRM (on behalf of a person)" })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText("Connected");
  await expect(page.getByRole("main")).toContainText("Authorised");
  await expectNoneIn(bodies, { "client secret": oidc.clientSecret });
});

test("OAuth 2.0 app: a browser signed out while at the app's sign-in signs in, then the authorisation finishes", async ({ page, playwright, targets }) => {
  const secrets = await createFolder(page, unique("Secrets"));
  const apps = await createFolder(page, unique("Apps"));
  const { oidc, pki } = targets;
  const secretAsset = unique("CRM client secret");
  await createAsset(page, secrets, "secret", secretAsset, "", oidc.clientSecret);
  await openForm(page, apps, /OAuth 2\.0 app/, "CRM (after signing in again)");
  await select(page, /^Grant type\b/, /^Authorization code/);
  await page.getByRole("textbox", { name: /^Authorization URL\b/ }).fill(oidc.authorizationUrl);
  await page.getByRole("textbox", { name: /^Token URL\b/ }).fill(oidc.tokenUrl);
  await page.getByRole("textbox", { name: /^Client ID\b/ }).fill(oidc.clientId);
  await page.getByRole("textbox", { name: /^Scopes\b/ }).fill("api:read offline_access");
  await page.getByRole("textbox", { name: /^CA bundle/ }).fill(pki.caCert);
  await useAsset(page, "Client secret", secretAsset);

  // The browser loses its Latch session while it is at the app's sign-in (it expired, or the person signed out).
  await page.route(`${oidc.authorizationUrl}**`, async (route) => {
    await page.context().clearCookies({ name: /next-auth/ });
    await route.continue();
  });
  const callbackRequest = page.waitForRequest((r) => r.url().includes("/api/v1/connections/oauth/callback"), { timeout: 30_000 });
  await page.getByRole("button", { name: "Connect" }).click();
  const callback = (await callbackRequest).url();
  expect(callback).toContain("code=");
  // The browser is sent to sign in rather than shown a 401...
  await expect(page).toHaveURL(/\/login\?callbackUrl=%2Fapi%2Fv1%2Fconnections%2Foauth%2Fcallback/);

  // ...while an automation without a session still gets 401 JSON (and the code stays unused).
  const api = await playwright.request.newContext({ storageState: { cookies: [], origins: [] } });
  const answer = await api.get(callback, { headers: { accept: "application/json" }, maxRedirects: 0 });
  expect(answer.status()).toBe(401);
  expect(await answer.json()).toMatchObject({ error: { code: "UNAUTHENTICATED" } });
  await api.dispose();

  // Signing in comes back to the callback, which finishes the authorisation.
  await page.getByLabel("E-mail").fill(E2E_ADMIN.email);
  await page.getByLabel("Password").fill(E2E_ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "CRM (after signing in again)" })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText("Connected");
  await expect(page.getByRole("main")).toContainText("Authorised");
});

import { randomUUID } from "node:crypto";
import { expect, type Request } from "@playwright/test";
import { E2E_ADMIN } from "../playwright.config";
import { addMember, createFolder, createUser, freshPage, newSecret, registerSecret, signIn, test, unique } from "./fixtures";

test("wrong password shows one generic message; sign out clears the session", async ({ page, browser }) => {
  const person = await createUser(page);
  const p = await freshPage(browser);
  await p.goto("/folders");
  await expect(p).toHaveURL(/\/login/);
  await p.getByLabel("E-mail").fill(person.email);
  await p.getByLabel("Password").fill("not the password");
  await p.getByRole("button", { name: "Sign in" }).click();
  await expect(p.getByRole("main").getByRole("alert")).toHaveText("Invalid e-mail or password.");
  // Both fields point at the refusal (which of the two was wrong is not said).
  for (const field of [p.getByLabel("E-mail"), p.getByLabel("Password")]) {
    await expect(field).toHaveAttribute("aria-invalid", "true");
    await expect(field).toHaveAttribute("aria-describedby", "login-error");
  }
  await p.getByLabel("E-mail").fill("nobody@e2e.latch.test");
  await p.getByRole("button", { name: "Sign in" }).click();
  await expect(p.getByRole("main").getByRole("alert")).toHaveText("Invalid e-mail or password.");
  // Latch out of reach says nothing of what was typed: the fields are not marked invalid.
  await p.route("**/api/auth/callback/**", (route) => route.abort("connectionfailed"));
  await p.getByRole("button", { name: "Sign in" }).click();
  await expect(p.getByRole("main").getByRole("alert")).toHaveText("Could not reach Latch. Check your connection and try again.");
  await expect(p.getByLabel("E-mail")).not.toHaveAttribute("aria-invalid", "true");
  await p.unroute("**/api/auth/callback/**");

  await signIn(p, person.email, person.password);
  const cookie = (await p.context().cookies()).find((c) => c.name.includes("next-auth.session-token"));
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax" });

  await p.getByRole("button", { name: `${person.name}: user menu` }).click();
  await p.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(p).toHaveURL(/\/login/);
  await expect(p.getByRole("heading", { name: "Sign in to Latch" })).toBeVisible();
  await expect(p.getByText("Your session has ended.", { exact: false })).toHaveCount(0);
  // The old cookie is useless even if replayed: the server-side session is gone, and the sign-in page says so.
  await p.context().addCookies([cookie!]);
  await p.goto("/folders");
  await expect(p).toHaveURL(/\/login/);
  await expect(p.getByRole("status").filter({ hasText: "Your session has ended. Sign in again to go on." })).toBeVisible();
});

test("a deactivated user's open session stops working at the next request", async ({ page, browser }) => {
  const person = await createUser(page);
  const p = await freshPage(browser);
  await signIn(p, person.email, person.password);
  await expect(p.getByRole("heading", { level: 1, name: "Folders" })).toBeVisible();

  await page.goto(`/users?q=${encodeURIComponent(person.email)}`);
  await page.getByRole("button", { name: `Actions for ${person.name}` }).click();
  await page.getByRole("menuitem", { name: "Deactivate" }).click();
  await page.getByRole("button", { name: "Deactivate" }).click();
  await expect(page.getByRole("row", { name: new RegExp(person.email) }).getByText("Deactivated")).toBeVisible();

  await p.reload();
  await expect(p).toHaveURL(/\/login/);
  await p.getByLabel("E-mail").fill(person.email);
  await p.getByLabel("Password").fill(person.password);
  await p.getByRole("button", { name: "Sign in" }).click();
  await expect(p.getByRole("main").getByRole("alert")).toHaveText("Invalid e-mail or password.");
});

test("an administrator corrects a person's name and e-mail; they sign in with the new address, and the old one no longer works", async ({ page, browser }) => {
  const person = await createUser(page);
  const other = await createUser(page);
  const renamed = { name: `${person.name} Renamed`, email: person.email.replace("@", ".renamed@") };
  await page.goto(`/users?q=${encodeURIComponent(person.email)}`);
  await page.getByRole("button", { name: `Actions for ${person.name}` }).click();
  await page.getByRole("menuitem", { name: "Edit name and e-mail" }).click();
  const dialog = page.getByRole("dialog", { name: `Edit ${person.name}` });
  await expect(dialog.getByLabel("Name")).toHaveValue(person.name);
  await expect(dialog.getByLabel("E-mail")).toHaveValue(person.email);
  // Someone else's address is refused by its field, which takes focus.
  await dialog.getByLabel("E-mail").fill(other.email);
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(dialog.getByLabel("E-mail")).toHaveAccessibleDescription("A user with that e-mail address already exists.");
  await expect(dialog.getByLabel("E-mail")).toBeFocused();
  await dialog.getByLabel("Name").fill(renamed.name);
  await dialog.getByLabel("E-mail").fill(renamed.email.toUpperCase());
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(dialog).toBeHidden();
  await page.goto(`/users?q=${encodeURIComponent(renamed.email)}`);
  await expect(page.getByRole("row", { name: new RegExp(renamed.name) })).toContainText(renamed.email);

  const p = await freshPage(browser);
  await p.goto("/login");
  await p.getByLabel("E-mail").fill(person.email);
  await p.getByLabel("Password").fill(person.password);
  await p.getByRole("button", { name: "Sign in" }).click();
  await expect(p.getByRole("main").getByRole("alert")).toHaveText("Invalid e-mail or password.");
  await signIn(p, renamed.email, person.password);
  await expect(p.getByRole("heading", { level: 1, name: "Folders" })).toBeVisible();
});

test("making someone an administrator, and taking it back, is asked first and takes effect at their next request", async ({ page, browser }) => {
  const person = await createUser(page);
  const p = await freshPage(browser);
  await signIn(p, person.email, person.password);
  const row = page.getByRole("row", { name: new RegExp(person.email) });

  await page.goto(`/users?q=${encodeURIComponent(person.email)}`);
  await page.getByRole("button", { name: `Actions for ${person.name}` }).click();
  await page.getByRole("menuitem", { name: "Make administrator" }).click();
  const confirm = page.getByRole("alertdialog", { name: `Make ${person.name} an administrator?` });
  await expect(confirm).toBeVisible();
  // Cancelled: nothing changes.
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await expect(confirm).toBeHidden();
  // Read again from the server: the row said "Member" before the Cancel too.
  await page.reload();
  await expect(row.getByRole("cell").filter({ hasText: /^Member$/ })).toBeVisible();

  await page.getByRole("button", { name: `Actions for ${person.name}` }).click();
  await page.getByRole("menuitem", { name: "Make administrator" }).click();
  await confirm.getByRole("button", { name: "Make administrator" }).click();
  await expect(confirm).toBeHidden();
  await expect(row.getByText("Administrator")).toBeVisible();
  await p.goto("/users");
  await expect(p.getByRole("heading", { level: 1, name: "Users" })).toBeVisible();

  await page.getByRole("button", { name: `Actions for ${person.name}` }).click();
  await page.getByRole("menuitem", { name: "Remove administrator" }).click();
  const removal = page.getByRole("alertdialog", { name: `Remove ${person.name} as administrator?` });
  await removal.getByRole("button", { name: "Remove administrator" }).click();
  // While the dialog is open the rest of the page is hidden from the accessibility tree: wait for it
  // to close and the row to say Member, not merely for "Administrator" to be unfindable.
  await expect(removal).toBeHidden();
  await expect(row.getByRole("cell").filter({ hasText: /^Member$/ })).toBeVisible();
  await p.goto("/users");
  await expect(p.getByRole("heading", { level: 1, name: "Users" })).toHaveCount(0);
});

test("admin areas answer not found to non-admins; security headers are set", async ({ page, browser }) => {
  const person = await createUser(page);
  const p = await freshPage(browser);
  await signIn(p, person.email, person.password);
  const nav = p.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Folders" })).toBeVisible();
  for (const hidden of ["Users", "Credential stores", "Audit", "API tokens"]) await expect(nav.getByRole("link", { name: hidden })).toHaveCount(0);
  for (const path of ["/users", "/stores", "/stores/new", "/audit", "/tokens"]) {
    const response = await p.goto(path);
    expect(response?.status(), path).toBe(404);
    // The tab does not name the page it refuses either.
    await expect(p, path).toHaveTitle("Not found · Latch");
  }
  const response = await p.goto("/folders");
  const headers = response!.headers();
  expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  expect(headers["content-security-policy"]).not.toContain("unsafe-eval");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("strict-origin-when-cross-origin");
  expect(headers["cache-control"]).toContain("no-store");
  expect(headers["x-request-id"]).toBeTruthy();

  // The REST API skips proxy.ts and sets its own: a JSON answer is never cached, sniffed or framed.
  for (const path of ["/api/v1/connectors", "/api/v1/stores"]) {
    const api = await p.request.get(path);
    expect(api.status(), path).toBe(path.endsWith("stores") ? 404 : 200);
    const apiHeaders = api.headers();
    expect(apiHeaders["cache-control"], path).toBe("no-store");
    expect(apiHeaders["x-content-type-options"], path).toBe("nosniff");
    expect(apiHeaders["content-security-policy"], path).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(apiHeaders["x-request-id"], path).toBeTruthy();
  }

  const health = await p.request.get("/api/health");
  expect(health.status()).toBe(200);
  const ready = await p.request.get("/api/ready");
  expect(await ready.json()).toMatchObject({ status: "ready", checks: { database: "ok", migrations: "ok" } });
});

/**
 * A request that could carry a sign-in: anything but a GET or HEAD (the form posts to its own address,
 * /login; next-auth's sign-in is POST /api/auth/callback/credentials), or one naming the password.
 */
function sendsSignIn(request: Request, password: string) {
  return !["GET", "HEAD"].includes(request.method()) || request.url().includes(password) || (request.postData() ?? "").includes(password);
}
const describe = (request: Request) => `${request.method()} ${new URL(request.url()).pathname}`;

test("before the page is live, the sign-in form cannot be sent: no password ever leaves the page", async ({ browser, baseURL }) => {
  // Without JavaScript the page never hydrates: what a click in the first moments of a slow load meets.
  const context = await browser.newContext({ javaScriptEnabled: false, storageState: { cookies: [], origins: [] }, baseURL });
  const page = await context.newPage();
  const password = registerSecret(`typed-before-hydration-${randomUUID()}`, "auth.spec: a password typed before hydration");
  const requests: string[] = [];
  const stopped: string[] = [];
  // Every request the page makes passes here; one that could sign in is stopped before it reaches the
  // server, and fails the test below.
  await page.route("**/*", (route) => {
    const request = route.request();
    requests.push(describe(request));
    if (!sendsSignIn(request, password)) return route.continue();
    stopped.push(describe(request));
    return route.abort("blockedbyclient");
  });
  await page.goto("/login");
  // Positive control: the route sees the page's own requests.
  expect(requests).toContain("GET /login");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeDisabled();
  expect(await page.locator("form").getAttribute("method")).toBe("post");
  await page.getByLabel("E-mail").fill("someone@e2e.latch.test");
  await page.getByLabel("Password").fill(password);
  // Each waits for a navigation it starts: a native submission has been routed by the time it returns.
  await page.getByLabel("Password").press("Enter");
  expect(stopped, "Enter sent the form before the page was live").toEqual([]);
  await page.getByRole("button", { name: "Sign in" }).click({ force: true });
  expect(stopped, "a click sent the form before the page was live").toEqual([]);
  // Still the same document: a submission, even a stopped one, would have replaced it.
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByLabel("E-mail")).toHaveValue("someone@e2e.latch.test");
  await context.close();

  // With JavaScript, the same button comes alive and signs in, by the very request the check above
  // watches for (the other tests rely on it).
  const live = await browser.newPage({ storageState: { cookies: [], origins: [] }, baseURL });
  const sent: string[] = [];
  live.on("request", (request) => {
    if (sendsSignIn(request, E2E_ADMIN.password)) sent.push(describe(request));
  });
  await live.goto("/login");
  await expect(live.getByRole("button", { name: "Sign in" })).toBeEnabled();
  await live.getByLabel("E-mail").fill(E2E_ADMIN.email);
  await live.getByLabel("Password").fill(E2E_ADMIN.password);
  await live.getByRole("button", { name: "Sign in" }).click();
  await expect(live).toHaveURL(/\/folders$/);
  expect(sent).toContain("POST /api/auth/callback/credentials");
  await live.close();
});

test("the sign-in endpoints answer a malformed or oversized body, or a GET of the sign-in callback, with 4xx, not 500", async ({ request }) => {
  const malformed = await request.post("/api/auth/callback/credentials", { headers: { "content-type": "application/json" }, data: Buffer.from("{") });
  expect(malformed.status()).toBe(400);
  expect(await malformed.json()).toEqual({ error: { code: "BAD_REQUEST", message: "The request body is not valid JSON." } });
  const oversized = await request.post("/api/auth/callback/credentials", { form: { email: "a@b.c", password: "x".repeat(70 * 1024) } });
  expect(oversized.status()).toBe(413);
  // Opened in a browser (a bookmark, a link): next-auth alone answered a bare 500.
  const opened = await request.get("/api/auth/callback/credentials");
  expect(opened.status()).toBe(405);
  expect(opened.headers()["allow"]).toBe("POST");
  // The endpoints still answer as next-auth does.
  expect(await (await request.get("/api/auth/csrf")).json()).toMatchObject({ csrfToken: expect.any(String) });
});

test("a person changes their own password: the new one is typed twice, and only it signs in afterwards", async ({ page, browser }) => {
  const person = await createUser(page);
  // Signed in elsewhere too (another browser): that session ends with the change.
  const elsewhere = await freshPage(browser);
  await signIn(elsewhere, person.email, person.password);
  const p = await freshPage(browser);
  await signIn(p, person.email, person.password);
  await p.goto("/settings");
  // Sent empty: every field says what it needs.
  await p.getByRole("button", { name: "Change password" }).click();
  await expect(p.getByLabel("Current password")).toHaveAccessibleDescription("Enter your current password.");
  await expect(p.getByLabel(/^New password/)).toHaveAccessibleDescription(/Use at least 12 characters\./);
  await expect(p.getByLabel("Confirm new password")).toHaveAccessibleDescription("Type the new password again.");
  // Too short and mistyped: both said in one attempt, focus on the first to put right.
  await p.getByLabel("Current password").fill(person.password);
  await p.getByLabel(/^New password/).fill("short");
  await p.getByLabel("Confirm new password").fill("shorty");
  await p.getByRole("button", { name: "Change password" }).click();
  await expect(p.getByLabel(/^New password/)).toHaveAccessibleDescription(/Use at least 12 characters\./);
  await expect(p.getByLabel("Confirm new password")).toHaveAccessibleDescription("The two new passwords do not match.");
  await expect(p.getByLabel(/^New password/)).toBeFocused();
  const newPassword = registerSecret(`changed ${randomUUID()} password`, "auth.spec: a password set by changing it");
  await p.getByLabel(/^New password/).fill(newPassword);
  await p.getByLabel("Confirm new password").fill(`${newPassword}x`);
  await p.getByRole("button", { name: "Change password" }).click();
  const confirm = p.getByLabel("Confirm new password");
  await expect(confirm).toHaveAccessibleDescription("The two new passwords do not match.");
  await expect(confirm).toBeFocused();
  // Still wrong after an edit: the next attempt says so again.
  await confirm.fill(`${newPassword}y`);
  await expect(confirm).not.toHaveAttribute("aria-invalid", "true");
  await p.getByRole("button", { name: "Change password" }).click();
  await expect(confirm).toHaveAccessibleDescription("The two new passwords do not match.");
  await confirm.fill(newPassword);
  await expect(confirm).not.toHaveAttribute("aria-invalid", "true");
  await p.getByRole("button", { name: "Change password" }).click();
  await expect(p.getByText("Password changed.")).toBeVisible();
  await expect(p.getByLabel("Current password")).toHaveValue("");
  await p.reload();
  await expect(p.getByLabel("Current password")).toBeVisible();
  await elsewhere.goto("/settings");
  await expect(elsewhere).toHaveURL(/\/login/);

  // The old password no longer works; the new one does.
  const other = await freshPage(browser);
  await other.goto("/login");
  await other.getByLabel("E-mail").fill(person.email);
  await other.getByLabel("Password").fill(person.password);
  await other.getByRole("button", { name: "Sign in" }).click();
  await expect(other.getByRole("main").getByRole("alert")).toHaveText("Invalid e-mail or password.");
  await signIn(other, person.email, newPassword);
});

test("after sign-in, only a page of this site is opened: a disguised address to another site goes to the folders", async ({ page, browser, baseURL }) => {
  const person = await createUser(page);
  const p = await freshPage(browser);
  // A tab in the path, which browsers delete, would turn "/<tab>/evil" into "//evil": another site.
  await p.goto("/login?callbackUrl=/%09/evil.example/phish");
  await p.getByLabel("E-mail").fill(person.email);
  await p.getByLabel("Password").fill(person.password);
  await p.getByRole("button", { name: "Sign in" }).click();
  await expect(p).toHaveURL(`${baseURL}/folders`);
  // Already signed in, the sign-in page redirects at once: the same rule.
  await p.goto("/login?callbackUrl=/%5C/evil.example");
  await expect(p).toHaveURL(`${baseURL}/folders`);
  // A page of this site is where it goes.
  await p.goto("/login?callbackUrl=%2Fsettings%23personal-tokens");
  await expect(p).toHaveURL(`${baseURL}/settings#personal-tokens`);
});

test("a link opened while signed out leads, after sign-in, to the page it names", async ({ page, browser, baseURL }) => {
  const person = await createUser(page);
  const p = await freshPage(browser);
  // A shared link, or any click after the session ended.
  await p.goto("/audit?page=1");
  await expect(p).toHaveURL(`${baseURL}/login?callbackUrl=${encodeURIComponent("/audit?page=1")}`);
  await p.getByLabel("E-mail").fill(person.email);
  await p.getByLabel("Password").fill(person.password);
  await p.getByRole("button", { name: "Sign in" }).click();
  // Not an administrator: the audit page is not theirs, and says so; the point is where they landed.
  await expect(p).toHaveURL(`${baseURL}/audit?page=1`);
});

test("New user copies a generated password, and opens blank after a cancel: no name, address or initial password waits for the next person", async ({ page }) => {
  await page.goto("/users");
  const dialog = page.getByRole("dialog", { name: "New user" });
  await page.getByRole("button", { name: "New user" }).click();
  await dialog.getByLabel("Name").fill("Abandoned Person");
  await dialog.getByLabel("E-mail").fill("abandoned@e2e.latch.test");
  // Sent without a password first: the field says why; a generated one answers it, so the message goes.
  await dialog.getByRole("button", { name: "Create user" }).click();
  await expect(dialog.getByText("Use at least 12 characters.")).toBeVisible();
  await dialog.getByRole("button", { name: "Generate" }).click();
  await expect(dialog.getByLabel("Initial password")).not.toHaveValue("");
  await expect(dialog.getByText("Use at least 12 characters.")).toBeHidden();
  await expect(dialog.getByLabel("Initial password")).not.toHaveAttribute("aria-invalid", "true");
  // Copied before the dialog closes and the password is gone for good.
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await dialog.getByRole("button", { name: "Copy" }).click();
  await expect(page.getByText("Password copied.")).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(await dialog.getByLabel("Initial password").inputValue());
  await dialog.getByRole("checkbox", { name: /^Administrator/ }).check();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();

  await page.getByRole("button", { name: "New user" }).click();
  await expect(dialog.getByLabel("Name")).toHaveValue("");
  await expect(dialog.getByLabel("E-mail")).toHaveValue("");
  await expect(dialog.getByLabel("Initial password")).toHaveValue("");
  await expect(dialog.getByRole("checkbox", { name: /^Administrator/ })).not.toBeChecked();
});

test("an administrator removing their own administrator rights is warned first, and lands on the folder list, not on a page they can no longer see", async ({
  page,
  browser,
}) => {
  const person = await createUser(page);
  await page.goto(`/users?q=${encodeURIComponent(person.email)}`);
  await page.getByRole("button", { name: `Actions for ${person.name}` }).click();
  await page.getByRole("menuitem", { name: "Make administrator" }).click();
  const promotion = page.getByRole("alertdialog", { name: `Make ${person.name} an administrator?` });
  await promotion.getByRole("button", { name: "Make administrator" }).click();
  await expect(promotion).toBeHidden();
  await expect(page.getByRole("row", { name: new RegExp(person.email) }).getByText("Administrator")).toBeVisible();

  const p = await freshPage(browser);
  await signIn(p, person.email, person.password);
  await p.goto(`/users?q=${encodeURIComponent(person.email)}`);
  await p.getByRole("button", { name: `Actions for ${person.name}` }).click();
  await p.getByRole("menuitem", { name: "Remove administrator" }).click();
  const confirm = p.getByRole("alertdialog", { name: "Remove your own administrator rights?" });
  await expect(confirm).toContainText("You will no longer be an administrator");
  await confirm.getByRole("button", { name: "Remove administrator" }).click();
  await expect(p).toHaveURL(/\/folders$/);
  await expect(p.getByRole("heading", { level: 1, name: "Folders" })).toBeVisible();
  await expect(p.getByRole("heading", { name: "Page not found" })).toHaveCount(0);
  await expect(p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" })).toHaveCount(0);
});

test("a form sent after the session ended asks to sign in again over the page; what was typed is kept and saves after", async ({ page, browser }) => {
  const person = await createUser(page);
  const folderId = await createFolder(page, unique("Session"));
  await addMember(page, folderId, person.email, "Editor");
  const theirs = await freshPage(browser);
  await signIn(theirs, person.email, person.password);
  await theirs.goto(`/folders/${folderId}/assets/new`);
  const name = unique("Kept login");
  const secret = newSecret("session-ended form");
  await theirs.getByRole("textbox", { name: /^Name\b/ }).fill(name);
  await theirs.getByRole("textbox", { name: /^Username\b/ }).fill("svc-kept");
  await theirs.getByLabel(/^Password\b/).fill(secret);
  // The session ends while the form is being filled in (it expired, or they signed out elsewhere).
  await theirs.context().clearCookies();
  await theirs.getByRole("button", { name: "Create asset" }).click();

  const dialog = theirs.getByRole("dialog", { name: "Your session has ended" });
  await expect(dialog).toBeVisible();
  await expect(theirs).toHaveURL(new RegExp(`/folders/${folderId}/assets/new$`));
  // The same person signs in again: their address is given, the password field has the focus.
  await expect(dialog.getByLabel("E-mail")).toHaveValue(person.email);
  await expect(dialog.getByLabel("E-mail")).toHaveAttribute("readonly", "");
  await expect(dialog.getByLabel("Password")).toBeFocused();
  await dialog.getByLabel("Password").fill("not the password");
  await dialog.getByRole("button", { name: "Sign in" }).click();
  await expect(dialog.getByRole("alert")).toHaveText("Invalid e-mail or password.");
  await dialog.getByLabel("Password").fill(person.password);
  await dialog.getByRole("button", { name: "Sign in" }).click();
  await expect(dialog).toBeHidden();
  await expect(theirs.getByText("Signed in again.", { exact: false })).toBeVisible();
  // No error about the ended session is left on the form.
  await expect(theirs.getByRole("main").getByText("Your session has ended", { exact: false })).toHaveCount(0);

  // Nothing typed was lost, and nothing was saved while signed out.
  await expect(theirs.getByRole("textbox", { name: /^Name\b/ })).toHaveValue(name);
  await expect(theirs.getByRole("textbox", { name: /^Username\b/ })).toHaveValue("svc-kept");
  await expect(theirs.getByLabel(/^Password\b/)).toHaveValue(secret);
  await theirs.getByRole("button", { name: "Create asset" }).click();
  await expect(theirs.getByRole("heading", { level: 1, name })).toBeVisible();
  await theirs.goto(`/folders/${folderId}/assets`);
  await expect(theirs.getByRole("link", { name })).toHaveCount(1);
});

test("a form in a dialog sent after the session ended: sign-in opens over it with the password focused, and the dialog's form saves after", async ({ page, browser }) => {
  const person = await createUser(page);
  const folderId = await createFolder(page, unique("Session dialog"));
  await addMember(page, folderId, person.email, "Folder Admin");
  const theirs = await freshPage(browser);
  await signIn(theirs, person.email, person.password);
  await theirs.goto(`/folders/${folderId}`);
  await theirs.getByRole("button", { name: "New subfolder" }).first().click();
  const form = theirs.getByRole("dialog", { name: "New subfolder" });
  const name = unique("Sub");
  await form.getByLabel("Folder name").fill(name);
  await theirs.context().clearCookies();
  await form.getByRole("button", { name: "Create folder" }).click();

  const signInDialog = theirs.getByRole("dialog", { name: "Your session has ended" });
  await expect(signInDialog).toBeVisible();
  await expect(signInDialog.getByLabel("Password")).toBeFocused();
  await theirs.keyboard.type(person.password);
  await theirs.keyboard.press("Enter");
  await expect(signInDialog).toBeHidden();
  // The form's dialog is still open with what was typed; sent again, it saves.
  await expect(form.getByLabel("Folder name")).toHaveValue(name);
  await form.getByRole("button", { name: "Create folder" }).click();
  await expect(form).toBeHidden();
  await expect(theirs.getByRole("link", { name, exact: true }).first()).toBeVisible();
});

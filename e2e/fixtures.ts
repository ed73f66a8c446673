import { randomUUID } from "node:crypto";
import { expect, type Browser, type Page } from "@playwright/test";

/** Unique per call so specs never collide, whatever order or parallelism they run in. */
export const unique = (prefix: string) => `${prefix} ${randomUUID().slice(0, 8)}`;

export async function signIn(page: Page, email: string, password: string) {
  await page.goto("/login");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/folders$/);
}

/** A new browser context with nobody signed in (the default project state is the admin's). */
export async function freshPage(browser: Browser) {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  return context.newPage();
}

/** Creates a user through the admin UI and returns their credentials. */
export async function createUser(adminPage: Page, name = unique("Person")) {
  const email = `${name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}@e2e.latch.test`;
  const password = `pw-${randomUUID()}`;
  await adminPage.goto("/users");
  await adminPage.getByRole("button", { name: "New user" }).click();
  const dialog = adminPage.getByRole("dialog", { name: "New user" });
  await dialog.getByLabel("Name").fill(name);
  await dialog.getByLabel("E-mail").fill(email);
  await dialog.getByLabel("Initial password").fill(password);
  await dialog.getByRole("button", { name: "Create user" }).click();
  await expect(dialog).toBeHidden();
  return { name, email, password };
}

export async function createFolder(page: Page, name: string, parentId?: string) {
  await page.goto(parentId ? `/folders/${parentId}` : "/folders");
  await page.getByRole("button", { name: parentId ? "New subfolder" : "New folder" }).first().click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Folder name").fill(name);
  await dialog.getByRole("button", { name: "Create folder" }).click();
  await expect(dialog).toBeHidden();
  await page.getByRole("link", { name, exact: true }).first().click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  const id = page.url().split("/folders/")[1]!.split(/[/?]/)[0]!;
  return id;
}

/**
 * A dump of the console's own database (every row of every table as JSON; bytea as hex), the
 * equivalent of a pg_dump for leak checks. The e2e server writes its database URL for this.
 */
export async function dumpConsoleDatabase(): Promise<string> {
  const { readFileSync } = await import("node:fs");
  const { default: pg } = await import("pg");
  const url = readFileSync(`${process.cwd()}/e2e/.output/database-url`, "utf8").trim();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ t: string }>("SELECT tablename::text AS t FROM pg_tables WHERE schemaname = 'public'");
    const parts: string[] = [];
    for (const { t } of tables.rows) {
      const rows = await client.query<{ r: string }>(`SELECT row_to_json(x)::text AS r FROM "${t.replace(/"/g, '""')}" x`);
      parts.push(...rows.rows.map((r) => r.r));
    }
    return parts.join("\n");
  } finally {
    await client.end();
  }
}

/** Fails if the value appears in the text as is or hex-encoded (how bytea columns dump). */
export function expectNotInDump(dump: string, value: string) {
  expect(dump, `database contains ${value.slice(0, 6)}…`).not.toContain(value);
  expect(dump, `database contains ${value.slice(0, 6)}… (hex)`).not.toContain(Buffer.from(value).toString("hex"));
}

/**
 * Another instance of the console under test: the same build, database and keys, on its own port
 * (as a second replica behind a load balancer would be). Stop it when done.
 */
export async function startAnotherInstance(port: number): Promise<{ origin: string; stop(): Promise<void> }> {
  const { readFileSync } = await import("node:fs");
  const { spawn } = await import("node:child_process");
  const shared = JSON.parse(readFileSync(`${process.cwd()}/e2e/.output/instance-env.json`, "utf8")) as Record<string, string>;
  const origin = `http://127.0.0.1:${port}`;
  const child = spawn(`${process.cwd()}/node_modules/.bin/next`, ["start", "-p", String(port), "-H", "127.0.0.1"], {
    stdio: "ignore",
    env: { ...process.env, ...shared, NEXTAUTH_URL: origin },
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${origin}/api/ready`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the second instance on ${origin} did not start`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    origin,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

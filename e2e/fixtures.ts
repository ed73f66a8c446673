import { randomUUID } from "node:crypto";
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, truncateSync } from "node:fs";
import path from "node:path";
import { expect, test as base, type APIResponse, type Browser, type BrowserContext, type BrowserContextOptions, type Page, type Route } from "@playwright/test";
import pg from "pg";
import { pgDump, type Dump } from "../test/pg-dump";

/** Unique per call so specs never collide, whatever order or parallelism they run in. */
export const unique = (prefix: string) => `${prefix} ${randomUUID().slice(0, 8)}`;

export async function signIn(page: Page, email: string, password: string) {
  await page.goto("/login");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/folders$/);
}

/** The contexts freshPage opened for the running test (a worker runs one test at a time). */
const freshContexts = new Set<BrowserContext>();

/**
 * The specs' `test`: what freshPage opened closes when the test ends, as Playwright closes `page`'s
 * own context. Left open, each page's timers and frames would go on taking the worker's CPU for the
 * rest of the run.
 */
export const test = base.extend<{ closeFreshPages: void }>({
  closeFreshPages: [
    async ({}, use) => {
      await use();
      await Promise.all([...freshContexts].map((context) => context.close().catch(() => undefined)));
      freshContexts.clear();
    },
    { auto: true },
  ],
});

/** A new browser context with nobody signed in (the default project state is the admin's); closed when the test ends. */
export async function freshPage(browser: Browser, options: BrowserContextOptions = {}) {
  const context = await browser.newContext({ ...options, storageState: { cookies: [], origins: [] } });
  freshContexts.add(context);
  context.once("close", () => freshContexts.delete(context));
  return context.newPage();
}

/**
 * Opens the folder's Members tab and sends the Add member dialog for `email` with `role`. Waits for
 * the dialog to close unless `expectRefusal`; returns the dialog (to read a refusal in it).
 */
export async function addMember(page: Page, folderId: string, email: string, role: "Viewer" | "Editor" | "Folder Admin", opts: { expectRefusal?: boolean } = {}) {
  await page.goto(`/folders/${folderId}/members`);
  await page.getByRole("button", { name: "Add member" }).click();
  const dialog = page.getByRole("dialog", { name: "Add member" });
  await dialog.getByLabel("E-mail").fill(email);
  await dialog.getByRole("combobox", { name: "Role" }).click();
  await page.getByRole("option", { name: role }).click();
  await dialog.getByRole("button", { name: "Add member" }).click();
  if (!opts.expectRefusal) await expect(dialog).toBeHidden();
  return dialog;
}

/**
 * In the open "Use credential asset" dialog: searches for the asset and picks it once the list
 * answers that search. Clicking while the previous list is still showing may hit a row the new
 * results replace the moment the click lands.
 */
export async function pickAsset(page: Page, assetName: string) {
  const dialog = page.getByRole("dialog", { name: "Use credential asset" });
  await dialog.getByRole("combobox", { name: "Search assets" }).fill(assetName);
  const list = dialog.getByRole("listbox", { name: "Assets" });
  const option = list.getByRole("option", { name: new RegExp(assetName) });
  await expect(option).toBeVisible();
  await expect(list).not.toHaveAttribute("aria-busy", "true");
  await option.click();
  await expect(dialog).toBeHidden();
}

/**
 * Holds the page's server action calls (POSTs with a Next-Action header) until `release()`: a slow
 * network, so that a dialog can be tried while it saves. Every other request goes straight through.
 */
export async function holdServerActions(page: Page) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await page.route(
    (url) => !url.pathname.startsWith("/_next/static/"),
    async (route) => {
      const request = route.request();
      if (request.method() === "POST" && request.headers()["next-action"]) await released;
      await route.continue().catch(() => undefined);
    },
  );
  return { release };
}

/**
 * Holds the page's server-component fetches (router refreshes and navigations) until the returned
 * function is called, as a slow network would: what the page lets a person do meanwhile is what
 * the caller checks. Build output (not routed, see captureBodies) is unaffected.
 */
export async function holdPageRenders(page: Page): Promise<() => Promise<void>> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const hold = async (route: Route) => {
    if (route.request().method() === "GET" && route.request().headers()["rsc"] === "1") await held;
    await route.fallback().catch(() => undefined);
  };
  const routed = (url: URL) => !url.pathname.startsWith("/_next/static/");
  await page.route(routed, hold);
  return async () => {
    release();
    await page.unroute(routed, hold);
  };
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
  registerSecret(password, "a person's password (createUser)");
  return { name, email, password };
}

/**
 * Opens the Azure Key Vault store form and fills it for sign-in with a client secret (everything but
 * the name and the CA bundle, which each spec sets itself).
 */
export async function fillAzureClientSecretStore(
  page: Page,
  azure: { vaultUrl: string; tenantId: string; authorityHost: string },
  app: { clientId: string; clientSecret: string },
) {
  await page.goto("/stores/new?kind=azure");
  await page.getByLabel("Key vault").fill(azure.vaultUrl);
  await page.getByLabel("Directory (tenant) ID").fill(azure.tenantId);
  await page.getByLabel("Application (client) ID").fill(app.clientId);
  await page.getByRole("combobox", { name: "Authentication" }).click();
  await page.getByRole("option", { name: "Client secret" }).click();
  await expect(page.getByRole("listbox")).toBeHidden();
  await page.getByLabel("Client secret").fill(app.clientSecret);
  await page.getByLabel("Authority host").fill(azure.authorityHost);
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

/** Creates a Credential asset (in the Latch Database store) and returns its id. */
export async function createCredentialAsset(page: Page, folderId: string, name: string, username: string, password: string) {
  await page.goto(`/folders/${folderId}/assets/new`);
  await page.getByRole("textbox", { name: /^Name\b/ }).fill(name);
  await page.getByRole("textbox", { name: /^Username\b/ }).fill(username);
  await page.getByLabel(/^Password\b/).fill(password);
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  return page.url().split("/assets/")[1]!.split(/[/?]/)[0]!;
}

/** The test server speaks plain TCP on loopback; TLS is on by default and must be switched off. */
export async function chooseTlsOff(page: Page) {
  await page.getByRole("combobox", { name: /^TLS\b/ }).click();
  await page.getByRole("option", { name: /^Off/ }).click();
}

const OUTPUT = path.join(process.cwd(), "e2e", ".output");
/** Where specs register the secret values they used; e2e/leak.spec.ts looks for each after the run. */
export const SECRETS_FILE = path.join(OUTPUT, "secrets.jsonl");

export type RegisteredSecret = { label: string; value: string; spec: string };

/**
 * Registers a secret value this run used — a password typed into an asset, a store's credential, a
 * client secret, a token — so that e2e/leak.spec.ts checks that it appears neither in the server's
 * log nor in a pg_dump of the database. Returns the value. Make such values random per run
 * (`newSecret` does), so a leak cannot hide behind a value some other run left behind. One JSON line per
 * value, appended (safe from parallel workers); scripts/e2e-server.ts empties the file at start.
 */
export function registerSecret(value: string, label: string): string {
  if (value.length < 8) throw new Error(`registerSecret(${label}): a value shorter than 8 characters cannot be searched for reliably`);
  let spec = "";
  try {
    spec = test.info().titlePath.join(" › ");
  } catch {
    /* outside a test (a worker fixture): no title */
  }
  mkdirSync(OUTPUT, { recursive: true });
  appendFileSync(SECRETS_FILE, `${JSON.stringify({ label, value, spec } satisfies RegisteredSecret)}\n`, { mode: 0o600 });
  return value;
}

/** A random secret value, registered for the leak check: `newSecret("pg-password")` → "pg-password-6f1c…". */
export const newSecret = (label: string) => registerSecret(`${label}-${randomUUID()}`, label);

/**
 * Registers a PEM's private key for the leak check. A PEM's line breaks are escaped in a JSON log line,
 * so the whole block would never match: two of its full base64 lines (random, 64 characters) are
 * registered instead, and are found whether the key appears as text or JSON-escaped. Returns the PEM.
 */
export function registerPrivateKey(pem: string, label: string): string {
  const blocks = [...pem.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----([\s\S]+?)-----END [A-Z ]*PRIVATE KEY-----/g)];
  if (blocks.length === 0) throw new Error(`registerPrivateKey(${label}): no private key in the PEM`);
  for (const [, body] of blocks) {
    const lines = body!.split(/\r?\n/).filter((l) => /^[A-Za-z0-9+/]{64}$/.test(l));
    for (const line of [lines[1], lines.at(-2)]) if (line) registerSecret(line, `${label} (a line of the private key)`);
  }
  return pem;
}

/**
 * Registers an API token read from the console or the API: the whole `lt_<prefix>_<secret>`, and its
 * secret part on its own (the prefix is public and logged; the secret never may be). Returns the token.
 */
export function registerApiToken(token: string, label: string): string {
  const match = /^lt_[a-z0-9]{8}_([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) throw new Error(`registerApiToken(${label}): not an API token`);
  registerSecret(token, label);
  registerSecret(match[1]!, `${label} (its secret part)`);
  return token;
}

/** Fills the open token dialog (one folder, "Use connections") and returns the token it reveals. */
/**
 * In the open New token dialog, chooses the folder. Now and then the click on the option leaves the
 * list open and nothing chosen (a long list scrolling under the pointer): chosen is when the field
 * shows the folder, else it tries again.
 */
export async function chooseTokenFolder(page: Page, folderName: string) {
  const folder = page.getByRole("dialog").getByRole("combobox", { name: "Folder" });
  await expect(async () => {
    if (!(await page.getByRole("listbox").isVisible())) await folder.click();
    await page.getByRole("option", { name: folderName, exact: true }).click({ timeout: 5_000 });
    await expect(folder).toContainText(folderName, { timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
}

export async function createTokenIn(page: Page, folderName: string, tokenName: string) {
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Name").fill(tokenName);
  await chooseTokenFolder(page, folderName);
  await dialog.getByRole("checkbox", { name: /Use connections/ }).check();
  await dialog.getByRole("button", { name: "Create token" }).click();
  await expect(dialog.getByText("you will not see it again")).toBeVisible();
  const token = await dialog.getByLabel("Token", { exact: true }).inputValue();
  expect(token).toMatch(/^lt_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
  registerApiToken(token, `the API token ${tokenName}`);
  // The only copy: Escape does not close the dialog, and there is no close button to press by mistake.
  await page.keyboard.press("Escape");
  await expect(dialog.getByLabel("Token", { exact: true })).toHaveValue(token);
  await expect(dialog.getByRole("button", { name: "Close" })).toHaveCount(0);
  await dialog.getByRole("button", { name: "I have copied it" }).click();
  await expect(dialog).toBeHidden();
  return token;
}

/**
 * Whether the page's JavaScript heap still holds `text`, after a full garbage collection (Chromium's
 * DevTools protocol): for values shown once, which nothing on the page may keep once they are gone.
 */
export async function heapHolds(page: Page, text: string): Promise<boolean> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const chunks: string[] = [];
    cdp.on("HeapProfiler.addHeapSnapshotChunk", (event) => chunks.push(event.chunk));
    await cdp.send("HeapProfiler.enable");
    await cdp.send("HeapProfiler.collectGarbage");
    await cdp.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    return heldStrongly(chunks.join(""), text);
  } finally {
    await cdp.detach();
  }
}

/**
 * Whether a string containing `text` is reachable from the page's roots through strong references.
 * Two holders do not count, as no script of the page can reach what only they keep:
 * - weak references: after a full collection Chromium may still list a DOM value in its
 *   "(External strings)" table, Blink's own cache until its next collection (seen: the new token's
 *   value, held only that way, 20 s after the dialog closed);
 * - Playwright's trace recorder, which caches recorded elements' values under a symbol property of
 *   theirs (`__playwright_snapshot_cache_`), detached ones included (seen: the token dialog's input,
 *   kept by the closed dialog's last event, now and then when several tests ran at once).
 */
function heldStrongly(json: string, text: string): boolean {
  if (!json.includes(text)) return false;
  type Snapshot = {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
    nodes: number[];
    edges: number[];
    strings: string[];
  };
  const { snapshot, nodes, edges, strings } = JSON.parse(json) as Snapshot;
  const { meta } = snapshot;
  const [nf, ef] = [meta.node_fields.length, meta.edge_fields.length];
  const [nType, nName, nEdges] = ["type", "name", "edge_count"].map((f) => meta.node_fields.indexOf(f)) as [number, number, number];
  const [eType, eName, eTo] = ["type", "name_or_index", "to_node"].map((f) => meta.edge_fields.indexOf(f)) as [number, number, number];
  const stringTypes = new Set(["string", "concatenated string", "sliced string"].map((t) => meta.node_types[0].indexOf(t)));
  const [weak, property] = ["weak", "property"].map((t) => meta.edge_types[0].indexOf(t)) as [number, number];
  const holding = new Set<number>();
  for (let i = 0; i < nodes.length; i += nf) if (stringTypes.has(nodes[i + nType]!) && strings[nodes[i + nName]!]!.includes(text)) holding.add(i);
  if (holding.size === 0) return false;
  // Where each node's edges start (edges are listed node by node); Playwright's caches, which an element
  // refers to by that symbol and, when stored out of the object, by an unnamed slot of its properties too.
  const firstEdge = new Map<number, number>();
  const playwright = new Set<number>();
  for (let i = 0, e = 0; i < nodes.length; i += nf) {
    firstEdge.set(i, e);
    for (let k = 0; k < nodes[i + nEdges]!; k++, e += ef) {
      if (edges[e + eType] === property && strings[edges[e + eName]!]!.includes("__playwright")) playwright.add(edges[e + eTo]!);
    }
  }
  // Then a walk from the root (node 0).
  const seen = new Set<number>([0]);
  const pending = [0];
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (holding.has(node)) return true;
    const from = firstEdge.get(node)!;
    for (let k = 0, e = from; k < nodes[node + nEdges]!; k++, e += ef) {
      const to = edges[e + eTo]!;
      if (edges[e + eType] === weak || playwright.has(to)) continue;
      if (!seen.has(to)) {
        seen.add(to);
        pending.push(to);
      }
    }
  }
  return false;
}

/** Every value registered so far in this run. */
export function registeredSecrets(): RegisteredSecret[] {
  if (!existsSync(SECRETS_FILE)) return [];
  return readFileSync(SECRETS_FILE, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RegisteredSecret);
}

/**
 * Every response body the page receives (HTML, RSC payloads, server action answers, JSON, other
 * origins'), to prove a secret never reaches the browser. Every request the page makes is routed
 * through the test, which fetches it, keeps the body and hands the response on (whole rather than
 * streamed; a redirect stays a redirect). Reading bodies back from Chromium missed many: it keeps none
 * for fetch() answers its DevTools buffer let go or a navigation abandoned, so RSC payloads and server
 * action answers went unchecked. `text()` waits until every routed request is done.
 */
export async function captureBodies(page: Page) {
  const bodies: string[] = [];
  const handling = new Set<Promise<void>>();
  // Build output (JS chunks, CSS, fonts) cannot hold a value and is not routed: routing it would only
  // slow hydration, and a click before hydration submits a form natively instead of through React.
  await page.route((url) => !url.pathname.startsWith("/_next/static/"), (route) => {
    const handled = (async () => {
      let response: APIResponse;
      try {
        // One retry on ECONNRESET, as Chromium itself retries a request on a kept-alive connection the
        // server closed as it was reused (Node closes idle ones after 5 s). Most likely that race is
        // what reached two tests' pages as "Could not reach Latch" before.
        response = await route.fetch({ maxRedirects: 0, maxRetries: 1, timeout: 120_000 });
      } catch {
        // Unreachable, or the page went away: nothing reached the browser.
        await route.abort("failed").catch(() => undefined);
        return;
      }
      let body: Buffer;
      try {
        body = await response.body();
      } catch {
        // Disposed: the page or its context closed while the answer was read, so it reached no browser.
        await route.abort("failed").catch(() => undefined);
        return;
      }
      bodies.push(body.toString("utf8"));
      // The page may have navigated away meanwhile; the body counts all the same.
      await route.fulfill({ response, body }).catch(() => undefined);
    })();
    handling.add(handled);
    return handled.finally(() => handling.delete(handled));
  });

  const settle = async () => {
    const deadline = Date.now() + 15_000;
    while (handling.size > 0) {
      if (Date.now() > deadline) throw new Error(`captureBodies: ${handling.size} request(s) still in flight after 15 s`);
      await Promise.race([Promise.all([...handling]), new Promise((resolve) => setTimeout(resolve, 250))]);
    }
  };
  return {
    /** All bodies so far, joined, once no request is still being fetched. */
    async text(): Promise<string> {
      await settle();
      return bodies.join("\n");
    },
    /** Forgets what was captured so far. */
    async reset(): Promise<void> {
      await settle();
      bodies.length = 0;
    },
  };
}

export type CapturedBodies = Awaited<ReturnType<typeof captureBodies>>;

/** The e2e server's database (scripts/e2e-server.ts writes its URL). */
export const consoleDatabaseUrl = () => readFileSync(path.join(OUTPUT, "database-url"), "utf8").trim();

/** One query against the console's database, for checks the UI cannot make (e.g. that nothing was saved). */
export async function queryConsoleDatabase<R extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: consoleDatabaseUrl() });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A real pg_dump of the console's own database, for leak checks (test/pg-dump.ts: when no pg_dump on
 * the machine can read the server, every row as COPY prints it; `tool` says which).
 */
export async function dumpConsoleDatabaseWithTool(): Promise<Dump> {
  return pgDump(consoleDatabaseUrl());
}

export async function dumpConsoleDatabase(): Promise<string> {
  return (await dumpConsoleDatabaseWithTool()).text;
}

/** Fails if the value appears in the text as is or hex-encoded (how bytea columns dump). */
export function expectNotInDump(dump: string, value: string, label = `${value.slice(0, 6)}…`) {
  // Boolean checks: a failure message must not print the dump, or the value.
  expect(dump.includes(value), `database contains ${label}`).toBe(false);
  expect(dump.includes(Buffer.from(value).toString("hex")), `database contains ${label} (hex)`).toBe(false);
}

/** When this run's e2e server started: scripts/e2e-server.ts writes `database-url` once, at start. */
export const runStartedAt = () => statSync(path.join(OUTPUT, "database-url")).mtimeMs;

/** Where startAnotherInstance writes an instance's stdout and stderr (appended; e2e/leak.spec.ts reads them). */
export const instanceLogPath = (port: number) => path.join(OUTPUT, `instance-${port}.log`);

/** The extra instances' logs written during this run (older files, left by earlier runs, are not). */
export function instanceLogsOfThisRun(): { port: number; file: string }[] {
  if (!existsSync(OUTPUT)) return [];
  const since = runStartedAt();
  return readdirSync(OUTPUT)
    .map((name) => /^instance-(\d+)\.log$/.exec(name))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ port: Number(m[1]), file: path.join(OUTPUT, m[0]) }))
    .filter(({ file }) => statSync(file).mtimeMs >= since);
}

/**
 * Another instance of the console under test: the same build, database and keys, on its own port
 * (as a second replica behind a load balancer would be). Stop it when done. Its stdout and stderr
 * are appended to e2e/.output/instance-<port>.log, which e2e/leak.spec.ts searches like the main log.
 */
export async function startAnotherInstance(
  port: number,
  opts: {
    /** In place of `-p port -H host`, and added to the environment (the instance must still answer on host:port). */
    args?: string[];
    env?: Record<string, string>;
    /** The address it is probed on and reported as its origin (and passed as -H unless `args` is given). */
    host?: string;
  } = {},
): Promise<{ origin: string; log: string; stop(): Promise<number | null> }> {
  const { spawn } = await import("node:child_process");
  const shared = JSON.parse(readFileSync(`${process.cwd()}/e2e/.output/instance-env.json`, "utf8")) as Record<string, string>;
  const host = opts.host ?? "127.0.0.1";
  const origin = `http://${host}:${port}`;
  const log = instanceLogPath(port);
  // A file an earlier run left is started afresh; within this run, each start on the port appends.
  if (existsSync(log) && statSync(log).mtimeMs < runStartedAt()) truncateSync(log);
  const fd = openSync(log, "a", 0o600);
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(process.execPath, [`${process.cwd()}/server.mjs`, ...(opts.args ?? ["-p", String(port), "-H", host])], {
      stdio: ["ignore", fd, fd],
      env: { ...process.env, ...shared, NEXTAUTH_URL: origin, ...opts.env },
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${origin}/api/ready`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      if (child.exitCode === null) child.kill("SIGTERM");
      throw new Error(`the instance on ${origin} did not start (its output: ${path.relative(process.cwd(), log)})`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    origin,
    log,
    /** SIGTERM, then the exit code once it has stopped. */
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      return new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    },
  };
}

import { expect, type Page, type Route } from "@playwright/test";
import { createPrivateKey, randomBytes, randomUUID, X509Certificate } from "node:crypto";
import { startAwsEmulator, seedDemoAws } from "../test/emulators/aws";
import { startAzureEmulator, type AzureEmulator } from "../test/emulators/azure";
import { startCyberarkEmulator, seedDemoCyberark } from "../test/emulators/cyberark";
import { startHashicorpEmulator, seedDemoHashicorp } from "../test/emulators/hashicorp";
import { createTestPki, type TestPki } from "../test/emulators/tls";
import { generateClientCertificate } from "../lib/vault/providers/azure/certificate";
import { captureBodies, createFolder, createUser, fillAzureClientSecretStore, freshPage, holdPageRenders, holdServerActions, newSecret, registerPrivateKey, registerSecret, signIn, test as base, type CapturedBodies, unique } from "./fixtures";

/**
 * Admins register every store kind against the emulators, which run in the test worker; the console
 * trusts each one only through the store's CA-bundle field, as an admin with a private CA would.
 * Every secret typed here is random per run and registered (registerSecret), so e2e/leak.spec.ts
 * also looks for it in the server's log and a dump of its database; each test checks what the
 * browser received.
 */
type Demo = { config: Record<string, unknown>; secrets: Record<string, string> };
type Emulators = { pki: TestPki; aws: Demo; cyberark: Demo; vault: Demo; azure: AzureEmulator };

/** The store secrets the emulators accept in this run: none of them may reach the browser. */
const storeSecrets = (e: Emulators) => [e.aws.secrets.secretAccessKey!, e.vault.secrets.secretId!, e.cyberark.secrets.passphrase!];

const test = base.extend<object, { emulators: Emulators }>({
  emulators: [
    async ({}, use) => {
      const pki = createTestPki();
      const aws = await startAwsEmulator({ pki });
      const ccp = await startCyberarkEmulator({ pki });
      const azure = await startAzureEmulator({ pki });
      const vault = await startHashicorpEmulator({ pki });
      const vaultDemo = seedDemoHashicorp(vault);
      const awsDemo = seedDemoAws(aws, pki);
      const ccpDemo = seedDemoCyberark(ccp);
      // The demo's AWS key is fixed; this run signs with a random one of its own.
      const accessKeyId = `AKIA${randomBytes(8).toString("hex").toUpperCase()}`;
      const secretAccessKey = newSecret("aws-secret-access-key");
      aws.addAccessKey(accessKeyId, secretAccessKey);
      // The CyberArk client key is stored encrypted, so its passphrase is typed too.
      const passphrase = newSecret("ccp-key-passphrase");
      const plainPem = ccpDemo.storeSecrets.clientCertificatePem;
      const keyPem = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----\n?/.exec(plainPem)![0];
      const encryptedKey = createPrivateKey(keyPem).export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase }) as string;
      registerPrivateKey(plainPem, "CyberArk client key");
      registerPrivateKey(encryptedKey, "CyberArk client key, encrypted");
      await use({
        pki,
        aws: { config: { ...awsDemo.storeConfig, accessKeyId }, secrets: { secretAccessKey } },
        cyberark: { config: ccpDemo.storeConfig, secrets: { clientCertificatePem: plainPem.replace(keyPem, encryptedKey), passphrase } },
        azure,
        vault: { config: vaultDemo.storeConfig, secrets: { secretId: registerSecret(vaultDemo.storeSecrets.secretId, "Vault AppRole secret ID") } },
      });
      await Promise.all([aws.close(), ccp.close(), azure.close(), vault.close()]);
    },
    { scope: "worker" },
  ],
});

/** Fails if any of the values reached the browser (HTML, RSC payloads, action answers, JSON). */
async function expectNoneReceived(bodies: CapturedBodies, values: string[]) {
  const text = await bodies.text();
  // Boolean checks: a failure must not print the value.
  for (const value of values) expect(text.includes(value), `the browser received ${value.slice(0, 12)}…`).toBe(false);
}

async function expectTest(page: Page, outcome: RegExp) {
  await page.getByRole("button", { name: "Test connection" }).click();
  await expect(page.getByRole("status").filter({ hasText: /Test (passed|failed)/ })).toHaveText(outcome, { timeout: 30_000 });
}

/** Called after a passing test of exactly what the form holds: Create tests the saved store too. */
async function saveAndRetest(page: Page, name: string) {
  await page.getByRole("button", { name: "Create store" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  await expect(page.getByText("Store created. Test passed.")).toBeVisible();
  await expect(page.getByRole("main")).toContainText("Healthy");
  await page.getByRole("button", { name: "Test saved settings" }).click();
  await expect(page.getByText(/^Test passed\./)).toBeVisible({ timeout: 30_000 });

  // Editing keeps stored secrets without re-entering them: they show as "Set", with no field holding
  // them (each test checks, from the captured answers, that no value reached the browser).
  await page.reload();
  await expect(page.getByRole("button", { name: /^Replace / }).first()).toBeVisible();
  await expect(page.getByText("Stored encrypted; never shown.").first()).toBeVisible();
  await page.getByLabel("Request timeout (ms)").fill("15000");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("Store saved.")).toBeVisible();
  // The form stays "Saving…" until the saved settings have rendered afresh; only then is it usable,
  // with focus back on the button that saved (the form is a new one, so not left on <body>).
  await expect(page.getByRole("button", { name: "Save changes" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Save changes" })).toBeFocused();
  // Untested settings: the old settings' health no longer stands for them.
  await expect(page.getByRole("main")).toContainText("Not tested");
  await page.getByRole("button", { name: "Test saved settings" }).click();
  await expect(page.getByText(/^Test passed\./).first()).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText("Healthy");
}

test("HashiCorp Vault (AppRole, KV auto-detected): a wrong secret ID fails precisely, then the round trip passes", async ({ page, emulators }) => {
  const bodies = await captureBodies(page);
  const { config, secrets } = emulators.vault;
  const name = unique("Vault");
  await page.goto("/stores/new?kind=hashicorp");
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("Vault address").fill(String(config.address));
  // A token typed first, then another method chosen: the token is not saved with the store.
  const abandonedToken = newSecret("abandoned-vault-token");
  await page.getByRole("textbox", { name: "Token", exact: true }).fill(abandonedToken);
  await page.getByRole("combobox", { name: "Authentication" }).click();
  await page.getByRole("option", { name: "AppRole (recommended)" }).click();
  await page.getByLabel("Role ID").fill(String(config.roleId));
  const wrongSecretId = newSecret("wrong-vault-secret-id");
  await page.getByLabel("Secret ID").fill(wrongSecretId);
  await page.getByLabel("CA bundle (PEM)").fill(emulators.pki.caCert);
  await expectTest(page, /Test failed\. Authentication failed/);
  await page.getByLabel("Secret ID").fill(secrets.secretId!);
  await expectTest(page, /Test passed\. Connected: wrote, read back and deleted a test secret\./);
  await saveAndRetest(page, name);
  await page.getByRole("combobox", { name: "Authentication" }).click();
  await page.getByRole("option", { name: "Token", exact: true }).click();
  await expect(page.getByRole("textbox", { name: "Token", exact: true })).toHaveValue("");
  await expect(page.getByRole("button", { name: "Replace Token" })).toHaveCount(0);
  await expectNoneReceived(bodies, [...storeSecrets(emulators), wrongSecretId, abandonedToken]);
});

test("a store created straight after a failed test is created, and shows the failure as its health, not 'Not tested'", async ({ page }) => {
  const name = unique("Dead vault");
  await page.goto("/stores/new?kind=hashicorp");
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("Vault address").fill("https://127.0.0.1:1");
  await page.getByRole("textbox", { name: "Token", exact: true }).fill(newSecret("dead-vault-token"));
  await expectTest(page, /Test failed\. Could not connect .*127\.0\.0\.1:1/);
  await page.getByRole("button", { name: "Create store" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  // Saved, but not as hoped: a warning, not a success.
  await expect(page.locator('[data-sonner-toast][data-type="warning"]')).toContainText("Store created, but its test failed");
  await expect(page.getByRole("main")).toContainText("Failing");
  await expect(page.getByRole("main")).not.toContainText("Not tested");
});

/** Opens the new AWS Secrets Manager store form and fills it for the emulator, with `secretAccessKey`. */
async function fillAwsStore(page: Page, emulators: Emulators, name: string, secretAccessKey: string) {
  const { config } = emulators.aws;
  await page.goto("/stores/new?kind=aws");
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("Region").fill(String(config.region));
  await page.getByLabel("Access key ID").fill(String(config.accessKeyId));
  await page.getByLabel("Secret access key").fill(secretAccessKey);
  await page.getByLabel("Secrets Manager endpoint").fill(String(config.endpoint));
  await page.getByLabel("CA bundle (PEM)").fill(emulators.pki.caCert);
}

test("AWS Secrets Manager: test before saving (a wrong key fails precisely), save, test, edit without secrets", async ({ page, emulators }) => {
  const bodies = await captureBodies(page);
  const name = unique("AWS");
  const wrongKey = newSecret("wrong-aws-secret-access-key");
  await fillAwsStore(page, emulators, name, wrongKey);
  await expectTest(page, /Test failed\. Authentication failed/);
  await page.getByLabel("Secret access key").fill(emulators.aws.secrets.secretAccessKey!);
  await expectTest(page, /Test passed\. Connected: wrote, read back and deleted a test secret\./);
  await saveAndRetest(page, name);
  await expectNoneReceived(bodies, [...storeSecrets(emulators), wrongKey]);
});

test("a change saved elsewhere does not wipe what is typed in a store's settings; saving it is refused until the saved ones are loaded", async ({ page, emulators }) => {
  const name = unique("AWS shared");
  await fillAwsStore(page, emulators, name, emulators.aws.secrets.secretAccessKey!);
  await page.getByRole("button", { name: "Create store" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();

  // Another tab (another administrator) saves a change to the same store.
  const other = await page.context().newPage();
  await other.goto(page.url());
  await other.getByLabel("Request timeout (ms)").fill("20000");
  await other.getByRole("button", { name: "Save changes" }).click();
  await expect(other.getByText("Store saved.")).toBeVisible();
  await other.close();

  // Here a change is being typed when this page re-renders (after a refresh of its cached values).
  const timeout = page.getByLabel("Request timeout (ms)");
  await timeout.fill("15000");
  await page.getByRole("button", { name: "Refresh cached values" }).click();
  const notice = page.getByRole("status").filter({ hasText: "Someone else saved this store’s settings" });
  await expect(notice).toBeVisible();
  await expect(timeout).toHaveValue("15000");
  // Saving what was typed would undo the other change unseen: it is refused, and nothing typed is lost.
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("Someone else changed this store while you were editing it").first()).toBeVisible();
  await expect(timeout).toHaveValue("15000");
  await notice.getByRole("button", { name: "Load the saved settings" }).click();
  await expect(timeout).toHaveValue("20000");
  await expect(notice).toHaveCount(0);
});

test("CyberArk CCP: read-only, an untrusted server certificate fails precisely, then mTLS works with an encrypted key and its passphrase", async ({ page, emulators }) => {
  const bodies = await captureBodies(page);
  const { config, secrets } = emulators.cyberark;
  const name = unique("CyberArk");
  await page.goto("/stores/new?kind=cyberark");
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("CCP URL").fill(String(config.url));
  await page.getByLabel("App ID").fill(String(config.appId));
  await page.getByLabel("Safe").fill(String(config.safe));
  await page.getByLabel("Client certificate and private key (PEM)").fill(secrets.clientCertificatePem!);
  await page.getByLabel("Certificate passphrase").fill(secrets.passphrase!);
  await expectTest(page, /Test failed\. Certificate not trusted/);
  await page.getByLabel("CA bundle (PEM)").fill(emulators.pki.caCert);
  await page.getByLabel("Probe secret (optional)").fill("payroll-db");
  await expectTest(page, /Test passed\. Connected and read the probe secret/);
  await saveAndRetest(page, name);
  await expectNoneReceived(bodies, storeSecrets(emulators));
  expect(await bodies.text()).not.toContain("PRIVATE KEY");
});

test("Azure Key Vault: Latch generates the key pair; only the public certificate is downloaded and, once registered, signs in", async ({ page, emulators }) => {
  const bodies = await captureBodies(page);
  const { azure } = emulators;
  const clientId = randomUUID();
  const name = unique("Azure");
  await page.goto("/stores/new?kind=azure");
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("Key vault").fill(azure.vaultUrl);
  await page.getByLabel("Directory (tenant) ID").fill(azure.tenantId);
  await page.getByLabel("Application (client) ID").fill(clientId);
  await page.getByLabel("Authority host").fill(azure.authorityHost);
  await page.getByLabel("CA bundle (PEM)").fill(emulators.pki.caCert);
  await page.getByRole("button", { name: "Create store" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();

  // A key pair is stored with the settings at once and the form starts afresh: with a change typed
  // and not saved, the page asks first, and Cancel keeps what was typed.
  const timeout = page.getByLabel("Request timeout (ms)");
  await timeout.fill("15000");
  await page.getByRole("button", { name: "Generate key pair in Latch" }).click();
  const discard = page.getByRole("alertdialog", { name: "Discard your unsaved changes?" });
  await discard.getByRole("button", { name: "Cancel" }).click();
  await expect(discard).toBeHidden();
  await expect(timeout).toHaveValue("15000");
  await expect(page.getByRole("link", { name: "Download .cer" })).toHaveCount(0);
  // Changed back, nothing is unsaved: no question. While the key pair is made, the form is read-only.
  await timeout.fill("10000");
  const actions = await holdServerActions(page);
  await page.getByRole("button", { name: "Generate key pair in Latch" }).click();
  await expect(page.getByRole("button", { name: "Generating…" })).toBeVisible();
  await expect(discard).toHaveCount(0);
  await expect(timeout).toBeDisabled();
  actions.release();
  await expect(page.getByRole("link", { name: "Download .cer" })).toBeVisible();
  await expect(timeout).toBeEnabled();
  // A replacement asks as before; with a change typed, it says that the change is discarded too.
  await timeout.fill("15000");
  await page.getByRole("button", { name: "Generate a new key pair" }).click();
  const replace = page.getByRole("alertdialog", { name: "Replace the certificate?" });
  await expect(replace).toContainText("The changes you have not saved in the settings below are discarded.");
  // A failed attempt says why inside the dialog, which stays open: the page behind it, toasts
  // included, is hidden from screen readers while it is open.
  const everything = () => true;
  const cutOff = (route: Route) => (route.request().method() === "POST" && route.request().headers()["next-action"] ? route.abort() : route.fallback());
  await page.route(everything, cutOff);
  await replace.getByRole("button", { name: "Generate new key pair" }).click();
  await expect(replace.getByRole("alert")).toContainText("Could not reach Latch");
  await page.unroute(everything, cutOff);
  await replace.getByRole("button", { name: "Generate new key pair" }).click();
  await expect(replace).toBeHidden();
  await expect(timeout).toHaveValue("10000");
  // While the form saves, the settings cannot be replaced under it.
  await timeout.fill("15000");
  const saving = await holdServerActions(page);
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("button", { name: "Generate a new key pair" })).toBeDisabled();
  saving.release();
  await expect(page.getByRole("button", { name: "Save changes" })).toBeEnabled();
  await expect(page.getByRole("button", { name: "Generate a new key pair" })).toBeEnabled();
  await expect(timeout).toHaveValue("15000");
  const download = await page.request.get(await page.getByRole("link", { name: "Download .cer" }).getAttribute("href") as string);
  expect(download.headers()["content-type"]).toBe("application/pkix-cert");
  const der = await download.body();
  expect(der.toString("latin1")).not.toContain("PRIVATE KEY");
  const certificate = new X509Certificate(der);

  // Not yet uploaded to the app registration: the sign-in is refused, and the test says so.
  await page.getByRole("button", { name: "Test saved settings" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Last test failed" })).toContainText("Authentication failed", { timeout: 30_000 });

  azure.registerApp({ clientId, certificates: [certificate.toString()], permissions: ["get", "list", "set", "delete", "purge", "recover"] });
  await page.getByRole("button", { name: "Test saved settings" }).click();
  await expect(page.getByText(/^Test passed\./)).toBeVisible({ timeout: 30_000 });
  const pemResponse = await page.request.get(`/api/v1/stores/${page.url().split("/stores/")[1]}/certificate?format=pem`);
  expect(await pemResponse.text()).toContain("BEGIN CERTIFICATE");
  expect(await bodies.text()).not.toContain("PRIVATE KEY");
});

test("non-admins get the not-found page for every stores page, and 404 from every store route; an unknown store is 404 to admins too", async ({ page, browser }) => {
  const person = await createUser(page);
  // A real store id: the admin sees it, the person must not learn that it exists.
  const adminList = await page.request.get("/api/v1/stores");
  expect(adminList.status()).toBe(200);
  const storeId = ((await adminList.json()) as { stores: { id: string; isBuiltIn: boolean }[] }).stores.find((s) => s.isBuiltIn)!.id;

  // To an administrator too, a store that does not exist answers 404, not a 200 page that says so.
  for (const path of ["/stores/00000000-0000-4000-8000-000000000000", "/stores/not-an-id"]) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(404);
    await expect(page.getByRole("heading", { level: 1 })).toContainText(/not found/i);
  }

  const p = await freshPage(browser);
  await signIn(p, person.email, person.password);
  for (const path of ["/stores", "/stores/new", "/stores/new?kind=aws", `/stores/${storeId}`, "/stores/00000000-0000-4000-8000-000000000000"]) {
    expect((await p.goto(path))?.status(), path).toBe(404);
  }
  // The REST routes with the person's session cookie (no token): 404 whether the store exists or not.
  // The same answer whether the store exists or not (the request id aside), and nothing about it.
  const answers = new Map<number, Set<string>>();
  for (const id of [storeId, "00000000-0000-4000-8000-000000000000", "not-an-id"]) {
    const routes = [
      ["GET", "/api/v1/stores"],
      ["GET", `/api/v1/stores/${id}`],
      ["POST", `/api/v1/stores/${id}/refresh`],
      ["GET", `/api/v1/stores/${id}/certificate?format=pem`],
    ] as const;
    for (const [i, [method, path]] of routes.entries()) {
      const response = await p.request.fetch(path, { method });
      expect(response.status(), `${method} ${path}`).toBe(404);
      const body = (await response.text()).replace(/"requestId":"[^"]*"/, '"requestId":"…"');
      expect(body).not.toContain("Latch Database");
      answers.set(i, (answers.get(i) ?? new Set()).add(body));
    }
  }
  for (const [i, bodies] of answers) expect([...bodies], `route ${i}`).toHaveLength(1);
});

test("the seeded Latch Database store is listed and passes its test in the browser", async ({ page }) => {
  await page.goto("/stores");
  const row = page.getByRole("row", { name: /Latch Database/ });
  await expect(row).toContainText("Tenant-wide");
  await expect(row).toContainText("Read-write");
  await row.getByRole("link", { name: "Latch Database" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Latch Database" })).toBeVisible();
  await expect(page).toHaveTitle("Latch Database · Latch");
  // Built in: no delete, no settings form.
  await expect(page.getByRole("button", { name: "Delete" })).toHaveCount(0);
  await page.getByRole("button", { name: "Test saved settings" }).click();
  await expect(page.getByText("Test passed. Connected: wrote, read back and deleted a test secret.")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText("Healthy");
});

test("Azure Key Vault with a client secret: test, save, edit without re-entering it", async ({ page, emulators }) => {
  const bodies = await captureBodies(page);
  const { azure } = emulators;
  const clientId = randomUUID();
  const clientSecret = newSecret("azure-client-secret");
  const wrongSecret = newSecret("wrong-azure-client-secret");
  azure.registerApp({ clientId, secrets: [{ value: clientSecret }] });
  const name = unique("Azure secret");
  await fillAzureClientSecretStore(page, azure, { clientId, clientSecret: wrongSecret });
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("CA bundle (PEM)").fill(emulators.pki.caCert);
  await expectTest(page, /Test failed\. Authentication failed/);
  await page.getByLabel("Client secret").fill(clientSecret);
  await expectTest(page, /Test passed\. Connected: wrote, read back and deleted a test secret\./);
  await saveAndRetest(page, name);

  // A key pair would replace the working client secret at once: the page asks, and Cancel changes nothing.
  await expect(page.getByText("No certificate yet: this store signs in with a client secret.")).toBeVisible();
  await page.getByRole("button", { name: "Generate key pair in Latch" }).click();
  const ask = page.getByRole("alertdialog", { name: "Switch this store to a certificate?" });
  await expect(ask).toContainText("Sign-ins fail until you download the certificate and upload it to the app registration.");
  await ask.getByRole("button", { name: "Cancel" }).click();
  await expect(ask).toBeHidden();
  await page.reload();
  await expect(page.getByText("No certificate yet: this store signs in with a client secret.")).toBeVisible();
  await page.getByRole("button", { name: "Test saved settings" }).click();
  await expect(page.getByText(/^Test passed\./).first()).toBeVisible({ timeout: 30_000 });

  // Confirmed, the store signs in with the new certificate, which the app registration does not know yet.
  await page.getByRole("button", { name: "Generate key pair in Latch" }).click();
  await ask.getByRole("button", { name: "Generate and switch" }).click();
  await expect(page.getByRole("link", { name: "Download .cer" })).toBeVisible();
  await page.getByRole("button", { name: "Test saved settings" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Last test failed" })).toContainText("Authentication failed", { timeout: 30_000 });
  await expectNoneReceived(bodies, [clientSecret, wrongSecret]);
});

test("Azure Key Vault: a certificate uploaded as a PEM file signs in; a key that is not the certificate's is refused at save", async ({ page, emulators }) => {
  const bodies = await captureBodies(page);
  const { azure } = emulators;
  const clientId = randomUUID();
  const good = generateClientCertificate({ commonName: "latch-e2e-upload" });
  const other = generateClientCertificate({ commonName: "latch-e2e-other" });
  registerPrivateKey(good.privateKeyPem, "uploaded Azure certificate key");
  registerPrivateKey(other.privateKeyPem, "mismatched Azure certificate key");
  azure.registerApp({ clientId, certificates: [good.certificatePem] });
  const name = unique("Azure upload");
  await page.goto("/stores/new?kind=azure");
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("Key vault").fill(azure.vaultUrl);
  await page.getByLabel("Directory (tenant) ID").fill(azure.tenantId);
  await page.getByLabel("Application (client) ID").fill(clientId);
  await page.getByLabel("Authority host").fill(azure.authorityHost);
  await page.getByLabel("CA bundle (PEM)").fill(emulators.pki.caCert);

  const upload = page.getByLabel("Upload Certificate and private key (PEM) file");
  await upload.setInputFiles({ name: "mismatched.pem", mimeType: "application/x-pem-file", buffer: Buffer.from(`${good.certificatePem}${other.privateKeyPem}`) });
  await page.getByRole("button", { name: "Create store" }).click();
  await expect(page.getByText(/The private key does not belong to the certificate/)).toBeVisible();

  await upload.setInputFiles({ name: "latch.pem", mimeType: "application/x-pem-file", buffer: Buffer.from(good.credentialPem) });
  await expect(page.getByLabel("Certificate and private key (PEM)", { exact: true })).toHaveValue(good.credentialPem);
  await expectTest(page, /Test passed\. Connected: wrote, read back and deleted a test secret\./);
  await page.getByRole("button", { name: "Create store" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  await expect(page.getByRole("button", { name: "Replace Certificate and private key (PEM)" })).toBeVisible();
  expect(await bodies.text()).not.toContain("PRIVATE KEY");
});

/** A Vault store made through the form (AppRole), back on its own page. */
async function createVaultStore(page: Page, emulators: Emulators, extra?: (page: Page) => Promise<void>) {
  const name = unique("Vault");
  await page.goto("/stores/new?kind=hashicorp");
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("Vault address").fill(String(emulators.vault.config.address));
  await page.getByRole("combobox", { name: "Authentication" }).click();
  await page.getByRole("option", { name: "AppRole (recommended)" }).click();
  await page.getByLabel("Role ID").fill(String(emulators.vault.config.roleId));
  await page.getByLabel("Secret ID").fill(emulators.vault.secrets.secretId!);
  await page.getByLabel("CA bundle (PEM)").fill(emulators.pki.caCert);
  await extra?.(page);
  await page.getByRole("button", { name: "Create store" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  return { name, id: page.url().split("/stores/")[1]! };
}

test("an optional write-only setting can be removed: the proxy goes, the required secret only offers Replace", async ({ page, emulators }) => {
  const proxyUrl = `http://latch:${newSecret("e2e-proxy-pass")}@proxy.invalid:3128`;
  await createVaultStore(page, emulators, (p) => p.getByLabel("HTTPS egress proxy (optional)").fill(proxyUrl));
  // Through a proxy that does not exist, the test fails.
  await page.getByRole("button", { name: "Test saved settings" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Last test failed" })).toBeVisible({ timeout: 30_000 });

  await expect(page.getByRole("button", { name: "Replace Secret ID" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Remove Secret ID" })).toHaveCount(0);
  // Each swap puts focus on what took the pressed button's place, so keyboard use goes on from there.
  await page.getByRole("button", { name: "Remove HTTPS egress proxy (optional)" }).click();
  await expect(page.getByText("Removed on save")).toBeVisible();
  await expect(page.getByRole("button", { name: "Keep it: HTTPS egress proxy (optional)" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("button", { name: "Replace HTTPS egress proxy (optional)" })).toBeFocused();
  await page.getByRole("button", { name: "Remove HTTPS egress proxy (optional)" }).click();
  await expect(page.getByText("Removed on save")).toBeVisible();
  // The saved page is held back: until it has rendered, the form stays busy, since it then starts
  // afresh and would drop whatever was typed or clicked in between.
  const release = await holdPageRenders(page);
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("Store saved.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Saving…" })).toHaveAttribute("aria-busy", "true");
  await expect(page.getByText("Removed on save")).toBeVisible();
  await expect(page.getByLabel("Request timeout (ms)")).toBeDisabled();
  // Menus too (Radix opens them on pointerdown, which a disabled fieldset alone does not stop).
  await page.getByRole("combobox", { name: "Mode" }).click({ force: true });
  await expect(page.getByRole("listbox")).toHaveCount(0);
  await release();
  await expect(page.getByRole("button", { name: "Save changes" })).toBeVisible();
  // The form starts afresh from what was saved: nothing is left "to be removed".
  await expect(page.getByText("Removed on save")).toHaveCount(0);
  await expect(page.getByLabel("HTTPS egress proxy (optional)")).toHaveValue("");

  await page.reload();
  await expect(page.getByLabel("HTTPS egress proxy (optional)")).toHaveValue("");
  await page.getByRole("button", { name: "Replace Secret ID" }).click();
  await expect(page.getByLabel("Secret ID")).toBeFocused();
  await page.reload();
  await page.getByRole("button", { name: "Test saved settings" }).click();
  await expect(page.getByText(/^Test passed\./)).toBeVisible({ timeout: 30_000 });
  expect(await page.content()).not.toContain("e2e-proxy-pass-");
});

test("changing the Vault address asks for the secret again; nothing is saved until it is entered", async ({ page, emulators }) => {
  const { id } = await createVaultStore(page, emulators);
  const address = page.getByLabel("Vault address");
  const original = await address.inputValue();
  await expect(page.getByRole("button", { name: "Replace Secret ID" })).toBeVisible();

  await address.fill("https://vault.elsewhere.example:8200");
  await expect(page.getByRole("note")).toContainText("You changed the Vault address. Latch never sends stored secrets to a new address");
  await expect(page.getByRole("button", { name: "Replace Secret ID" })).toHaveCount(0);
  await expect(page.getByLabel("Secret ID")).toHaveValue("");
  await page.getByRole("button", { name: "Test connection" }).click();
  await expect(page.getByText("The Vault address changed: enter Secret ID again. Latch never sends a stored secret to a new address.")).toBeVisible();
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("The Vault address changed: enter Secret ID again. Latch never sends a stored secret to a new address.")).toBeVisible();

  // Nothing changed: the saved address is the old one, its secret still set.
  await page.goto(`/stores/${id}`);
  await expect(page.getByLabel("Vault address")).toHaveValue(original);
  await expect(page.getByRole("button", { name: "Replace Secret ID" })).toBeVisible();

  // With the secret entered again, the new address saves.
  await page.getByLabel("Vault address").fill("https://vault.elsewhere.example:8200");
  await page.getByLabel("Secret ID").fill(emulators.vault.secrets.secretId!);
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("Store saved.")).toBeVisible();
  // Saved, the typed secret leaves the page: the field shows it is set, as after a reload.
  await expect(page.getByRole("button", { name: "Replace Secret ID" })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("Vault address")).toHaveValue("https://vault.elsewhere.example:8200");
  await expect(page.getByRole("button", { name: "Replace Secret ID" })).toBeVisible();
});

test("Discard changes puts the saved settings back, secrets included; Cancel leaves a new store unsaved", async ({ page, emulators }) => {
  const { name } = await createVaultStore(page, emulators);
  const discard = page.getByRole("button", { name: "Discard changes" });
  await expect(discard).toBeDisabled();
  const address = page.getByLabel("Vault address");
  const original = await address.inputValue();
  await page.getByLabel(/^Name\b/).fill(`${name} edited`);
  // A new address asks for the secret again: the kept one is no longer offered.
  await address.fill("https://vault.elsewhere.example:8200");
  await page.getByLabel("Secret ID").fill("typed-and-thrown-away");
  await expect(page.getByRole("button", { name: "Replace Secret ID" })).toHaveCount(0);
  await discard.click();
  await expect(page.getByLabel(/^Name\b/)).toHaveValue(name);
  await expect(page.getByLabel(/^Name\b/)).toBeFocused();
  await expect(address).toHaveValue(original);
  await expect(page.getByRole("button", { name: "Replace Secret ID" })).toBeVisible();
  await expect(discard).toBeDisabled();
  // Nothing was saved either way.
  await page.reload();
  await expect(page.getByLabel(/^Name\b/)).toHaveValue(name);

  await page.goto("/stores/new?kind=hashicorp");
  const abandoned = unique("Abandoned");
  await page.getByLabel(/^Name\b/).fill(abandoned);
  await page.getByRole("link", { name: "Cancel" }).click();
  await expect(page).toHaveURL(/\/stores$/);
  await expect(page.getByRole("link", { name: abandoned })).toHaveCount(0);
});

test("a secret replaced and saved with Enter leaves focus on its Replace button, not on the page", async ({ page, emulators }) => {
  await createVaultStore(page, emulators);
  await page.getByRole("button", { name: "Replace Secret ID" }).click();
  const secretId = page.getByLabel("Secret ID");
  await expect(secretId).toBeFocused();
  await secretId.fill(emulators.vault.secrets.secretId!);
  await secretId.press("Enter");
  await expect(page.getByText("Store saved.")).toBeVisible();
  // The input is gone once saved ("Set"); a keyboard user goes on from the control that replaced it.
  await expect(page.getByRole("button", { name: "Replace Secret ID" })).toBeFocused();
});

test("a CA bundle too large to send is refused in the form with its size, not as Latch being unreachable", async ({ page, emulators }) => {
  await page.goto("/stores/new?kind=hashicorp");
  await page.getByLabel(/^Name\b/).fill(unique("Vault"));
  await page.getByLabel("Vault address").fill(String(emulators.vault.config.address));
  // 2.5 MB: over the 2 MB Next takes in a server action, which it refuses before Latch sees it.
  // Pasted in one go (fill() types it into the page's text model far more slowly than a paste).
  const pasted = emulators.pki.caCert.repeat(Math.ceil((2.5 * 1024 * 1024) / emulators.pki.caCert.length));
  await page.getByLabel("CA bundle (PEM)").evaluate((field: HTMLTextAreaElement, text) => {
    Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value")!.set!.call(field, text);
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }, pasted);
  await page.getByRole("button", { name: "Create store" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /What you entered is too large to send \(2\.\d MB; Latch takes at most 2 MB at once\)/ }).first()).toBeVisible();
  await expect(page.getByText("Could not reach Latch")).toHaveCount(0);
  await expect(page).toHaveURL(/\/stores\/new/);
});

test("trusting a new CA asks for the secret again, like a new address; removing it again asks nothing", async ({ page, emulators }) => {
  await createVaultStore(page, emulators);
  const bundle = page.getByLabel("CA bundle (PEM)");
  await expect(page.getByRole("button", { name: "Replace Secret ID" })).toBeVisible();

  await bundle.fill(`${emulators.pki.caCert}${createTestPki().caCert}`);
  await expect(page.getByRole("note")).toContainText("You changed the CA bundle. Latch never sends stored secrets under a newly trusted CA");
  await expect(page.getByRole("button", { name: "Replace Secret ID" })).toHaveCount(0);
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("The CA bundle changed: enter Secret ID again. Latch never sends a stored secret under a newly trusted CA.")).toBeVisible();

  await bundle.fill(emulators.pki.caCert);
  await expect(page.getByRole("note")).toHaveCount(0);
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("Store saved.")).toBeVisible();
});

test("an error for a field the form is not showing is shown above the buttons, not lost", async ({ page, emulators }) => {
  const name = unique("Vault hidden probe");
  await page.goto("/stores/new?kind=hashicorp");
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("Vault address").fill(String(emulators.vault.config.address));
  await page.getByLabel(/^Token/).fill(newSecret("vault-token-unused"));
  // The probe secret is asked only for read-only stores: typed there, then hidden by switching to read-write.
  await page.getByRole("combobox", { name: "Mode" }).click();
  await page.getByRole("option", { name: "Read-only" }).click();
  await page.getByLabel("Probe secret (optional)").fill("p".repeat(501));
  await page.getByRole("combobox", { name: "Mode" }).click();
  await page.getByRole("option", { name: "Read-write" }).click();
  await expect(page.getByLabel("Probe secret (optional)")).toHaveCount(0);

  await page.getByRole("button", { name: "Create store" }).click();
  const alert = page.getByRole("alert").filter({ hasText: "Could not create the store" });
  await expect(alert).toContainText("The probe secret's name can be at most 500 characters.");
  await expect(page).toHaveURL(/\/stores\/new/);
  // Sent with Enter from a field: the form is read-only while it saves, and the refusal gives focus back.
  await page.getByLabel(/^Name\b/).press("Enter");
  await expect(page.getByRole("button", { name: "Create store" })).not.toHaveAttribute("aria-busy", "true");
  await expect(alert).toContainText("The probe secret's name can be at most 500 characters.");
  await expect(page.getByLabel(/^Name\b/)).toBeFocused();
});

test("a store in use cannot be deleted: the dialog says so before anyone confirms, and after a reload the store is still there", async ({ page, emulators }) => {
  const folderName = unique("Store use");
  const folderId = await createFolder(page, folderName);
  const store = await createVaultStore(page, emulators);
  await page.goto(`/folders/${folderId}/assets`);
  await page.getByRole("link", { name: "Add asset" }).first().click();
  await page.getByRole("radio", { name: /^Secret/ }).check();
  await page.getByRole("textbox", { name: /^Name\b/ }).fill("CRM API key");
  await page.getByRole("combobox", { name: "Credential store" }).click();
  await page.getByRole("option", { name: new RegExp(store.name) }).click();
  await page.getByRole("radio", { name: /^Use an existing secret/ }).check();
  await page.getByRole("textbox", { name: /^Path\b/ }).fill("prod/crm-api-key");
  await page.getByRole("button", { name: "Create asset" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "CRM API key" })).toBeVisible();

  await page.goto("/stores");
  await expect(page.getByRole("row", { name: new RegExp(store.name) })).toContainText("1");
  await page.goto(`/stores/${store.id}`);
  await page.getByRole("button", { name: "Delete" }).click();
  // Said before anyone confirms, naming the asset; the server still refuses a stale page (lib/stores tests).
  await expect(page.getByRole("alertdialog")).toContainText(`“${store.name}” is in use by an asset: “CRM API key” (in ${folderName}).`);
  await expect(page.getByRole("button", { name: "Delete store" })).toBeDisabled();
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.reload();
  await expect(page.getByRole("heading", { level: 1, name: store.name })).toBeVisible();
  await page.goto("/stores");
  await expect(page.getByRole("link", { name: store.name })).toBeVisible();
});

import { expect, test as base, type Page } from "@playwright/test";
import { randomUUID, X509Certificate } from "node:crypto";
import { startAwsEmulator, seedDemoAws } from "../test/emulators/aws";
import { startAzureEmulator, type AzureEmulator } from "../test/emulators/azure";
import { startCyberarkEmulator, seedDemoCyberark } from "../test/emulators/cyberark";
import { startHashicorpEmulator, seedDemoHashicorp } from "../test/emulators/hashicorp";
import { createTestPki, type TestPki } from "../test/emulators/tls";
import { createUser, freshPage, signIn, unique } from "./fixtures";

/**
 * Admins register every store kind against the emulators, which run in the test worker; the console
 * trusts each one only through the store's CA-bundle field, as an admin with a private CA would.
 */
type Demo = { config: Record<string, unknown>; secrets: Record<string, string> };
type Emulators = { pki: TestPki; aws: Demo; cyberark: Demo; vault: Demo; azure: AzureEmulator; secretValues: string[] };

const test = base.extend<object, { emulators: Emulators }>({
  emulators: [
    async ({}, use) => {
      const pki = createTestPki();
      const aws = await startAwsEmulator({ pki });
      const ccp = await startCyberarkEmulator({ pki });
      const azure = await startAzureEmulator({ pki });
      const vault = await startHashicorpEmulator({ pki });
      const vaultDemo = await seedDemoHashicorp(vault);
      const awsDemo = await seedDemoAws(aws, pki);
      const ccpDemo = await seedDemoCyberark(ccp);
      await use({
        pki,
        aws: { config: awsDemo.storeConfig, secrets: awsDemo.storeSecrets },
        cyberark: { config: ccpDemo.storeConfig, secrets: ccpDemo.storeSecrets },
        azure,
        vault: { config: vaultDemo.storeConfig, secrets: vaultDemo.storeSecrets },
        secretValues: [...Object.values(awsDemo.storeSecrets), ...Object.values(ccpDemo.storeSecrets), ...Object.values(vaultDemo.storeSecrets)].map(String),
      });
      await Promise.all([aws.close(), ccp.close(), azure.close(), vault.close()]);
    },
    { scope: "worker" },
  ],
});

/** Every response body the browser sees, to prove store secrets never reach it. */
function captureBodies(page: Page) {
  const bodies: string[] = [];
  page.on("response", async (response) => {
    try {
      bodies.push(await response.text());
    } catch {
      /* redirects and aborted requests have no body */
    }
  });
  return bodies;
}

async function expectTest(page: Page, outcome: RegExp) {
  await page.getByRole("button", { name: "Test connection" }).click();
  await expect(page.getByRole("status").filter({ hasText: /Test (passed|failed)/ })).toHaveText(outcome, { timeout: 30_000 });
}

async function saveAndRetest(page: Page, name: string) {
  await page.getByRole("button", { name: "Create store" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  await page.getByRole("button", { name: "Test saved settings" }).click();
  await expect(page.getByText(/^Test passed\./)).toBeVisible({ timeout: 30_000 });

  // Editing keeps stored secrets without re-entering them: they show as "Set", never pre-filled.
  await page.reload();
  await expect(page.getByRole("button", { name: /^Replace / }).first()).toBeVisible();
  for (const input of await page.locator('input[type="password"]').all()) await expect(input).toHaveValue("");
  await page.getByLabel("Request timeout (ms)").fill("15000");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("Store saved.")).toBeVisible();
  await page.getByRole("button", { name: "Test saved settings" }).click();
  await expect(page.getByText(/^Test passed\./).first()).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("main")).toContainText("Healthy");
}

test("HashiCorp Vault (AppRole, KV auto-detected): a wrong secret ID fails precisely, then the round trip passes", async ({ page, emulators }) => {
  const bodies = captureBodies(page);
  const { config, secrets } = emulators.vault;
  const name = unique("Vault");
  await page.goto("/stores/new?kind=hashicorp");
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("Vault address").fill(String(config.address));
  await page.getByRole("combobox", { name: "Authentication" }).click();
  await page.getByRole("option", { name: "AppRole (recommended)" }).click();
  await page.getByLabel("Role ID").fill(String(config.roleId));
  await page.getByLabel("Secret ID").fill("00000000-0000-0000-0000-000000000000");
  await page.getByLabel("CA bundle (PEM)").fill(emulators.pki.caCert);
  await expectTest(page, /Test failed\. Authentication failed/);
  await page.getByLabel("Secret ID").fill(secrets.secretId!);
  await expectTest(page, /Test passed\. Connected: wrote, read back and deleted a test secret\./);
  await saveAndRetest(page, name);
  for (const secret of emulators.secretValues) expect(bodies.join("\n")).not.toContain(secret);
});

test("AWS Secrets Manager: test before saving (a wrong key fails precisely), save, test, edit without secrets", async ({ page, emulators }) => {
  const bodies = captureBodies(page);
  const { config, secrets } = emulators.aws;
  const name = unique("AWS");
  await page.goto("/stores/new?kind=aws");
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("Region").fill(String(config.region));
  await page.getByLabel("Access key ID").fill(String(config.accessKeyId));
  await page.getByLabel("Secret access key").fill("wrong-secret-key-000000000000000000000");
  await page.getByLabel("Secrets Manager endpoint").fill(String(config.endpoint));
  await page.getByLabel("CA bundle (PEM)").fill(emulators.pki.caCert);
  await expectTest(page, /Test failed\. Authentication failed/);
  await page.getByLabel("Secret access key").fill(secrets.secretAccessKey!);
  await expectTest(page, /Test passed\. Connected: wrote, read back and deleted a test secret\./);
  await saveAndRetest(page, name);
  for (const secret of emulators.secretValues) expect(bodies.join("\n")).not.toContain(secret);
});

test("CyberArk CCP: read-only, an untrusted server certificate fails precisely, then mTLS works", async ({ page, emulators }) => {
  const bodies = captureBodies(page);
  const { config, secrets } = emulators.cyberark;
  const name = unique("CyberArk");
  await page.goto("/stores/new?kind=cyberark");
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("CCP URL").fill(String(config.url));
  await page.getByLabel("App ID").fill(String(config.appId));
  await page.getByLabel("Safe").fill(String(config.safe));
  await page.getByLabel("Client certificate and private key (PEM)").fill(secrets.clientCertificatePem!);
  await expectTest(page, /Test failed\. Certificate not trusted/);
  await page.getByLabel("CA bundle (PEM)").fill(emulators.pki.caCert);
  await page.getByLabel("Probe secret (optional)").fill("payroll-db");
  await expectTest(page, /Test passed\. Connected and read the probe secret/);
  await saveAndRetest(page, name);
  for (const secret of emulators.secretValues) expect(bodies.join("\n")).not.toContain(secret);
});

test("Azure Key Vault: Latch generates the key pair; only the public certificate is downloaded and, once registered, signs in", async ({ page, emulators }) => {
  const bodies = captureBodies(page);
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

  await page.getByRole("button", { name: "Generate key pair in Latch" }).click();
  await expect(page.getByRole("link", { name: "Download .cer" })).toBeVisible();
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
  expect(bodies.join("\n")).not.toContain("PRIVATE KEY");
});

test("non-admins get the not-found page for every stores page", async ({ page, browser }) => {
  const person = await createUser(page);
  const p = await freshPage(browser);
  await signIn(p, person.email, person.password);
  for (const path of ["/stores", "/stores/new", "/stores/new?kind=aws", "/stores/00000000-0000-4000-8000-000000000000"]) {
    expect((await p.goto(path))?.status(), path).toBe(404);
  }
});

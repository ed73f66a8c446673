import { randomBytes, randomUUID } from "node:crypto";
import { expect, test as base, type Page } from "@playwright/test";
import { startAwsEmulator, type AwsEmulator } from "../test/emulators/aws";
import { startAzureEmulator, type AzureEmulator } from "../test/emulators/azure";
import { startCyberarkEmulator, type CyberarkEmulator } from "../test/emulators/cyberark";
import { createTestPki, type TestPki } from "../test/emulators/tls";
import { chooseStore, deleteAsset, expectFound, openNewAsset, resolveTest } from "./asset-helpers";
import { captureBodies, type CapturedBodies, createFolder, fillAzureClientSecretStore, newSecret, registerPrivateKey, unique } from "./fixtures";

/**
 * Credential assets on the external store kinds besides Vault (that one is in assets.spec.ts): Azure
 * Key Vault, AWS Secrets Manager and CyberArk CCP, each against its emulator over TLS. A person points
 * an asset at a secret already in the store with that kind's reference fields, runs the Resolve test
 * (metadata only), pins a version (or, for CyberArk, which has none, another account), and deletes it.
 * Every value is random and registered, so e2e/leak.spec.ts looks for it in the log and the database.
 */
type Store<E> = { pki: TestPki; emulator: E; fill(page: Page): Promise<void>; storeSecrets: string[] };

const test = base.extend<object, { azure: Store<AzureEmulator>; aws: Store<AwsEmulator>; cyberark: Store<CyberarkEmulator> }>({
  azure: [
    async ({}, use) => {
      const pki = createTestPki();
      const emulator = await startAzureEmulator({ pki });
      const clientId = randomUUID();
      const clientSecret = newSecret("akv-client-secret");
      // Read access only: the assets reference secrets, Latch writes none.
      emulator.registerApp({ clientId, secrets: [{ value: clientSecret }], permissions: ["get", "list"] });
      const fill = (page: Page) => fillAzureClientSecretStore(page, emulator, { clientId, clientSecret });
      await use({ pki, emulator, fill, storeSecrets: [clientSecret] });
      await emulator.close();
    },
    { scope: "worker" },
  ],
  aws: [
    async ({}, use) => {
      const pki = createTestPki();
      const emulator = await startAwsEmulator({ pki });
      const accessKeyId = `AKIA${randomBytes(8).toString("hex").toUpperCase()}`;
      const secretAccessKey = newSecret("aws-secret-access-key");
      emulator.addAccessKey(accessKeyId, secretAccessKey);
      const fill = async (page: Page) => {
        await page.goto("/stores/new?kind=aws");
        await page.getByLabel("Region").fill(emulator.region);
        await page.getByLabel("Access key ID").fill(accessKeyId);
        await page.getByLabel("Secret access key").fill(secretAccessKey);
        await page.getByLabel("Secrets Manager endpoint").fill(emulator.url);
      };
      await use({ pki, emulator, fill, storeSecrets: [secretAccessKey] });
      await emulator.close();
    },
    { scope: "worker" },
  ],
  cyberark: [
    async ({}, use) => {
      const pki = createTestPki();
      const emulator = await startCyberarkEmulator({ pki });
      const client = pki.issueClient("latch-e2e-assets");
      emulator.registerApp({ appId: "Latch", fingerprints: [client.fingerprint256], safes: ["Finance"] });
      const pem = registerPrivateKey(`${client.cert}${client.key}`, "CyberArk client key (asset kinds)");
      const fill = async (page: Page) => {
        await page.goto("/stores/new?kind=cyberark");
        await page.getByLabel("CCP URL").fill(emulator.ccpUrl);
        await page.getByLabel("App ID").fill("Latch");
        await page.getByLabel("Safe").fill("Finance");
        await page.getByLabel("Client certificate and private key (PEM)").fill(pem);
      };
      await use({ pki, emulator, fill, storeSecrets: [] });
      await emulator.close();
    },
    { scope: "worker" },
  ],
});

/** Registers the store through the admin form, as stores.spec.ts does; trusted only through its CA bundle. */
async function createStore(page: Page, store: Store<unknown>, label: string) {
  const name = unique(label);
  await store.fill(page);
  await page.getByLabel(/^Name\b/).fill(name);
  await page.getByLabel("CA bundle (PEM)").fill(store.pki.caCert);
  await page.getByRole("button", { name: "Create store" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  return name;
}

/** Starts a Credential asset that references an existing secret in the store. */
async function startCredential(page: Page, folderId: string, assetName: string, storeName: string) {
  await openNewAsset(page, folderId);
  await expect(page.getByRole("radio", { name: /^Credential/ })).toBeChecked();
  await page.getByRole("textbox", { name: /^Name\b/ }).fill(assetName);
  await chooseStore(page, new RegExp(storeName));
  await page.getByRole("radio", { name: /^Use an existing secret/ }).check();
}

async function saveAsset(page: Page, assetName: string, button: "Create asset" | "Save changes") {
  await page.getByRole("button", { name: button }).click();
  await expect(page.getByRole("heading", { level: 1, name: assetName, exact: true })).toBeVisible();
  await expect(page).not.toHaveURL(/\/edit$/);
}

/** The asset page's "Version" detail (the reference as saved), before any Resolve test result is shown. */
const detailsVersion = (page: Page) => page.locator('dt:text-is("Version") + dd');

/** Fails if any value reached the browser; boolean checks, so a failure never prints the value. */
async function expectNoneReceived(bodies: CapturedBodies, values: string[], shown: string) {
  const text = await bodies.text();
  expect(text.includes(shown), `positive control: the browser received the metadata ${shown}`).toBe(true);
  for (const value of values) expect(text.includes(value), `the browser received ${value.slice(0, 16)}…`).toBe(false);
}

test("asset kinds: an Azure Key Vault credential by secret name, latest then a pinned version ID; resolve test without the value; delete", async ({ page, azure }) => {
  const bodies = await captureBodies(page);
  const folderId = await createFolder(page, unique("AKV assets"));
  const storeName = await createStore(page, azure, "AKV");
  const secretName = `payroll-db-${randomUUID().slice(0, 8)}`;
  const first = azure.emulator.seedSecret({ name: secretName, value: newSecret("akv-payroll-v1") });
  const second = azure.emulator.rotateSecret(secretName, newSecret("akv-payroll-v2"));

  const assetName = "Payroll (Key Vault)";
  await startCredential(page, folderId, assetName, storeName);
  // One value per Key Vault secret: the password is the whole value, the username lives on the asset.
  await expect(page.getByRole("textbox", { name: /^Username key\b/ })).toHaveCount(0);
  await expect(page.getByRole("textbox", { name: /^Password key\b/ })).toHaveCount(0);
  await page.getByRole("textbox", { name: /^Secret name\b/ }).fill(secretName);
  await expect(page.getByRole("textbox", { name: /^Version ID\b/ })).toHaveValue("");
  await page.getByRole("textbox", { name: /^Username\b/ }).fill("payroll_app");
  await saveAsset(page, assetName, "Create asset");
  const assetUrl = new URL(page.url()).pathname;
  await expect(detailsVersion(page)).toHaveText("Latest");

  let result = await resolveTest(page);
  await expectFound(result, { version: second.version, keys: "value", username: "payroll_app" });

  // Pinning the first version: the Resolve test reads that one.
  await page.getByRole("link", { name: "Edit" }).click();
  await expect(page.getByRole("textbox", { name: /^Secret name\b/ })).toHaveValue(secretName);
  await page.getByRole("textbox", { name: /^Version ID\b/ }).fill(first.version);
  await saveAsset(page, assetName, "Save changes");
  await expect(detailsVersion(page)).toHaveText(`Version ID ${first.version}`);
  result = await resolveTest(page);
  await expectFound(result, { version: first.version, keys: "value", username: "payroll_app" });

  await deleteAsset(page, folderId, assetName);
  expect((await page.goto(assetUrl))?.status()).toBe(404);
  // Deleting an asset that references a secret leaves the secret in the store.
  expect(azure.emulator.versions(secretName).map((v) => v.version)).toEqual([first.version, second.version]);
  await expectNoneReceived(bodies, [first.value, second.value, ...azure.storeSecrets], "payroll_app");
});

test("asset kinds: an AWS Secrets Manager credential by secret ID and keys, current then pinned to AWSPREVIOUS; resolve test without the value; delete", async ({ page, aws }) => {
  const bodies = await captureBodies(page);
  const folderId = await createFolder(page, unique("AWS assets"));
  const storeName = await createStore(page, aws, "AWS");
  const secretId = `prod/payroll-${randomUUID().slice(0, 8)}`;
  // The username differs between versions, so the Resolve test shows which version it read.
  const oldPassword = newSecret("aws-payroll-v1");
  const newPassword = newSecret("aws-payroll-v2");
  const first = aws.emulator.seedSecret({ name: secretId, value: { username: "payroll_old", password: oldPassword, host: "db.internal", port: 5432 } });
  const second = aws.emulator.rotateSecret(secretId, { username: "payroll_app", password: newPassword, host: "db.internal", port: 5432 });

  const assetName = "Payroll (AWS)";
  await startCredential(page, folderId, assetName, storeName);
  await page.getByRole("textbox", { name: /^Secret ID\b/ }).fill(secretId);
  await expect(page.getByRole("radio", { name: /^Current/ })).toBeChecked();
  // JSON secrets: the kind's default keys are filled in and editable.
  await expect(page.getByRole("textbox", { name: /^Username key\b/ })).toHaveValue("username");
  await expect(page.getByRole("textbox", { name: /^Password key\b/ })).toHaveValue("password");
  await saveAsset(page, assetName, "Create asset");
  const assetUrl = new URL(page.url()).pathname;
  await expect(detailsVersion(page)).toHaveText("Current (AWSCURRENT)");

  let result = await resolveTest(page);
  // A username read from a key of the secret is named by its key, never shown (it is a value from the store).
  await expectFound(result, { version: second.versionId, keys: "host, password, port, username", username: "read from key username" });
  await expect(result).not.toContainText("payroll_app");

  await page.getByRole("link", { name: "Edit" }).click();
  await page.getByRole("radio", { name: /^Staging label/ }).check();
  await page.getByRole("textbox", { name: /^Staging label\b/ }).fill("AWSPREVIOUS");
  await saveAsset(page, assetName, "Save changes");
  await expect(detailsVersion(page)).toHaveText("Staging label AWSPREVIOUS");
  result = await resolveTest(page);
  await expectFound(result, { version: first.versionId, keys: "host, password, port, username", username: "read from key username" });

  await deleteAsset(page, folderId, assetName);
  expect((await page.goto(assetUrl))?.status()).toBe(404);
  expect(aws.emulator.describeSecret(secretId)?.versions).toEqual({ [first.versionId]: ["AWSPREVIOUS"], [second.versionId]: ["AWSCURRENT"] });
  // The usernames are values from the store too, named only by their key; the version id is metadata.
  await expectNoneReceived(bodies, [oldPassword, newPassword, "payroll_old", "payroll_app", ...aws.storeSecrets], first.versionId);
});

test("asset kinds: a CyberArk CCP credential by Object, read-only and unversioned; resolve test without the value, then for another account; delete", async ({ page, cyberark }) => {
  const bodies = await captureBodies(page);
  const folderId = await createFolder(page, unique("CCP assets"));
  const storeName = await createStore(page, cyberark, "CCP");
  const tag = randomUUID().slice(0, 8);
  const object = `reports-db-${tag}`;
  const other = `erp-admin-${tag}`;
  const password = newSecret("ccp-reports-password");
  const otherPassword = newSecret("ccp-erp-password");
  cyberark.emulator.seedAccount({ safe: "Finance", object, userName: "svc_reports", address: "db.finance.internal", database: "reports", password });
  cyberark.emulator.seedAccount({ safe: "Finance", object: other, userName: "erp_admin", address: "erp.finance.internal", password: otherPassword, properties: { Environment: "prod" } });

  const assetName = "Reports (CyberArk)";
  await startCredential(page, folderId, assetName, storeName);
  // Read-only, and no versions to choose.
  await expect(page.getByRole("radio", { name: /^Enter the value/ })).toBeDisabled();
  await expect(page.getByText("there are no versions to choose")).toBeVisible();
  await expect(page.getByRole("textbox", { name: /^Version\b/ })).toHaveCount(0);
  await page.getByRole("textbox", { name: /^Object\b/ }).fill(object);
  await expect(page.getByRole("textbox", { name: /^Username key\b/ })).toHaveValue("username");
  await expect(page.getByRole("textbox", { name: /^Password key\b/ })).toHaveValue("password");
  await saveAsset(page, assetName, "Create asset");
  const assetUrl = new URL(page.url()).pathname;

  // CCP reports no version or update time; the keys are the account's properties.
  const accountKeys = (...properties: string[]) =>
    ["address", "creationMethod", "deviceType", "folder", "name", "password", "passwordChangeInProcess", "policyID", "safe", "username", ...properties].sort().join(", ");
  let result = await resolveTest(page);
  await expectFound(result, { version: "—", updated: "—", keys: accountKeys("database"), username: "read from key username" });
  await expect(result).not.toContainText("svc_reports");

  // Nothing to pin: the edit points the asset at another account instead.
  await page.getByRole("link", { name: "Edit" }).click();
  await expect(page.getByText("there are no versions to choose")).toBeVisible();
  await page.getByRole("textbox", { name: /^Object\b/ }).fill(other);
  await saveAsset(page, assetName, "Save changes");
  await expect(page.locator('dt:text-is("Object") + dd')).toHaveText(other);
  result = await resolveTest(page);
  // This account has no database but a custom property, named with its first letter lower-cased.
  await expectFound(result, { version: "—", updated: "—", keys: accountKeys("environment"), username: "read from key username" });

  await deleteAsset(page, folderId, assetName);
  expect((await page.goto(assetUrl))?.status()).toBe(404);
  // The usernames are values from the store too, named only by their key; the properties' names are metadata.
  await expectNoneReceived(bodies, [password, otherPassword, "svc_reports", "erp_admin"], "passwordChangeInProcess");
  expect(await bodies.text()).not.toContain("PRIVATE KEY");
});

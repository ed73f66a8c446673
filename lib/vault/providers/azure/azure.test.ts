import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, randomUUID, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { stubDns } from "@/test/dns-stub";
import { seedDemoAzure, startAzureEmulator, type AzureEmulator } from "@/test/emulators/azure";
import { startConnectProxy } from "@/test/emulators/connect-proxy";
import { createTestPki, startMisnamedServer, type TestPki } from "@/test/emulators/tls";
import { resetEgressPolicyForTests } from "@/lib/net/egress";
import type { CommonOptions, StoreClient } from "../../types";
import { generateClientCertificate, type GeneratedClientCertificate } from "./certificate";
import { createAzureClients, createAzureTransport, needsChallengeResourceVerificationOff, resolveVaultUrl } from "./client";
import type { Exchange } from "./http-client";
import { azureConfigSchema, azureProvider, azureSecretSchema, createAzureStoreClient } from "./index";
import { storeFailureRecorder } from "@/test/store-failures";

const SECRET_APP = "0f7b3c1e-2d4a-4b5c-9e8f-1a2b3c4d5e6f";
const CERT_APP = "6a1d2e3f-4b5c-4d7e-8f90-a1b2c3d4e5f6";
const NO_ACCESS_APP = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const NO_PURGE_APP = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6a";
const UNKNOWN_APP = "00000000-1111-4222-8333-444444444444";
const CLIENT_SECRET = "Qx8~latch.test-client-secret_0123456789";
const WRONG_SECRET = "Zz9~wrong.client-secret_9876543210abcd";
const DB_PASSWORD = "Payr0ll-s3cret!-value";

let pki: TestPki;
let emu: AzureEmulator;
let cert: GeneratedClientCertificate;
const clients: StoreClient[] = [];
const { messages, failure } = storeFailureRecorder();

beforeAll(async () => {
  pki = createTestPki();
  cert = generateClientCertificate({ commonName: "latch-test", validDays: 30 });
  emu = await startAzureEmulator({
    pki,
    apps: [
      { clientId: SECRET_APP, secrets: [{ value: CLIENT_SECRET }] },
      { clientId: CERT_APP, certificates: [cert.certificatePem] },
      { clientId: NO_ACCESS_APP, secrets: [{ value: CLIENT_SECRET }], permissions: [] },
      { clientId: NO_PURGE_APP, secrets: [{ value: CLIENT_SECRET }], permissions: ["get", "list", "set", "delete"] },
    ],
  });
  emu.seedSecret({ name: "payroll-db-password", value: DB_PASSWORD });
});

afterEach(async () => {
  emu.clearFaults();
  emu.throttle({ times: 0 });
  emu.failTokenEndpoint({ times: 0 });
  emu.setTokenTtl(3600);
  await Promise.all(clients.splice(0).flatMap((c) => c.close?.() ?? []));
});

afterAll(async () => {
  await emu?.close();
});

type ConfigInput = Partial<Record<"vault" | "tenantId" | "clientId" | "authorityHost" | "auth", string>>;

function common(over: Partial<CommonOptions> = {}): CommonOptions {
  return { caBundle: pki.caCert, timeoutMs: 3000, ...over };
}

/** A store client built the way the console does: through the provider's schemas and create(). */
function store(config: ConfigInput = {}, secrets: Record<string, string> = { clientSecret: CLIENT_SECRET }, over: Partial<CommonOptions> = {}): StoreClient {
  const parsedConfig = azureConfigSchema.parse({ vault: emu.vaultUrl, tenantId: emu.tenantId, clientId: SECRET_APP, authorityHost: emu.authorityHost, auth: "client_secret", ...config });
  const client = azureProvider.create({ config: parsedConfig, secrets: azureSecretSchema.parse(secrets), common: common(over), storeId: "store-1" });
  clients.push(client);
  return client;
}

/** Same, with Latch's transport reporting every exchange it carried. */
function observed(config: ConfigInput = {}, secrets: Record<string, string> = { clientSecret: CLIENT_SECRET }) {
  const exchanges: Exchange[] = [];
  const parsedConfig = azureConfigSchema.parse({ vault: emu.vaultUrl, tenantId: emu.tenantId, clientId: SECRET_APP, authorityHost: emu.authorityHost, auth: "client_secret", ...config });
  const client = createAzureStoreClient(parsedConfig, azureSecretSchema.parse(secrets), common(), { onExchange: (e) => exchanges.push(e) });
  clients.push(client);
  return { client, exchanges };
}

const path = (url: string) => new URL(url).pathname;
/** Requests the emulator logged after a mark taken with emu.requests.length. */
const since = (mark: number) => emu.requests.slice(mark);

describe("configuration", () => {
  it("turns a vault name into its URL and keeps a URL as given", () => {
    expect(resolveVaultUrl("contoso-prod")).toBe("https://contoso-prod.vault.azure.net");
    expect(resolveVaultUrl("https://contoso.vault.usgovcloudapi.net/")).toBe("https://contoso.vault.usgovcloudapi.net");
    expect(resolveVaultUrl(emu.vaultUrl)).toBe(emu.vaultUrl);
  });

  it("turns off challenge resource verification only outside the Key Vault domains", () => {
    expect(needsChallengeResourceVerificationOff("https://contoso-prod.vault.azure.net")).toBe(false);
    expect(needsChallengeResourceVerificationOff("https://contoso.vault.usgovcloudapi.net")).toBe(false);
    expect(needsChallengeResourceVerificationOff(emu.vaultUrl)).toBe(true);
    expect(needsChallengeResourceVerificationOff("https://kv.internal.example.com")).toBe(true);
    expect(azureProvider.fields.find((f) => f.name === "vault")?.help).toMatch(/turns off/);
  });

  it("validates names, GUIDs and URLs, and defaults to certificate authentication", () => {
    const base = { vault: "contoso-prod", tenantId: emu.tenantId, clientId: SECRET_APP };
    expect(azureConfigSchema.parse(base)).toMatchObject({ auth: "certificate" });
    expect(azureConfigSchema.parse({ ...base, authorityHost: "" }).authorityHost).toBeUndefined();
    expect(azureConfigSchema.safeParse({ ...base, vault: "a" }).success).toBe(false);
    expect(azureConfigSchema.safeParse({ ...base, vault: "bad--name" }).success).toBe(false);
    expect(azureConfigSchema.safeParse({ ...base, vault: "https://contoso.vault.azure.net/sub/path" }).success).toBe(false);
    expect(azureConfigSchema.safeParse({ ...base, vault: "http://contoso.vault.azure.net" }).success).toBe(false);
    expect(azureConfigSchema.safeParse({ ...base, clientId: "my-app" }).success).toBe(false);
    expect(azureConfigSchema.safeParse({ ...base, tenantId: "common" }).success).toBe(false);
    expect(azureConfigSchema.safeParse({ ...base, tenantId: "contoso.onmicrosoft.com" }).error?.issues[0]?.message).toMatch(/^Enter the tenant ID \(a GUID\), not a domain name/);
    // Key Vault's challenge names the tenant in lower case, and the SDK compares the two as text.
    expect(azureConfigSchema.parse({ ...base, tenantId: ` ${emu.tenantId.toUpperCase()} ` }).tenantId).toBe(emu.tenantId);
    expect(azureConfigSchema.safeParse({ ...base, authorityHost: "http://login.example" }).success).toBe(false);
    expect(azureSecretSchema.safeParse({ certificatePem: cert.certificatePem }).success).toBe(false);
    expect(azureSecretSchema.safeParse({ certificatePem: cert.credentialPem }).success).toBe(true);
  });

  it("lists secret fields as secret, in form order", () => {
    const names = azureProvider.fields.map((f) => f.name);
    expect(names.slice(0, 4)).toEqual(["vault", "tenantId", "clientId", "auth"]);
    for (const f of azureProvider.fields) expect(f.secret === true, f.name).toBe(["clientSecret", "certificatePem", "certificatePassword"].includes(f.name));
    for (const f of azureProvider.fields) expect(f.help, f.name).toBeTruthy();
  });
});

describe("reading through the real SDK", () => {
  it("signs in with a client secret and carries every exchange (sign-in and vault) on Latch's transport", async () => {
    const mark = emu.requests.length;
    const { client, exchanges } = observed();
    const secret = await client.getSecret({ name: "payroll-db-password" });
    const latest = emu.versions("payroll-db-password").at(-1)!;
    expect(secret).toEqual({ values: { value: DB_PASSWORD }, version: latest.version, updatedAt: new Date(latest.created * 1000) });
    expect(secret.version).toMatch(/^[0-9a-f]{32}$/);

    // The emulator's CA is only in the store's CA bundle: the SDK's own transport could not have connected.
    const seen = exchanges.map((e) => `${e.method} ${path(e.url)} ${e.status}`);
    expect(seen).toEqual([
      "GET /secrets/payroll-db-password/ 401",
      `GET /${emu.tenantId}/v2.0/.well-known/openid-configuration 200`,
      `POST /${emu.tenantId}/oauth2/v2.0/token 200`,
      "GET /secrets/payroll-db-password/ 200",
    ]);
    expect(since(mark).map((r) => `${r.method} ${r.path.split("?")[0]}`)).toEqual(exchanges.map((e) => `${e.method} ${path(e.url)}`));
    const tokenRequest = since(mark).find((r) => r.path.includes("/oauth2/v2.0/token"))!;
    expect(new URLSearchParams(tokenRequest.body).get("scope")).toBe("https://vault.azure.net/.default");
    expect(tokenRequest.headers["user-agent"]).toMatch(/^Latch azsdk-js-identity/);

    // Later reads reuse the token.
    await client.getSecret({ name: "payroll-db-password" });
    expect(exchanges).toHaveLength(5);
  });

  it("signs in with a certificate generated by Latch (PS256 client assertion, SHA-256 thumbprint)", async () => {
    const mark = emu.requests.length;
    const client = store({ auth: "certificate", clientId: CERT_APP }, { certificatePem: cert.credentialPem });
    expect((await client.getSecret({ name: "payroll-db-password" })).values.value).toBe(DB_PASSWORD);

    const form = new URLSearchParams(since(mark).find((r) => r.path.includes("/oauth2/v2.0/token"))!.body);
    expect(form.get("client_secret")).toBeNull();
    expect(form.get("client_assertion_type")).toBe("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    const [header, payload] = form.get("client_assertion")!.split(".").slice(0, 2).map((p) => JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as Record<string, unknown>);
    expect(header).toMatchObject({ alg: "PS256", "x5t#S256": createHash("sha256").update(cert.certificateDer).digest("base64url") });
    expect(payload).toMatchObject({ aud: emu.tokenEndpoint, iss: CERT_APP, sub: CERT_APP });
  });

  it("accepts the admin guide's OpenSSL one-liner PEM (key first, then certificate)", async () => {
    execFileSync("openssl", ["req", "-x509", "-nodes", "-days", "365", "-newkey", "rsa:2048", "-keyout", "my-certificate.pem", "-out", "my-certificate.pem", "-subj", "/CN=uipath-style"], { cwd: pki.dir, stdio: "ignore" });
    const pem = readFileSync(join(pki.dir, "my-certificate.pem"), "utf8");
    expect(pem.indexOf("PRIVATE KEY")).toBeLessThan(pem.indexOf("BEGIN CERTIFICATE"));
    const appId = "7e6d5c4b-3a29-4817-9f6e-5d4c3b2a1908";
    emu.registerApp({ clientId: appId, certificates: [pem.slice(pem.indexOf("-----BEGIN CERTIFICATE-----"))] });
    expect((await store({ auth: "certificate", clientId: appId }, { certificatePem: pem }).getSecret({ name: "payroll-db-password" })).values.value).toBe(DB_PASSWORD);
  });

  it("accepts an encrypted private key with its password", async () => {
    const encryptedKey = createPrivateKey(cert.privateKeyPem).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "key-pass-123" }) as string;
    const pem = `${cert.certificatePem}${encryptedKey}`;
    const ok = store({ auth: "certificate", clientId: CERT_APP }, { certificatePem: pem, certificatePassword: "key-pass-123" });
    expect((await ok.getSecret({ name: "payroll-db-password" })).values.value).toBe(DB_PASSWORD);
    const missing = await failure(store({ auth: "certificate", clientId: CERT_APP }, { certificatePem: pem }).getSecret({ name: "payroll-db-password" }));
    expect(missing).toMatchObject({ kind: "config", message: expect.stringMatching(/encrypted/) });
  });

  it("reads the latest version and a specific one; a rotation is visible at once", async () => {
    const client = store();
    const first = emu.seedSecret({ name: "rotating", value: "v1-value" });
    expect(await client.getSecret({ name: "rotating" })).toMatchObject({ values: { value: "v1-value" }, version: first.version });
    const second = emu.rotateSecret("rotating", "v2-value");
    expect(await client.getSecret({ name: "rotating" })).toMatchObject({ values: { value: "v2-value" }, version: second.version });
    expect(await client.getSecret({ name: "rotating", version: first.version })).toMatchObject({ values: { value: "v1-value" }, version: first.version });
    expect(await client.getSecret({ name: "rotating", version: "latest" })).toMatchObject({ version: second.version });

    // Rotation through the control API, as the `npm run emulators` script would.
    const rotated = (await (await undiciFetch(`${emu.controlUrl}/_control/secrets/rotate`, { method: "POST", body: JSON.stringify({ name: "rotating", value: "v3-value" }) })).json()) as { version: string };
    expect(await client.getSecret({ name: "rotating" })).toMatchObject({ values: { value: "v3-value" }, version: rotated.version });
  });

  it("reports a missing secret, a missing version and a soft-deleted secret precisely", async () => {
    const client = store();
    expect(await failure(client.getSecret({ name: "no-such-secret" }))).toMatchObject({ kind: "not_found", message: expect.stringContaining("“no-such-secret”") });
    expect(await failure(client.getSecret({ name: "payroll-db-password", version: "0123456789abcdef0123456789abcdef" }))).toMatchObject({ kind: "not_found", message: expect.stringContaining("0123456789abcdef0123456789abcdef") });
    emu.seedSecret({ name: "gone-soon", value: "x" });
    emu.deleteSecret("gone-soon");
    expect(await failure(client.getSecret({ name: "gone-soon" }))).toMatchObject({ kind: "deleted", message: expect.stringMatching(/recovered/) });
    expect(await failure(client.getSecret({ name: "bad/name" }))).toMatchObject({ kind: "config" });
  });

  it("reports a disabled version (PATCH enabled:false through the SDK) as a permission problem", async () => {
    const v = emu.seedSecret({ name: "to-disable", value: "x" });
    const transport = createAzureTransport(common());
    const sdk = createAzureClients({ vault: emu.vaultUrl, tenantId: emu.tenantId, clientId: SECRET_APP, authorityHost: emu.authorityHost, auth: "client_secret", clientSecret: CLIENT_SECRET }, transport);
    const updated = await sdk.secrets.updateSecretProperties("to-disable", v.version, { enabled: false });
    expect(updated.enabled).toBe(false);
    await transport.dispatcher.close();
    const error = await failure(store().getSecret({ name: "to-disable" }));
    expect(error).toMatchObject({ kind: "permission", message: expect.stringMatching(/disabled/) });
  });
});

describe("authentication and permission failures", () => {
  it("a wrong client secret is an auth failure that never echoes the secret", async () => {
    const error = await failure(store({}, { clientSecret: WRONG_SECRET }).getSecret({ name: "payroll-db-password" }));
    expect(error.kind).toBe("auth");
    expect(error.message).toMatch(/client secret/);
    expect(error.message).not.toContain(WRONG_SECRET);
  });

  it("an unknown application, a wrong tenant and an unregistered certificate are told apart", async () => {
    expect(await failure(store({ clientId: UNKNOWN_APP }).getSecret({ name: "payroll-db-password" }))).toMatchObject({ kind: "auth", message: expect.stringContaining(UNKNOWN_APP) });
    expect(await failure(store({ tenantId: "0b1d2c3e-4f50-4617-8293-a4b5c6d7e8f9" }).getSecret({ name: "payroll-db-password" }))).toMatchObject({
      kind: "config",
      message: expect.stringContaining(`belongs to tenant ${emu.tenantId}, but`),
    });
    const other = generateClientCertificate({ commonName: "not-uploaded" });
    expect(await failure(store({ auth: "certificate", clientId: CERT_APP }, { certificatePem: other.credentialPem }).getSecret({ name: "payroll-db-password" }))).toMatchObject({
      kind: "auth",
      message: expect.stringMatching(/certificate .* not uploaded/),
    });
  });

  it("an expired or mismatched certificate is caught before signing in", async () => {
    const old = generateClientCertificate({ commonName: "old", validDays: 1, now: new Date(Date.now() - 3 * 86_400_000) });
    expect(await failure(store({ auth: "certificate", clientId: CERT_APP }, { certificatePem: old.credentialPem }).getSecret({ name: "x" }))).toMatchObject({ kind: "auth", message: expect.stringMatching(/expired on/) });
    const other = generateClientCertificate({ commonName: "other" });
    expect(await failure(store({ auth: "certificate", clientId: CERT_APP }, { certificatePem: `${cert.certificatePem}${other.privateKeyPem}` }).getSecret({ name: "x" }))).toMatchObject({ kind: "config", message: expect.stringMatching(/does not belong/) });
    expect(await failure(store({ auth: "client_secret" }, {}).getSecret({ name: "x" }))).toMatchObject({ kind: "config", message: expect.stringMatching(/No client secret/) });
  });

  it("an app without access to the vault gets a permission error; health still proves the sign-in", async () => {
    const client = store({ clientId: NO_ACCESS_APP });
    const error = await failure(client.getSecret({ name: "payroll-db-password" }));
    expect(error).toMatchObject({ kind: "permission", message: expect.stringMatching(/Access policies/) });
    await expect(client.health()).resolves.toBeUndefined();
    expect(await failure(store({}, { clientSecret: WRONG_SECRET }).health())).toMatchObject({ kind: "auth" });
  });

  it("recovers from revoked tokens: CAE challenge (SDK) and a plain 401 (one fresh sign-in)", async () => {
    const client = store();
    await client.getSecret({ name: "payroll-db-password" });
    const before = emu.tokenRequests(SECRET_APP);
    emu.revokeTokens({ clientId: SECRET_APP, mode: "cae" });
    expect((await client.getSecret({ name: "payroll-db-password" })).values.value).toBe(DB_PASSWORD);
    expect(emu.tokenRequests(SECRET_APP)).toBe(before + 1);
    emu.revokeTokens({ clientId: SECRET_APP, mode: "plain" });
    expect((await client.getSecret({ name: "payroll-db-password" })).values.value).toBe(DB_PASSWORD);
    expect(emu.tokenRequests(SECRET_APP)).toBe(before + 2);
  });

  it("expired tokens are refused by the vault and renewed by the client", async () => {
    emu.setTokenTtl(1);
    const client = store();
    await client.getSecret({ name: "payroll-db-password" });
    const issued = emu.requests.filter((r) => r.path.startsWith("/secrets/") && r.headers.authorization).at(-1)!.headers.authorization as string;
    await new Promise((r) => setTimeout(r, 1100));
    const agent = new Agent({ connect: { ca: pki.caCert } });
    const raw = await undiciFetch(`${emu.vaultUrl}/secrets/payroll-db-password?api-version=7.6`, { headers: { authorization: issued }, dispatcher: agent });
    expect(raw.status).toBe(401);
    expect(((await raw.json()) as { error: { code: string } }).error.code).toBe("Unauthorized");
    await agent.close();
    const before = emu.tokenRequests(SECRET_APP);
    expect((await client.getSecret({ name: "payroll-db-password" })).values.value).toBe(DB_PASSWORD);
    expect(emu.tokenRequests(SECRET_APP)).toBeGreaterThan(before);
  });
});

describe("writing", () => {
  it("putSecret adds a version; deleteSecret soft-deletes and purges when permitted", async () => {
    const client = store();
    const { version } = await client.putSecret!({ name: "written-by-latch" }, { value: "w1" });
    expect(version).toMatch(/^[0-9a-f]{32}$/);
    const again = await client.putSecret!({ name: "written-by-latch" }, { value: "w2" });
    expect(emu.versions("written-by-latch").map((v) => v.version)).toEqual([version, again.version]);
    expect(await client.getSecret({ name: "written-by-latch" })).toMatchObject({ values: { value: "w2" }, version: again.version });
    await client.deleteSecret!({ name: "written-by-latch" });
    expect(emu.versions("written-by-latch")).toEqual([]);
    expect(await failure(client.putSecret!({ name: "x" }, { username: "a", password: "b" }))).toMatchObject({ kind: "config" });
  });

  it("without the Purge permission the secret stays recoverable, and its name is reported as deleted", async () => {
    const client = store({ clientId: NO_PURGE_APP });
    await client.putSecret!({ name: "kept-deleted" }, { value: "k1" });
    await client.deleteSecret!({ name: "kept-deleted" });
    expect(emu.isDeleted("kept-deleted")).toBe(true);
    expect(await failure(client.getSecret({ name: "kept-deleted" }))).toMatchObject({ kind: "deleted" });
    expect(await failure(client.putSecret!({ name: "kept-deleted" }, { value: "k2" }))).toMatchObject({ kind: "deleted", message: expect.stringMatching(/Recover it/) });
  });

  it("the console's store test (write, read back, delete) passes", async () => {
    const { exerciseStore } = await import("@/lib/stores/exercise");
    const result = await exerciseStore(store(), { mode: "READ_WRITE", host: new URL(emu.vaultUrl).host });
    expect(result).toMatchObject({ ok: true });
  });
});

describe("throttling, outages, timeouts and TLS", () => {
  it("honours Retry-After on 429 Throttled, then succeeds", async () => {
    const client = store();
    await client.getSecret({ name: "payroll-db-password" });
    emu.throttle({ times: 1, retryAfterSeconds: 1 });
    const mark = emu.requests.length;
    expect((await client.getSecret({ name: "payroll-db-password" })).values.value).toBe(DB_PASSWORD);
    const reads = since(mark).filter((r) => r.path.startsWith("/secrets/payroll-db-password"));
    expect(reads).toHaveLength(2);
    expect(reads[1]!.at - reads[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it("gives up after bounded retries with a throttled error carrying Retry-After", async () => {
    const client = store();
    emu.throttle({ times: 10, retryAfterSeconds: 0 });
    const mark = emu.requests.length;
    const error = await failure(client.getSecret({ name: "payroll-db-password" }));
    expect(error).toMatchObject({ kind: "throttled", retryAfterSeconds: 0 });
    expect(since(mark).filter((r) => r.path.startsWith("/secrets/") && r.headers.authorization)).toHaveLength(3);
  });

  it("never retries sooner than a long Retry-After: one vault request, then throttled saying how long to wait", async () => {
    const client = store();
    await client.getSecret({ name: "payroll-db-password" });
    emu.throttle({ times: 1, retryAfterSeconds: 30 });
    const mark = emu.requests.length;
    const started = Date.now();
    const error = await failure(client.getSecret({ name: "payroll-db-password" }), "throttled");
    expect(since(mark).filter((r) => r.path.startsWith("/secrets/payroll-db-password"))).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({ retryAfterSeconds: 30, message: expect.stringContaining("asked Latch to wait 30 s before trying again") });
  });

  it("retries a 5xx and recovers; a token endpoint outage with Retry-After recovers too", async () => {
    const client = store();
    emu.failInternal({ times: 1 });
    expect((await client.getSecret({ name: "payroll-db-password" })).values.value).toBe(DB_PASSWORD);
    // MSAL would block the credential for 60 s after this; Latch signs in with a fresh one instead.
    emu.failTokenEndpoint({ times: 1, status: 503, retryAfterSeconds: 1 });
    expect((await store().getSecret({ name: "payroll-db-password" })).values.value).toBe(DB_PASSWORD);
    emu.failTokenEndpoint({ times: 1, status: 429, retryAfterSeconds: 1 });
    expect((await store().getSecret({ name: "payroll-db-password" })).values.value).toBe(DB_PASSWORD);
    emu.failTokenEndpoint({ times: 10, status: 503 });
    const mark = emu.requests.length;
    expect(await failure(store().getSecret({ name: "payroll-db-password" }))).toMatchObject({ kind: "unavailable", message: expect.stringMatching(/Entra ID/) });
    expect(since(mark).filter((r) => r.path.includes("/oauth2/v2.0/token"))).toHaveLength(3);
    // Each retry waited the second the token endpoint asked for.
    expect(emu.earlyTokenRetries()).toBe(0);
    emu.failTokenEndpoint({ times: 0 });
  });

  it("a throttled sign-in is waited out, not retried: one token request, then every call until Retry-After ends refuses at once", async () => {
    const early = emu.earlyTokenRetries();
    // The wait asked for, and what later calls are told: a gateway's hour is capped at two minutes.
    for (const [retryAfterSeconds, expected, paused] of [[30, 30, 30], [undefined, 60, 60], [3600, 3600, 120]] as const) {
      const client = store();
      // Another client (another store) starts afresh: the emulator forgets the last one's wait.
      emu.failTokenEndpoint({ times: 0 });
      emu.failTokenEndpoint({ times: 1, status: 429, retryAfterSeconds });
      const before = emu.tokenRequests(SECRET_APP);
      const mark = emu.requests.length;
      const started = Date.now();
      const first = await failure(client.getSecret({ name: "payroll-db-password" }), "throttled");
      expect(first).toMatchObject({ retryAfterSeconds: expected, message: expect.stringContaining(`asked Latch to wait ${expected} s before trying again`) });
      const again = await failure(client.getSecret({ name: "payroll-db-password" }), "throttled");
      expect(again.retryAfterSeconds).toBeGreaterThan(paused - 5);
      expect(again.retryAfterSeconds).toBeLessThanOrEqual(paused);
      expect(Date.now() - started).toBeLessThan(2000);
      // The refused request alone reached Entra ID (the emulator counts only the ones it answers).
      expect(since(mark).filter((r) => r.path.includes("/oauth2/v2.0/token"))).toHaveLength(1);
      expect(emu.tokenRequests(SECRET_APP)).toBe(before);
    }
    expect(emu.earlyTokenRetries()).toBe(early);
    emu.failTokenEndpoint({ times: 0 });
  });

  it("a token endpoint 503 with an HTML page is Entra ID unavailable, not a bad answer", async () => {
    emu.failTokenEndpoint({ times: 10, status: 503, retryAfterSeconds: undefined, html: true });
    const error = await failure(store().getSecret({ name: "payroll-db-password" }), "unavailable");
    expect(error.message).toMatch(/Entra ID at .* is temporarily unavailable/);
    emu.failTokenEndpoint({ times: 0 });
  });

  it("bounds a hanging vault and a hanging token endpoint by the timeout", async () => {
    emu.hang({ times: 1, pathIncludes: "/secrets/" });
    let t = Date.now();
    expect(await failure(store({}, undefined, { timeoutMs: 800 }).getSecret({ name: "payroll-db-password" }))).toMatchObject({ kind: "timeout" });
    expect(Date.now() - t).toBeLessThan(2500);
    emu.hang({ times: 1, pathIncludes: "/oauth2/v2.0/token" });
    t = Date.now();
    expect(await failure(store({}, undefined, { timeoutMs: 800 }).getSecret({ name: "payroll-db-password" }))).toMatchObject({ kind: "timeout" });
    expect(Date.now() - t).toBeLessThan(2500);
  });

  it("refuses the emulator without its CA or with the wrong CA", async () => {
    for (const caBundle of [undefined, pki.otherCaCert]) {
      expect(await failure(store({}, undefined, { caBundle }).getSecret({ name: "payroll-db-password" }))).toMatchObject({ kind: "tls_untrusted" });
    }
  });

  it("sends sign-in and vault traffic through the store's proxy (CONNECT to the IP Latch checked), still trusting only the CA bundle", async () => {
    const proxy = await startConnectProxy({ username: "latch", password: "proxy-pass" });
    const dns = stubDns({ "kv.sneaky.test": "169.254.169.254" });
    try {
      const mark = emu.requests.length;
      const viaProxy = store({}, undefined, { proxyUrl: proxy.url });
      expect((await viaProxy.getSecret({ name: "payroll-db-password" })).values.value).toBe(DB_PASSWORD);
      expect(since(mark).map((r) => r.method)).toEqual(["GET", "GET", "POST", "GET"]);
      expect(proxy.connects.length).toBeGreaterThanOrEqual(1);
      expect(proxy.connects.every((t) => t.target === `127.0.0.1:${emu.port}` && t.authorization === `Basic ${Buffer.from("latch:proxy-pass").toString("base64")}`)).toBe(true);
      expect(await failure(store({}, undefined, { proxyUrl: proxy.url, caBundle: pki.otherCaCert }).getSecret({ name: "payroll-db-password" }))).toMatchObject({ kind: "tls_untrusted" });

      const before = proxy.connections();
      expect(await failure(store({ vault: `https://kv.sneaky.test:${emu.port}` }, undefined, { proxyUrl: proxy.url }).getSecret({ name: "payroll-db-password" }), "egress_denied")).toMatchObject({
        message: expect.stringContaining("kv.sneaky.test (169.254.169.254)"),
      });
      expect(proxy.connections()).toBe(before);
    } finally {
      dns.restore();
      await proxy.close();
    }
  });

  it("a host name that does not resolve is a dns failure naming it: the vault, or the sign-in authority", async () => {
    const vault = await failure(store({ vault: "https://kv.no-such-zone.invalid" }).getSecret({ name: "payroll-db-password" }), "dns");
    expect(vault.message).toBe(`The host name kv.no-such-zone.invalid could not be resolved. Check the spelling of the address, and that Latch's DNS can resolve it (private zones, split DNS).`);
    const signIn = await failure(store({ authorityHost: "https://login.no-such-zone.invalid" }).getSecret({ name: "payroll-db-password" }), "dns");
    expect(signIn.message).toBe(`The host name login.no-such-zone.invalid could not be resolved. Check the spelling of the address, and that Latch's DNS can resolve it (private zones, split DNS).`);
  });

  it("a certificate issued for another host name is refused, naming both: the vault, or the sign-in authority", async () => {
    const misnamed = await startMisnamedServer(pki);
    try {
      const vault = await failure(store({ vault: misnamed.url }).getSecret({ name: "payroll-db-password" }), "tls_hostname");
      expect(vault.message).toBe(`The TLS certificate of ${misnamed.url.slice(8)} is for a different host name (it names store.elsewhere.test). Use the address the certificate was issued for, or have the certificate reissued to include 127.0.0.1.`);
      const signIn = await failure(store({ authorityHost: misnamed.url }).getSecret({ name: "payroll-db-password" }), "tls_hostname");
      expect(signIn.message).toBe(`The TLS certificate of ${misnamed.url.slice(8)} is for a different host name (it names store.elsewhere.test). Use the address the certificate was issued for, or have the certificate reissued to include 127.0.0.1.`);
      expect(misnamed.requests).toHaveLength(0);
    } finally {
      await misnamed.close();
    }
  });

  it("reports a closed port and a denied address precisely", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    expect(await failure(store({ vault: `https://127.0.0.1:${port}` }).getSecret({ name: "payroll-db-password" }))).toMatchObject({ kind: "tcp" });
    expect(await failure(store({ authorityHost: `https://127.0.0.1:${port}` }).getSecret({ name: "payroll-db-password" }))).toMatchObject({ kind: "tcp" });

    const { env } = await import("@/lib/env");
    Object.assign(env(), { LATCH_EGRESS_DENY_CIDRS: "127.0.0.0/8" });
    resetEgressPolicyForTests();
    try {
      expect(await failure(store({ vault: `https://localhost:${emu.port}` }).getSecret({ name: "payroll-db-password" }))).toMatchObject({ kind: "egress_denied" });
    } finally {
      Object.assign(env(), { LATCH_EGRESS_DENY_CIDRS: undefined });
      resetEgressPolicyForTests();
    }
  });
});

describe("injected faults", () => {
  const host = () => new URL(emu.vaultUrl).host;

  it("a connection reset at the vault is a tcp failure naming the vault host, not retried", async () => {
    const client = store();
    await client.getSecret({ name: "payroll-db-password" });
    emu.inject({ fault: { type: "reset" }, pathIncludes: "/secrets/payroll-db-password", times: 1 });
    const mark = emu.requests.length;
    const error = await failure(client.getSecret({ name: "payroll-db-password" }), "tcp");
    expect(error.message).toBe(`The connection to ${host()} was reset. Check proxies and firewalls between Latch and the store.`);
    expect(since(mark).filter((r) => r.path.startsWith("/secrets/payroll-db-password"))).toHaveLength(1);
  });

  it("a body that is not JSON is bad_response, from the vault and from the token endpoint", async () => {
    const client = store();
    await client.getSecret({ name: "payroll-db-password" });
    emu.inject({ fault: { type: "malformed" }, pathIncludes: "/secrets/payroll-db-password", times: 1 });
    const error = await failure(client.getSecret({ name: "payroll-db-password" }), "bad_response");
    expect(error.message).toBe(`${host()} did not answer with JSON. Check that the vault URL points at Azure Key Vault.`);

    emu.inject({ fault: { type: "malformed" }, pathIncludes: "/oauth2/v2.0/token", times: 1 });
    const signIn = await failure(store().getSecret({ name: "payroll-db-password" }), "bad_response");
    expect(signIn.message).toBe(`${new URL(emu.authorityHost).host} did not answer like a Microsoft Entra ID token endpoint (the response could not be read). Check the authority host.`);
  });

  it("latency below the timeout is waited for; above it, the call ends as a timeout at about the timeout", async () => {
    const client = store({}, undefined, { timeoutMs: 2000 });
    await client.getSecret({ name: "payroll-db-password" });
    emu.inject({ fault: { type: "latency", ms: 400 }, pathIncludes: "/secrets/payroll-db-password" });
    let started = Date.now();
    expect((await client.getSecret({ name: "payroll-db-password" })).values.value).toBe(DB_PASSWORD);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);

    const slow = store({}, undefined, { timeoutMs: 500 });
    await slow.health().catch(() => undefined);
    emu.clearFaults();
    emu.inject({ fault: { type: "latency", ms: 3000 }, pathIncludes: "/secrets/payroll-db-password" });
    started = Date.now();
    const error = await failure(slow.getSecret({ name: "payroll-db-password" }), "timeout");
    expect(error.message).toBe(`${host()} did not answer in time.`);
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe("which host it names", () => {
  it("given a vault name, dials and names NAME.vault.azure.net; the sign-in step names the authority host", async () => {
    const dns = stubDns({ "contoso-prod.vault.azure.net": "ENOTFOUND", "login.microsoftonline.com": "ENOTFOUND" });
    try {
      const byName = store({ vault: "contoso-prod" });
      expect(byName.host).toBe("contoso-prod.vault.azure.net");
      const error = await failure(byName.getSecret({ name: "payroll-db-password" }), "dns");
      expect(error.message).toMatch(/^The host name contoso-prod\.vault\.azure\.net could not be resolved\./);
      expect(dns.lookups).toContain("contoso-prod.vault.azure.net");

      // The vault is reachable; signing in at the default (public cloud) authority is what fails.
      const signIn = await failure(store({ authorityHost: "" }).getSecret({ name: "payroll-db-password" }), "dns");
      expect(signIn.message).toMatch(/^The host name login\.microsoftonline\.com could not be resolved\./);
    } finally {
      dns.restore();
    }
  });
});

describe("emulator fidelity", () => {
  let agent: Agent;
  beforeAll(() => {
    agent = new Agent({ connect: { ca: pki.caCert } });
  });
  afterAll(() => agent.close());
  const raw = (url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) => undiciFetch(url, { ...init, dispatcher: agent });

  it("challenges before validating the body, naming the tenant; accepts a percent-encoded api-version key", async () => {
    const res = await raw(`${emu.vaultUrl}/secrets/x?api-version=7.6`, { method: "PUT", body: "{not json" });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(`Bearer authorization="${emu.authorityHost}/${emu.tenantId}", resource="https://vault.azure.net"`);
    const token = (await (await raw(emu.tokenEndpoint, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ client_id: SECRET_APP, client_secret: CLIENT_SECRET, grant_type: "client_credentials", scope: "https://vault.azure.net/.default" }).toString() })).json()) as { access_token: string; token_type: string };
    expect(token.token_type).toBe("Bearer");
    const got = await raw(`${emu.vaultUrl}/secrets/payroll-db-password/?api%2Dversion=2025-07-01`, { headers: { authorization: `Bearer ${token.access_token}` } });
    const body = (await got.json()) as { id: string; value: string; attributes: Record<string, unknown> };
    expect(body.id).toBe(`${emu.vaultUrl}/secrets/payroll-db-password/${emu.versions("payroll-db-password").at(-1)!.version}`);
    expect(body.attributes).toMatchObject({ enabled: true, recoveryLevel: "Recoverable+Purgeable" });
    const versions = (await (await raw(`${emu.vaultUrl}/secrets/payroll-db-password/versions?api-version=7.6`, { headers: { authorization: `Bearer ${token.access_token}` } })).json()) as { value: { id: string }[] };
    expect(versions.value.map((v) => v.id)).toEqual(emu.versions("payroll-db-password").map((v) => v.id));
    const bad = await raw(emu.tokenEndpoint, { method: "POST", body: new URLSearchParams({ client_id: SECRET_APP, client_secret: "nope", grant_type: "client_credentials", scope: "https://vault.azure.net/.default" }).toString() });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ error: "invalid_client", error_codes: [7000215], error_description: expect.stringMatching(/^AADSTS7000215: /) });
  });

  it("verifies older RS256 assertions (x5t = SHA-1 thumbprint); reuse within the lifetime is allowed, as MSAL reuses them", async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const t = Math.floor(Date.now() / 1000);
    const head = b64({ alg: "RS256", typ: "JWT", x5t: Buffer.from(cert.thumbprintSha1Hex, "hex").toString("base64url") });
    const body = b64({ aud: emu.tokenEndpoint, iss: CERT_APP, sub: CERT_APP, jti: randomUUID(), nbf: t, iat: t, exp: t + 600 });
    const jwt = `${head}.${body}.${sign("sha256", Buffer.from(`${head}.${body}`), cert.privateKeyPem).toString("base64url")}`;
    const form = (assertion = jwt) => new URLSearchParams({ client_id: CERT_APP, grant_type: "client_credentials", scope: "https://vault.azure.net/.default", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion }).toString();
    const first = await raw(emu.tokenEndpoint, { method: "POST", body: form() });
    expect(first.status).toBe(200);
    expect((await raw(emu.tokenEndpoint, { method: "POST", body: form() })).status).toBe(200);
    const forged = `${head}.${body}.${sign("sha256", Buffer.from(`${head}.${body}`), generateClientCertificate({ commonName: "forger" }).privateKeyPem).toString("base64url")}`;
    const bad = await raw(emu.tokenEndpoint, { method: "POST", body: form(forged) });
    expect(await bad.json()).toMatchObject({ error: "invalid_client", error_codes: [700027] });
  });

  it("control API: register apps with or without access, seed, revoke tokens", async () => {
    const control = (route: string, body: unknown) => undiciFetch(`${emu.controlUrl}/_control/${route}`, { method: "POST", body: JSON.stringify(body) }).then((r) => r.json());
    const appCert = generateClientCertificate({ commonName: "via-control" });
    const appId = "2b3c4d5e-6f70-4819-9a0b-1c2d3e4f5a6b";
    await control("apps", { clientId: appId, certificatePem: appCert.certificatePem, access: false });
    const client = store({ auth: "certificate", clientId: appId }, { certificatePem: appCert.credentialPem });
    expect(await failure(client.getSecret({ name: "payroll-db-password" }))).toMatchObject({ kind: "permission" });
    await control("apps/permissions", { clientId: appId, permissions: ["get"] });
    await control("secrets", { name: "from-control", value: "seeded" });
    expect((await client.getSecret({ name: "from-control" })).values.value).toBe("seeded");
    expect(await control("tokens/revoke", { clientId: appId, mode: "cae" })).toMatchObject({ revoked: 1 });
    expect((await client.getSecret({ name: "from-control" })).values.value).toBe("seeded");
    await control("secrets/delete", { name: "from-control", purge: true });
    expect(await failure(client.getSecret({ name: "from-control" }))).toMatchObject({ kind: "not_found" });
  });

  it("seeds a demo the provider can read with the printed settings", async () => {
    const demo = seedDemoAzure(emu);
    expect(demo.instructions).toContain(emu.vaultUrl);
    const client = azureProvider.create({ config: azureConfigSchema.parse(demo.storeConfig), secrets: azureSecretSchema.parse(demo.storeSecrets), common: common(), storeId: "demo" });
    clients.push(client);
    expect((await client.getSecret({ name: "payroll-db-password" })).values.value).toBe("demo-Payr0ll-pass-2");
  });
});

describe("no secret in any message", () => {
  it("never puts a client secret, private key, token or secret value into an error message", () => {
    expect(messages.length).toBeGreaterThan(15);
    const keyBody = cert.privateKeyPem.split("\n")[1]!;
    for (const m of messages) {
      for (const forbidden of [CLIENT_SECRET, WRONG_SECRET, DB_PASSWORD, keyBody, "PRIVATE KEY", "emu.", "key-pass-123"]) expect(m, m).not.toContain(forbidden);
    }
  });
});

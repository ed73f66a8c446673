import https from "node:https";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { stubDns } from "@/test/dns-stub";
import { seedDemoAws, startAwsEmulator, type AwsEmulator } from "@/test/emulators/aws";
import { startConnectProxy, type ConnectProxy } from "@/test/emulators/connect-proxy";
import { createTestPki, startMisnamedServer, type TestPki } from "@/test/emulators/tls";
import type { CommonOptions, StoreClient } from "../../types";
import { AssumeRoleError } from "./errors";
import { awsConfigSchema, awsProvider } from "./index";
import { storeFailureRecorder } from "@/test/store-failures";

const KEY_ID = "AKIALATCHTEST0000001";
const SECRET_KEY = "latch-test-secret-access-key-0123456789ab";
const DENIED_KEY_ID = "AKIALATCHDENIED00001";
const DENIED_SECRET = "latch-denied-secret-access-key-01234567";
const ROLE = "arn:aws:iam::123456789012:role/latch-test-reader";
const ROLE_NO_EXTERNAL_ID = "arn:aws:iam::123456789012:role/plain-role";
const SHORT_ROLE = "arn:aws:iam::123456789012:role/short-sessions";
const VALUES = { username: "payroll_app", password: "Payr0ll-s3cret!" };

let pki: TestPki;
let emu: AwsEmulator;
const clients: StoreClient[] = [];
const { messages, failure } = storeFailureRecorder();

beforeAll(async () => {
  pki = createTestPki();
  emu = await startAwsEmulator({
    pki,
    accessKeys: [
      { accessKeyId: KEY_ID, secretAccessKey: SECRET_KEY },
      { accessKeyId: DENIED_KEY_ID, secretAccessKey: DENIED_SECRET },
    ],
    roles: [{ roleArn: ROLE, externalId: "ext-1234" }, { roleArn: ROLE_NO_EXTERNAL_ID }, { roleArn: SHORT_ROLE, sessionTtlSeconds: 1 }],
  });
  emu.denyAccess({ accessKeyId: DENIED_KEY_ID });
  emu.seedSecret({ name: "prod/payroll-db", value: { ...VALUES, port: 5432, tls: true } });
  emu.seedSecret({ name: "prod/api-key", value: "plain-api-key-value" });
  emu.seedSecret({ name: "prod/keystore", binary: Buffer.from([0, 1, 2, 250]).toString("base64") });
});

afterEach(async () => {
  emu.clearFaults();
  emu.sts.clearFaults();
  emu.setClockOffset(0);
  await Promise.all(clients.splice(0).flatMap((c) => c.close?.() ?? []));
});

afterAll(async () => {
  await emu?.close();
});

type ConfigInput = Partial<Record<keyof ReturnType<typeof awsConfigSchema.parse>, string>>;

function makeClient(config: ConfigInput = {}, secretAccessKey = SECRET_KEY, common: Partial<CommonOptions> = {}): StoreClient {
  const client = awsProvider.create({
    storeId: "store-aws-test",
    config: awsConfigSchema.parse({ region: emu.region, endpoint: emu.url, accessKeyId: KEY_ID, ...config }),
    secrets: awsProvider.secretSchema.parse({ secretAccessKey }),
    common: { caBundle: pki.caCert, timeoutMs: 3000, ...common },
  });
  clients.push(client);
  return client;
}

const roleClient = (over: ConfigInput = {}) => makeClient({ auth: "assume_role", roleArn: ROLE, externalId: "ext-1234", stsEndpoint: emu.stsUrl, ...over });

function rawClient(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) {
  return new SecretsManagerClient({
    region: emu.region,
    endpoint: emu.url,
    credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: pki.caCert }) }),
  });
}

describe("AWS Secrets Manager provider: reading", () => {
  it("reads a JSON secret as a key map (non-strings as JSON), with version id and creation date", async () => {
    const client = makeClient();
    const secret = await client.getSecret({ name: "prod/payroll-db" });
    expect(secret.values).toEqual({ ...VALUES, port: "5432", tls: "true" });
    expect(secret.version).toBe(Object.keys(emu.describeSecret("prod/payroll-db")!.versions)[0]);
    expect(secret.updatedAt).toBeInstanceOf(Date);
    expect(Math.abs(secret.updatedAt!.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it("reads plain strings as {value}, binaries as base64, and accepts an ARN", async () => {
    const client = makeClient();
    expect((await client.getSecret({ name: "prod/api-key" })).values).toEqual({ value: "plain-api-key-value" });
    expect((await client.getSecret({ name: "prod/keystore" })).values).toEqual({ value: Buffer.from([0, 1, 2, 250]).toString("base64") });
    const arn = emu.describeSecret("prod/api-key")!.arn;
    expect((await client.getSecret({ name: arn })).values.value).toBe("plain-api-key-value");
  });

  it("signs every request with SigV4 and never sends a session token for plain access keys", async () => {
    await makeClient().getSecret({ name: "prod/api-key" });
    const last = emu.requests.at(-1)!;
    expect(last.headers["x-amz-target"]).toBe("secretsmanager.GetSecretValue");
    expect(String(last.headers.authorization)).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${KEY_ID}/\\d{8}/${emu.region}/secretsmanager/aws4_request`));
    expect(last.headers["x-amz-security-token"]).toBeUndefined();
  });

  it("selects versions by staging label or version id, and shows rotations", async () => {
    emu.seedSecret({ name: "app/rotating", value: { password: "one" } });
    const client = makeClient();
    const first = await client.getSecret({ name: "app/rotating" });
    const { versionId } = emu.rotateSecret("app/rotating", { password: "two" });

    const current = await client.getSecret({ name: "app/rotating" });
    expect(current).toMatchObject({ values: { password: "two" }, version: versionId });
    expect(await client.getSecret({ name: "app/rotating", version: "AWSCURRENT" })).toMatchObject({ version: versionId });
    expect(await client.getSecret({ name: "app/rotating", version: "AWSPREVIOUS" })).toMatchObject({ values: { password: "one" }, version: first.version });
    expect(await client.getSecret({ name: "app/rotating", version: first.version! })).toMatchObject({ values: { password: "one" } });

    emu.seedSecret({ name: "app/rotating", value: { password: "three" }, stages: ["CANARY"] });
    expect((await client.getSecret({ name: "app/rotating", version: "CANARY" })).values.password).toBe("three");
    expect((await client.getSecret({ name: "app/rotating" })).values.password).toBe("two");

    const sent = emu.requests.filter((r) => r.headers["x-amz-target"] === "secretsmanager.GetSecretValue").slice(-6).map((r) => JSON.parse(r.body) as Record<string, string>);
    expect(sent).toContainEqual({ SecretId: "app/rotating", VersionStage: "AWSPREVIOUS" });
    expect(sent).toContainEqual({ SecretId: "app/rotating", VersionId: first.version });
  });

  it("reports missing secrets, versions and stages as not_found", async () => {
    const client = makeClient();
    expect(await failure(client.getSecret({ name: "prod/nope" }))).toMatchObject({ kind: "not_found", message: expect.stringContaining("prod/nope") });
    const version = await failure(client.getSecret({ name: "prod/api-key", version: "00000000-0000-0000-0000-000000000000" }));
    expect(version).toMatchObject({ kind: "not_found", message: expect.stringContaining("00000000-0000-0000-0000-000000000000") });
    expect(await failure(client.getSecret({ name: "prod/api-key", version: "AWSPENDING" }))).toMatchObject({ kind: "not_found" });
    // A version id of the wrong form is refused by its form, before any lookup: a mistake in the reference, not a missing version.
    expect(await failure(client.getSecret({ name: "prod/api-key", version: "id:v1" }))).toMatchObject({ kind: "config", message: expect.stringContaining("with version “id:v1”") });
  });

  it("reports a secret scheduled for deletion as deleted", async () => {
    emu.seedSecret({ name: "old/retired", value: "gone-soon" });
    emu.deleteSecret("old/retired", { recoveryWindowInDays: 7 });
    const error = await failure(makeClient().getSecret({ name: "old/retired" }));
    expect(error.kind).toBe("deleted");
    expect(error.message).toMatch(/scheduled for deletion/);
    emu.restoreSecret("old/retired");
    expect((await makeClient().getSecret({ name: "old/retired" })).values.value).toBe("gone-soon");
  });
});

describe("AWS Secrets Manager provider: writing", () => {
  it("creates a secret on first write, adds versions afterwards, and force-deletes it", async () => {
    const client = makeClient();
    const name = `latch-connection-test-${Date.now()}`;
    const created = await client.putSecret!({ name }, { value: "canary-1" });
    expect(created.version).toBeTruthy();
    expect(await client.getSecret({ name })).toMatchObject({ values: { value: "canary-1" }, version: created.version });

    const next = await client.putSecret!({ name }, { username: "u", password: "p" });
    expect(await client.getSecret({ name })).toMatchObject({ values: { username: "u", password: "p" }, version: next.version });
    expect(emu.describeSecret(name)!.versions[created.version!]).toEqual(["AWSPREVIOUS"]);

    await client.deleteSecret!({ name });
    expect(emu.describeSecret(name)).toBeUndefined();
    expect(JSON.parse(emu.requests.at(-1)!.body)).toEqual({ SecretId: name, ForceDeleteWithoutRecovery: true });
  });

  it("keeps a retried write idempotent: one ClientRequestToken, one new version", async () => {
    emu.seedSecret({ name: "app/idempotent", value: "v1" });
    const client = makeClient();
    emu.failInternal({ times: 1 });
    const { version } = await client.putSecret!({ name: "app/idempotent" }, { value: "v2" });
    const puts = emu.requests.filter((r) => r.headers["x-amz-target"] === "secretsmanager.PutSecretValue").slice(-2);
    expect(puts).toHaveLength(2);
    expect(JSON.parse(puts[0]!.body).ClientRequestToken).toBe(JSON.parse(puts[1]!.body).ClientRequestToken);
    expect(Object.keys(emu.describeSecret("app/idempotent")!.versions)).toHaveLength(2);
    expect(version).toBe(JSON.parse(puts[1]!.body).ClientRequestToken);
  });
});

describe("AWS Secrets Manager provider: authentication", () => {
  it("maps a wrong secret access key to auth (signature mismatch)", async () => {
    const error = await failure(makeClient({}, "definitely-not-the-right-secret-key").getSecret({ name: "prod/api-key" }));
    expect(error.kind).toBe("auth");
    expect(error.message).toMatch(/secret access key does not belong/);
    // Signed, and refused for the signature (not for a missing or malformed header).
    expect(emu.requests.at(-1)!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=/);
  });

  it("maps a region that does not match the endpoint to auth, naming the region", async () => {
    const error = await failure(makeClient({ region: "us-east-1" }).getSecret({ name: "prod/api-key" }));
    expect(error).toMatchObject({ kind: "auth", message: expect.stringContaining("us-east-1") });
  });

  it("maps an unknown access key to auth", async () => {
    const error = await failure(makeClient({ accessKeyId: "AKIAUNKNOWNKEY000001" }).getSecret({ name: "prod/api-key" }));
    expect(error).toMatchObject({ kind: "auth", message: expect.stringContaining("AKIAUNKNOWNKEY000001") });
  });

  it("maps an explicit deny to permission, while health still passes (authentication works)", async () => {
    const client = makeClient({ accessKeyId: DENIED_KEY_ID }, DENIED_SECRET);
    const error = await failure(client.getSecret({ name: "prod/api-key" }));
    expect(error).toMatchObject({ kind: "permission", message: expect.stringContaining("secretsmanager:GetSecretValue") });
    await expect(client.health()).resolves.toBeUndefined();
  });

  it("health passes with good credentials and fails with bad ones", async () => {
    await expect(makeClient().health()).resolves.toBeUndefined();
    expect((await failure(makeClient({}, "definitely-not-the-right-secret-key").health())).kind).toBe("auth");
  });

  it("corrects for clock skew using the Date header, with one immediate retry", async () => {
    emu.setClockOffset(20 * 60);
    const before = emu.requests.length;
    expect((await makeClient().getSecret({ name: "prod/api-key" })).values.value).toBe("plain-api-key-value");
    expect(emu.requests.length - before).toBe(2);
  });
});

describe("AWS Secrets Manager provider: assume role", () => {
  it("assumes the role through STS (with external id and session name) and reads with session credentials", async () => {
    const stsBefore = emu.sts.requests.length;
    const client = roleClient({ roleSessionName: "latch-test" });
    expect((await client.getSecret({ name: "prod/payroll-db" })).values.username).toBe("payroll_app");
    expect((await client.getSecret({ name: "prod/api-key" })).values.value).toBe("plain-api-key-value");
    const stsCalls = emu.sts.requests.slice(stsBefore);
    expect(stsCalls).toHaveLength(1); // credentials are cached until near expiry
    const form = new URLSearchParams(stsCalls[0]!.body);
    expect(Object.fromEntries(form)).toMatchObject({ Action: "AssumeRole", RoleArn: ROLE, RoleSessionName: "latch-test", ExternalId: "ext-1234", DurationSeconds: "900" });
    expect(String(stsCalls[0]!.headers.authorization)).toContain(`Credential=${KEY_ID}/`);
    const session = emu.issuedSessions().at(-1)!;
    const read = emu.requests.at(-1)!;
    expect(read.headers["x-amz-security-token"]).toBe(session.sessionToken);
    expect(String(read.headers.authorization)).toContain(`Credential=${session.accessKeyId}/`);
  });

  it("refuses a wrong or missing external id, or an unknown role, as permission (also in health)", async () => {
    for (const over of [{ externalId: "wrong-ext" }, { externalId: "" }, { roleArn: "arn:aws:iam::123456789012:role/nobody" }]) {
      const client = roleClient(over);
      const error = await failure(client.getSecret({ name: "prod/api-key" }));
      expect(error).toBeInstanceOf(AssumeRoleError);
      expect(error.kind).toBe("permission");
      expect(error.message).toMatch(/trust policy|external ID/);
      expect((await failure(client.health())).kind).toBe("permission");
    }
  });

  it("maps a bad secret key or unknown key on STS to auth", async () => {
    const badSecret = makeClient({ auth: "assume_role", roleArn: ROLE_NO_EXTERNAL_ID, stsEndpoint: emu.stsUrl }, "definitely-not-the-right-secret-key");
    const error = await failure(badSecret.getSecret({ name: "prod/api-key" }));
    expect(error).toBeInstanceOf(AssumeRoleError);
    expect(error).toMatchObject({ kind: "auth", message: expect.stringContaining("STS") });
    const unknown = makeClient({ auth: "assume_role", roleArn: ROLE_NO_EXTERNAL_ID, stsEndpoint: emu.stsUrl, accessKeyId: "AKIAUNKNOWNKEY000002" });
    expect(await failure(unknown.health())).toMatchObject({ kind: "auth", message: expect.stringContaining("AKIAUNKNOWNKEY000002") });
  });

  it("gets fresh role credentials when a session is revoked before its stated expiry", async () => {
    const client = roleClient();
    await client.getSecret({ name: "prod/api-key" });
    const stsBefore = emu.sts.requests.length;
    expect(emu.expireSessions(ROLE)).toBeGreaterThan(0);
    expect((await client.getSecret({ name: "prod/api-key" })).values.value).toBe("plain-api-key-value");
    expect(emu.sts.requests.length - stsBefore).toBe(1);
    const expired = emu.requests.filter((r) => r.headers["x-amz-target"] === "secretsmanager.GetSecretValue").slice(-2)[0]!;
    expect(expired.headers["x-amz-security-token"]).not.toBe(emu.requests.at(-1)!.headers["x-amz-security-token"]);
  });

  it("renews short-lived sessions before they expire", async () => {
    const client = roleClient({ roleArn: SHORT_ROLE, externalId: "" });
    await client.getSecret({ name: "prod/api-key" });
    await new Promise((r) => setTimeout(r, 1100));
    const [stsBefore, readsBefore] = [emu.sts.requests.length, emu.requests.length];
    expect((await client.getSecret({ name: "prod/api-key" })).values.value).toBe("plain-api-key-value");
    // Renewed first (a session this short is always inside the SDK's refresh window, so it may ask
    // more than once), and the read went through at once: none refused as expired, then retried.
    expect(emu.sts.requests.length - stsBefore).toBeGreaterThanOrEqual(1);
    expect(emu.requests.length - readsBefore).toBe(1);
  });
});

describe("AWS Secrets Manager provider: faults", () => {
  it("retries a ThrottlingException and succeeds", async () => {
    emu.throttle({ times: 1 });
    const before = emu.requests.length;
    expect((await makeClient().getSecret({ name: "prod/api-key" })).values.value).toBe("plain-api-key-value");
    expect(emu.requests.length - before).toBe(2);
  });

  it("honours Retry-After on 429 before trying again", async () => {
    emu.throttle({ times: 1, status: 429, retryAfterSeconds: 1 });
    const before = emu.requests.length;
    await makeClient().getSecret({ name: "prod/api-key" });
    const [first, second] = emu.requests.slice(before);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });

  it("gives up on persistent throttling after 3 attempts, as throttled with the server's hint", async () => {
    emu.throttle({ times: 10, status: 429, retryAfterSeconds: 0 });
    const before = emu.requests.length;
    const error = await failure(makeClient().getSecret({ name: "prod/api-key" }));
    expect(error).toMatchObject({ kind: "throttled", retryAfterSeconds: 0 });
    expect(emu.requests.length - before).toBe(3);
  });

  it("never retries sooner than a long Retry-After: one request, then throttled saying how long AWS asked to wait", async () => {
    emu.throttle({ times: 1, status: 429, retryAfterSeconds: 30 });
    const before = emu.requests.length;
    const started = Date.now();
    const error = await failure(makeClient().getSecret({ name: "prod/api-key" }), "throttled");
    expect(emu.requests.length - before).toBe(1);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({ retryAfterSeconds: 30, message: expect.stringContaining("asked Latch to wait 30 s before trying again") });
  });

  it("retries InternalServiceError a bounded number of times, then reports unavailable", async () => {
    emu.failInternal({ times: 10 });
    const before = emu.requests.length;
    expect((await failure(makeClient().getSecret({ name: "prod/api-key" }))).kind).toBe("unavailable");
    expect(emu.requests.length - before).toBe(3);
  });

  it("bounds a hanging store by timeoutMs", async () => {
    emu.hang({ times: 1 });
    const started = Date.now();
    const error = await failure(makeClient({}, SECRET_KEY, { timeoutMs: 500 }).getSecret({ name: "prod/api-key" }));
    expect(error.kind).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("bounds a store that answers but never finishes (a byte now and then) by timeoutMs", async () => {
    emu.inject({ fault: { type: "trickle", everyMs: 100 }, times: 1 });
    const started = Date.now();
    const error = await failure(makeClient({}, SECRET_KEY, { timeoutMs: 800 }).getSecret({ name: "prod/api-key" }));
    expect(error.kind).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it("reports a non-AWS answer as bad_response", async () => {
    emu.inject({ fault: { type: "malformed" }, times: 1 });
    expect((await failure(makeClient().getSecret({ name: "prod/api-key" }))).kind).toBe("bad_response");
  });
});

describe("AWS Secrets Manager provider: injected faults", () => {
  const host = () => `127.0.0.1:${emu.port}`;

  it("a connection reset is a tcp failure naming the host, not retried", async () => {
    emu.inject({ fault: { type: "reset" }, times: 1 });
    const before = emu.requests.length;
    const error = await failure(makeClient().getSecret({ name: "prod/api-key" }), "tcp");
    expect(error.message).toBe(`The connection to ${host()} was reset. Check proxies and firewalls between Latch and the store.`);
    expect(emu.requests.length - before).toBe(1);
  });

  it("a body that is not JSON is bad_response, pointing at the endpoint", async () => {
    emu.inject({ fault: { type: "malformed" }, times: 1 });
    const error = await failure(makeClient().getSecret({ name: "prod/api-key" }), "bad_response");
    expect(error.message).toBe(`${host()} did not answer like Secrets Manager. Check that the endpoint address points at Secrets Manager.`);
  });

  it("latency below the timeout is waited for; above it, the call ends as a timeout at about the timeout", async () => {
    emu.inject({ fault: { type: "latency", ms: 400 } });
    let started = Date.now();
    expect((await makeClient({}, SECRET_KEY, { timeoutMs: 2000 }).getSecret({ name: "prod/api-key" })).values.value).toBe("plain-api-key-value");
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);

    emu.clearFaults();
    emu.inject({ fault: { type: "latency", ms: 3000 } });
    started = Date.now();
    const error = await failure(makeClient({}, SECRET_KEY, { timeoutMs: 500 }).getSecret({ name: "prod/api-key" }), "timeout");
    expect(error.message).toBe(`${host()} did not answer in time.`);
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe("AWS Secrets Manager provider: network policy", () => {
  it("refuses the emulator's certificate without its CA, or with another CA", async () => {
    for (const caBundle of [undefined, pki.otherCaCert]) {
      const error = await failure(makeClient({}, SECRET_KEY, { caBundle }).getSecret({ name: "prod/api-key" }));
      expect(error.kind).toBe("tls_untrusted");
    }
  });

  it("a host name that does not resolve is a dns failure naming it, for Secrets Manager and for STS", async () => {
    const error = await failure(makeClient({ endpoint: "https://secretsmanager.no-such-zone.invalid" }).getSecret({ name: "prod/api-key" }), "dns");
    expect(error.message).toBe(`The host name secretsmanager.no-such-zone.invalid could not be resolved. Check the spelling of the address, and that Latch's DNS can resolve it (private zones, split DNS).`);
    const sts = await failure(roleClient({ stsEndpoint: "https://sts.no-such-zone.invalid" }).getSecret({ name: "prod/api-key" }), "dns");
    expect(sts.message).toBe(`The host name sts.no-such-zone.invalid could not be resolved. Check the spelling of the address, and that Latch's DNS can resolve it (private zones, split DNS).`);
  });

  it("a certificate issued for another host name is refused, naming both", async () => {
    const misnamed = await startMisnamedServer(pki);
    try {
      const error = await failure(makeClient({ endpoint: misnamed.url }).getSecret({ name: "prod/api-key" }), "tls_hostname");
      expect(error.message).toBe(`The TLS certificate of ${misnamed.url.slice(8)} is for a different host name (it names store.elsewhere.test). Use the address the certificate was issued for, or have the certificate reissued to include 127.0.0.1.`);
      expect(misnamed.requests).toHaveLength(0);
    } finally {
      await misnamed.close();
    }
  });

  it("refuses metadata addresses and plain http endpoints before dialling", async () => {
    expect((await failure(makeClient({ endpoint: "https://169.254.169.254" }).getSecret({ name: "x" }))).kind).toBe("egress_denied");
    expect((await failure(makeClient({ endpoint: `http://127.0.0.1:${emu.port}` }).getSecret({ name: "x" }))).kind).toBe("egress_denied");
    expect((await failure(roleClient({ stsEndpoint: "https://169.254.169.254" }).getSecret({ name: "x" }))).kind).toBe("egress_denied");
  });

  describe("through an HTTPS proxy", () => {
    let proxy: ConnectProxy;
    beforeAll(async () => {
      proxy = await startConnectProxy({ username: "latch", password: "proxy-pass" });
    });
    afterAll(() => proxy.close());

    it("tunnels to the IP Latch resolved, with credentials, still verifying the store against the CA bundle", async () => {
      const dns = stubDns({ "secretsmanager.emulator.test": "127.0.0.1" });
      try {
        expect((await makeClient({}, SECRET_KEY, { proxyUrl: proxy.url }).getSecret({ name: "prod/api-key" })).values.value).toBe("plain-api-key-value");
        expect(proxy.connects.at(-1)).toEqual({ target: `127.0.0.1:${emu.port}`, authorization: `Basic ${Buffer.from("latch:proxy-pass").toString("base64")}` });
        const error = await failure(makeClient({}, SECRET_KEY, { proxyUrl: proxy.url, caBundle: pki.otherCaCert }).getSecret({ name: "prod/api-key" }));
        expect(error.kind).toBe("tls_untrusted");
        // The certificate is checked against the name in the endpoint, though the tunnel ends at 127.0.0.1.
        const misnamed = await failure(makeClient({ endpoint: `https://secretsmanager.emulator.test:${emu.port}` }, SECRET_KEY, { proxyUrl: proxy.url }).getSecret({ name: "prod/api-key" }), "tls_hostname");
        expect(misnamed.message).toContain("secretsmanager.emulator.test");
      } finally {
        dns.restore();
      }
    });

    it("refuses an endpoint whose name resolves to a metadata address before anything reaches the proxy", async () => {
      const dns = stubDns({ "secretsmanager.sneaky.test": "169.254.169.254" });
      try {
        const before = proxy.connections();
        const error = await failure(makeClient({ endpoint: `https://secretsmanager.sneaky.test:${emu.port}` }, SECRET_KEY, { proxyUrl: proxy.url }).getSecret({ name: "prod/api-key" }), "egress_denied");
        expect(error.message).toBe("Latch never connects to secretsmanager.sneaky.test (169.254.169.254): link-local and cloud-metadata addresses are refused.");
        expect(proxy.connections()).toBe(before);
      } finally {
        dns.restore();
      }
    });
  });
});

describe("AWS Secrets Manager provider: which host it names", () => {
  it("without an endpoint, dials and names the region's public endpoint (and STS's), also in the console's store test", async () => {
    const dns = stubDns({ "secretsmanager.ap-southeast-2.amazonaws.com": "ENOTFOUND", "sts.ap-southeast-2.amazonaws.com": "ENOTFOUND" });
    try {
      const client = makeClient({ region: "ap-southeast-2", endpoint: "" });
      expect(client.host).toBe("secretsmanager.ap-southeast-2.amazonaws.com");
      const error = await failure(client.getSecret({ name: "prod/api-key" }), "dns");
      expect(error.message).toMatch(/^The host name secretsmanager\.ap-southeast-2\.amazonaws\.com could not be resolved\./);
      expect(dns.lookups).toContain("secretsmanager.ap-southeast-2.amazonaws.com");

      const { exerciseStore } = await import("@/lib/stores/exercise");
      const result = await exerciseStore(makeClient({ region: "ap-southeast-2", endpoint: "" }), { mode: "READ_ONLY" });
      expect(result).toMatchObject({ ok: false, kind: "dns", message: expect.stringContaining("secretsmanager.ap-southeast-2.amazonaws.com could not be resolved") });

      const role = await failure(makeClient({ region: "ap-southeast-2", endpoint: "", auth: "assume_role", roleArn: ROLE, externalId: "ext-1234" }).getSecret({ name: "prod/api-key" }), "dns");
      expect(role.message).toMatch(/^The host name sts\.ap-southeast-2\.amazonaws\.com could not be resolved\./);
    } finally {
      dns.restore();
    }
  });

  it("with an endpoint, names the endpoint's host", () => {
    expect(makeClient().host).toBe(`127.0.0.1:${emu.port}`);
  });
});

describe("AWS Secrets Manager provider: configuration", () => {
  it("validates the form: region, key id, role ARN when assuming a role; blanks become unset", () => {
    const ok = awsConfigSchema.parse({ region: "eu-west-1", accessKeyId: KEY_ID, endpoint: "", externalId: " " });
    expect(ok).toEqual({ region: "eu-west-1", accessKeyId: KEY_ID, auth: "access_key", roleSessionName: "latch" });
    expect(awsConfigSchema.parse(ok)).toEqual(ok);
    const missingRole = awsConfigSchema.safeParse({ region: "eu-west-1", accessKeyId: KEY_ID, auth: "assume_role" });
    expect(missingRole.success).toBe(false);
    expect(missingRole.error?.issues[0]?.path).toEqual(["roleArn"]);
    expect(awsConfigSchema.safeParse({ region: "Europe", accessKeyId: KEY_ID }).success).toBe(false);
    expect(awsConfigSchema.safeParse({ region: "eu-west-1", accessKeyId: "not a key" }).success).toBe(false);
    const names = awsProvider.fields.map((f) => f.name);
    expect(new Set(names)).toEqual(new Set([...Object.keys(awsConfigSchema.shape), ...Object.keys(awsProvider.secretSchema.shape)]));
    expect(awsProvider.fields.find((f) => f.name === "secretAccessKey")?.secret).toBe(true);
  });

  it("describes the demo data set so it can be registered as shown", async () => {
    const demo = seedDemoAws(emu, pki);
    const client = awsProvider.create({
      storeId: "demo",
      config: awsConfigSchema.parse(demo.storeConfig),
      secrets: awsProvider.secretSchema.parse(demo.storeSecrets),
      common: { caBundle: pki.caCert, timeoutMs: 3000 },
    });
    clients.push(client);
    expect((await client.getSecret({ name: "prod/payroll-db" })).values).toMatchObject({ username: "payroll_app", port: "5432" });
    expect(demo.instructions).toContain(emu.url);
  });
});

describe("AWS emulator fidelity (raw SDK)", () => {
  it("accepts session credentials until they expire, then answers ExpiredTokenException", async () => {
    await roleClient().getSecret({ name: "prod/api-key" });
    const s = emu.issuedSessions().at(-1)!;
    const raw = rawClient(s);
    await expect(raw.send(new GetSecretValueCommand({ SecretId: "prod/api-key" }))).resolves.toMatchObject({ SecretString: "plain-api-key-value" });
    emu.expireSessions();
    await expect(raw.send(new GetSecretValueCommand({ SecretId: "prod/api-key" }))).rejects.toMatchObject({ name: "ExpiredTokenException" });
    await expect(rawClient({ ...s, sessionToken: "forged" }).send(new GetSecretValueCommand({ SecretId: "prod/api-key" }))).rejects.toMatchObject({ name: "UnrecognizedClientException" });
    raw.destroy();
  });

  it("offers seed, rotate, delete, deny and session expiry over the HTTP control API", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${emu.controlUrl}/_control/${path}`, { method: "POST", body: JSON.stringify(body) }).then((r) => r.json() as Promise<Record<string, unknown>>);
    const seeded = await post("secrets", { name: "ctl/one", value: { a: "1" } });
    const rotated = await post("secrets/rotate", { name: "ctl/one", value: { a: "2" } });
    const client = makeClient();
    expect(await client.getSecret({ name: "ctl/one", version: "AWSPREVIOUS" })).toMatchObject({ values: { a: "1" }, version: seeded.versionId });
    expect(await client.getSecret({ name: "ctl/one" })).toMatchObject({ values: { a: "2" }, version: rotated.versionId });
    await post("deny", { accessKeyId: KEY_ID, secrets: ["ctl/one"] });
    expect((await failure(client.getSecret({ name: "ctl/one" }))).kind).toBe("permission");
    expect((await client.getSecret({ name: "prod/api-key" })).values.value).toBe("plain-api-key-value");
    await post("allow", { accessKeyId: KEY_ID });
    await post("secrets/delete", { name: "ctl/one" });
    expect((await failure(client.getSecret({ name: "ctl/one" }))).kind).toBe("deleted");
    await post("secrets/delete", { name: "ctl/one", force: true });
    expect((await failure(client.getSecret({ name: "ctl/one" }))).kind).toBe("not_found");
    expect(await post("sessions/expire", {})).toHaveProperty("expired");
  });

  it("verifies SigV4 strictly: a body changed after signing is refused", async () => {
    const raw = rawClient({ accessKeyId: KEY_ID, secretAccessKey: SECRET_KEY });
    raw.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { body: string; headers: Record<string, string> };
        request.body = request.body.replace("prod/api-key", "prod/payroll-db");
        request.headers["content-length"] = String(Buffer.byteLength(request.body));
        return next(args);
      },
      { step: "deserialize", name: "tamperAfterSigning" },
    );
    await expect(raw.send(new GetSecretValueCommand({ SecretId: "prod/api-key" }))).rejects.toMatchObject({ name: "InvalidSignatureException" });
    raw.destroy();
  });

  it("implements idempotent creation, token conflicts and staging-label moves", async () => {
    const raw = rawClient({ accessKeyId: KEY_ID, secretAccessKey: SECRET_KEY });
    const token = "11111111-2222-3333-4444-555555555555";
    const a = await raw.send(new CreateSecretCommand({ Name: "fid/one", SecretString: "a", ClientRequestToken: token }));
    const again = await raw.send(new CreateSecretCommand({ Name: "fid/one", SecretString: "a", ClientRequestToken: token }));
    expect(again.VersionId).toBe(a.VersionId);
    await expect(raw.send(new PutSecretValueCommand({ SecretId: "fid/one", SecretString: "different", ClientRequestToken: token }))).rejects.toMatchObject({ name: "ResourceExistsException" });
    const b = await raw.send(new PutSecretValueCommand({ SecretId: "fid/one", SecretString: "b", VersionStages: ["PENDING"] }));
    await expect(raw.send(new UpdateSecretVersionStageCommand({ SecretId: "fid/one", VersionStage: "AWSCURRENT", MoveToVersionId: b.VersionId }))).rejects.toMatchObject({ name: "InvalidParameterException" });
    await raw.send(new UpdateSecretVersionStageCommand({ SecretId: "fid/one", VersionStage: "AWSCURRENT", MoveToVersionId: b.VersionId, RemoveFromVersionId: a.VersionId }));
    const described = await raw.send(new DescribeSecretCommand({ SecretId: a.ARN }));
    expect(described.VersionIdsToStages).toEqual({ [a.VersionId!]: ["AWSPREVIOUS"], [b.VersionId!]: ["PENDING", "AWSCURRENT"] });
    raw.destroy();
  });
});

describe("AWS Secrets Manager provider: no secrets in messages", () => {
  it("never puts a secret access key, session credential or secret value into an error message", () => {
    expect(messages.length).toBeGreaterThan(15);
    const forbidden = [SECRET_KEY, DENIED_SECRET, "definitely-not-the-right-secret-key", "proxy-pass", ...Object.values(VALUES), "plain-api-key-value"];
    for (const s of emu.issuedSessions()) forbidden.push(s.secretAccessKey, s.sessionToken);
    for (const message of messages) for (const secret of forbidden) expect(message).not.toContain(secret);
  });
});

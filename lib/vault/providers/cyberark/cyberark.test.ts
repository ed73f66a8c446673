import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDispatcher, egressFetch } from "@/lib/net/egress";
import type { StoreClient } from "@/lib/vault/types";
import { startConnectProxy } from "@/test/emulators/connect-proxy";
import { seedDemoCyberark, startCyberarkEmulator, type CyberarkEmulator } from "@/test/emulators/cyberark";
import { createTestPki, startMisnamedServer, type TestPki } from "@/test/emulators/tls";
import { CcpClient, accountsUrl, ccpHttpError, toFetchedSecret } from "./ccp-client";
import type { ClientCertificate } from "./client-certificate";
import { HEALTH_PROBE_OBJECT, cyberarkProvider } from "./index";
import { storeFailureRecorder } from "@/test/store-failures";

type Cert = ReturnType<TestPki["issueClient"]>;

let pki: TestPki;
let ccp: CyberarkEmulator;
let latch: Cert;
let stranger: Cert;
let selfSigned: { cert: string; key: string };
const PASSWORD = "Pa55-w0rd+&;%-payroll";
const clients: StoreClient[] = [];
const { messages, failure } = storeFailureRecorder();

beforeAll(async () => {
  pki = createTestPki();
  ccp = await startCyberarkEmulator({ pki });
  latch = pki.issueClient("latch-app");
  stranger = pki.issueClient("someone-else");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key", "-out", "self.pem", "-days", "2", "-subj", "/CN=self-signed", "-addext", "extendedKeyUsage=clientAuth"], { cwd: pki.dir, stdio: "ignore" });
  selfSigned = { cert: readFileSync(path.join(pki.dir, "self.pem"), "utf8"), key: readFileSync(path.join(pki.dir, "self.key"), "utf8") };
  ccp.registerApp({ appId: "Latch", fingerprints: [latch.fingerprint256], safes: ["Finance", "Ops"] });
  ccp.seedAccount({ safe: "Finance", object: "payroll-db", password: PASSWORD, userName: "payroll_app", address: "db.finance.internal", database: "payroll", logonDomain: "CORP", properties: { Environment: "prod" } });
  ccp.seedAccount({ safe: "Finance", object: "Operating System-UnixSSH-db01 root", password: "unix-pw", userName: "root", address: "db01" });
  ccp.seedAccount({ safe: "Finance", object: "shared-1", password: "s1", userName: "shared" });
  ccp.seedAccount({ safe: "Finance", object: "shared-2", password: "s2", userName: "shared" });
  ccp.seedAccount({ safe: "HR", object: "hr-db", password: "hr-pw", userName: "hr" });
});
afterAll(async () => {
  await Promise.all(clients.flatMap((c) => c.close?.() ?? []));
  await ccp.close();
});

function make(config: Record<string, unknown> = {}, secrets: Record<string, unknown> = {}, common: { caBundle?: string; timeoutMs?: number; proxyUrl?: string } = {}): StoreClient {
  const client = cyberarkProvider.create({
    storeId: "00000000-0000-0000-0000-000000000001",
    config: cyberarkProvider.configSchema.parse({ url: ccp.ccpUrl, appId: "Latch", safe: "Finance", ...config }),
    secrets: cyberarkProvider.secretSchema.parse({ clientCertificatePem: `${latch.cert}${latch.key}`, ...secrets }),
    common: { caBundle: "caBundle" in common ? common.caBundle : pki.caCert, timeoutMs: common.timeoutMs ?? 3000, ...(common.proxyUrl ? { proxyUrl: common.proxyUrl } : {}) },
  });
  clients.push(client);
  return client;
}

describe("CyberArk CCP provider: reading", () => {
  it("reads an account with a PEM client certificate: password, username and the other properties", async () => {
    const read = await make().getSecret({ name: "payroll-db" });
    expect(read).toEqual({
      values: {
        password: PASSWORD,
        username: "payroll_app",
        address: "db.finance.internal",
        database: "payroll",
        logonDomain: "CORP",
        environment: "prod",
        safe: "Finance",
        folder: "Root",
        name: "payroll-db",
        policyID: "UnixSSH",
        deviceType: "Operating System",
        creationMethod: "PVWA",
        passwordChangeInProcess: "False",
      },
      version: null,
      updatedAt: null,
    });
    expect(ccp.requests.at(-1)!.path).toBe("/AIMWebService/api/Accounts?AppID=Latch&Safe=Finance&Folder=Root&Object=payroll-db");
  });

  it("reads with a PFX client certificate and its passphrase", async () => {
    const client = make({ certificateFormat: "pfx" }, { clientCertificatePem: undefined, clientCertificatePfx: latch.pfx.toString("base64"), passphrase: latch.passphrase });
    expect((await client.getSecret({ name: "payroll-db" })).values.password).toBe(PASSWORD);
  });

  it("reads with an encrypted PEM private key and its passphrase; without it, says the key is encrypted", async () => {
    const encrypted = createPrivateKey(latch.key).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "key-pass-123" }) as string;
    const ok = make({}, { clientCertificatePem: `${latch.cert}${encrypted}`, passphrase: "key-pass-123" });
    expect((await ok.getSecret({ name: "payroll-db" })).values.username).toBe("payroll_app");
    const error = await failure(make({}, { clientCertificatePem: `${latch.cert}${encrypted}` }).getSecret({ name: "payroll-db" }), "config");
    expect(error.message).toMatch(/encrypted/);
    await failure(make({}, { clientCertificatePem: `${latch.cert}${encrypted}`, passphrase: "wrong" }).getSecret({ name: "payroll-db" }), "config");
  });

  it("encodes spaces in object names as %20", async () => {
    const read = await make().getSecret({ name: "Operating System-UnixSSH-db01 root" });
    expect(read.values).toMatchObject({ password: "unix-pw", username: "root" });
    expect(ccp.requests.at(-1)!.path).toContain("Object=Operating%20System-UnixSSH-db01%20root");
  });

  it("sees a rotation on the next read (no caching here)", async () => {
    const client = make({ safe: "Ops" });
    ccp.seedAccount({ safe: "Ops", object: "rotating", password: "first", userName: "svc" });
    expect((await client.getSecret({ name: "rotating" })).values.password).toBe("first");
    const next = ccp.rotateAccount({ safe: "Ops", object: "rotating" });
    const read = await client.getSecret({ name: "rotating" });
    expect(read.values.password).toBe(next);
    expect(next).not.toBe("first");
  });

  it("reports a missing account as not_found, naming safe, folder and object and the permission caveat", async () => {
    const error = await failure(make().getSecret({ name: "no-such-account" }), "not_found");
    expect(error.message).toContain("APPAP004E");
    expect(error.message).toContain("“no-such-account” in safe “Finance” (folder “Root”)");
    expect(error.message).toMatch(/members of the safe/);
    // A deleted account too; and a safe the App ID cannot use answers the same way.
    ccp.seedAccount({ safe: "Finance", object: "to-delete", password: "x" });
    ccp.deleteAccount({ safe: "Finance", object: "to-delete" });
    await failure(make().getSecret({ name: "to-delete" }), "not_found");
    await failure(make({ safe: "HR" }).getSecret({ name: "hr-db" }), "not_found");
  });

  it("refuses a version: CCP only serves the current password", async () => {
    await failure(make().getSecret({ name: "payroll-db", version: "3" }), "config");
  });
});

describe("CyberArk CCP provider: application authentication (mutual TLS)", () => {
  it("a certificate not registered for the App ID → auth, naming the App ID and the certificate", async () => {
    const error = await failure(make({}, { clientCertificatePem: `${stranger.cert}${stranger.key}` }).getSecret({ name: "payroll-db" }), "auth");
    expect(error.message).toContain("APPAP306E");
    expect(error.message).toMatch(/client certificate or App ID “Latch” is not accepted/);
  });

  it("a certificate from a CA the CCP does not trust → auth", async () => {
    await failure(make({}, { clientCertificatePem: `${selfSigned.cert}\n${selfSigned.key}` }).getSecret({ name: "payroll-db" }), "auth");
  });

  it("no client certificate at all → auth (403 APPAP306E)", async () => {
    const client = new CcpClient({ baseUrl: ccp.ccpUrl, certificate: () => ({}) as ClientCertificate, caBundle: pki.caCert, timeoutMs: 3000 });
    try {
      await failure(client.getPassword({ appId: "Latch", safe: "Finance", folder: "Root", object: "payroll-db", failOnPasswordChange: false }), "auth");
    } finally {
      await client.close();
    }
  });

  it("a revoked certificate stops working at once", async () => {
    const extra = pki.issueClient("latch-second");
    ccp.registerApp({ appId: "Latch2", fingerprints: [extra.fingerprint256] });
    const client = make({ appId: "Latch2" }, { clientCertificatePem: `${extra.cert}${extra.key}` });
    expect((await client.getSecret({ name: "payroll-db" })).values.password).toBe(PASSWORD);
    ccp.revokeAppCertificate("Latch2", extra.fingerprint256);
    await failure(client.getSecret({ name: "payroll-db" }), "auth");
  });

  it("an App ID CyberArk does not know → permission (APPAP008E)", async () => {
    const error = await failure(make({ appId: "NoSuchApp" }).getSecret({ name: "payroll-db" }), "permission");
    expect(error.message).toContain("APPAP008E");
  });

  it("detects a TLS-level refusal (IIS requiring client certificates) as auth", async () => {
    const strict = await startCyberarkEmulator({ pki, clientCertMode: "require" });
    strict.registerApp({ appId: "Latch", fingerprints: [latch.fingerprint256] });
    strict.seedAccount({ safe: "Finance", object: "payroll-db", password: PASSWORD });
    try {
      const noCert = new CcpClient({ baseUrl: strict.ccpUrl, certificate: () => ({}) as ClientCertificate, caBundle: pki.caCert, timeoutMs: 3000 });
      const q = { appId: "Latch", safe: "Finance", folder: "Root", object: "payroll-db", failOnPasswordChange: false };
      const error = await failure(noCert.getPassword(q), "auth");
      expect(error.message).toMatch(/certificate required/);
      await noCert.close();
      const untrusted = make({ url: strict.ccpUrl }, { clientCertificatePem: `${selfSigned.cert}\n${selfSigned.key}` });
      await failure(untrusted.getSecret({ name: "payroll-db" }), "auth");
      const good = make({ url: strict.ccpUrl });
      expect((await good.getSecret({ name: "payroll-db" })).values.password).toBe(PASSWORD);
    } finally {
      await strict.close();
    }
  });

  it("checks the stored material before dialling: missing, mismatched, wrong PFX passphrase", async () => {
    const before = ccp.requests.length;
    expect((await failure(make({}, { clientCertificatePem: undefined }).getSecret({ name: "payroll-db" }), "config")).message).toMatch(/No client certificate is stored/);
    expect((await failure(make({}, { clientCertificatePem: `${latch.cert}${stranger.key}` }).getSecret({ name: "payroll-db" }), "config")).message).toMatch(/does not belong/);
    const pfx = { clientCertificatePem: undefined, clientCertificatePfx: latch.pfx.toString("base64") };
    expect((await failure(make({ certificateFormat: "pfx" }, { ...pfx, passphrase: "not-it" }).getSecret({ name: "payroll-db" }), "config")).message).toMatch(/passphrase is wrong/);
    expect((await failure(make({ certificateFormat: "pfx" }, pfx).getSecret({ name: "payroll-db" }), "config")).message).toMatch(/passphrase/);
    expect((await failure(make({ certificateFormat: "pfx" }, { clientCertificatePem: undefined }).getSecret({ name: "payroll-db" }), "config")).message).toMatch(/No PFX file/);
    expect(ccp.requests.length).toBe(before);
  });
});

describe("CyberArk CCP provider: password change in process", () => {
  it("with “fail while changing” → unavailable (retried, then reported); without it → the value", async () => {
    ccp.seedAccount({ safe: "Finance", object: "changing", password: "old-pw", userName: "svc", passwordChangeInProcess: true });
    const before = ccp.count("Object=changing");
    const error = await failure(make({ failOnPasswordChange: true }).getSecret({ name: "changing" }), "unavailable");
    expect(error.message).toMatch(/being changed/);
    expect(error.message).toContain("APPAP282E");
    expect(ccp.count("Object=changing") - before).toBe(3);
    expect(ccp.requests.at(-1)!.path).toContain("FailRequestOnPasswordChange=true");

    const read = await make().getSecret({ name: "changing" });
    expect(read.values).toMatchObject({ password: "old-pw", passwordChangeInProcess: "True" });
  });

  it("recovers when the change finishes between retries", async () => {
    ccp.inject({ pathIncludes: "Object=payroll-db", times: 1, fault: { type: "status", status: 500, body: { ErrorCode: "APPAP282E", ErrorMsg: "Password [payroll-db] is currently being changed by the CPM." } } });
    const before = ccp.count("Object=payroll-db");
    expect((await make({ failOnPasswordChange: true }).getSecret({ name: "payroll-db" })).values.password).toBe(PASSWORD);
    expect(ccp.count("Object=payroll-db") - before).toBe(2);
  });
});

describe("CyberArk CCP provider: validation, faults and TLS", () => {
  it("refuses + & % ; in values before any request, saying CyberArk does not support them", async () => {
    const before = ccp.requests.length;
    for (const name of ["a+b", "a&b", "50%", "x;Object=y"]) {
      const error = await failure(make().getSecret({ name }), "config");
      expect(error.message).toMatch(/does not support \+ & % or ;/);
    }
    expect(ccp.requests.length).toBe(before);
    const parsed = cyberarkProvider.configSchema.safeParse({ url: ccp.ccpUrl, appId: "Latch;x", safe: "Fin&ance" });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.message).join(" ")).toMatch(/does not support in queries/);
  });

  it("retries a 503 and a 429 (honouring Retry-After), then succeeds", async () => {
    const client = make();
    ccp.inject({ pathIncludes: "Object=payroll-db", times: 1, fault: { type: "status", status: 503, body: { ErrorCode: "AIMWS999E", ErrorMsg: "Service busy" } } });
    let before = ccp.count("Object=payroll-db");
    expect((await client.getSecret({ name: "payroll-db" })).values.password).toBe(PASSWORD);
    expect(ccp.count("Object=payroll-db") - before).toBe(2);

    ccp.inject({ pathIncludes: "Object=payroll-db", times: 1, fault: { type: "status", status: 429, body: {}, headers: { "retry-after": "1" } } });
    before = ccp.requests.length;
    expect((await client.getSecret({ name: "payroll-db" })).values.password).toBe(PASSWORD);
    const [first, second] = ccp.requests.slice(before);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(900);
  });

  it("never retries sooner than a long Retry-After: one request, then throttled saying how long to wait", async () => {
    ccp.inject({ pathIncludes: "Object=payroll-db", times: 1, fault: { type: "status", status: 429, body: {}, headers: { "retry-after": "30" } } });
    const before = ccp.count("Object=payroll-db");
    const started = Date.now();
    const error = await failure(make().getSecret({ name: "payroll-db" }), "throttled");
    expect(ccp.count("Object=payroll-db") - before).toBe(1);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({ retryAfterSeconds: 30, message: expect.stringContaining("asked Latch to wait 30 s before trying again") });
    ccp.clearFaults();
  });

  it("gives up after bounded retries on a persistent 5xx", async () => {
    ccp.inject({ pathIncludes: "Object=payroll-db", times: 5, fault: { type: "status", status: 500, body: { ErrorCode: "APPAP133E", ErrorMsg: "Internal error" } } });
    const before = ccp.count("Object=payroll-db");
    await failure(make().getSecret({ name: "payroll-db" }), "unavailable");
    expect(ccp.count("Object=payroll-db") - before).toBe(3);
    ccp.clearFaults();
  });

  it("bounds a hanging CCP by the store timeout", async () => {
    ccp.inject({ pathIncludes: "Object=payroll-db", times: 1, fault: { type: "hang" } });
    const started = Date.now();
    await failure(make({}, {}, { timeoutMs: 400 }).getSecret({ name: "payroll-db" }), "timeout");
    expect(Date.now() - started).toBeLessThan(2000);
    ccp.clearFaults();
  });

  it("refuses a CCP whose certificate is from another CA, or with no CA bundle", async () => {
    await failure(make({}, {}, { caBundle: pki.otherCaCert }).getSecret({ name: "payroll-db" }), "tls_untrusted");
    await failure(make({}, {}, { caBundle: undefined }).getSecret({ name: "payroll-db" }), "tls_untrusted");
  });

  it("names the CCP URL's host as the one it dials", () => {
    expect(make().host).toBe(new URL(ccp.ccpUrl).host);
  });

  it("a host name that does not resolve is a dns failure naming it", async () => {
    const error = await failure(make({ url: "https://ccp.no-such-zone.invalid" }).getSecret({ name: "payroll-db" }), "dns");
    expect(error.message).toBe(`The host name ccp.no-such-zone.invalid could not be resolved. Check the spelling of the address, and that Latch's DNS can resolve it (private zones, split DNS).`);
  });

  it("a certificate issued for another host name is refused, naming both (not mistaken for a client-certificate refusal)", async () => {
    const misnamed = await startMisnamedServer(pki);
    try {
      const error = await failure(make({ url: misnamed.url }).getSecret({ name: "payroll-db" }), "tls_hostname");
      expect(error.message).toBe(`The TLS certificate of ${misnamed.url.slice(8)} is for a different host name (it names store.elsewhere.test). Use the address the certificate was issued for, or have the certificate reissued to include 127.0.0.1.`);
      expect(misnamed.requests).toHaveLength(0);
    } finally {
      await misnamed.close();
    }
  });

  it("reaches the CCP through an egress proxy with its client certificate (mutual TLS inside the tunnel)", async () => {
    const proxy = await startConnectProxy();
    try {
      expect((await make({}, {}, { proxyUrl: proxy.url }).getSecret({ name: "payroll-db" })).values.password).toBe(PASSWORD);
      expect(proxy.connects.map((c) => c.target)).toEqual([`127.0.0.1:${new URL(ccp.ccpUrl).port}`]);
      await failure(make({}, { clientCertificatePem: `${stranger.cert}${stranger.key}` }, { proxyUrl: proxy.url }).getSecret({ name: "payroll-db" }), "auth");
    } finally {
      await proxy.close();
    }
  });

  it("goes through the egress policy: a cloud-metadata address is refused", async () => {
    await failure(make({ url: "https://169.254.169.254" }).getSecret({ name: "payroll-db" }), "egress_denied");
  });

  it("malformed JSON → bad_response; a wrong base path (IIS 404 page) → config", async () => {
    ccp.inject({ pathIncludes: "Object=payroll-db", times: 1, fault: { type: "malformed" } });
    await failure(make().getSecret({ name: "payroll-db" }), "bad_response");
    const error = await failure(make({ url: `${ccp.ccpUrl}/wrong-prefix` }).getSecret({ name: "payroll-db" }), "config");
    expect(error.message).toMatch(/appends \/AIMWebService\/api\/Accounts/);
  });

  it("accepts a CCP URL that already ends in /AIMWebService/api/Accounts", async () => {
    expect((await make({ url: `${ccp.ccpUrl}/AIMWebService/api/Accounts/` }).getSecret({ name: "payroll-db" })).values.password).toBe(PASSWORD);
    expect(accountsUrl("https://ccp.example.com/").toString()).toBe("https://ccp.example.com/AIMWebService/api/Accounts");
    expect(accountsUrl("https://ccp.example.com/prefix").toString()).toBe("https://ccp.example.com/prefix/AIMWebService/api/Accounts");
  });

  it("only allows https URLs in the configuration", () => {
    expect(cyberarkProvider.configSchema.safeParse({ url: "http://ccp.example.com", appId: "a", safe: "s" }).success).toBe(false);
    expect(cyberarkProvider.configSchema.parse({ url: "https://ccp.example.com", appId: "a", safe: "s" })).toMatchObject({ folder: "Root", certificateFormat: "pem", failOnPasswordChange: false });
  });
});

describe("CyberArk CCP provider: injected faults", () => {
  const host = () => new URL(ccp.ccpUrl).host;
  afterAll(() => ccp.clearFaults());

  it("a connection reset is a tcp failure naming the host, not a certificate refusal, and not retried", async () => {
    ccp.inject({ pathIncludes: "Object=payroll-db", times: 1, fault: { type: "reset" } });
    const before = ccp.count("Object=payroll-db");
    const error = await failure(make().getSecret({ name: "payroll-db" }), "tcp");
    expect(error.message).toBe(`The connection to ${host()} was reset. Check proxies and firewalls between Latch and the store.`);
    expect(ccp.count("Object=payroll-db") - before).toBe(1);
  });

  it("a body that is not JSON is bad_response, pointing at the CCP URL", async () => {
    ccp.inject({ pathIncludes: "Object=payroll-db", times: 1, fault: { type: "malformed" } });
    const error = await failure(make().getSecret({ name: "payroll-db" }), "bad_response");
    expect(error.message).toBe(`${host()} answered with something other than JSON. Check that the CCP URL points at the Central Credential Provider.`);
  });

  it("latency below the timeout is waited for; above it, the call ends as a timeout at about the timeout", async () => {
    ccp.inject({ pathIncludes: "Object=payroll-db", fault: { type: "latency", ms: 400 } });
    let started = Date.now();
    expect((await make({}, {}, { timeoutMs: 2000 }).getSecret({ name: "payroll-db" })).values.password).toBe(PASSWORD);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);

    ccp.clearFaults();
    ccp.inject({ pathIncludes: "Object=payroll-db", fault: { type: "latency", ms: 3000 } });
    started = Date.now();
    const error = await failure(make({}, {}, { timeoutMs: 500 }).getSecret({ name: "payroll-db" }), "timeout");
    expect(error.message).toBe(`${host()} did not answer in time.`);
    expect(Date.now() - started).toBeLessThan(1500);
    ccp.clearFaults();
  });
});

describe("CyberArk CCP provider: health", () => {
  it("without a probe object: “not found” for a non-existent object proves the App ID authenticated", async () => {
    await make().health();
    expect(ccp.requests.at(-1)!.path).toContain(`Object=${HEALTH_PROBE_OBJECT}`);
    await failure(make({}, { clientCertificatePem: `${stranger.cert}${stranger.key}` }).health(), "auth");
    await failure(make({ appId: "NoSuchApp" }).health(), "permission");
  });

});

describe("CyberArk CCP emulator", () => {
  const fetchRaw = async (query: string, cert: Cert = latch) => {
    const dispatcher = createDispatcher({ ca: pki.caCert, cert: cert.cert, key: cert.key, timeoutMs: 3000 });
    try {
      const res = await egressFetch(`${ccp.ccpUrl}/AIMWebService/api/Accounts?${query}`, { dispatcher, timeoutMs: 3000 });
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    } finally {
      await dispatcher.close();
    }
  };

  it("parses case-insensitive names and the Query= form (which overrides separate filters)", async () => {
    expect((await fetchRaw("appid=Latch&SAFE=Finance&object=payroll-db")).body.Content).toBe(PASSWORD);
    const viaQuery = await fetchRaw("AppID=Latch&Object=ignored&Query=Safe=Finance;Folder=Root;Object=payroll-db");
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.body.Name).toBe("payroll-db");
  });

  it("answers several matches with APPAP227E, which the provider calls a config problem", async () => {
    const { status, body } = await fetchRaw("AppID=Latch&Safe=Finance&UserName=shared");
    expect(status).toBe(400);
    expect(body.ErrorCode).toBe("APPAP227E");
    const error = ccpHttpError(status, JSON.stringify(body), new Headers(), { appId: "Latch", safe: "Finance", folder: "Root", object: "shared", failOnPasswordChange: false }, "ccp");
    expect(error.kind).toBe("config");
    expect(error.message).toMatch(/several accounts.*name the Object/);
  });

  it("answers the documented 400s", async () => {
    expect((await fetchRaw("Safe=Finance&Object=payroll-db")).body.ErrorCode).toBe("AIMWS031E");
    expect((await fetchRaw("AppID=Latch&Query=Bogus")).body.ErrorCode).toBe("AIMWS030E");
    expect((await fetchRaw("AppID=Latch&Safe=Finance&Object=a%2Bb")).body.ErrorCode).toBe("CASVL010E");
    for (const code of ["AIMWS031E", "AIMWS030E", "CASVL010E"]) {
      expect(ccpHttpError(400, JSON.stringify({ ErrorCode: code, ErrorMsg: "x" }), new Headers(), { appId: "a", safe: "s", folder: "Root", object: "o", failOnPasswordChange: false }, "ccp").kind).toBe("config");
    }
  });

  it("has a control API to seed, rotate, delete accounts and register App IDs", async () => {
    const post = (route: string, body: unknown) => fetch(`${ccp.controlUrl}/_control/${route}`, { method: "POST", body: JSON.stringify(body) });
    const other = pki.issueClient("control-app");
    expect((await post("apps", { appId: "CtlApp", fingerprints: [other.fingerprint256] })).status).toBe(200);
    expect((await post("accounts", { safe: "Ctl", object: "acct", password: "one", userName: "u" })).status).toBe(200);
    expect((await fetchRaw("AppID=CtlApp&Safe=Ctl&Object=acct", other)).body.Content).toBe("one");
    await post("accounts/rotate", { safe: "Ctl", object: "acct", password: "two" });
    expect((await fetchRaw("AppID=CtlApp&Safe=Ctl&Object=acct", other)).body.Content).toBe("two");
    await post("accounts/password-change", { safe: "Ctl", object: "acct", inProcess: true });
    expect((await fetchRaw("AppID=CtlApp&Safe=Ctl&Object=acct&FailRequestOnPasswordChange=true", other)).body.ErrorCode).toBe("APPAP282E");
    await post("accounts/delete", { safe: "Ctl", object: "acct" });
    expect((await fetchRaw("AppID=CtlApp&Safe=Ctl&Object=acct", other)).status).toBe(404);
    await post("apps/revoke", { appId: "CtlApp" });
    expect((await fetchRaw("AppID=CtlApp&Safe=Ctl&Object=acct", other)).body.ErrorCode).toBe("APPAP306E");
  });

  it("seeds a demo that the provider reads with the returned settings", async () => {
    const demo = seedDemoCyberark(ccp);
    expect(demo.instructions).toContain(ccp.ccpUrl);
    const client = cyberarkProvider.create({
      storeId: "demo",
      config: cyberarkProvider.configSchema.parse(demo.storeConfig),
      secrets: cyberarkProvider.secretSchema.parse(demo.storeSecrets),
      common: { caBundle: pki.caCert, timeoutMs: 3000 },
    });
    clients.push(client);
    expect((await client.getSecret({ name: "payroll-db" })).values).toMatchObject({ username: "payroll_app", database: "payroll" });
  });
});

describe("CyberArk CCP provider: no secrets in messages", () => {
  it("maps response strings to values (unit)", () => {
    expect(toFetchedSecret({ Content: "p", UserName: "", Address: "h", Custom: 5, Nested: { a: 1 }, password: "spoof" })).toEqual({ values: { password: "p", address: "h", custom: "5" }, version: null, updatedAt: null });
  });

  it("never put a password, passphrase, private key or PFX in an error message", () => {
    expect(messages.length).toBeGreaterThan(25);
    const keyBody = (pem: string) => pem.split("\n").filter((l) => l && !l.startsWith("-----")).slice(1, 3).join("");
    const forbidden = [PASSWORD, "old-pw", "unix-pw", latch.passphrase, "key-pass-123", keyBody(latch.key), keyBody(stranger.key), keyBody(selfSigned.key), latch.pfx.toString("base64").slice(100, 160)];
    for (const message of messages) for (const secret of forbidden) expect(message).not.toContain(secret);
  });
});

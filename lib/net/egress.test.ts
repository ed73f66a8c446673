import { env } from "@/lib/env";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { classifyNetworkError } from "@/lib/vault/errors";
import { stubDns } from "@/test/dns-stub";
import { startConnectProxy, type ConnectProxy } from "@/test/emulators/connect-proxy";
import { json, startEmulator, type Emulator } from "@/test/emulators/harness";
import { createTestPki, type TestPki } from "@/test/emulators/tls";
import { assertStoreUrl, createDispatcher, egressFetch, resetEgressPolicyForTests } from "./egress";

let pki: TestPki;
let server: Emulator;

beforeAll(async () => {
  pki = createTestPki();
  server = await startEmulator({
    name: "echo",
    tls: { cert: pki.serverCert, key: pki.serverKey },
    handle: ({ res, url }) => {
      if (url.pathname === "/to-metadata") return void res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" }).end();
      if (url.pathname === "/to-self") return void res.writeHead(307, { location: "/ok" }).end();
      if (url.pathname === "/to-other-origin") return void res.writeHead(307, { location: `https://localhost:${server.port}/landed` }).end();
      if (url.pathname === "/post-away-307") return void res.writeHead(307, { location: `https://localhost:${server.port}/landed` }).end();
      if (url.pathname === "/post-away-303") return void res.writeHead(303, { location: `https://localhost:${server.port}/landed` }).end();
      if (url.pathname === "/to-alias") return void res.writeHead(302, { location: `https://metadata-alias.test:${server.port}/` }).end();
      json(res, 200, { ok: true });
    },
  });
});
afterAll(() => server.close());

const fetchWith = (url: string, opts: { ca?: string } = {}) =>
  egressFetch(url, { dispatcher: createDispatcher({ ...opts, timeoutMs: 3000 }), timeoutMs: 3000 });

describe("egress policy", () => {
  it("reaches an HTTPS server whose private CA is supplied, and follows a safe redirect", async () => {
    expect((await fetchWith(`${server.url}/ok`, { ca: pki.caCert })).status).toBe(200);
    expect((await fetchWith(`${server.url}/to-self`, { ca: pki.caCert })).status).toBe(200);
  });

  it("drops Authorization and Cookie when a redirect leaves the origin, keeps them within it", async () => {
    const headers = { authorization: "Bearer redirect-test-token", cookie: "s=1", "x-vault-token": "hvs.kept-for-vault-ha" };
    const call = (path: string) => egressFetch(`${server.url}${path}`, { dispatcher: createDispatcher({ ca: pki.caCert, timeoutMs: 3000 }), timeoutMs: 3000, headers });
    expect((await call("/to-self")).status).toBe(200);
    expect(server.requests.at(-1)!.headers.authorization).toBe("Bearer redirect-test-token");
    expect((await call("/to-other-origin")).status).toBe(200);
    const landed = server.requests.at(-1)!;
    expect(landed.path).toBe("/landed");
    expect(landed.headers.authorization).toBeUndefined();
    expect(landed.headers.cookie).toBeUndefined();
    expect(landed.headers["x-vault-token"]).toBe("hvs.kept-for-vault-ha");
  });

  it("never sends a request's body (a client secret, a value being written) on to another origin", async () => {
    const post = (path: string, extra: { bodyAcrossOrigins?: boolean } = {}) =>
      egressFetch(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials&client_secret=redirect-test-secret",
        dispatcher: createDispatcher({ ca: pki.caCert, timeoutMs: 3000 }),
        timeoutMs: 3000,
        ...extra,
      });
    const before = server.requests.length;
    await expect(post("/post-away-307")).rejects.toMatchObject({ code: "LATCH_EGRESS_DENIED", message: expect.stringContaining("redirected a request that carries a body") });
    expect(server.requests.slice(before).map((r) => r.path)).toEqual(["/post-away-307"]);
    // 303 means "see this other address": fetched with GET, without the body.
    expect((await post("/post-away-303")).status).toBe(200);
    const landed = server.requests.at(-1)!;
    expect([landed.path, landed.method, landed.body, landed.headers["content-type"]]).toEqual(["/landed", "GET", "", undefined]);
    // Vault's HA standbys redirect writes to the active node: its client lets the body follow.
    expect((await post("/post-away-307", { bodyAcrossOrigins: true })).status).toBe(200);
    expect(server.requests.at(-1)!).toMatchObject({ path: "/landed", method: "POST", body: expect.stringContaining("client_secret") });
  });

  it("keeps TLS verification on: an unknown or wrong CA is refused with a precise reason", async () => {
    for (const ca of [undefined, pki.otherCaCert]) {
      const error = await fetchWith(`${server.url}/ok`, { ca }).catch((e) => e);
      expect(classifyNetworkError(error, "127.0.0.1")?.kind).toBe("tls_untrusted");
    }
  });

  it("always refuses cloud metadata and link-local addresses, by IP and by name, and via redirects", async () => {
    for (const url of ["https://169.254.169.254/latest", "https://[fe80::1]/", "https://metadata.google.internal/", "https://[::ffff:169.254.169.254]/"]) {
      expect(() => assertStoreUrl(url), url).toThrow(/never connects/);
    }
    // IPv6 addresses that carry the metadata address to an IPv4 host: NAT64, 6to4, IPv4-mapped in hex.
    for (const url of ["https://[64:ff9b::a9fe:a9fe]/", "https://[64:ff9b::169.254.169.254]/", "https://[2002:a9fe:a9fe::1]/", "https://[::ffff:a9fe:a9fe]/"]) {
      expect(() => assertStoreUrl(url), url).toThrow(/never connects to .*169\.254\.169\.254/);
    }
    // Public addresses behind the same prefixes are fine.
    for (const url of ["https://[64:ff9b::808:808]/", "https://[2002:808:808::1]/", "https://[2001:db8::a9fe:a9fe]/"]) expect(() => assertStoreUrl(url), url).not.toThrow();
    const error = await fetchWith(`${server.url}/to-metadata`, { ca: pki.caCert }).catch((e) => e);
    expect(classifyNetworkError(error, "x")?.kind).toBe("egress_denied");
  });

  it("requires https unless the development flag is set", () => {
    expect(() => assertStoreUrl("http://vault.example.com")).toThrow(/Use an https:\/\/ address/);
    const before = env().LATCH_DEV_ALLOW_HTTP_STORES;
    Object.assign(env(), { LATCH_DEV_ALLOW_HTTP_STORES: true });
    try {
      expect(() => assertStoreUrl("http://vault.example.com")).not.toThrow();
    } finally {
      Object.assign(env(), { LATCH_DEV_ALLOW_HTTP_STORES: before });
    }
  });

  it("applies the administrator's deny list to the address actually dialled", async () => {
    process.env.LATCH_EGRESS_DENY_CIDRS = "127.0.0.0/8";
    const { env } = await import("@/lib/env");
    // env() is parsed once per process; re-parse for this test only.
    Object.assign(env(), { LATCH_EGRESS_DENY_CIDRS: "127.0.0.0/8" });
    resetEgressPolicyForTests();
    try {
      const error = await fetchWith(`https://localhost:${server.port}/ok`, { ca: pki.caCert }).catch((e) => e);
      expect(classifyNetworkError(error, "localhost")).toMatchObject({ kind: "egress_denied" });
    } finally {
      Object.assign(env(), { LATCH_EGRESS_DENY_CIDRS: undefined });
      delete process.env.LATCH_EGRESS_DENY_CIDRS;
      resetEgressPolicyForTests();
    }
  });
});

describe("administrator's egress allow list", () => {
  let dns: ReturnType<typeof stubDns>;
  beforeEach(() => {
    dns = stubDns({ "metadata-alias.test": "169.254.169.254", "inside.test": "127.0.0.1" });
  });
  afterEach(() => dns.restore());

  async function withAllowList<T>(cidrs: string, run: () => Promise<T>): Promise<T> {
    const { env } = await import("@/lib/env");
    // env() is parsed once per process; override it for this test only.
    Object.assign(env(), { LATCH_EGRESS_ALLOW_CIDRS: cidrs });
    resetEgressPolicyForTests();
    try {
      return await run();
    } finally {
      Object.assign(env(), { LATCH_EGRESS_ALLOW_CIDRS: undefined });
      resetEgressPolicyForTests();
    }
  }

  it("refuses an address outside the list, in words naming the host and address, without dialling it", async () => {
    await withAllowList("10.0.0.0/8, 192.168.0.0/16", async () => {
      const before = server.requests.length;
      const error = await fetchWith(`https://inside.test:${server.port}/ok`, { ca: pki.caCert }).catch((e: unknown) => e);
      expect(classifyNetworkError(error, "inside.test")).toMatchObject({
        kind: "egress_denied",
        message: "inside.test (127.0.0.1) is not in the administrator's egress allow list.",
      });
      expect(() => assertStoreUrl(`https://127.0.0.1:${server.port}/`)).toThrow("127.0.0.1 (127.0.0.1) is not in the administrator's egress allow list.");
      expect(server.requests).toHaveLength(before);
    });
  });

  it("dials an address inside the list", async () => {
    await withAllowList("10.0.0.0/8,127.0.0.0/8", async () => {
      const before = server.requests.length;
      expect((await fetchWith(`https://localhost:${server.port}/ok`, { ca: pki.caCert })).status).toBe(200);
      expect(server.requests).toHaveLength(before + 1);
      expect(server.requests.at(-1)!.path).toBe("/ok");
    });
  });

  it("never lets the list re-open cloud metadata or link-local addresses, by IP, by name or via a redirect", async () => {
    await withAllowList("127.0.0.0/8,169.254.0.0/16,100.100.100.200,fe80::/10", async () => {
      for (const url of ["https://169.254.169.254/latest", "https://100.100.100.200/", "https://[fe80::1]/", "https://metadata.google.internal/"]) {
        expect(() => assertStoreUrl(url), url).toThrow(/never connects/);
      }
      expect(classifyNetworkError(await fetchWith("https://metadata-alias.test/latest", { ca: pki.caCert }).catch((e: unknown) => e), "x")).toMatchObject({
        kind: "egress_denied",
        message: "Latch never connects to metadata-alias.test (169.254.169.254): link-local and cloud-metadata addresses are refused.",
      });
      // The allowed store itself is reachable, but its redirect to the metadata address is not followed.
      const before = server.requests.length;
      const error = await fetchWith(`${server.url}/to-alias`, { ca: pki.caCert }).catch((e: unknown) => e);
      expect(server.requests.slice(before).map((r) => r.path)).toEqual(["/to-alias"]);
      expect(classifyNetworkError(error, "x")).toMatchObject({ kind: "egress_denied", message: expect.stringContaining("never connects to metadata-alias.test (169.254.169.254)") });
    });
  });
});

describe("TLS material", () => {
  it("an unreadable client key is reported as a configuration problem, not a crash", () => {
    let caught: unknown;
    try {
      createDispatcher({ cert: pki.caCert, key: "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n", timeoutMs: 1000 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect(classifyNetworkError(caught, "vault.example")).toMatchObject({ kind: "config" });
  });
});

describe("through an HTTPS egress proxy", () => {
  let proxy: ConnectProxy;
  let dns: ReturnType<typeof stubDns>;
  const AUTH = `Basic ${Buffer.from("latch:proxy-pass").toString("base64")}`;

  beforeAll(async () => {
    proxy = await startConnectProxy({ username: "latch", password: "proxy-pass" });
  });
  afterAll(() => proxy.close());
  beforeEach(() => {
    dns = stubDns({
      localhost: "127.0.0.1",
      "store.test": "127.0.0.1",
      "metadata-alias.test": "169.254.169.254",
      "intranet.test": "10.1.2.3",
      "proxy-alias.test": "169.254.10.10",
      "nowhere.test": "ENOTFOUND",
    });
  });
  afterEach(() => dns.restore());

  const viaProxy = async (url: string, proxyUrl = proxy.url) =>
    egressFetch(url, { dispatcher: createDispatcher({ ca: pki.caCert, proxyUrl, timeoutMs: 3000 }), timeoutMs: 3000 });
  const refusal = async (url: string, proxyUrl?: string) => classifyNetworkError(await viaProxy(url, proxyUrl).catch((e: unknown) => e), "x");

  it("resolves the store's name in Latch and asks the proxy for a tunnel to the checked IP, with the proxy's credentials", async () => {
    const res = await viaProxy(`https://localhost:${server.port}/ok`);
    expect(res.status).toBe(200);
    expect(proxy.connects.at(-1)).toEqual({ target: `127.0.0.1:${server.port}`, authorization: AUTH });
    expect(dns.lookups).toContain("localhost");
  });

  it("still checks the certificate against the name dialled, not the IP the tunnel goes to", async () => {
    // The certificate is valid for 127.0.0.1 (where the tunnel ends) but not for store.test.
    const error = await refusal(`https://store.test:${server.port}/ok`);
    expect(error).toMatchObject({ kind: "tls_hostname" });
    expect(error!.message).toContain("(it names localhost, 127.0.0.1)");
    expect(proxy.connects.at(-1)!.target).toBe(`127.0.0.1:${server.port}`);
  });

  it("refuses a name that resolves to a metadata or denied address before anything reaches the proxy", async () => {
    const before = { connections: proxy.connections(), connects: proxy.connects.length };
    expect(await refusal(`https://metadata-alias.test:${server.port}/`)).toMatchObject({
      kind: "egress_denied",
      message: "Latch never connects to metadata-alias.test (169.254.169.254): link-local and cloud-metadata addresses are refused.",
    });
    const { env } = await import("@/lib/env");
    Object.assign(env(), { LATCH_EGRESS_DENY_CIDRS: "10.0.0.0/8" });
    resetEgressPolicyForTests();
    try {
      expect(await refusal("https://intranet.test/")).toMatchObject({ kind: "egress_denied", message: "intranet.test (10.1.2.3) is in the administrator's egress deny list." });
    } finally {
      Object.assign(env(), { LATCH_EGRESS_DENY_CIDRS: undefined });
      resetEgressPolicyForTests();
    }
    expect(proxy.connections()).toBe(before.connections);
    expect(proxy.connects).toHaveLength(before.connects);
  });

  it("keeps checking redirects: one to a name resolving to a metadata address is refused", async () => {
    const before = proxy.connects.length;
    expect(await refusal(`https://localhost:${server.port}/to-alias`)).toMatchObject({ kind: "egress_denied" });
    expect(proxy.connects.slice(before).map((c) => c.target)).toEqual([`127.0.0.1:${server.port}`]);
  });

  it("applies the policy to the proxy's own address, by IP and by resolved name", async () => {
    expect(await refusal(`https://localhost:${server.port}/ok`, "http://169.254.169.254:3128")).toMatchObject({ kind: "egress_denied" });
    expect(await refusal(`https://localhost:${server.port}/ok`, `http://proxy-alias.test:${proxy.port}`)).toMatchObject({
      kind: "egress_denied",
      message: "Latch never connects to proxy-alias.test (169.254.10.10): link-local and cloud-metadata addresses are refused.",
    });
  });

  it("names the proxy, never its password, when it refuses credentials, cannot be resolved or is not running", async () => {
    const wrong = `http://latch:wrong-pass@127.0.0.1:${proxy.port}`;
    const denied = await refusal(`https://localhost:${server.port}/ok`, wrong);
    expect(denied).toMatchObject({ kind: "auth", message: expect.stringMatching(/^The egress proxy 127\.0\.0\.1:\d+ asked for credentials \(HTTP 407\)/) });
    expect(denied!.message).not.toContain("wrong-pass");
    expect(await refusal(`https://localhost:${server.port}/ok`, "http://nowhere.test:3128")).toMatchObject({
      kind: "dns",
      message: "The host name of the egress proxy nowhere.test:3128 could not be resolved. Check the proxy URL.",
    });
    const closed = await startConnectProxy();
    await closed.close();
    expect(await refusal(`https://localhost:${server.port}/ok`, closed.url)).toMatchObject({ kind: "tcp", message: expect.stringContaining(`could not connect to the egress proxy 127.0.0.1:${closed.port} (ECONNREFUSED)`) });
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyNetworkError } from "@/lib/vault/errors";
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
    const error = await fetchWith(`${server.url}/to-metadata`, { ca: pki.caCert }).catch((e) => e);
    expect(classifyNetworkError(error, "x")?.kind).toBe("egress_denied");
  });

  it("requires https unless the development flag is set", () => {
    expect(() => assertStoreUrl("http://vault.example.com")).toThrow(/Use an https:\/\/ address/);
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

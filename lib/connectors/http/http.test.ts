import { createServer } from "node:net";
import { inspect } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { startHttpTarget, type HttpTarget } from "@/test/targets/http-target";
import { ConnectorError, OperationInputError, type ConnectInput } from "../types";
import { httpConfigSchema, httpConnector, httpRequestOperation, type HttpClient, type HttpConfig } from "./index";

let target: HttpTarget;
beforeAll(async () => {
  target = await startHttpTarget();
});
afterAll(() => target.close());
afterEach(() => target.clearFaults());

const configFor = (over: Partial<z.input<typeof httpConfigSchema>> = {}): HttpConfig =>
  httpConfigSchema.parse({ baseUrl: target.url, testPath: "/health", caBundle: target.caCert, ...over });

const inputFor = (config: HttpConfig, secrets: Record<string, string> = {}, timeoutMs = 5000): ConnectInput<HttpConfig> => ({ config, secrets, timeoutMs });

async function withClient<T>(input: ConnectInput<HttpConfig>, fn: (client: HttpClient) => Promise<T>): Promise<T> {
  const client = await httpConnector.open(input);
  try {
    return await fn(client);
  } finally {
    await httpConnector.close(client);
  }
}

const check = (input: ConnectInput<HttpConfig>) => withClient(input, (client) => httpConnector.check(client, input));

/** Runs open + check and returns the classified failure. */
async function failure(input: ConnectInput<HttpConfig>): Promise<ConnectorError> {
  try {
    await check(input);
  } catch (error) {
    const classified = httpConnector.classify(error, input.config);
    if (!classified) throw error;
    return classified;
  }
  throw new Error("expected the check to fail");
}

const request = (input: ConnectInput<HttpConfig>, req: Record<string, unknown>) =>
  // Every result also matches the shape GET /connectors and the OpenAPI document promise.
  withClient(input, (client) => httpRequestOperation.run(client, httpRequestOperation.input.parse(req), { timeoutMs: 5000 }).then((result) => httpRequestOperation.output.parse(result)));
/** Past the schema, as a caller of the operation that skipped validation: the operation's own checks still hold. */
const requestUnchecked = (input: ConnectInput<HttpConfig>, req: Record<string, unknown>) =>
  withClient(input, (client) => httpRequestOperation.run(client, { method: "GET", ...req } as never, { timeoutMs: 5000 }));
/** The fields the input schema refuses `req` for. */
const refusedFields = (req: Record<string, unknown>) => {
  const parsed = httpRequestOperation.input.safeParse(req);
  return parsed.success ? [] : parsed.error.issues.map((i) => i.path.join("."));
};

const apiKeyHeader = () => inputFor(configFor({ authScheme: "apiKey" }), { apiKey: target.credentials.apiKey });
const apiKeyQuery = () => inputFor(configFor({ authScheme: "apiKey", apiKeyIn: "query", apiKeyName: "api_key" }), { apiKey: target.credentials.apiKey });
const bearer = () => inputFor(configFor({ authScheme: "bearer" }), { token: target.credentials.token });
const basic = () => inputFor(configFor({ authScheme: "basic", basicUser: target.credentials.user }), { basicPassword: target.credentials.password });

const allSecrets = () => {
  const c = target.credentials;
  return [c.apiKey, c.token, c.password, Buffer.from(`${c.user}:${c.password}`).toString("base64")];
};
const expectNoSecret = (value: unknown) => {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  for (const s of allSecrets()) expect(text).not.toContain(s);
};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("HTTP connector: connection test", () => {
  it.each([
    ["API key in a header", apiKeyHeader, "apiKey-header"],
    ["API key in the query", apiKeyQuery, "apiKey-query"],
    ["bearer token", bearer, "bearer"],
    ["HTTP Basic", basic, "basic"],
  ])("succeeds with %s", async (_name, input, via) => {
    const before = target.requests.length;
    const result = await check(input());
    expect(result.message).toMatch(/^HTTP 200 from 127\.0\.0\.1:\d+\/health$/);
    expectNoSecret(result.message);
    const seen = target.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.path.startsWith("/health")).toBe(true);
    if (via === "apiKey-header") expect(seen[0]!.headers["x-api-key"]).toBe(target.credentials.apiKey);
    if (via === "apiKey-query") expect(seen[0]!.path).toContain(`api_key=${target.credentials.apiKey}`);
    if (via === "bearer") expect(seen[0]!.headers.authorization).toBe(`Bearer ${target.credentials.token}`);
    if (via === "basic") expect(seen[0]!.headers.authorization).toMatch(/^Basic /);
  });

  it("succeeds without authentication on an open path, and follows a same-origin redirect", async () => {
    expect((await check(inputFor(configFor({ testPath: "/open/ping" })))).message).toMatch(/\/open\/ping$/);
    expect((await check({ ...bearer(), config: configFor({ authScheme: "bearer", testPath: "/redirect" }) })).message).toMatch(/^HTTP 200 from .*\/health$/);
  });

  it("does not follow a redirect to another origin", async () => {
    const error = await failure({ ...bearer(), config: configFor({ authScheme: "bearer", testPath: "/redirect-away" }) });
    expect(error.kind).toBe("target_error");
    expect(error.message).toContain("example.invalid/health");
  });

  it("says so when a redirect's address is not a URL at all, rather than failing unexpectedly", async () => {
    const error = await failure({ ...bearer(), config: configFor({ authScheme: "bearer", testPath: "/redirect-broken" }) });
    expect(error).toMatchObject({ kind: "target_error", message: expect.stringContaining("not a valid URL") });
  });

  it("reports a wrong API key, token or password as credentials_rejected, without quoting it", async () => {
    for (const input of [
      inputFor(configFor({ authScheme: "apiKey" }), { apiKey: "wrong-key-123456" }),
      inputFor(configFor({ authScheme: "apiKey", apiKeyIn: "query", apiKeyName: "api_key" }), { apiKey: "wrong-key-123456" }),
      inputFor(configFor({ authScheme: "bearer" }), { token: "wrong-key-123456" }),
      inputFor(configFor({ authScheme: "basic", basicUser: target.credentials.user }), { basicPassword: "wrong-key-123456" }),
    ]) {
      const error = await failure(input);
      expect(error.kind).toBe("credentials_rejected");
      expect(error.message).toContain("HTTP 401");
      expect(error.message).not.toContain("wrong-key-123456");
      expectNoSecret(error.message);
    }
  });

  it("says authentication is needed when none is configured", async () => {
    const error = await failure(inputFor(configFor()));
    expect(error.kind).toBe("config");
    expect(error.message).toMatch(/requires authentication/);
  });

  it("maps 403 to permission and other statuses to target_error", async () => {
    const forbidden = await failure({ ...bearer(), config: configFor({ authScheme: "bearer", testPath: "/forbidden" }) });
    expect(forbidden.kind).toBe("permission");
    const broken = await failure({ ...bearer(), config: configFor({ authScheme: "bearer", testPath: "/status/503" }) });
    expect(broken.kind).toBe("target_error");
    expect(broken.message).toMatch(/^HTTP 503 from 127\.0\.0\.1:\d+\/status\/503\.$/);
    const proxy = await failure({ ...bearer(), config: configFor({ authScheme: "bearer", testPath: "/status/407" }) });
    expect(proxy.kind).toBe("config");
    expect(proxy.message).toMatch(/407/);
  });

  it("asks for missing secrets instead of sending an empty credential", async () => {
    await expect(httpConnector.open(inputFor(configFor({ authScheme: "bearer" })))).rejects.toMatchObject({ kind: "config", message: "The bearer token is missing." });
    await expect(httpConnector.open(inputFor(configFor({ authScheme: "basic" }), { basicPassword: "x" }))).rejects.toMatchObject({ kind: "config" });
  });

  it("takes the Basic user name from a Credential asset's username when the caller passes one", async () => {
    const input = { ...inputFor(configFor({ authScheme: "basic" }), { basicPassword: target.credentials.password }), usernames: { basicUser: target.credentials.user } };
    expect((await check(input)).message).toMatch(/^HTTP 200/);
  });
});

describe("HTTP connector: network failures", () => {
  it("classifies a closed port as unreachable", async () => {
    const port = await freePort();
    const error = await failure({ ...bearer(), config: configFor({ authScheme: "bearer", baseUrl: `https://127.0.0.1:${port}` }) });
    expect(error.kind).toBe("unreachable");
    expect(error.message).toContain(`127.0.0.1:${port}`);
  });

  it("keeps TLS verification on: an unknown CA (no bundle, or the wrong one) is tls", async () => {
    for (const caBundle of [undefined, target.otherCaCert]) {
      const error = await failure({ ...bearer(), config: configFor({ authScheme: "bearer", caBundle }) });
      expect(error.kind).toBe("tls");
      expect(error.message).toMatch(/not signed by a trusted CA/);
    }
  });

  it("classifies an unknown host name as dns", async () => {
    const error = await failure({ ...bearer(), config: configFor({ authScheme: "bearer", baseUrl: "https://latch-no-such-host.invalid" }) });
    expect(error.kind).toBe("dns");
  });

  it("classifies a target that does not answer in time as timeout", async () => {
    target.inject({ fault: { type: "hang" }, pathIncludes: "/health", times: 1 });
    const error = await failure({ ...bearer(), timeoutMs: 400 });
    expect(error.kind).toBe("timeout");
  });

  it("refuses cloud metadata addresses (egress_denied) and plain http:// base URLs", async () => {
    const error = await failure({ ...bearer(), config: { ...configFor({ authScheme: "bearer" }), baseUrl: "https://169.254.169.254/latest" } });
    expect(error.kind).toBe("egress_denied");
    // Each refusal is a sentence the form can show under the field as it is.
    const messageFor = (baseUrl: string) => httpConfigSchema.safeParse({ baseUrl }).error?.issues.find((i) => i.path[0] === "baseUrl")?.message;
    expect(messageFor("http://api.example.com")).toBe("Use an https:// address (this one starts with http://).");
    expect(messageFor("https://user:pass@api.example.com")).toBe("Leave the user name and password out of the address; use the credential fields.");
    expect(messageFor("api.example.com")).toBe("Enter a full address, e.g. https://api.example.com.");
    expect(messageFor("https://api.example.com/#top")).toBe("Leave the #fragment out of the address.");
    expect(messageFor("")).toBe("Enter the address.");
    await expect(httpConnector.open(inputFor({ ...configFor(), baseUrl: "http://127.0.0.1:1" }))).rejects.toMatchObject({ kind: "config" });
  });

  it("reports an unreadable CA bundle as config", async () => {
    const config = { ...configFor({ authScheme: "bearer" }), caBundle: "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n" };
    await expect(httpConnector.open(inputFor(config, { token: "t" }))).rejects.toMatchObject({ kind: "config" });
    expect(httpConfigSchema.safeParse({ baseUrl: target.url, caBundle: config.caBundle }).success).toBe(false);
    expect(httpConfigSchema.safeParse({ baseUrl: target.url, caBundle: "" }).success).toBe(true);
  });
});

describe("HTTP connector: request operation", () => {
  it("is the connector's `request` operation", () => {
    expect(httpConnector.operations.request).toBe(httpRequestOperation);
  });

  it("sends method, path, query, headers and body, and returns status, headers and body", async () => {
    const result = await request(apiKeyHeader(), {
      method: "POST",
      path: "/things/echo",
      query: { page: "2" },
      headers: { "content-type": "application/json", "x-trace": "abc" },
      body: '{"name":"x"}',
    });
    expect(result.status).toBe(200);
    expect(result.truncated).toBe(false);
    expect(result.headers["content-type"]).toBe("application/json");
    const echoed = JSON.parse(result.body);
    expect(echoed).toMatchObject({ method: "POST", path: "/things/echo", query: { page: "2" }, body: '{"name":"x"}' });
    expect(echoed.headers["x-trace"]).toBe("abc");
    expectNoSecret(result);
  });

  it("resolves paths under the base URL's path and refuses paths that escape it", async () => {
    const input = { ...bearer(), config: configFor({ authScheme: "bearer", baseUrl: `${target.url}/v1` }) };
    expect((await request(input, { path: "health" })).status).toBe(200);
    expect((await request(input, { path: "/health?x=1" })).status).toBe(200);
    const before = target.requests.length;
    for (const path of ["../health", "/../health", "/a/../../health", "/%2e%2e/health", "/.%2E/health", "a/%2F../x", "/a/..;/health", "/a/%2e%2e;x=1/health", "/.;/health", "https://evil.example/x", "//evil.example/x", "\\\\evil\\x", "/a#b"]) {
      expect(refusedFields({ path }), path).toEqual(["path"]);
      const error = await requestUnchecked(input, { path }).catch((e: unknown) => e);
      expect(error, path).toBeInstanceOf(OperationInputError);
      expect((error as OperationInputError).field).toBe("path");
      expect((error as ConnectorError).message).toMatch(/^The path is refused/);
    }
    expect(target.requests.length).toBe(before);
    // A ; elsewhere in a segment is an ordinary character.
    await request(input, { path: "/items;v=1" });
    expect(target.requests.at(-1)!.path).toBe("/v1/items;v=1");
  });

  it("returns a compressed answer decompressed, without the headers that described the compressed bytes", async () => {
    const result = await request(bearer(), { path: "/gzip" });
    expect(JSON.parse(result.body)).toEqual({ ok: true, zipped: "yes" });
    expect(result.headers["content-type"]).toBe("application/json");
    expect(result.headers).not.toHaveProperty("content-encoding");
    expect(result.headers).not.toHaveProperty("content-length");
    // A HEAD's headers describe the resource, and nothing was decompressed: kept.
    expect((await request(bearer(), { method: "HEAD", path: "/gzip" })).headers).toMatchObject({ "content-encoding": "gzip" });
  });

  it("sends the path's own query exactly as written, and adds the query object and an API key after it", async () => {
    // A pre-signed URL's query, a flag without a value, a literal + and escapes must reach the API unchanged.
    await request(apiKeyQuery(), { path: "/echo?uploads&a=%2B&b=+&c=%3D&sig=ab%2Fcd", query: { q: "a b&c" } });
    expect(target.requests.at(-1)!.path).toBe(`/echo?uploads&a=%2B&b=+&c=%3D&sig=ab%2Fcd&q=a%20b%26c&api_key=${encodeURIComponent(target.credentials.apiKey)}`);
  });

  it("refuses to let a caller override the credential, cookies or framing headers", async () => {
    // Also what fetch would refuse before sending (Expect, a value outside Latin-1): the caller's input, not an unreachable target.
    for (const headers of [{ Authorization: "Bearer other" }, { cookie: "a=b" }, { "Proxy-Authorization": "x" }, { host: "evil" }, { Expect: "100-continue" }, { "Proxy-Connection": "keep-alive" }, { Range: "bytes=0-3" }, { "If-Range": "\"etag\"" }, { "X-Original-URL": "/admin" }, { "x-rewrite-url": "/admin" }, { "X-Forwarded-Prefix": "/" }, { "X-Note": "☃" }, { "X-Del": "a\u007fb" }]) {
      expect(refusedFields({ path: "/echo", headers })).toEqual([`headers.${Object.keys(headers)[0]}`]);
      await expect(requestUnchecked(bearer(), { path: "/echo", headers })).rejects.toBeInstanceOf(OperationInputError);
    }
    expect(refusedFields({ method: "GET", path: "/echo", body: "x" })).toEqual(["body"]);
    // An object where text is wanted says how to send it, not only "expected string, received object".
    const asObject = httpRequestOperation.input.safeParse({ method: "POST", path: "/echo", body: { a: 1 } });
    expect(asObject.success ? null : asObject.error.issues.map((i) => [i.path.join("."), i.message])).toEqual([["body", "must be text: send a JSON body as a string (JSON-encode the object), with its Content-Type in headers."]]);
    await expect(requestUnchecked(bearer(), { path: "/echo", body: "x" })).rejects.toMatchObject({ field: "body" });
    // Which header or parameter carries the key depends on the connection: only the operation can tell.
    await expect(request(apiKeyHeader(), { path: "/echo", headers: { "x-api-key": "other" } })).rejects.toMatchObject({ kind: "config", field: "headers.x-api-key" });
    await expect(request(apiKeyQuery(), { path: "/echo", query: { api_key: "other" } })).rejects.toMatchObject({ kind: "config", field: "query" });
    await expect(request(apiKeyQuery(), { path: "/echo?api_key=other" })).rejects.toMatchObject({ kind: "config", field: "query" });
  });

  it("never returns the credential, even when the target echoes it back", async () => {
    for (const input of [apiKeyHeader(), apiKeyQuery(), bearer(), basic()]) {
      const result = await request(input, { path: "/echo-credentials" });
      expect(result.status).toBe(200);
      expectNoSecret(result);
      expect(result.body).toContain("[redacted]");
      // Blanking changed the body's length: the target's Content-Length would no longer describe it.
      expect(result.headers).not.toHaveProperty("content-length");
    }
    // A body returned as the target sent it keeps its length.
    const plain = await request(bearer(), { path: "/health" });
    expect(plain.headers["content-length"]).toBe(String(Buffer.byteLength(plain.body)));
  });

  it("never returns a Basic credential the target echoes escaped (PHP, .NET, percent-encoding)", async () => {
    // Chosen so that base64("latch-user:" + password) holds "/", "+" and "=", which encoders escape.
    const password = "kabwar?8ccy3s2s>hbtov";
    const encoded = Buffer.from(`latch-user:${password}`).toString("base64");
    expect(encoded).toMatch(/\/.*\+.*=$/);
    const escaping = await startHttpTarget({ credentials: { password }, pki: target.pki });
    try {
      const input = inputFor(httpConfigSchema.parse({ baseUrl: escaping.url, testPath: "/health", caBundle: escaping.caCert, authScheme: "basic", basicUser: "latch-user" }), { basicPassword: password });
      const result = await request(input, { path: "/echo-credentials-escaped" });
      expect(result.status).toBe(200);
      const answer = JSON.parse(result.body) as { php: string[]; dotnet: string[]; url: string };
      const seen = [...answer.php, ...answer.dotnet, ...answer.url.split("&").map(decodeURIComponent), JSON.stringify(result.headers)];
      expect(seen.join(" ")).toContain("[redacted]");
      for (const text of seen) {
        for (const piece of encoded.replace(/=+$/, "").split(/[+/]/)) expect(text).not.toContain(piece);
      }
    } finally {
      await escaping.close();
    }
  });

  it("holds at most the pool's number of connections to the target; further requests wait for one", async () => {
    target.inject({ fault: { type: "latency", ms: 200 }, pathIncludes: "/echo?pooled" });
    const input = { ...bearer(), pool: { max: 2, idleMs: 60_000 } };
    const results = await withClient(input, (client) =>
      Promise.all(Array.from({ length: 6 }, (_, i) => httpRequestOperation.run(client, httpRequestOperation.input.parse({ path: `/echo?pooled=${i}` }), { timeoutMs: 5000 }))),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const sockets = new Set(target.requests.filter((r) => r.path.includes("/echo?pooled")).map((r) => r.remotePort));
    expect(sockets.size).toBe(2);
  });

  it("drops Set-Cookie, returns redirects without following them, and handles HEAD", async () => {
    const cookie = await request(bearer(), { path: "/set-cookie" });
    expect(Object.keys(cookie.headers)).not.toContain("set-cookie");
    const redirect = await request(bearer(), { path: "/redirect" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe("/health");
    const head = await request(bearer(), { method: "HEAD", path: "/health" });
    expect(head).toMatchObject({ status: 200, body: "" });
  });

  it("caps the body at 1 MB and says so", async () => {
    const result = await request(bearer(), { path: "/big" });
    expect(result.truncated).toBe(true);
    expect(Buffer.byteLength(result.body)).toBe(1024 * 1024);
    expect(result.headers).not.toHaveProperty("content-length");
  });

  it("a 401 to a request with a credential is a credentials rejection (the rotation path), never data", async () => {
    for (const input of [apiKeyHeader(), apiKeyQuery(), bearer(), basic()]) {
      const wrong = { ...input, secrets: Object.fromEntries(Object.keys(input.secrets).map((k) => [k, "wrong-value-1234"])) };
      const error = await request(wrong, { path: "/echo" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectorError);
      expect(error).toMatchObject({ kind: "credentials_rejected", refetch: true });
      expect((error as Error).message).toMatch(/HTTP 401 from 127\.0\.0\.1:\d+\/echo/);
      expect((error as Error).message).not.toContain("wrong-value-1234");
    }
    // Without a credential there is nothing to rotate: the API's answer is the caller's to read.
    expect((await request(inputFor(configFor({ authScheme: "none" })), { path: "/echo" })).status).toBe(401);
  });

  it("returns non-2xx answers as data and classifies network failures", async () => {
    expect((await request(bearer(), { path: "/status/404" })).status).toBe(404);
    // fetch() fails on a 407 as on a network error; the runner is told what the target answered, not "unreachable".
    await expect(request(bearer(), { path: "/status/407" })).rejects.toMatchObject({ kind: "config", message: expect.stringMatching(/answered HTTP 407: a proxy .* requires authentication/) });
    await expect(request(bearer(), { path: "/many-headers" })).rejects.toMatchObject({ kind: "upstream_error", message: expect.stringMatching(/more header data than Latch accepts/) });
    target.inject({ fault: { type: "hang" }, pathIncludes: "/echo", times: 1 });
    await expect(request(bearer(), { path: "/echo", timeoutMs: 300 })).rejects.toMatchObject({ kind: "timeout" });
  });

  it("keeps the credential out of the client's JSON and inspect output", async () => {
    await withClient(basic(), async (client) => {
      expectNoSecret(JSON.stringify(client));
      expectNoSecret(inspect(client, { showHidden: true, depth: 5 }));
    });
  });
});

import type { IncomingHttpHeaders } from "node:http";
import { gzipSync } from "node:zlib";
import { json, startEmulator, type FaultRule, type LoggedRequest } from "@/test/emulators/harness";
import { createTestPki, type TestPki } from "@/test/emulators/tls";

/**
 * A test HTTP API over HTTPS on 127.0.0.1, signed by a throwaway CA. Every route except /open/*
 * wants one valid credential: the API key (header X-API-Key or query api_key), the bearer token,
 * or HTTP Basic. Routes:
 *   /health            200 {ok, via}
 *   /forbidden         403 (after authentication)
 *   /status/<n>        answers HTTP n
 *   /echo              {method, path, query, body, headers}, credentials left out
 *   /echo-credentials  a careless API: echoes the Authorization/X-API-Key headers and the query
 *   /echo-credentials-escaped  the same headers as common encoders escape them: PHP (\/), .NET (\u002B, \u003D), percent-encoded
 *   /set-cookie        200 with Set-Cookie
 *   /redirect          302 to /health; /redirect-away 302 to another origin; /redirect-broken 302 to no valid URL
 *   /big               2 MB of text
 *   /many-headers      200 with 200 headers of 100 bytes each (20 KB, over a client's usual 16 KB)
 *   /open/...          200 without authentication
 */
export type HttpTargetCredentials = { apiKey: string; token: string; user: string; password: string };

export type HttpTarget = {
  url: string;
  caCert: string;
  /** A CA that did not sign the server's certificate. */
  otherCaCert: string;
  pki: TestPki;
  credentials: HttpTargetCredentials;
  apiKeyHeader: string;
  apiKeyQuery: string;
  requests: LoggedRequest[];
  count(pathIncludes: string, method?: string): number;
  /** Fault injection from the shared harness (latency, hang, reset, status). */
  inject(rule: FaultRule): void;
  clearFaults(): void;
  close(): Promise<void>;
};

const API_KEY_HEADER = "x-api-key";
const API_KEY_QUERY = "api_key";

function authenticatedVia(headers: IncomingHttpHeaders, url: URL, c: HttpTargetCredentials): string | null {
  if (headers[API_KEY_HEADER] === c.apiKey) return "apiKey-header";
  if (url.searchParams.get(API_KEY_QUERY) === c.apiKey) return "apiKey-query";
  const auth = headers.authorization ?? "";
  if (auth === `Bearer ${c.token}`) return "bearer";
  if (auth.startsWith("Basic ") && Buffer.from(auth.slice(6), "base64").toString("utf8") === `${c.user}:${c.password}`) return "basic";
  return null;
}

export async function startHttpTarget(opts: { credentials?: Partial<HttpTargetCredentials>; pki?: TestPki } = {}): Promise<HttpTarget> {
  const pki = opts.pki ?? createTestPki();
  const credentials: HttpTargetCredentials = {
    apiKey: "test-api-key-5c1e9a7d",
    token: "test-bearer-token-0b7f42e1",
    user: "latch-user",
    password: "test-password-9d3a61",
    ...opts.credentials,
  };
  const emulator = await startEmulator({
    name: "http-target",
    tls: { cert: pki.serverCert, key: pki.serverKey },
    handle: ({ req, res, url, body }) => {
      const path = url.pathname;
      if (path.startsWith("/open/")) return json(res, 200, { ok: true, path });
      const via = authenticatedVia(req.headers, url, credentials);
      if (!via) return json(res, 401, { error: "unauthenticated" }, { "www-authenticate": 'Bearer realm="test"' });
      if (path === "/health" || path === "/v1/health") return json(res, 200, { ok: true, via });
      if (path === "/forbidden") return json(res, 403, { error: "forbidden" });
      const status = /^\/status\/(\d{3})$/.exec(path);
      if (status) return json(res, Number(status[1]), { status: Number(status[1]) });
      if (path.endsWith("/echo")) {
        const query = Object.fromEntries([...url.searchParams].filter(([k]) => k !== API_KEY_QUERY));
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["authorization", API_KEY_HEADER, "cookie"].includes(k)));
        return json(res, 200, { method: req.method, path, query, body, headers });
      }
      if (path === "/echo-credentials") {
        return json(res, 200, { authorization: req.headers.authorization ?? null, apiKey: req.headers[API_KEY_HEADER] ?? null, query: Object.fromEntries(url.searchParams) }, {
          "x-echo-authorization": String(req.headers.authorization ?? ""),
        });
      }
      if (path === "/echo-credentials-escaped") {
        const seen = [String(req.headers.authorization ?? ""), String(req.headers[API_KEY_HEADER] ?? "")];
        const net = (v: string) => v.replace(/[+=<>&'"]/g, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`);
        const text = `{"php":${JSON.stringify(seen).replace(/\//g, "\\/")},"dotnet":["${seen.map(net).join('","')}"],"url":"${seen.map(encodeURIComponent).join("&")}"}`;
        res.writeHead(200, { "content-type": "application/json" });
        return void res.end(text);
      }
      if (path === "/set-cookie") return json(res, 200, { ok: true }, { "set-cookie": "session=abc123; HttpOnly" });
      if (path === "/redirect") return void res.writeHead(302, { location: "/health" }).end();
      if (path === "/redirect-away") return void res.writeHead(302, { location: "https://example.invalid/health" }).end();
      if (path === "/redirect-broken") return void res.writeHead(302, { location: "https://[bad" }).end();
      if (path === "/gzip") {
        const zipped = gzipSync(JSON.stringify({ ok: true, zipped: "yes" }));
        return void res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": zipped.length }).end(zipped);
      }
      if (path === "/many-headers") {
        const headers: Record<string, string> = {};
        for (let i = 0; i < 200; i++) headers[`x-filler-${i}`] = "h".repeat(100);
        return json(res, 200, { ok: true }, headers);
      }
      if (path === "/big") {
        res.writeHead(200, { "content-type": "text/plain" });
        return void res.end("x".repeat(2 * 1024 * 1024));
      }
      json(res, 404, { error: "not found", path });
    },
  });
  return {
    url: emulator.url,
    caCert: pki.caCert,
    otherCaCert: pki.otherCaCert,
    pki,
    credentials,
    apiKeyHeader: "X-API-Key",
    apiKeyQuery: API_KEY_QUERY,
    requests: emulator.requests,
    count: emulator.count,
    inject: emulator.inject,
    clearFaults: emulator.clearFaults,
    close: emulator.close,
  };
}

import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { z } from "zod";
import { json, startEmulator } from "@/test/emulators/harness";
import { startOidcServer, type OidcServer } from "@/test/targets/oidc";
import { TargetError } from "@/lib/connections/runtime";
import { HTTP_STATUS } from "@/lib/errors";
import { ConnectorError, type ConnectInput, type SharedState } from "../types";
import {
  buildAuthorizeUrl,
  clientCredentialsToken,
  createPkce,
  exchangeCode,
  OAuth2Error,
  RENEWAL_DID_NOT_HELP_MS,
  oauth2ConfigSchema,
  oauth2Connector,
  oauth2RequestOperation,
  refreshToken,
  tokenStateToRecord,
  type OAuth2Client,
  type OAuth2Config,
  type OAuth2TokenState,
} from "./index";

let server: OidcServer;
let originalSecret: string;
beforeAll(async () => {
  server = await startOidcServer();
  originalSecret = server.clientSecret;
});
afterAll(() => server.close());

const configFor = (over: Partial<z.input<typeof oauth2ConfigSchema>> = {}): OAuth2Config =>
  oauth2ConfigSchema.parse({
    grant: "client_credentials",
    tokenUrl: server.tokenUrl,
    clientId: server.clientId,
    scopes: "api:read",
    apiBaseUrl: server.apiUrl,
    caBundle: server.caCert,
    ...over,
  });

const codeConfig = (over: Partial<z.input<typeof oauth2ConfigSchema>> = {}) =>
  configFor({ grant: "authorization_code", authorizationUrl: server.authorizationUrl, scopes: "api:read api:write", ...over });

const inputFor = (config: OAuth2Config, clientSecret: string | undefined, state?: Record<string, string> | null): ConnectInput<OAuth2Config> => ({
  config,
  secrets: clientSecret === undefined ? {} : { clientSecret },
  timeoutMs: 5000,
  state,
});

async function withClient<T>(input: ConnectInput<OAuth2Config>, fn: (client: OAuth2Client) => Promise<T>): Promise<T> {
  const client = await oauth2Connector.open(input);
  try {
    return await fn(client);
  } finally {
    await oauth2Connector.close(client);
  }
}

const runRequest = (client: OAuth2Client, req: Record<string, unknown>) =>
  // Every result also matches the shape GET /connectors and the OpenAPI document promise.
  oauth2RequestOperation.run(client, oauth2RequestOperation.input.parse(req), { timeoutMs: 5000 }).then((result) => oauth2RequestOperation.output.parse(result));

async function failure(promise: Promise<unknown>, config: OAuth2Config): Promise<ConnectorError> {
  try {
    await promise;
  } catch (error) {
    const classified = oauth2Connector.classify(error, config);
    if (!classified) throw error;
    return classified;
  }
  throw new Error("expected a failure");
}

/** Every secret the test has used: none may appear in state, messages or results. */
const secretsSeen = new Set<string>();
const expectNoClientSecret = (value: unknown) => {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  for (const s of [originalSecret, server.clientSecret, server.postClient.clientSecret, ...secretsSeen]) expect(text).not.toContain(s);
};

/** Runs the authorisation-code flow the way the callback route will, returning the state to keep. */
async function authorise(config: OAuth2Config): Promise<OAuth2TokenState> {
  const pkce = createPkce();
  const url = buildAuthorizeUrl(config, { state: "state-123", codeChallenge: pkce.challenge, redirectUri: server.redirectUri });
  const approved = await server.approve(url);
  expect(approved.state).toBe("state-123");
  return exchangeCode(config, server.clientSecret, { code: approved.code, codeVerifier: pkce.verifier, redirectUri: server.redirectUri, timeoutMs: 5000 });
}

const expired = (s: OAuth2TokenState): Record<string, string> => ({ ...tokenStateToRecord(s), expiresAt: new Date(Date.now() - 1000).toISOString() });

describe("OAuth 2.0 connector: client credentials", () => {
  it("obtains a token, reports it without values, and returns it as state", async () => {
    const input = inputFor(configFor(), server.clientSecret);
    await withClient(input, async (client) => {
      const result = await oauth2Connector.check(client, input);
      expect(result.message).toMatch(/^Token obtained, expires in (3600|3599) s, scopes: api:read$/);
      const state = oauth2Connector.stateOf!(client);
      expect(state).toMatchObject({ tokenType: "Bearer", scope: "api:read" });
      expect(state!.accessToken).toBeTruthy();
      expect(Date.parse(state!.expiresAt!)).toBeGreaterThan(Date.now() + 3500_000);
      expect(result.message).not.toContain(state!.accessToken);
      expectNoClientSecret(state);
      expectNoClientSecret(JSON.stringify(client));
      expectNoClientSecret(inspect(client, { showHidden: true, depth: 5 }));
    });
  });

  it("tests the API too when a test path is set, and runs requests with the bearer token", async () => {
    const input = inputFor(configFor({ testPath: "/whoami" }), server.clientSecret);
    await withClient(input, async (client) => {
      expect((await oauth2Connector.check(client, input)).message).toMatch(/^HTTP 200 from 127\.0\.0\.1:\d+\/api\/whoami; token obtained, expires in \d+ s, scopes: api:read$/);
      const result = await runRequest(client, { path: "/whoami" });
      expect(result.status).toBe(200);
      expect(JSON.parse(result.body)).toMatchObject({ clientId: server.clientId, scope: "api:read", sub: null });
    });
  });

  it("authenticates with client_secret_post when configured", async () => {
    const config = configFor({ clientId: server.postClient.clientId, clientAuth: "client_secret_post" });
    const input = inputFor(config, server.postClient.clientSecret);
    await withClient(input, async (client) => expect((await oauth2Connector.check(client, input)).message).toMatch(/^Token obtained/));
  });

  it("reports a wrong client secret as credentials_rejected (invalid_client), without quoting it", async () => {
    const config = configFor();
    const error = await failure(oauth2Connector.open(inputFor(config, "wrong-secret-value-42")), config);
    expect(error).toBeInstanceOf(OAuth2Error);
    expect(error.kind).toBe("credentials_rejected");
    expect((error as OAuth2Error).oauthError).toBe("invalid_client");
    expect(error.message).toContain("invalid_client");
    expect(error.message).not.toContain("wrong-secret-value-42");
    expectNoClientSecret(error.message);
  });

  it("reuses a kept token that is not about to expire, and renews one that is", async () => {
    const config = configFor();
    const first = await withClient(inputFor(config, server.clientSecret), async (client) => oauth2Connector.stateOf!(client)!);
    const before = server.count("/token");
    await withClient(inputFor(config, server.clientSecret, first), async (client) => {
      expect(oauth2Connector.stateOf!(client)).toBeNull();
      expect(client.tokenRequests).toBe(0);
      expect((await runRequest(client, { path: "/whoami" })).status).toBe(200);
    });
    expect(server.count("/token")).toBe(before);
    // A token that lives a minute is used for most of it: not renewed before every request.
    const short = { ...first, obtainedAt: new Date(Date.now() - 5_000).toISOString(), expiresAt: new Date(Date.now() + 55_000).toISOString() };
    await withClient(inputFor(config, server.clientSecret, short), async (client) => {
      expect((await runRequest(client, { path: "/whoami" })).status).toBe(200);
      expect((await runRequest(client, { path: "/whoami" })).status).toBe(200);
      expect(client.tokenRequests).toBe(0);
    });
    expect(server.count("/token")).toBe(before);
    // An hour's token with 30 s left is renewed first.
    const soon = { ...first, obtainedAt: new Date(Date.now() - 3_570_000).toISOString(), expiresAt: new Date(Date.now() + 30_000).toISOString() };
    await withClient(inputFor(config, server.clientSecret, soon), async (client) => {
      expect(oauth2Connector.stateOf!(client)!.accessToken).not.toBe(first.accessToken);
    });
    expect(server.count("/token")).toBe(before + 1);
  });

  it("fetches a new token when the API answers 401, once, shared by concurrent requests", async () => {
    await withClient(inputFor(configFor(), server.clientSecret), async (client) => {
      const before = server.count("/token");
      server.expireAccessTokens();
      const results = await Promise.all([runRequest(client, { path: "/whoami" }), runRequest(client, { path: "/whoami" })]);
      expect(results.map((r) => r.status)).toEqual([200, 200]);
      expect(server.count("/token")).toBe(before + 1);
    });
  });

  it("does not ask for a token at every request to a path that always answers 401, and renews again later", async () => {
    await withClient(inputFor(configFor(), server.clientSecret), async (client) => {
      const before = server.count("/token");
      await expect(runRequest(client, { path: "/always-401" })).rejects.toMatchObject({ kind: "credentials_rejected", refetch: false });
      expect(server.count("/token")).toBe(before + 1);
      // The renewal did not help: for a while, further 401s are answered without another token request.
      for (let i = 0; i < 5; i++) await expect(runRequest(client, { path: "/always-401" })).rejects.toMatchObject({ kind: "credentials_rejected", refetch: false });
      expect(server.count("/token")).toBe(before + 1);
      // Other paths work on the token meanwhile.
      expect((await runRequest(client, { path: "/whoami" })).status).toBe(200);
      // Once the while is over, a 401 renews again (the token may really have been revoked since).
      vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + RENEWAL_DID_NOT_HELP_MS + 1 });
      try {
        server.expireAccessTokens();
        expect((await runRequest(client, { path: "/whoami" })).status).toBe(200);
      } finally {
        vi.useRealTimers();
      }
      expect(server.count("/token")).toBe(before + 2);
    });
  });

  it("redacts the token a request went out with, even when another request renewed it before the answer came", async () => {
    await withClient(inputFor(configFor(), server.clientSecret), async (client) => {
      const sent = JSON.parse((await runRequest(client, { path: "/echo" })).body) as { authorization: string };
      expect(sent.authorization).toBe("Bearer [redacted]");
      const before = server.count("/token");
      // A slow request is in flight with the current token; a 401 elsewhere renews it meanwhile.
      const slow = runRequest(client, { method: "POST", path: "/echo?delayMs=800", body: "slow" });
      await new Promise((r) => setTimeout(r, 150));
      await expect(runRequest(client, { path: "/always-401" })).rejects.toMatchObject({ kind: "credentials_rejected" });
      expect(server.count("/token")).toBeGreaterThan(before);
      const result = await slow;
      expect(JSON.parse(result.body)).toMatchObject({ body: "slow", authorization: "Bearer [redacted]" });
    });
  });

  it("keeps a request, its token renewal and the retry after a 401 within the one time it was given", async () => {
    await withClient(inputFor(configFor(), server.clientSecret), async (client) => {
      server.expireAccessTokens();
      const started = Date.now();
      // 600 ms to the 401, the renewal, then 600 ms again: more than the 1 s the request has.
      const late = oauth2RequestOperation.run(client, oauth2RequestOperation.input.parse({ path: "/whoami?delayMs=600" }), { timeoutMs: 1_000 });
      expect(await failure(late, configFor())).toMatchObject({ kind: "timeout" });
      // It ends at about the 1 s it was given (with headroom for a busy machine).
      expect(Date.now() - started).toBeLessThan(1_700);
      // With time enough, the same request succeeds on the renewed token.
      expect((await runRequest(client, { path: "/whoami?delayMs=600" })).status).toBe(200);
    });
  });

  it("a request that joins a renewal another request started still waits within its own time", async () => {
    // Another instance holds the connection's renewal lease for 1.5 s, then this client's renewal runs.
    const HELD_MS = 1_500;
    const sharedState: SharedState = {
      async exclusive(change, timeoutMs) {
        await new Promise((r) => setTimeout(r, Math.min(HELD_MS, timeoutMs)));
        if (timeoutMs <= HELD_MS) throw new ConnectorError("timeout", "Another client of this connection was renewing its tokens and did not finish in time. Try again.");
        await change(null, timeoutMs - HELD_MS, configFor());
      },
    };
    const config = configFor();
    const client = await oauth2Connector.open({ ...inputFor(config, server.clientSecret, tokenStateToRecord(await clientCredentialsToken(config, server.clientSecret, { timeoutMs: 5_000 }))), sharedState });
    try {
      const timed = async (renewal: Promise<void>) => {
        const started = Date.now();
        const error = await renewal.then(() => null, (e: unknown) => e);
        return { error, ms: Date.now() - started };
      };
      // A short request's renewal, joined by a long one: the short one gives up at its own time; the long one goes on and gets a token.
      const [short, long] = await Promise.all([timed(client.renew(1_000)), timed(client.renew(10_000))]);
      expect(short.error).toMatchObject({ kind: "timeout" });
      expect(long.error).toBeNull();
      expect(long.ms).toBeGreaterThan(HELD_MS);
      // A long request's renewal, joined by a short one: the short one does not wait for the long one's time.
      const [long2, short2] = await Promise.all([timed(client.renew(5_000)), timed(client.renew(300))]);
      expect(long2.error).toBeNull();
      expect(short2.error).toMatchObject({ kind: "timeout" });
      // Not the long one's 5 s (headroom for a busy machine).
      expect(short2.ms).toBeLessThan(2_000);
    } finally {
      await oauth2Connector.close(client);
    }
  });

  it("classifies an unreachable token endpoint and an untrusted certificate", async () => {
    const closed = configFor({ tokenUrl: "https://127.0.0.1:1/token" });
    expect((await failure(oauth2Connector.open(inputFor(closed, "x")), closed)).kind).toBe("unreachable");
    const untrusted = configFor({ caBundle: undefined });
    expect((await failure(oauth2Connector.open(inputFor(untrusted, server.clientSecret)), untrusted)).kind).toBe("tls");
  });
});

describe("OAuth 2.0 connector: authorization code", () => {
  it("needs an authorisation before it can open", async () => {
    const config = codeConfig();
    await expect(oauth2Connector.open(inputFor(config, server.clientSecret))).rejects.toMatchObject({ kind: "config", message: "Authorise the app first." });
    expect(oauth2ConfigSchema.safeParse({ grant: "authorization_code", tokenUrl: server.tokenUrl, clientId: "x" }).success).toBe(false);
  });

  it("builds an authorisation URL with PKCE and state, and no secret", () => {
    const pkce = createPkce();
    expect(pkce.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const url = new URL(buildAuthorizeUrl(codeConfig(), { state: "s1", codeChallenge: pkce.challenge, redirectUri: server.redirectUri }));
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: "code",
      client_id: server.clientId,
      redirect_uri: server.redirectUri,
      scope: "api:read api:write",
      state: "s1",
      code_challenge: pkce.challenge,
      code_challenge_method: "S256",
    });
    expectNoClientSecret(url.toString());
  });

  it("runs the full flow: authorise, exchange, call the API, refresh when expired with the client secret each time", async () => {
    const config = codeConfig();
    const tokens = await authorise(config);
    expect(tokens).toMatchObject({ tokenType: "Bearer", scope: "api:read api:write" });
    expect(tokens.refreshToken).toBeTruthy();
    const kept = tokenStateToRecord(tokens);
    expectNoClientSecret(kept);

    // Fresh tokens: no token endpoint call, the API sees the authorising account.
    const before = server.count("/token");
    await withClient(inputFor(config, server.clientSecret, kept), async (client) => {
      const result = await runRequest(client, { path: "/whoami" });
      expect(result.status).toBe(200);
      expect(JSON.parse(result.body)).toMatchObject({ sub: server.accountId, clientId: server.clientId });
      expect(oauth2Connector.stateOf!(client)).toBeNull();
    });
    expect(server.count("/token")).toBe(before);

    // Expired: open refreshes (the refresh token rotates), and the new state is handed back.
    const refreshed = await withClient(inputFor(config, server.clientSecret, expired(tokens)), async (client) => {
      const state = oauth2Connector.stateOf!(client)!;
      expect(state.accessToken).not.toBe(tokens.accessToken);
      expect(state.refreshToken).not.toBe(tokens.refreshToken);
      expect(state.scope).toBe("api:read api:write");
      expect((await runRequest(client, { path: "/whoami" })).status).toBe(200);
      return state;
    });
    expect(server.count("/token")).toBe(before + 1);
    expectNoClientSecret(refreshed);

    // The refresh needs the client secret: a wrong one is refused.
    const wrong = await failure(oauth2Connector.open(inputFor(config, "not-the-secret-123", { ...refreshed, expiresAt: new Date(0).toISOString() })), config);
    expect(wrong.kind).toBe("credentials_rejected");

    // A 401 from the API (token revoked early) refreshes once and retries.
    await withClient(inputFor(config, server.clientSecret, refreshed), async (client) => {
      server.expireAccessTokens();
      const result = await runRequest(client, { path: "/whoami" });
      expect(result.status).toBe(200);
      const state = oauth2Connector.stateOf!(client)!;
      expect(state.accessToken).not.toBe(refreshed.accessToken);
      expectNoClientSecret(state);
    });
  });

  it("check renews kept tokens to prove the secret and authorisation still work", async () => {
    const config = codeConfig({ testPath: "/whoami" });
    const kept = tokenStateToRecord(await authorise(config));
    const input = inputFor(config, server.clientSecret, kept);
    await withClient(input, async (client) => {
      const result = await oauth2Connector.check(client, input);
      expect(result.message).toMatch(/^HTTP 200 from .*\/api\/whoami; token obtained, expires in \d+ s, scopes: api:read api:write$/);
      expect(oauth2Connector.stateOf!(client)!.refreshToken).not.toBe(kept.refreshToken);
    });
  });

  it("refuses a code exchange without the right PKCE verifier (invalid_grant)", async () => {
    const config = codeConfig();
    const pkce = createPkce();
    const approved = await server.approve(buildAuthorizeUrl(config, { state: "s", codeChallenge: pkce.challenge, redirectUri: server.redirectUri }));
    const error = await failure(
      exchangeCode(config, server.clientSecret, { code: approved.code, codeVerifier: createPkce().verifier, redirectUri: server.redirectUri, timeoutMs: 5000 }),
      config,
    );
    expect(error.kind).toBe("config");
    expect((error as OAuth2Error).oauthError).toBe("invalid_grant");
    expect(error.message).not.toContain(approved.code);
  });

  it("fails a refresh with a rotated client secret as credentials_rejected, and works with the new one", async () => {
    const config = codeConfig();
    const tokens = await authorise(config);
    const rotated = `rotated-${Date.now()}-secret`;
    secretsSeen.add(rotated);
    server.rotateClientSecret(rotated);
    try {
      const error = await failure(refreshToken(config, originalSecret, tokens.refreshToken!, { timeoutMs: 5000 }), config);
      expect(error.kind).toBe("credentials_rejected");
      expect((error as OAuth2Error).oauthError).toBe("invalid_client");
      expect(error.message).not.toContain(tokens.refreshToken!);
      await withClient(inputFor(config, rotated, expired(tokens)), async (client) => {
        // Renewed with the new secret: not the expired token it was opened with.
        expect(oauth2Connector.stateOf!(client)!.accessToken).toMatch(/\S/);
        expect(oauth2Connector.stateOf!(client)!.accessToken).not.toBe(tokens.accessToken);
        expectNoClientSecret(oauth2Connector.stateOf!(client));
      });
    } finally {
      server.rotateClientSecret(originalSecret);
    }
  });

  it("says to authorise again when the refresh token was revoked (invalid_grant)", async () => {
    const config = codeConfig();
    const tokens = await authorise(config);
    server.revokeRefreshTokens();
    const error = await failure(oauth2Connector.open(inputFor(config, server.clientSecret, expired(tokens))), config);
    expect(error.kind).toBe("config");
    expect(error.message).toMatch(/authorise again/);
    expect(error.message).not.toContain(tokens.refreshToken!);
  });

  it("a 401 that no renewal can fix is a credentials rejection, without a refetch of the client secret", async () => {
    const config = codeConfig();
    const { refreshToken: _dropped, ...withoutRefresh } = await authorise(config);
    await withClient(inputFor(config, server.clientSecret, tokenStateToRecord(withoutRefresh)), async (client) => {
      expect((await runRequest(client, { path: "/whoami" })).status).toBe(200);
      const tokenCalls = server.count("/token");
      server.expireAccessTokens();
      const error = await runRequest(client, { path: "/whoami" }).catch((e: unknown) => e);
      // Not data: a runner asking for /whoami gets "credentials rejected", and the secret is not refetched.
      expect(error).toMatchObject({ kind: "credentials_rejected", refetch: false });
      expect((error as Error).message).toMatch(/HTTP 401 .*authorise again/);
      expect(server.count("/token")).toBe(tokenCalls);
    });
  });

  it("never returns the token or secret in a request result, even if the API echoes it", async () => {
    const config = codeConfig();
    const tokens = await authorise(config);
    await withClient(inputFor(config, server.clientSecret, tokenStateToRecord(tokens)), async (client) => {
      const result = await runRequest(client, { method: "POST", path: "/echo", body: "hello" });
      expect(result.status).toBe(200);
      expect(JSON.stringify(result)).not.toContain(tokens.accessToken);
      expect(JSON.parse(result.body)).toMatchObject({ method: "POST", body: "hello", authorization: "Bearer [redacted]" });
      const unchecked = (req: Record<string, unknown>) => oauth2RequestOperation.run(client, { method: "GET", ...req } as never, { timeoutMs: 5000 });
      expect(oauth2RequestOperation.input.safeParse({ path: "/whoami", headers: { Authorization: "Bearer x" } }).success).toBe(false);
      await expect(unchecked({ path: "/whoami", headers: { Authorization: "Bearer x" } })).rejects.toMatchObject({ kind: "config", field: "headers.Authorization" });
      expect(oauth2RequestOperation.input.safeParse({ path: "../token" }).success).toBe(false);
      await expect(unchecked({ path: "../token" })).rejects.toMatchObject({ kind: "config", field: "path" });
    });
  });

  it("needs an API base URL for requests", async () => {
    expect(oauth2Connector.operations.request).toBe(oauth2RequestOperation);
    const config = configFor({ apiBaseUrl: undefined });
    await withClient(inputFor(config, server.clientSecret), async (client) => {
      await expect(runRequest(client, { path: "/whoami" })).rejects.toMatchObject({ kind: "config" });
    });
  });
});

describe("OAuth 2.0 token endpoint quirks", () => {
  it("reads form-encoded answers, refuses non-Bearer tokens and errors inside a 200, and never quotes values", async () => {
    const leaky = "leaky-secret-value-77";
    const answers: Record<string, (res: import("node:http").ServerResponse, req: import("node:http").IncomingMessage) => void> = {
      "/form": (res) => {
        res.writeHead(200, { "content-type": "application/x-www-form-urlencoded" });
        res.end("access_token=form-token-123&token_type=bearer&expires_in=60&scope=a+b");
      },
      "/mac": (res) => json(res, 200, { access_token: "mac-token-123", token_type: "mac" }),
      "/forever": (res) => json(res, 200, { access_token: "forever-token-123", token_type: "Bearer", expires_in: 1e13 }),
      "/error-in-200": (res) => json(res, 200, { error: "bad_verification_code", error_description: "The code passed is incorrect or expired." }),
      // GitHub's answer to a wrong client secret: HTTP 200 and its own code.
      "/github-bad-secret": (res) =>
        json(res, 200, { error: "incorrect_client_credentials", error_description: "The client_id and/or client_secret passed are incorrect." }),
      // Auth0's and older Keycloak's answers to a wrong client secret: HTTP 401 with another code.
      "/auth0-bad-secret": (res) => json(res, 401, { error: "access_denied", error_description: "Unauthorized" }),
      "/keycloak-bad-secret": (res) => json(res, 401, { error: "unauthorized_client", error_description: "Invalid client or Invalid client credentials" }),
      // The same codes without a 401 keep their own meaning.
      "/denied-403": (res) => json(res, 403, { error: "access_denied", error_description: "Not for you" }),
      "/echoes-secret": (res) => json(res, 400, { error: "invalid_request", error_description: `client_secret ${leaky} is malformed` }),
      "/echoes-header": (res, req) => json(res, 401, { error: "invalid_client", error_description: `unknown client in header ${req.headers.authorization}` }),
      "/html": (res) => {
        res.writeHead(200, { "content-type": "text/html" });
        res.end(`<html>${leaky}</html>`);
      },
      // An identity provider that is down or limiting: not the caller's mistake, and worth a retry later.
      "/down": (res) => {
        res.writeHead(503, { "content-type": "text/html" });
        res.end("<html>Service Unavailable</html>");
      },
      "/busy": (res) => {
        res.setHeader("retry-after", "7");
        json(res, 429, { error: "slow_down" });
      },
      "/unavailable-400": (res) => json(res, 400, { error: "temporarily_unavailable" }),
      "/no-token": (res) => json(res, 200, { token_type: "Bearer" }),
    };
    const fake = await startEmulator({
      name: "token-quirks",
      tls: { cert: server.pki.serverCert, key: server.pki.serverKey },
      handle: ({ req, res, url }) => (answers[url.pathname] ?? ((r) => json(r, 404, {})))(res, req),
    });
    try {
      const at = (path: string) => configFor({ tokenUrl: `${fake.url}${path}` });
      const form = await clientCredentialsToken(at("/form"), leaky, { timeoutMs: 5000 });
      expect(form).toMatchObject({ accessToken: "form-token-123", tokenType: "Bearer", scope: "a b" });
      await expect(clientCredentialsToken(at("/mac"), leaky, { timeoutMs: 5000 })).rejects.toMatchObject({ kind: "config" });
      // A lifetime past any date JavaScript can hold is read as a year, not thrown on.
      const forever = await clientCredentialsToken(at("/forever"), leaky, { timeoutMs: 5000 });
      expect(Date.parse(forever.expiresAt!) - Date.now()).toBeGreaterThan(364 * 86_400_000);
      await expect(clientCredentialsToken(at("/error-in-200"), leaky, { timeoutMs: 5000 })).rejects.toMatchObject({ kind: "config", oauthError: "bad_verification_code" });
      // A rejected client secret is a credentials rejection whatever the provider calls it, so the runtime refetches a rotated one.
      const github = await failure(clientCredentialsToken(at("/github-bad-secret"), leaky, { timeoutMs: 5000 }), at("/github-bad-secret"));
      expect(github).toMatchObject({ kind: "credentials_rejected", oauthError: "incorrect_client_credentials" });
      expect(github.message).toContain("rejected the client ID or client secret (incorrect_client_credentials, HTTP 200)");
      for (const [path, code] of [["/auth0-bad-secret", "access_denied"], ["/keycloak-bad-secret", "unauthorized_client"]] as const) {
        const rejected = await failure(clientCredentialsToken(at(path), leaky, { timeoutMs: 5000 }), at(path));
        expect(rejected, path).toMatchObject({ kind: "credentials_rejected", oauthError: code });
        expect(rejected.message).toContain(`rejected the client ID or client secret (${code}, HTTP 401)`);
      }
      await expect(clientCredentialsToken(at("/denied-403"), leaky, { timeoutMs: 5000 })).rejects.toMatchObject({ kind: "permission", oauthError: "access_denied" });
      const echoed = await failure(clientCredentialsToken(at("/echoes-secret"), leaky, { timeoutMs: 5000 }), at("/echoes-secret"));
      expect(echoed.kind).toBe("config");
      expect(echoed.message).toContain("[redacted]");
      expect(echoed.message).not.toContain(leaky);
      // The Basic header quoted back: base64 of "client:secret" reveals the secret as surely as the secret itself.
      const header = await failure(clientCredentialsToken(at("/echoes-header"), leaky, { timeoutMs: 5000 }), at("/echoes-header"));
      expect(header.kind).toBe("credentials_rejected");
      expect(header.message).toContain("unknown client in header Basic [redacted]");
      expect(header.message).not.toContain(Buffer.from(`${server.clientId}:${leaky}`).toString("base64"));
      const html = await failure(clientCredentialsToken(at("/html"), leaky, { timeoutMs: 5000 }), at("/html"));
      expect(html.kind).toBe("upstream_error");
      expect(html.message).not.toContain(leaky);
      for (const [path, kind] of [["/down", "unreachable"], ["/busy", "unreachable"], ["/unavailable-400", "unreachable"], ["/no-token", "upstream_error"], ["/missing", "upstream_error"]] as const) {
        const failed = await failure(clientCredentialsToken(at(path), leaky, { timeoutMs: 5000 }), at(path));
        expect(failed.kind, path).toBe(kind);
        // As the invoke answers it: the provider's trouble is a 502 or 503, never the 422 of a refused input.
        const answered = new TargetError(failed.kind, failed.message, failed.retryAfterSeconds);
        expect(HTTP_STATUS[answered.code], path).toBe(kind === "unreachable" ? 503 : 502);
        // The provider's own wait reaches the runner as the 503's Retry-After.
        expect(answered.retryAfterSeconds, path).toBe(path === "/busy" ? 7 : undefined);
      }
      // The secret went in the Basic header, form-encoded then base64 (RFC 6749 2.3.1).
      const sent = fake.requests.find((r) => r.path === "/form")!;
      expect(Buffer.from(String(sent.headers.authorization).slice(6), "base64").toString()).toBe(`${server.clientId}:${leaky}`);
      expect(sent.body).toBe("grant_type=client_credentials&scope=api%3Aread");
    } finally {
      await fake.close();
    }
  });
});

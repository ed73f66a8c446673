import { generateKeyPairSync, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { Agent, fetch as undiciFetch } from "undici";
import { createTestPki, type TestPki } from "@/test/emulators/tls";

/**
 * A real OAuth 2.0 authorization server (oidc-provider v9) over HTTPS on 127.0.0.1, signed by a
 * throwaway CA, plus a small protected API at `${issuer}/api` that accepts only access tokens this
 * server issued and has not forgotten. The login/consent step is a built-in interaction that
 * approves a fixed test account, driven by `approve(authorizeUrl)` with fetch and a cookie jar.
 *
 * API routes: /api/whoami {sub, clientId, scope}; /api/echo (careless: echoes Authorization);
 * /api/forbidden 403; /api/always-401 refuses every token.
 */
export type OidcServer = {
  issuer: string;
  authorizationUrl: string;
  tokenUrl: string;
  apiUrl: string;
  caCert: string;
  otherCaCert: string;
  pki: TestPki;
  /** A client_secret_basic client allowed client_credentials, authorization_code and refresh_token. */
  clientId: string;
  /** The basic client's current secret (changes with rotateClientSecret). */
  clientSecret: string;
  /** A second client that authenticates with client_secret_post (client_credentials only). */
  postClient: { clientId: string; clientSecret: string };
  /** The redirect URI registered for the basic client (never dialled: approve() stops there). */
  redirectUri: string;
  accountId: string;
  rotateClientSecret(newSecret: string): void;
  approve(authorizeUrl: string): Promise<{ code: string; state: string | null; redirectedTo: string }>;
  /** Forgets every issued access token, so the API answers 401 until a new one is obtained. */
  expireAccessTokens(): void;
  /** Forgets every refresh token (a revoked authorisation: refresh gives invalid_grant). */
  revokeRefreshTokens(): void;
  /** Requests seen, e.g. count("/token") or count("/api/whoami"). */
  count(pathIncludes: string, method?: string): number;
  close(): Promise<void>;
};

const SCOPES = "api:read api:write";
const TEST_ACCOUNT = "test-user-1";

// ---------------------------------------------------------------------------------------------
// The subset of oidc-provider used here (the package ships no type declarations).

type Token = { clientId?: string; accountId?: string; scope?: string; aud?: string | string[]; kind?: string; isExpired?: boolean };
type GrantModel = {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
};
type InteractionDetails = {
  prompt: { name: string; details: { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> } };
  params: Record<string, string>;
  session?: { accountId?: string };
  grantId?: string;
};
type Provider = {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: object, opts?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: (new (p: { accountId: string; clientId: string }) => GrantModel) & { find(id: string): Promise<GrantModel | undefined> };
  AccessToken: { find(value: string): Promise<Token | undefined> };
  ClientCredentials: { find(value: string): Promise<Token | undefined> };
  on(event: string, listener: (...args: unknown[]) => void): void;
};
type ProviderConstructor = new (issuer: string, configuration: object) => Provider;

// ---------------------------------------------------------------------------------------------
// Storage: one in-memory store per server; clients are read from a map so a secret can rotate.

type Entry = { payload: Record<string, unknown>; expiresAt: number };
type Store = { items: Map<string, Entry>; grants: Map<string, Set<string>>; sessionUids: Map<string, string>; clients: Map<string, Record<string, unknown>> };

class MemoryAdapter {
  constructor(
    private readonly model: string,
    private readonly store: Store,
  ) {}

  private key(id: string) {
    return `${this.model}:${id}`;
  }

  async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
    const key = this.key(id);
    this.store.items.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    if (typeof payload.grantId === "string") {
      const members = this.store.grants.get(payload.grantId) ?? new Set<string>();
      members.add(key);
      this.store.grants.set(payload.grantId, members);
    }
    if (this.model === "Session" && typeof payload.uid === "string") this.store.sessionUids.set(payload.uid, id);
  }

  async find(id: string) {
    if (this.model === "Client") {
      const client = this.store.clients.get(id);
      return client ? { ...client } : undefined;
    }
    const entry = this.store.items.get(this.key(id));
    if (!entry || entry.expiresAt < Date.now()) return undefined;
    return entry.payload;
  }

  async findByUid(uid: string) {
    const id = this.store.sessionUids.get(uid);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id: string) {
    const entry = this.store.items.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string) {
    this.store.items.delete(this.key(id));
  }

  async revokeByGrantId(grantId: string) {
    for (const key of this.store.grants.get(grantId) ?? []) this.store.items.delete(key);
    this.store.grants.delete(grantId);
  }
}

// ---------------------------------------------------------------------------------------------

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

export async function startOidcServer(opts: { accessTokenTtlSeconds?: number; pki?: TestPki; redirectUri?: string } = {}): Promise<OidcServer> {
  const { default: Provider } = (await import("oidc-provider" as string)) as { default: ProviderConstructor };
  const pki = opts.pki ?? createTestPki();
  const ttl = opts.accessTokenTtlSeconds ?? 3600;
  const log: { method: string; path: string }[] = [];
  const sockets = new Set<Socket>();

  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => sendJson(res, 503, { error: "starting" });
  const server = createServer({ cert: pki.serverCert, key: pki.serverKey }, (req, res) => handler(req, res));
  server.on("secureConnection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const apiUrl = `${issuer}/api`;
  const redirectUri = opts.redirectUri ?? "https://latch.example/api/v1/connections/oauth/callback";

  const store: Store = { items: new Map(), grants: new Map(), sessionUids: new Map(), clients: new Map() };
  const basic = { clientId: "latch-test-app", clientSecret: `secret-${randomBytes(12).toString("hex")}` };
  const post = { clientId: "latch-test-post", clientSecret: `secret-${randomBytes(12).toString("hex")}` };
  const putBasicClient = () =>
    store.clients.set(basic.clientId, {
      client_id: basic.clientId,
      client_secret: basic.clientSecret,
      grant_types: ["client_credentials", "authorization_code", "refresh_token"],
      response_types: ["code"],
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: "client_secret_basic",
      scope: `${SCOPES} offline_access`,
    });
  putBasicClient();
  store.clients.set(post.clientId, {
    client_id: post.clientId,
    client_secret: post.clientSecret,
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "client_secret_post",
    scope: SCOPES,
  });

  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    adapter: (model: string) => new MemoryAdapter(model, store),
    jwks: { keys: [{ ...privateKey.export({ format: "jwk" }), kid: "test-key", use: "sig", alg: "RS256" }] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // Every token is for the test API, asked for or not.
        defaultResource: async () => apiUrl,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({ scope: SCOPES, audience: apiUrl, accessTokenTTL: ttl, accessTokenFormat: "opaque" }),
      },
    },
    scopes: ["openid", "offline_access", ...SCOPES.split(" ")],
    pkce: { required: () => true },
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(g: string): boolean }) => client.grantTypeAllowed("refresh_token"),
    rotateRefreshToken: true,
    ttl: { AccessToken: ttl, ClientCredentials: ttl, AuthorizationCode: 60, RefreshToken: 86_400, Interaction: 600, Session: 3600, Grant: 86_400, IdToken: 3600 },
    interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    renderError: async (ctx: { type: string; body: unknown }, out: unknown) => {
      ctx.type = "json";
      ctx.body = out;
    },
  });
  // oidc-provider reports server_error details here; keep test output quiet otherwise.
  provider.on("server_error", (_ctx, error) => console.error("[oidc] server_error", error));
  const callback = provider.callback();

  async function interaction(req: IncomingMessage, res: ServerResponse) {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params } = details;
    if (prompt.name === "login") {
      return provider.interactionFinished(req, res, { login: { accountId: TEST_ACCOUNT } }, { mergeWithLastSubmission: false });
    }
    if (prompt.name === "consent") {
      const accountId = details.session?.accountId ?? TEST_ACCOUNT;
      const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ?? new provider.Grant({ accountId, clientId: params.client_id! });
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(" "));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      for (const [resource, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(" "));
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    sendJson(res, 400, { error: `unexpected prompt ${prompt.name}` });
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL) {
    const body = await readBody(req);
    // ?delayMs=N: a slow API, which answers (a 401 included) only after N ms.
    const delayMs = Number(url.searchParams.get("delayMs") ?? 0);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(delayMs, 30_000)));
    const value = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const token = value ? ((await provider.AccessToken.find(value)) ?? (await provider.ClientCredentials.find(value))) : undefined;
    const audOk = token && (token.aud === undefined || token.aud === apiUrl || (Array.isArray(token.aud) && token.aud.includes(apiUrl)));
    if (!token || token.isExpired || !audOk) return sendJson(res, 401, { error: "invalid_token" }, { "www-authenticate": 'Bearer error="invalid_token"' });
    const path = url.pathname.slice("/api".length);
    if (path === "/whoami") return sendJson(res, 200, { sub: token.accountId ?? null, clientId: token.clientId, scope: token.scope ?? "" });
    if (path === "/echo") return sendJson(res, 200, { method: req.method, path, body, authorization: req.headers.authorization });
    if (path === "/forbidden") return sendJson(res, 403, { error: "insufficient_scope" });
    // An API that refuses every token, fresh ones too (a revoked app permission, say).
    if (path === "/always-401") return sendJson(res, 401, { error: "invalid_token" }, { "www-authenticate": 'Bearer error="invalid_token"' });
    sendJson(res, 404, { error: "not found" });
  }

  handler = (req, res) => {
    const url = new URL(req.url ?? "/", issuer);
    log.push({ method: req.method ?? "GET", path: url.pathname });
    const fail = (error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: `test server: ${(error as Error).message}` });
    };
    if (url.pathname === "/api" || url.pathname.startsWith("/api/")) return void api(req, res, url).catch(fail);
    if (url.pathname.startsWith("/interaction/")) return void interaction(req, res).catch(fail);
    callback(req, res);
  };

  const tlsAgent = new Agent({ connect: { ca: pki.caCert } });

  async function approve(authorizeUrl: string) {
    const jar = new Map<string, string>();
    let current = authorizeUrl;
    for (let hop = 0; hop < 12; hop++) {
      const res = await undiciFetch(current, {
        dispatcher: tlsAgent,
        redirect: "manual",
        headers: jar.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") } : {},
      });
      for (const cookie of res.headers.getSetCookie()) {
        const [pair = "", ...attrs] = cookie.split(";");
        const eq = pair.indexOf("=");
        const name = pair.slice(0, eq).trim();
        const value = pair.slice(eq + 1).trim();
        const expired = attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split("=")[1] ?? "") < Date.now());
        if (!value || expired) jar.delete(name);
        else jar.set(name, value);
      }
      const location = res.headers.get("location");
      const text = await res.text();
      if (!location) throw new Error(`approve: HTTP ${res.status} without a redirect from ${new URL(current).pathname}: ${text.slice(0, 300)}`);
      const next = new URL(location, current);
      if (next.href.startsWith(redirectUri)) {
        const error = next.searchParams.get("error");
        if (error) throw new Error(`approve: the server answered ${error}: ${next.searchParams.get("error_description") ?? ""}`);
        const code = next.searchParams.get("code");
        if (!code) throw new Error("approve: no code in the redirect");
        return { code, state: next.searchParams.get("state"), redirectedTo: next.href };
      }
      current = next.href;
    }
    throw new Error("approve: too many redirects");
  }

  const forget = (...models: string[]) => {
    for (const key of [...store.items.keys()]) if (models.some((m) => key.startsWith(`${m}:`))) store.items.delete(key);
  };

  return {
    issuer,
    authorizationUrl: `${issuer}/auth`,
    tokenUrl: `${issuer}/token`,
    apiUrl,
    caCert: pki.caCert,
    otherCaCert: pki.otherCaCert,
    pki,
    clientId: basic.clientId,
    get clientSecret() {
      return basic.clientSecret;
    },
    postClient: post,
    redirectUri,
    accountId: TEST_ACCOUNT,
    rotateClientSecret(newSecret) {
      basic.clientSecret = newSecret;
      putBasicClient();
    },
    approve,
    expireAccessTokens: () => forget("AccessToken", "ClientCredentials"),
    revokeRefreshTokens: () => forget("RefreshToken"),
    count: (sub, method) => log.filter((r) => r.path.includes(sub) && (!method || r.method === method)).length,
    close: async () => {
      await tlsAgent.close();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

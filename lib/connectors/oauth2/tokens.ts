import { createHash, randomBytes } from "node:crypto";
import type { Dispatcher } from "undici";
import { assertTargetUrl, readCapped, redact, redactionForms, sendTarget, targetDispatcher } from "../http-shared";
import { ConnectorError, type ConnectorErrorKind } from "../types";
import { parseRetryAfter } from "@/lib/vault/retry";

/**
 * OAuth 2.0 client side, as pure functions: the connector and the authorisation callback route
 * share them. The client secret is a parameter on every call (resolved by the caller each time)
 * and never part of the returned token state.
 */

export type ClientAuthMethod = "client_secret_basic" | "client_secret_post";

/** The config fields the token endpoint needs (the connector's config satisfies it). */
export type OAuth2TokenConfig = {
  tokenUrl: string;
  clientId: string;
  clientAuth: ClientAuthMethod;
  scopes?: string;
  caBundle?: string;
};

export type OAuth2AuthorizeConfig = { authorizationUrl?: string; clientId: string; scopes?: string };

export type TokenOptions = {
  timeoutMs: number;
  /** Reuse an open dispatcher (the connector's); otherwise one is made from config.caBundle and closed. */
  dispatcher?: Dispatcher;
};

/** What is kept (encrypted) as connector state. Never holds the client secret. */
export type OAuth2TokenState = {
  accessToken: string;
  refreshToken?: string;
  /** ISO time; absent when the server did not say (expires_in omitted). */
  expiresAt?: string;
  /** ISO time the token was issued, with expiresAt: how long it lives decides how early it is renewed. */
  obtainedAt?: string;
  tokenType: string;
  scope: string;
};

/** A token endpoint failure, classified; `oauthError` is the error code the server gave (RFC 6749 or its own), if any. */
export class OAuth2Error extends ConnectorError {
  static override readonly brand = "latch.OAuth2Error";
  constructor(
    kind: ConnectorErrorKind,
    message: string,
    readonly oauthError: string | null,
    readonly status: number,
    retryAfterSeconds?: number,
  ) {
    super(kind, message, true, retryAfterSeconds);
  }
}

export function createPkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

const normaliseScopes = (s: string | undefined) => (s ?? "").split(/\s+/).filter(Boolean).join(" ");

/** The URL to send the person's browser to (response_type=code, PKCE S256, state). */
export function buildAuthorizeUrl(config: OAuth2AuthorizeConfig, params: { state: string; codeChallenge: string; redirectUri: string }): string {
  if (!config.authorizationUrl) throw new ConnectorError("config", "Enter the authorization URL to authorise the app.");
  const url = assertTargetUrl(config.authorizationUrl, "authorization URL");
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", config.clientId);
  url.searchParams.set("redirect_uri", params.redirectUri);
  const scope = normaliseScopes(config.scopes);
  if (scope) url.searchParams.set("scope", scope);
  url.searchParams.set("state", params.state);
  url.searchParams.set("code_challenge", params.codeChallenge);
  url.searchParams.set("code_challenge_method", "S256");
  return url.toString();
}

export function exchangeCode(
  config: OAuth2TokenConfig,
  clientSecret: string,
  params: { code: string; codeVerifier: string; redirectUri: string } & TokenOptions,
): Promise<OAuth2TokenState> {
  return tokenRequest(
    config,
    clientSecret,
    { grant_type: "authorization_code", code: params.code, code_verifier: params.codeVerifier, redirect_uri: params.redirectUri },
    params,
    [params.code, params.codeVerifier],
  );
}

export function clientCredentialsToken(config: OAuth2TokenConfig, clientSecret: string, opts: TokenOptions): Promise<OAuth2TokenState> {
  const scope = normaliseScopes(config.scopes);
  return tokenRequest(config, clientSecret, { grant_type: "client_credentials", ...(scope ? { scope } : {}) }, opts, []);
}

/**
 * Uses a refresh token. A server that issues no new refresh token keeps the old one valid (RFC
 * 6749 §6), and one that omits scope granted the same scope: `previousScope` fills it in.
 */
export async function refreshToken(
  config: OAuth2TokenConfig,
  clientSecret: string,
  refreshTokenValue: string,
  opts: TokenOptions & { previousScope?: string },
): Promise<OAuth2TokenState> {
  const next = await tokenRequest(config, clientSecret, { grant_type: "refresh_token", refresh_token: refreshTokenValue }, opts, [refreshTokenValue]);
  return {
    ...next,
    refreshToken: next.refreshToken ?? refreshTokenValue,
    scope: next.scope || normaliseScopes(opts.previousScope),
  };
}

const GRANT_WORDS: Record<string, string> = {
  authorization_code: "authorisation code",
  client_credentials: "client credentials",
  refresh_token: "refresh token",
};

async function tokenRequest(
  config: OAuth2TokenConfig,
  clientSecret: string,
  params: Record<string, string>,
  opts: TokenOptions,
  sent: string[],
): Promise<OAuth2TokenState> {
  if (!clientSecret) throw new ConnectorError("config", "The client secret is missing.");
  if (/[\r\n\0]/.test(clientSecret)) throw new ConnectorError("config", "The client secret contains a line break or NUL character.");
  const url = assertTargetUrl(config.tokenUrl, "token URL");
  const body = new URLSearchParams(params);
  const headers: Record<string, string> = { accept: "application/json", "content-type": "application/x-www-form-urlencoded" };
  // RFC 6749 §2.3.1: both parts are form-encoded before base64.
  const pair = config.clientAuth === "client_secret_post" ? undefined : `${encodeURIComponent(config.clientId)}:${encodeURIComponent(clientSecret)}`;
  if (pair === undefined) {
    body.set("client_id", config.clientId);
    body.set("client_secret", clientSecret);
  } else {
    headers.authorization = `Basic ${Buffer.from(pair).toString("base64")}`;
  }
  // The Basic header carries the secret as base64 of the pair: a server that quotes it back quotes that.
  const forms = redactionForms([clientSecret, pair, ...sent]);
  const own = opts.dispatcher ? null : targetDispatcher(config.caBundle);
  try {
    const res = await sendTarget(url, { method: "POST", headers, body: body.toString(), dispatcher: opts.dispatcher ?? own!, timeoutMs: opts.timeoutMs });
    let text: string;
    try {
      text = (await readCapped(res, 256 * 1024)).text;
    } catch {
      throw new ConnectorError("unreachable", `Reading the answer of the token endpoint (${url.host}) failed.`);
    }
    const json = parseTokenBody(text, res.headers.get("content-type"));
    // Some servers answer 200 with an error object (GitHub does): an error without a token is an error.
    const failed = res.status < 200 || res.status >= 300 || (typeof json?.error === "string" && json.access_token === undefined);
    if (failed) throw tokenEndpointError(res.status, json, url.host, params.grant_type ?? "", forms, parseRetryAfter(res.headers.get("retry-after")));
    if (!json) throw new ConnectorError("upstream_error", `The token endpoint (${url.host}) answered HTTP ${res.status} without a JSON token response.`);
    return tokenStateFromResponse(json, url.host);
  } finally {
    await own?.close().catch(() => undefined);
  }
}

/** JSON as asked for; form encoding from servers that ignore Accept. Never quoted when unreadable. */
function parseTokenBody(text: string, contentType: string | null): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    if (contentType?.toLowerCase().startsWith("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(text));
    return null;
  }
}

const MAX_TOKEN_LIFETIME_SECONDS = 365 * 24 * 3600;

function tokenStateFromResponse(json: Record<string, unknown>, host: string): OAuth2TokenState {
  const accessToken = json.access_token;
  if (typeof accessToken !== "string" || !accessToken) throw new ConnectorError("upstream_error", `The token endpoint (${host}) answered without an access token.`);
  const rawType = typeof json.token_type === "string" ? json.token_type : "Bearer";
  if (rawType.toLowerCase() !== "bearer") {
    const shown = /^[\w.-]{1,32}$/.test(rawType) ? rawType : "non-Bearer";
    throw new ConnectorError("config", `The token endpoint (${host}) issued a ${shown} token; only Bearer tokens are supported.`);
  }
  const expiresIn = typeof json.expires_in === "number" ? json.expires_in : typeof json.expires_in === "string" ? Number(json.expires_in) : NaN;
  const state: OAuth2TokenState = { accessToken, tokenType: "Bearer", scope: typeof json.scope === "string" ? normaliseScopes(json.scope) : "" };
  // Capped at a year: a server's "forever" (1e13 s) is past any date JavaScript can hold.
  if (Number.isFinite(expiresIn) && expiresIn > 0) {
    const now = Date.now();
    state.obtainedAt = new Date(now).toISOString();
    state.expiresAt = new Date(now + Math.min(expiresIn, MAX_TOKEN_LIFETIME_SECONDS) * 1000).toISOString();
  }
  if (typeof json.refresh_token === "string" && json.refresh_token) state.refreshToken = json.refresh_token;
  return state;
}

/** error_description is the server's own text: shown, but with every value Latch sent blanked out. */
function describe(json: Record<string, unknown> | null, forms: string[]): string {
  const d = json?.error_description;
  if (typeof d !== "string" || !d.trim()) return "";
  const clean = redact(d, forms).replace(/[\u0000-\u001f\u007f]/g, " ").trim().slice(0, 200);
  return clean ? `: ${clean}` : "";
}

/**
 * Providers that answer with their own error codes instead of RFC 6749's, mapped to the RFC code
 * they mean. GitHub answers these with HTTP 200; without the mapping, a rotated client secret
 * (incorrect_client_credentials) would not be recognised as one, and nothing would fetch the new one.
 */
const PROVIDER_ERROR_CODES: Record<string, string> = {
  incorrect_client_credentials: "invalid_client",
  bad_verification_code: "invalid_grant",
  bad_refresh_token: "invalid_grant",
};

function tokenEndpointError(status: number, json: Record<string, unknown> | null, host: string, grant: string, forms: string[], retryAfterSeconds?: number): OAuth2Error {
  const raw = json?.error;
  const code = typeof raw === "string" && /^[A-Za-z0-9_.:-]{1,64}$/.test(raw) ? raw : null;
  const detail = describe(json, forms);
  const where = `The token endpoint (${host})`;
  const grantWords = GRANT_WORDS[grant] ?? grant;
  const make = (kind: ConnectorErrorKind, message: string) => new OAuth2Error(kind, message, code, status);
  const meant = code === null ? null : (PROVIDER_ERROR_CODES[code] ?? code);
  // RFC 6749 §5.2 gives HTTP 401 to failed client authentication alone, and providers that pick
  // another code for it still send the 401 (Auth0: access_denied; older Keycloak: unauthorized_client).
  // Read by its code, a rotated client secret would never be fetched anew.
  if (status === 401 && meant !== "invalid_grant") return make("credentials_rejected", `${where} rejected the client ID or client secret (${code ? `${code}, ` : ""}HTTP 401)${detail}.`);
  switch (meant) {
    case "invalid_client":
      return make("credentials_rejected", `${where} rejected the client ID or client secret (${code}, HTTP ${status})${detail}.`);
    case "invalid_grant":
      return grant === "client_credentials"
        ? make("config", `${where} refused the client credentials grant (${code})${detail}.`)
        : make("config", `The authorisation expired or was revoked; authorise again (${code} from ${host})${detail}.`);
    case "unauthorized_client":
      return make("config", `${where} does not allow this app to use the ${grantWords} grant (unauthorized_client)${detail}.`);
    case "unsupported_grant_type":
      return make("config", `${where} does not support the ${grantWords} grant (unsupported_grant_type)${detail}.`);
    case "invalid_scope":
      return make("config", `${where} refused the requested scopes (invalid_scope)${detail}.`);
    case "invalid_request":
      return make("config", `${where} refused the request (invalid_request)${detail}.`);
    case "access_denied":
      return make("permission", `${where} denied access (access_denied)${detail}.`);
  }
  if (status === 403) return make("permission", `${where} refused the request (HTTP 403)${detail}.`);
  // An outage or a rate limit at the identity provider: worth a retry later, unlike the caller's own mistake.
  const down = status >= 500 || status === 429 || meant === "temporarily_unavailable" || meant === "server_error";
  // Its Retry-After is passed on to the runner's 503 (a rate limit's wait, a maintenance window).
  if (down) return new OAuth2Error("unreachable", `${where} answered HTTP ${status}${code ? ` (${code})` : ""}${detail}.`, code, status, retryAfterSeconds);
  return make("upstream_error", `${where} answered HTTP ${status}${code ? ` (${code})` : ""}${detail}.`);
}

// ---------------------------------------------------------------------------------------------
// State <-> record (connector state is a flat string record)

export function tokenStateToRecord(s: OAuth2TokenState): Record<string, string> {
  const record: Record<string, string> = { accessToken: s.accessToken, tokenType: s.tokenType, scope: s.scope };
  if (s.refreshToken) record.refreshToken = s.refreshToken;
  if (s.expiresAt) record.expiresAt = s.expiresAt;
  if (s.obtainedAt) record.obtainedAt = s.obtainedAt;
  return record;
}

/** Reads kept state; null when it holds no usable access token (e.g. a pending authorisation only). */
export function tokenStateFromRecord(record: Record<string, string> | null | undefined): OAuth2TokenState | null {
  if (!record || typeof record.accessToken !== "string" || !record.accessToken) return null;
  const state: OAuth2TokenState = { accessToken: record.accessToken, tokenType: record.tokenType || "Bearer", scope: record.scope ?? "" };
  if (record.refreshToken) state.refreshToken = record.refreshToken;
  if (record.expiresAt && Number.isFinite(Date.parse(record.expiresAt))) state.expiresAt = record.expiresAt;
  if (record.obtainedAt && Number.isFinite(Date.parse(record.obtainedAt))) state.obtainedAt = record.obtainedAt;
  return state;
}

/**
 * Whether the access token is due for renewal: within `marginMs` of its expiry, or within a quarter
 * of its lifetime when that is shorter. A token that lives a minute or less would otherwise be
 * renewed before every request (kept state from before obtainedAt uses the plain margin).
 */
export function dueForRenewal(s: OAuth2TokenState, marginMs: number): boolean {
  const lifetimeMs = s.obtainedAt && s.expiresAt ? Date.parse(s.expiresAt) - Date.parse(s.obtainedAt) : NaN;
  return expiresWithin(s, lifetimeMs > 0 ? Math.min(marginMs, lifetimeMs / 4) : marginMs);
}

/** True when the access token expires within `ms` (unknown expiry counts as not expiring). */
export function expiresWithin(s: OAuth2TokenState, ms: number): boolean {
  return s.expiresAt !== undefined && Date.parse(s.expiresAt) - Date.now() < ms;
}

export function secondsLeft(s: OAuth2TokenState): number | null {
  return s.expiresAt === undefined ? null : Math.max(0, Math.round((Date.parse(s.expiresAt) - Date.now()) / 1000));
}

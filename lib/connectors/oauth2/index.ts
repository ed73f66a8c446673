import { createHash } from "node:crypto";
import { inspect } from "node:util";
import type { Dispatcher, Response } from "undici";
import { z } from "zod";
import { megabytes } from "@/lib/utils";
import {
  MAX_BODY_BYTES,
  ECHO_REDACTION_NOTE,
  assertTargetUrl,
  caBundleSchema,
  classifyTargetError,
  describeUrl,
  emptyToUndefined,
  optionalTargetUrlSchema,
  redactionForms,
  requestInputSchema,
  requestOutputSchema,
  resolveUnderBase,
  runRequest,
  sendTarget,
  targetDispatcher,
  targetUrlSchema,
  testPathSchema,
  type RequestOutput,
} from "../http-shared";
import { urlDestination, ConnectorError, type Connector, type ConnectorField, type Operation, type SharedState } from "../types";
import {
  clientCredentialsToken,
  dueForRenewal,
  refreshToken,
  secondsLeft,
  tokenStateFromRecord,
  tokenStateToRecord,
  type OAuth2TokenState,
} from "./tokens";

export {
  buildAuthorizeUrl,
  clientCredentialsToken,
  createPkce,
  exchangeCode,
  expiresWithin,
  OAuth2Error,
  refreshToken,
  tokenStateFromRecord,
  tokenStateToRecord,
  type OAuth2AuthorizeConfig,
  type OAuth2TokenConfig,
  type OAuth2TokenState,
  type TokenOptions,
} from "./tokens";

const RENEWAL_TIMED_OUT = "Renewing the access token did not finish in the time the request had.";
const isTimeout = (error: unknown) => (error instanceof ConnectorError && error.kind === "timeout") || (error as { name?: unknown } | null)?.name === "TimeoutError";

/** Tokens expiring sooner than this are renewed before use. */
export const EXPIRY_SKEW_MS = 60_000;
/**
 * How long a token that a renewal after a 401 brought, and that met a 401 again, is not renewed for
 * another 401: a path that always answers 401 must not turn every invoke into a token request (and
 * a stored renewal, which every instance's kept authorisation reads hear about).
 */
export const RENEWAL_DID_NOT_HELP_MS = 10_000;

/**
 * Access tokens an API answered 401 to, as SHA-256 digests (never the tokens), most recent last. A
 * client opened again after that (the client secret was refused too, fetched anew, and the step
 * retried) renews first instead of sending the refused token once more. On globalThis: every bundle
 * of lib/ opens and uses these clients.
 */
const REFUSED_KEPT = 1000;
const refusedHolder = globalThis as unknown as { latchRefusedOAuthTokens?: Set<string> };
const digest = (token: string) => createHash("sha256").update(token).digest("base64url");
function noteRefused(token: string) {
  const refused = (refusedHolder.latchRefusedOAuthTokens ??= new Set());
  const key = digest(token);
  refused.delete(key);
  refused.add(key);
  if (refused.size > REFUSED_KEPT) refused.delete(refused.values().next().value as string);
}
const wasRefused = (token: string) => token !== "" && (refusedHolder.latchRefusedOAuthTokens?.has(digest(token)) ?? false);

/** The settings an OAuth grant is given for: tokens and authorisations of other values are not this grant's. */
const OAUTH_GRANT_KEYS = ["authorizationUrl", "tokenUrl", "clientId", "grant", "scopes"] as const;

const grantSettings = {
  grant: z.enum(["client_credentials", "authorization_code"]).default("client_credentials"),
  authorizationUrl: optionalTargetUrlSchema,
  tokenUrl: targetUrlSchema,
  clientId: z.string().trim().min(1, "Enter the client ID.").max(512, "The client ID can be at most 512 characters."),
  scopes: z.preprocess((v) => (v == null ? "" : v), z.string().max(4096).transform((s) => s.split(/\s+/).filter(Boolean).join(" "))),
} satisfies Record<(typeof OAUTH_GRANT_KEYS)[number], z.ZodType>;
const grantSchema = z.object(grantSettings);

const originOf = (url: unknown) => (typeof url === "string" && URL.canParse(url.trim()) ? new URL(url.trim()).origin : String(url ?? "").trim());

/**
 * Whether two configs (saved or parsed) are for one grant. A saved config that does not parse is
 * another. The API's origin counts too: tokens someone authorised for one API are not sent to another (a resource
 * server is a host; another path on it, /v1 to /v2, keeps the grant).
 */
export function sameOAuthGrant(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const [x, y] = [grantSchema.safeParse(a), grantSchema.safeParse(b)];
  if (!x.success || !y.success) return false;
  if (originOf(a.apiBaseUrl) !== originOf(b.apiBaseUrl)) return false;
  return OAUTH_GRANT_KEYS.every((k) => JSON.stringify(x.data[k]) === JSON.stringify(y.data[k]));
}

export const oauth2ConfigSchema = z
  .object({
    ...grantSettings,
    clientAuth: z.enum(["client_secret_basic", "client_secret_post"]).default("client_secret_basic"),
    apiBaseUrl: optionalTargetUrlSchema,
    testPath: z.preprocess(emptyToUndefined, testPathSchema.optional()),
    caBundle: caBundleSchema,
  })
  .superRefine((c, ctx) => {
    if (c.grant === "authorization_code" && !c.authorizationUrl) ctx.addIssue({ code: "custom", path: ["authorizationUrl"], message: "Enter the authorization URL: the authorization code grant needs it." });
    if (c.testPath && !c.apiBaseUrl) ctx.addIssue({ code: "custom", path: ["testPath"], message: "needs an API base URL" });
  });

export type OAuth2Config = z.output<typeof oauth2ConfigSchema>;

type SendInit = { method: string; headers: Record<string, string>; body?: string; timeoutMs: number };

/**
 * An open OAuth 2.0 app: the dispatcher, the current tokens and the client secret this open was
 * given (kept in private fields, never serialised), so a 401 at run time can renew the token.
 */
export class OAuth2Client {
  readonly reservedHeaders: ReadonlySet<string> = new Set();
  readonly reservedQuery: ReadonlySet<string> = new Set();
  /** Token endpoint round trips made by this client (0 = tokens came from kept state). */
  tokenRequests = 0;
  readonly #clientSecret: string;
  #tokens: OAuth2TokenState;
  #changed = false;
  #renewing: Promise<void> | null = null;
  readonly #shared: SharedState | undefined;
  /** The token a renewal after a 401 brought that was refused again, and when. */
  #renewalDidNotHelp: { token: string; at: number } | null = null;

  constructor(
    readonly config: OAuth2Config,
    readonly dispatcher: Dispatcher,
    readonly apiBase: URL | null,
    clientSecret: string,
    tokens: OAuth2TokenState,
    /** The saved connection's stored tokens; absent while connecting a new one (state() reports renewals then). */
    shared?: SharedState,
  ) {
    this.#clientSecret = clientSecret;
    this.#tokens = tokens;
    this.#shared = shared;
  }

  get expiresInSeconds(): number | null {
    return secondsLeft(this.#tokens);
  }

  get scope(): string {
    return this.#tokens.scope;
  }

  get canRenew(): boolean {
    return this.config.grant === "client_credentials" || Boolean(this.#tokens.refreshToken);
  }

  /**
   * Gets a fresh access token; concurrent callers share one renewal. `found` is the access token
   * found expiring or refused: when this client, or another client of the connection through the
   * shared state, already holds a newer one, that one is used instead. Without `found` the token
   * endpoint is always asked (a connection test proves the grant still works). Each caller waits
   * within its own `timeoutMs`, also when it joins a renewal another caller started.
   */
  async renew(timeoutMs: number, found?: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (found !== undefined && found !== this.#tokens.accessToken) return; // renewed meanwhile
      const left = deadline - Date.now();
      if (left <= 0) throw new ConnectorError("timeout", RENEWAL_TIMED_OUT);
      const joined = this.#renewing !== null;
      this.#renewing ??= this.#renewShared(left, found).finally(() => {
        this.#renewing = null;
      });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), left)));
      let outcome: "late" | void;
      try {
        outcome = await Promise.race([this.#renewing, late]);
      } catch (error) {
        // The renewal this caller joined was started by one with less time, and ran out of it: go again with what is left.
        if (joined && isTimeout(error) && Date.now() < deadline) continue;
        throw error;
      } finally {
        clearTimeout(timer);
      }
      if (outcome === "late") throw new ConnectorError("timeout", RENEWAL_TIMED_OUT);
      return;
    }
  }

  async #renewShared(timeoutMs: number, found: string | undefined): Promise<void> {
    if (!this.#shared) {
      this.#tokens = await this.#fetchTokens(timeoutMs, this.#tokens);
      this.#changed = true;
      return;
    }
    // Every client of the connection, on every instance, renews in turn from the newest stored
    // tokens: a rotated refresh token works once, and some apps revoke the grant when one is reused.
    await this.#shared.exclusive(async (record, timeLeftMs, saved) => {
      // Opened before an edit that changed the grant: the stored state (new tokens, or a pending
      // authorisation) belongs to the new settings, not to this client's API base or token URL.
      if (!sameOAuthGrant(saved, this.config)) throw new ConnectorError("config", "The connection's OAuth settings were changed while this request ran. Run it again.");
      const latest = tokenStateFromRecord(record);
      if (found !== undefined && latest && latest.accessToken !== found && !dueForRenewal(latest, EXPIRY_SKEW_MS)) {
        this.#tokens = latest;
        return null;
      }
      if (this.config.grant === "authorization_code" && !latest) throw new ConnectorError("config", "The connection's authorisation was reset; authorise the app again.");
      this.#tokens = await this.#fetchTokens(timeLeftMs, latest ?? this.#tokens);
      return tokenStateToRecord(this.#tokens);
    }, timeoutMs);
  }

  async #fetchTokens(timeoutMs: number, from: OAuth2TokenState): Promise<OAuth2TokenState> {
    const opts = { timeoutMs, dispatcher: this.dispatcher };
    let next: OAuth2TokenState;
    if (this.config.grant === "client_credentials") {
      next = await clientCredentialsToken(this.config, this.#clientSecret, opts);
    } else {
      const rt = from.refreshToken;
      if (!rt) throw new ConnectorError("config", "The access token expired and the app issued no refresh token; authorise again.");
      next = await refreshToken(this.config, this.#clientSecret, rt, { ...opts, previousScope: from.scope });
    }
    this.tokenRequests++;
    return next;
  }

  async #sendOnce(url: URL, init: SendInit, accessToken: string): Promise<Response> {
    return sendTarget(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${accessToken}` }, dispatcher: this.dispatcher });
  }

  /** An API request with the bearer token; on 401 the token is renewed once and the request retried. */
  async send(url: URL, init: SendInit, attached: string[] = []): Promise<Response> {
    // One budget for the whole request: renewals and the retry after a 401 get what is left of it.
    const deadline = Date.now() + init.timeoutMs;
    const left = () => {
      const ms = deadline - Date.now();
      if (ms <= 0) throw new ConnectorError("timeout", `The request to ${url.host}, with the access token's renewal, did not finish in time.`);
      return ms;
    };
    if (dueForRenewal(this.#tokens, EXPIRY_SKEW_MS) && this.canRenew) await this.renew(left(), this.#tokens.accessToken);
    const used = this.#tokens.accessToken;
    attached.push(used);
    const first = await this.#sendOnce(url, { ...init, timeoutMs: left() }, used);
    if (first.status !== 401 || !this.canRenew) return first;
    const futile = this.#renewalDidNotHelp;
    if (futile && futile.token === used && Date.now() - futile.at < RENEWAL_DID_NOT_HELP_MS) return first;
    noteRefused(used);
    await first.body?.cancel().catch(() => undefined);
    await this.renew(left(), used);
    const renewed = this.#tokens.accessToken;
    attached.push(renewed);
    const retried = await this.#sendOnce(url, { ...init, timeoutMs: left() }, renewed);
    if (retried.status === 401) this.#renewalDidNotHelp = { token: renewed, at: Date.now() };
    return retried;
  }

  redactionForms(): string[] {
    return redactionForms([this.#clientSecret, this.#tokens.accessToken, this.#tokens.refreshToken]);
  }

  /** The tokens to keep when they changed since open and were not stored through the shared state, else null. */
  state(): Record<string, string> | null {
    return this.#changed ? tokenStateToRecord(this.#tokens) : null;
  }

  toJSON() {
    return { tokenUrl: this.config.tokenUrl, grant: this.config.grant, apiBase: this.apiBase ? describeUrl(this.apiBase) : null };
  }

  [inspect.custom]() {
    return `OAuth2Client(${this.config.grant}, ${this.config.clientId})`;
  }
}

function scopeWords(scope: string): string {
  return scope || "none stated";
}

function expiryWords(seconds: number | null): string {
  return seconds === null ? "no expiry stated" : `expires in ${seconds} s`;
}

const grantShow = { field: "grant", equals: ["authorization_code"] };

const fields: ConnectorField[] = [
  {
    name: "grant",
    label: "Grant type",
    type: "select",
    required: true,
    default: "client_credentials",
    options: [
      { value: "client_credentials", label: "Client credentials (the app acts as itself)" },
      { value: "authorization_code", label: "Authorization code (a person authorises the app)" },
    ],
  },
  { name: "authorizationUrl", label: "Authorization URL", type: "text", required: true, placeholder: "https://login.example.com/oauth2/authorize", showWhen: grantShow },
  { name: "tokenUrl", label: "Token URL", type: "text", required: true, placeholder: "https://login.example.com/oauth2/token" },
  { name: "clientId", label: "Client ID", type: "text", required: true },
  { name: "clientSecret", label: "Client secret", type: "secret", required: true, help: "Resolved each time a token is requested or refreshed; never stored with the tokens." },
  {
    name: "clientAuth",
    label: "Client authentication",
    type: "select",
    default: "client_secret_basic",
    options: [
      { value: "client_secret_basic", label: "HTTP Basic header (client_secret_basic)" },
      { value: "client_secret_post", label: "In the request body (client_secret_post)" },
    ],
  },
  { name: "scopes", label: "Scopes", type: "text", placeholder: "read write offline_access", help: "Space-separated." },
  { name: "apiBaseUrl", label: "API base URL", type: "text", placeholder: "https://api.example.com/v1", help: "Optional: run-time requests are resolved under this address, with the access token attached." },
  { name: "testPath", label: "Test path", type: "text", placeholder: "/me", help: "Optional: the connection test also sends GET to this path under the API base URL." },
  {
    name: "caBundle",
    label: "CA bundle (PEM)",
    type: "text",
    help: "Only for servers whose certificates are signed by a private CA: its PEM certificate(s), added to the system roots.",
  },
];

export const oauth2RequestOperation: Operation<OAuth2Client, typeof requestInputSchema, RequestOutput> = {
  label: "Send an API request",
  description:
    `Sends a request to a path under the API base URL with the access token attached, and returns the status, headers (without Set-Cookie) and up to ${megabytes(MAX_BODY_BYTES)} of the body as text.  ${ECHO_REDACTION_NOTE} ` +
    "On a 401 the access token is renewed once and the request retried; if the token endpoint rejects the client secret (invalid_client), the secret is fetched from its store once more and the request retried once. " +
    `A 401 that survives the renewal fails the invoke with “credentials rejected by the target”; for the next ${RENEWAL_DID_NOT_HELP_MS / 1000} seconds, a 401 to that token fails so without another renewal.`,
  input: requestInputSchema,
  output: requestOutputSchema,
  async run(client, input, opts) {
    const base = client.apiBase;
    if (!base) throw new ConnectorError("config", "Set the API base URL of this connection to send requests.");
    const result = await runRequest({ base, reservedHeaders: client.reservedHeaders, reservedQuery: client.reservedQuery, send: (u, i, attached) => client.send(u, i, attached), redactionForms: () => client.redactionForms() }, input, opts);
    if (result.status === 401) {
      const url = resolveUnderBase(base, input.path);
      // The token endpoint accepted the client secret, so fetching the secret again cannot help: no refetch.
      throw new ConnectorError(
        "credentials_rejected",
        `${url.host} rejected the access token (HTTP 401 from ${describeUrl(url)})${client.canRenew ? ", even after renewing it" : " and the app issued no refresh token to renew it; authorise again"}.`,
        false,
      );
    }
    return result;
  },
};

export const oauth2Connector: Connector<typeof oauth2ConfigSchema, OAuth2Client> = {
  kind: "oauth2",
  label: "OAuth 2.0 app",
  description: "An API protected by OAuth 2.0, with your own app (client ID and secret): client credentials, or authorization code with refresh.",
  fields,
  configSchema: oauth2ConfigSchema,

  async open(input) {
    const { config } = input;
    const clientSecret = input.secrets.clientSecret;
    if (!clientSecret) throw new ConnectorError("config", "The client secret is missing.");
    assertTargetUrl(config.tokenUrl, "token URL");
    const apiBase = config.apiBaseUrl ? assertTargetUrl(config.apiBaseUrl, "API base URL") : null;
    const kept = tokenStateFromRecord(input.state);
    if (config.grant === "authorization_code" && !kept) throw new ConnectorError("config", "Authorise the app first.");
    const dispatcher = targetDispatcher(config.caBundle, input.pool);
    const placeholder: OAuth2TokenState = { accessToken: "", tokenType: "Bearer", scope: "" };
    const client = new OAuth2Client(config, dispatcher, apiBase, clientSecret, kept ?? placeholder, input.sharedState);
    try {
      if (!kept || dueForRenewal(kept, EXPIRY_SKEW_MS) || wasRefused(kept.accessToken)) await client.renew(input.timeoutMs, kept?.accessToken ?? "");
    } catch (error) {
      await dispatcher.close().catch(() => undefined);
      throw error;
    }
    return client;
  },

  async check(client, input) {
    // A test must prove the client secret works, so tokens reused from kept state are renewed once.
    if (client.tokenRequests === 0 && client.canRenew) await client.renew(input.timeoutMs);
    const token = `${client.tokenRequests > 0 ? "Token obtained" : "Authorised token (no refresh token to re-check)"}, ${expiryWords(client.expiresInSeconds)}, scopes: ${scopeWords(client.scope)}`;
    const testPath = input.config.testPath;
    if (!client.apiBase || !testPath) return { message: token };
    const url = resolveUnderBase(client.apiBase, testPath);
    const res = await client.send(url, { method: "GET", headers: { accept: "*/*" }, timeoutMs: input.timeoutMs });
    await res.body?.cancel().catch(() => undefined);
    const where = describeUrl(url);
    if (res.status >= 200 && res.status < 300) return { message: `HTTP ${res.status} from ${where}; ${token.charAt(0).toLowerCase()}${token.slice(1)}` };
    if (res.status === 401) throw new ConnectorError("credentials_rejected", `${url.host} rejected the access token (HTTP 401 from ${where}), even after renewing it. Check that the token is meant for this API.`);
    if (res.status === 403) throw new ConnectorError("permission", `${url.host} refused access to ${where} (HTTP 403). Check the scopes granted to the app.`);
    throw new ConnectorError("target_error", `HTTP ${res.status} from ${where}.`);
  },

  async close(client) {
    await client.dispatcher.close();
  },

  // The client secret goes to the token endpoint, and the access tokens it buys go to the API's host
  // (its resource server, as for sameOAuthGrant): moving either moves where the secret reaches.
  destination: (config) => {
    const token = urlDestination(config, "tokenUrl");
    const api = urlDestination(config, "apiBaseUrl");
    let apiOrigin = api.address;
    try {
      apiOrigin = new URL(api.address).origin;
    } catch {
      /* not a URL: compared as written */
    }
    return { address: `${token.address} → ${apiOrigin}`, encrypted: token.encrypted && api.encrypted, ca: token.ca };
  },

  classify(error, config) {
    let host = "the OAuth server";
    try {
      host = new URL(config.tokenUrl).host;
    } catch {
      // keep the generic wording
    }
    return classifyTargetError(error, host);
  },

  stateOf(client) {
    return client.state();
  },

  operations: { request: oauth2RequestOperation as Operation<OAuth2Client> },
};

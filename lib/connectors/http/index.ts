import { inspect } from "node:util";
import type { Dispatcher, Response } from "undici";
import { z } from "zod";
import { megabytes } from "@/lib/utils";
import {
  MAX_BODY_BYTES,
  assertHeaderSafe,
  ECHO_REDACTION_NOTE,
  assertTargetUrl,
  caBundleSchema,
  classifyTargetError,
  redactionForms,
  describeUrl,
  emptyToUndefined,
  requestInputSchema,
  requestOutputSchema,
  resolveUnderBase,
  appendQuery,
  runRequest,
  sendTarget,
  targetDispatcher,
  targetUrlSchema,
  testPathSchema,
  usernameFrom,
  type RequestOutput,
  type RequestTarget,
} from "../http-shared";
import { urlDestination, ConnectorError, type ConnectInput, type Connector, type ConnectorField, type Operation } from "../types";

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const RESERVED_KEY_HEADERS = new Set(["cookie", "host", "content-length", "transfer-encoding", "connection", "proxy-authorization"]);

export const httpConfigSchema = z
  .object({
    baseUrl: targetUrlSchema,
    authScheme: z.enum(["none", "apiKey", "bearer", "basic"]).default("none"),
    apiKeyIn: z.enum(["header", "query"]).default("header"),
    apiKeyName: z.string().trim().min(1).max(256).default("X-API-Key"),
    basicUser: z.preprocess(emptyToUndefined, z.string().max(512).optional()),
    testPath: testPathSchema.default("/"),
    caBundle: caBundleSchema,
  })
  .superRefine((c, ctx) => {
    if (c.authScheme === "apiKey" && c.apiKeyIn === "header") {
      if (!HEADER_NAME.test(c.apiKeyName)) ctx.addIssue({ code: "custom", path: ["apiKeyName"], message: "must be a valid header name" });
      else if (RESERVED_KEY_HEADERS.has(c.apiKeyName.toLowerCase())) ctx.addIssue({ code: "custom", path: ["apiKeyName"], message: "cannot carry an API key" });
    }
    if (c.authScheme === "basic" && c.basicUser?.includes(":")) ctx.addIssue({ code: "custom", path: ["basicUser"], message: "must not contain a colon (HTTP Basic)" });
  });

export type HttpConfig = z.output<typeof httpConfigSchema>;
type AuthScheme = HttpConfig["authScheme"];

/**
 * An open connection to an HTTP API: the dispatcher and the credential, which stays in private
 * fields (out of JSON.stringify and util.inspect) and is attached to each request.
 */
export class HttpClient implements RequestTarget {
  readonly reservedHeaders: ReadonlySet<string>;
  readonly reservedQuery: ReadonlySet<string>;
  readonly #headers: Record<string, string>;
  readonly #query: Record<string, string>;
  readonly #forms: string[];

  constructor(
    readonly base: URL,
    readonly dispatcher: Dispatcher,
    readonly authScheme: AuthScheme,
    auth: { headers: Record<string, string>; query: Record<string, string>; secrets: string[] },
  ) {
    this.#headers = auth.headers;
    this.#query = auth.query;
    this.#forms = redactionForms(auth.secrets);
    this.reservedHeaders = new Set(Object.keys(auth.headers).map((h) => h.toLowerCase()));
    this.reservedQuery = new Set(Object.keys(auth.query));
  }

  send(url: URL, init: { method: string; headers: Record<string, string>; body?: string; timeoutMs: number }): Promise<Response> {
    const target = new URL(url);
    // The caller cannot name these (runRequest refuses them), so adding them replaces nothing.
    appendQuery(target, this.#query);
    return sendTarget(target, { ...init, headers: { ...init.headers, ...this.#headers }, dispatcher: this.dispatcher });
  }

  /** The credential is the same for every request: its forms are computed once, and nothing is added to `attached`. */
  redactionForms(): string[] {
    return this.#forms;
  }

  toJSON() {
    return { base: describeUrl(this.base), authScheme: this.authScheme };
  }

  [inspect.custom]() {
    return `HttpClient(${describeUrl(this.base)}, ${this.authScheme})`;
  }
}

function authMaterial(input: ConnectInput<HttpConfig>): { headers: Record<string, string>; query: Record<string, string>; secrets: string[] } {
  const { config, secrets } = input;
  const need = (name: string, what: string) => {
    const value = secrets[name];
    if (!value) throw new ConnectorError("config", `The ${what} is missing.`);
    assertHeaderSafe(value, what);
    return value;
  };
  switch (config.authScheme) {
    case "none":
      return { headers: {}, query: {}, secrets: [] };
    case "apiKey": {
      const key = need("apiKey", "API key");
      return config.apiKeyIn === "query"
        ? { headers: {}, query: { [config.apiKeyName]: key }, secrets: [key] }
        : { headers: { [config.apiKeyName]: key }, query: {}, secrets: [key] };
    }
    case "bearer": {
      const token = need("token", "bearer token");
      return { headers: { Authorization: `Bearer ${token}` }, query: {}, secrets: [token] };
    }
    case "basic": {
      const user = usernameFrom(input, "basicUser", config.basicUser);
      if (!user) throw new ConnectorError("config", "Enter the user name for HTTP Basic authentication.");
      if (user.includes(":")) throw new ConnectorError("config", "The user name must not contain a colon (HTTP Basic).");
      assertHeaderSafe(user, "user name");
      const password = need("basicPassword", "password");
      const pair = `${user}:${password}`;
      const encoded = Buffer.from(pair, "utf8").toString("base64");
      // The header's own value too, so its escaped forms are matched (a target that writes "/" as "\/"
      // or "=" as "\u003D"), and without its padding, which encoders treat in still more ways.
      return { headers: { Authorization: `Basic ${encoded}` }, query: {}, secrets: [password, pair, encoded, encoded.replace(/=+$/, "")] };
    }
  }
}

const CREDENTIAL_WORDS: Record<AuthScheme, string> = { none: "request", apiKey: "API key", bearer: "bearer token", basic: "user name or password" };

/** Maps a non-2xx answer to the test path onto a ConnectorError (never quoting the body). */
export function statusError(status: number, url: URL, scheme: AuthScheme): ConnectorError {
  const where = describeUrl(url);
  if (status === 401) {
    return scheme === "none"
      ? new ConnectorError("config", `${url.host} requires authentication (HTTP 401 from ${where}). Choose an authentication scheme.`)
      : new ConnectorError("credentials_rejected", `${url.host} rejected the ${CREDENTIAL_WORDS[scheme]} (HTTP 401 from ${where}).`);
  }
  if (status === 403) return new ConnectorError("permission", `${url.host} refused access to ${where} (HTTP 403). Check the credential's permissions, or choose a test path it may read.`);
  if (status === 407) return new ConnectorError("config", `A proxy between Latch and ${url.host} requires authentication (HTTP 407).`);
  return new ConnectorError("target_error", `HTTP ${status} from ${where}.`);
}

const showFor = (...equals: AuthScheme[]) => ({ field: "authScheme", equals });

const fields: ConnectorField[] = [
  { name: "baseUrl", label: "Base URL", type: "text", required: true, placeholder: "https://api.example.com/v1", help: "Requests and the test path are resolved under this address." },
  {
    name: "authScheme",
    label: "Authentication",
    type: "select",
    required: true,
    default: "none",
    options: [
      { value: "none", label: "None" },
      { value: "apiKey", label: "API key" },
      { value: "bearer", label: "Bearer token" },
      { value: "basic", label: "HTTP Basic (user name and password)" },
    ],
  },
  {
    name: "apiKeyIn",
    label: "Send the API key in",
    type: "select",
    default: "header",
    options: [
      { value: "header", label: "A request header" },
      { value: "query", label: "A query parameter" },
    ],
    showWhen: showFor("apiKey"),
  },
  { name: "apiKeyName", label: "Header or parameter name", type: "text", required: true, default: "X-API-Key", showWhen: showFor("apiKey") },
  { name: "apiKey", label: "API key", type: "secret", required: true, showWhen: showFor("apiKey") },
  { name: "token", label: "Bearer token", type: "secret", required: true, showWhen: showFor("bearer") },
  { name: "basicUser", label: "User name", type: "text", required: true, showWhen: showFor("basic") },
  { name: "basicPassword", label: "Password", type: "secret", required: true, showWhen: showFor("basic"), usernameField: "basicUser" },
  { name: "testPath", label: "Test path", type: "text", default: "/", placeholder: "/health", help: "The connection test sends GET to this path under the base URL and expects a 2xx answer." },
  {
    name: "caBundle",
    label: "CA bundle (PEM)",
    type: "text",
    help: "Only for a server whose certificate is signed by a private CA: its PEM certificate(s), added to the system roots.",
  },
];

export const httpRequestOperation: Operation<HttpClient, typeof requestInputSchema, RequestOutput> = {
  label: "Send an HTTP request",
  description:
    `Sends a request to a path under the base URL with the connection's credential attached, and returns the status, headers (without Set-Cookie) and up to ${megabytes(MAX_BODY_BYTES)} of the body as text. Redirects are returned, not followed.  ${ECHO_REDACTION_NOTE} ` +
    "A 401 means the credential was rejected: Latch fetches it from its store once more and retries once (it may have been rotated); if the API still answers 401, the invoke fails with “credentials rejected by the target” rather than returning the 401.",
  input: requestInputSchema,
  output: requestOutputSchema,
  async run(client, input, opts) {
    const result = await runRequest(client, input, opts);
    // A 401 is the API refusing the credential: the rotation path (refetch once, retry once) starts
    // here, as it does for a database's login error. Without a credential there is nothing to rotate.
    if (result.status === 401 && client.authScheme !== "none") {
      const url = resolveUnderBase(client.base, input.path);
      throw new ConnectorError("credentials_rejected", `${url.host} rejected the ${CREDENTIAL_WORDS[client.authScheme]} (HTTP 401 from ${describeUrl(url)}).`);
    }
    return result;
  },
};

export const httpConnector: Connector<typeof httpConfigSchema, HttpClient> = {
  kind: "http",
  label: "HTTP API",
  description: "Any HTTPS API that takes an API key, a bearer token or HTTP Basic credentials.",
  fields,
  configSchema: httpConfigSchema,

  async open(input) {
    const base = assertTargetUrl(input.config.baseUrl, "base URL");
    const auth = authMaterial(input);
    return new HttpClient(base, targetDispatcher(input.config.caBundle, input.pool), input.config.authScheme, auth);
  },

  async check(client, input) {
    let url = resolveUnderBase(client.base, input.config.testPath || "/");
    // Same-origin redirects only (e.g. /health -> /health/): the credential never leaves the origin.
    for (let hop = 0; ; hop++) {
      const res = await client.send(url, { method: "GET", headers: { accept: "*/*" }, timeoutMs: input.timeoutMs });
      await res.body?.cancel().catch(() => undefined);
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new ConnectorError("target_error", `HTTP ${res.status} from ${describeUrl(url)}: it redirects to an address that is not a valid URL. Choose a test path that answers directly.`);
        }
        if (next.origin !== url.origin || hop >= 3) {
          throw new ConnectorError("target_error", `HTTP ${res.status} from ${describeUrl(url)}: it redirects to ${describeUrl(next)}. Choose a test path that answers directly.`);
        }
        url = next;
        continue;
      }
      if (res.status >= 200 && res.status < 300) return { message: `HTTP ${res.status} from ${describeUrl(url)}` };
      throw statusError(res.status, url, client.authScheme);
    }
  },

  async close(client) {
    await client.dispatcher.close();
  },

  destination: (config) => urlDestination(config, "baseUrl"),

  classify(error, config) {
    let host = "the API";
    try {
      host = new URL(config.baseUrl).host;
    } catch {
      // keep the generic wording
    }
    return classifyTargetError(error, host);
  },

  operations: { request: httpRequestOperation as Operation<HttpClient> },
};

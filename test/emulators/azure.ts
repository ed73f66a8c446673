import { X509Certificate, createHash, randomBytes, randomUUID, timingSafeEqual, verify, constants as cryptoConstants } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { generateClientCertificate } from "@/lib/vault/providers/azure/certificate";
import { json, startEmulator, type Emulator, type EmulatorRequest } from "./harness";
import type { TestPki } from "./tls";

/**
 * Entra ID + Azure Key Vault emulator on ONE HTTPS origin (vault-protocols.md §3): the identity
 * endpoints live under /{tenant}/… and the vault's secrets under /secrets/… and /deletedsecrets/….
 * Faithful enough for @azure/identity + @azure/keyvault-secrets unchanged: challenge auth, MSAL
 * discovery, client-secret and client-assertion (PS256/RS256) token requests, AAD- and
 * Key-Vault-shaped errors, opaque expiring tokens, CAE revocation, per-app secret permissions.
 */
export type SecretPermission = "get" | "list" | "set" | "delete" | "purge" | "recover";
export const ALL_PERMISSIONS: SecretPermission[] = ["get", "list", "set", "delete", "purge", "recover"];

export type AzureAppRegistration = {
  clientId: string;
  /** Client secrets ("Certificates & secrets" → client secrets); several may be valid at once. */
  secrets?: { value: string; expiresAt?: Date }[];
  /** Public certificates (PEM) uploaded to the app registration. */
  certificates?: string[];
  /** Access-policy permissions on the vault's secrets; default all, [] = no access. */
  permissions?: SecretPermission[];
};

export type SeedSecretInput = { name: string; value: string; contentType?: string; tags?: Record<string, string>; enabled?: boolean };
export type SecretVersionInfo = { name: string; version: string; id: string; value: string; enabled: boolean; created: number };

export type AzureEmulatorOptions = {
  pki: TestPki;
  /** Directory (tenant) ID; a fixed GUID by default. */
  tenantId?: string;
  /** Lifetime of issued access tokens. Under 300 s every getToken goes to the endpoint (MSAL's refresh margin). */
  tokenTtlSeconds?: number;
  apps?: AzureAppRegistration[];
};

export type AzureEmulator = Emulator & {
  pki: TestPki;
  tenantId: string;
  /** Key Vault URL for Latch / SecretClient (origin only, as the SDK requires). */
  vaultUrl: string;
  /** authorityHost for the credential. */
  authorityHost: string;
  tokenEndpoint: string;
  registerApp(app: AzureAppRegistration): void;
  removeApp(clientId: string): void;
  setPermissions(clientId: string, permissions: SecretPermission[]): void;
  seedSecret(input: SeedSecretInput): SecretVersionInfo;
  /** Adds a version (random value if none given) and returns it. */
  rotateSecret(name: string, value?: string): SecretVersionInfo;
  /** Soft delete (Key Vault's default), or purge outright. */
  deleteSecret(name: string, opts?: { purge?: boolean }): void;
  setSecretEnabled(name: string, enabled: boolean, version?: string): void;
  versions(name: string): SecretVersionInfo[];
  isDeleted(name: string): boolean;
  /**
   * Revokes issued tokens. "cae": Key Vault answers 401 insufficient_claims and the SDK recovers with
   * a fresh token; "plain": a bare 401 that stays until the client gets a new token by itself.
   */
  revokeTokens(opts?: { clientId?: string; mode?: "cae" | "plain" }): number;
  setTokenTtl(seconds: number): void;
  setClockOffset(seconds: number): void;
  /** Key Vault answers 429 Throttled (after authentication) for the next `times` requests. */
  throttle(opts?: { times?: number; retryAfterSeconds?: number }): void;
  /** The token endpoint answers 429 / 503 for the next `times` requests. */
  /** `html`: the 503 comes with an HTML page, as from a gateway in front of Entra ID. */
  failTokenEndpoint(opts?: { times?: number; status?: 429 | 503; retryAfterSeconds?: number; html?: boolean }): void;
  failInternal(opts?: { times?: number }): void;
  hang(opts?: { times?: number; pathIncludes?: string }): void;
  tokenRequests(clientId?: string): number;
  /** Token requests that came before the Retry-After of a refused one had passed (or 60 s for a 429 without one). */
  earlyTokenRetries(): number;
};

const DEFAULT_TENANT = "1a7c4e2b-86f1-41af-91ab-2d7cd011db47";
const VAULT_SCOPE = "https://vault.azure.net/.default";
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const NAME = /^[0-9a-zA-Z-]{1,127}$/;

type Version = { version: string; value: string; contentType?: string; tags?: Record<string, string>; enabled: boolean; nbf?: number; exp?: number; created: number; updated: number };
type Secret = { name: string; versions: Version[]; deleted?: { deletedDate: number; scheduledPurgeDate: number } };
type App = { clientId: string; secrets: { value: string; expiresAt?: Date }[]; certificates: X509Certificate[]; permissions: Set<SecretPermission> };
type Token = { clientId: string; expiresAt: number; revoked?: "cae" | "plain" };

export async function startAzureEmulator(opts: AzureEmulatorOptions): Promise<AzureEmulator> {
  const tenantId = opts.tenantId ?? DEFAULT_TENANT;
  let tokenTtl = opts.tokenTtlSeconds ?? 3600;
  let clockOffsetMs = 0;
  let throttleLeft = 0;
  let throttleRetryAfter: number | undefined = 1;
  let tokenFailLeft = 0;
  let tokenFailStatus: 429 | 503 = 503;
  let tokenFailRetryAfter: number | undefined = 1;
  let tokenRetryNotBefore = 0;
  let tokenFailHtml = false;
  let earlyTokenRetries = 0;
  const apps = new Map<string, App>();
  const secrets = new Map<string, Secret>();
  const tokens = new Map<string, Token>();
  const tokenRequestCounts = new Map<string, number>();
  let origin = "";

  const now = () => Date.now() + clockOffsetMs;
  const nowSeconds = () => Math.floor(now() / 1000);
  const newVersion = () => randomBytes(16).toString("hex");
  const key = (name: string) => name.toLowerCase();

  function info(s: Secret, v: Version): SecretVersionInfo {
    return { name: s.name, version: v.version, id: `${origin}/secrets/${s.name}/${v.version}`, value: v.value, enabled: v.enabled, created: v.created };
  }

  function liveSecret(name: string): Secret | undefined {
    const s = secrets.get(key(name));
    return s && !s.deleted ? s : undefined;
  }

  function addVersion(name: string, input: Omit<SeedSecretInput, "name">): SecretVersionInfo {
    if (!NAME.test(name)) throw new Error(`invalid secret name ${name}`);
    let s = secrets.get(key(name));
    if (s?.deleted) throw new Error(`secret ${name} is deleted but recoverable`);
    if (!s) {
      s = { name, versions: [] };
      secrets.set(key(name), s);
    }
    const t = nowSeconds();
    const v: Version = { version: newVersion(), value: input.value, enabled: input.enabled ?? true, created: t, updated: t, ...(input.contentType ? { contentType: input.contentType } : {}), ...(input.tags ? { tags: input.tags } : {}) };
    s.versions.push(v);
    return info(s, v);
  }

  function registerApp(app: AzureAppRegistration) {
    apps.set(app.clientId.toLowerCase(), {
      clientId: app.clientId,
      secrets: app.secrets ?? [],
      certificates: (app.certificates ?? []).map((pem) => new X509Certificate(pem)),
      permissions: new Set(app.permissions ?? ALL_PERMISSIONS),
    });
  }
  for (const app of opts.apps ?? []) registerApp(app);

  // ---------- Entra ID ----------

  function aadError(r: EmulatorRequest, status: number, error: string, code: number, description: string, headers: Record<string, string> = {}) {
    json(r.res, status, {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${randomUUID()} Correlation ID: ${randomUUID()} Timestamp: ${new Date(now()).toISOString().replace("T", " ").slice(0, 19)}Z`,
      error_codes: [code],
      timestamp: new Date(now()).toISOString(),
      trace_id: randomUUID(),
      correlation_id: randomUUID(),
      error_uri: `${origin}/error?code=${code}`,
    }, headers);
  }

  function handleIdentity(r: EmulatorRequest, segments: string[]): boolean {
    const [tenant, ...rest] = segments;
    const route = rest.join("/");
    if (!tenant) return false;
    const knownTenant = tenant.toLowerCase() === tenantId.toLowerCase();
    if (r.req.method === "GET" && route === "v2.0/.well-known/openid-configuration") {
      if (!knownTenant) {
        aadError(r, 400, "invalid_tenant", 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
        return true;
      }
      json(r.res, 200, {
        token_endpoint: `${origin}/${tenantId}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        jwks_uri: `${origin}/${tenantId}/discovery/v2.0/keys`,
        response_modes_supported: ["query", "fragment", "form_post"],
        subject_types_supported: ["pairwise"],
        id_token_signing_alg_values_supported: ["RS256"],
        response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
        scopes_supported: ["openid", "profile", "email", "offline_access"],
        issuer: `${origin}/${tenantId}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${origin}/oidc/userinfo`,
        authorization_endpoint: `${origin}/${tenantId}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${origin}/${tenantId}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${origin}/${tenantId}/oauth2/v2.0/logout`,
        claims_supported: ["sub", "iss", "aud", "exp", "iat", "nbf", "tid"],
        tenant_region_scope: "EU",
        cloud_instance_name: "microsoftonline.com",
        cloud_graph_host_name: "graph.windows.net",
        msgraph_host: "graph.microsoft.com",
      });
      return true;
    }
    if (r.req.method === "GET" && route === "discovery/v2.0/keys") {
      json(r.res, 200, { keys: [] });
      return true;
    }
    if (r.req.method === "POST" && route === "oauth2/v2.0/token") {
      handleToken(r, tenant, knownTenant);
      return true;
    }
    return false;
  }

  function handleToken(r: EmulatorRequest, tenant: string, knownTenant: boolean) {
    if (Date.now() < tokenRetryNotBefore) earlyTokenRetries++;
    if (tokenFailLeft > 0) {
      tokenFailLeft--;
      // Entra ID expects the wait it named; a 429 that names none means 60 s (vault-protocols.md §3.5).
      const wait = tokenFailRetryAfter ?? (tokenFailStatus === 429 ? 60 : 0);
      tokenRetryNotBefore = Date.now() + wait * 1000 - 50;
      const headers: Record<string, string> = tokenFailRetryAfter !== undefined ? { "retry-after": String(tokenFailRetryAfter) } : {};
      if (tokenFailHtml) {
        r.res.writeHead(503, { "content-type": "text/html", ...headers }).end("<html><body><h1>503 Service Unavailable</h1></body></html>");
        return;
      }
      if (tokenFailStatus === 429) return aadError(r, 429, "temporarily_unavailable", 50196, "The server temporarily throttled the request.", headers);
      return aadError(r, 503, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.", headers);
    }
    const form = new URLSearchParams(r.body);
    const clientId = form.get("client_id") ?? "";
    tokenRequestCounts.set(clientId.toLowerCase(), (tokenRequestCounts.get(clientId.toLowerCase()) ?? 0) + 1);
    if (!knownTenant) return aadError(r, 400, "invalid_request", 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
    if (form.get("grant_type") !== "client_credentials") return aadError(r, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
    const app = apps.get(clientId.toLowerCase());
    if (!app) {
      return aadError(r, 400, "unauthorized_client", 700016, `Application with identifier '${clientId}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
    }
    const scope = form.get("scope") ?? "";
    if (!scope.split(" ").includes(VAULT_SCOPE)) {
      return aadError(r, 400, "invalid_scope", 500011, `The resource principal named ${scope.replace(/\/\.default$/, "")} was not found in the tenant named ${tenantId}.`);
    }
    const secret = form.get("client_secret");
    const assertion = form.get("client_assertion");
    if (secret !== null) {
      const match = app.secrets.find((s) => safeEqual(s.value, secret));
      if (!match) return aadError(r, 401, "invalid_client", 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`);
      if (match.expiresAt && match.expiresAt.getTime() < now()) return aadError(r, 401, "invalid_client", 7000222, `The provided client secret keys for app '${app.clientId}' are expired. Visit the Azure portal to create new keys for your app.`);
    } else if (assertion !== null) {
      if (form.get("client_assertion_type") !== ASSERTION_TYPE) return aadError(r, 400, "invalid_request", 900023, "Specified client_assertion_type is not supported.");
      const problem = checkAssertion(app, assertion, `${origin}/${tenant}/oauth2/v2.0/token`);
      if (problem) return aadError(r, 401, "invalid_client", problem.code, problem.description);
    } else {
      return aadError(r, 401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }
    const accessToken = `emu.${randomBytes(24).toString("base64url")}`;
    tokens.set(accessToken, { clientId: app.clientId, expiresAt: now() + tokenTtl * 1000 });
    json(r.res, 200, { token_type: "Bearer", expires_in: tokenTtl, ext_expires_in: tokenTtl, access_token: accessToken }, { "cache-control": "no-store, no-cache", pragma: "no-cache" });
  }

  function checkAssertion(app: App, assertion: string, audience: string): { code: number; description: string } | null {
    const parts = assertion.split(".");
    if (parts.length !== 3) return { code: 50027, description: "JWT token is invalid or malformed." };
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString("utf8")) as Record<string, unknown>;
      payload = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
    } catch {
      return { code: 50027, description: "JWT token is invalid or malformed." };
    }
    const x5t256 = typeof header["x5t#S256"] === "string" ? header["x5t#S256"] : undefined;
    const x5t = typeof header.x5t === "string" ? header.x5t : undefined;
    const cert = app.certificates.find((c) => {
      const der = c.raw;
      return (x5t256 && createHash("sha256").update(der).digest("base64url") === x5t256) || (x5t && createHash("sha1").update(der).digest("base64url") === x5t);
    });
    if (!cert) {
      const thumb = x5t ? Buffer.from(x5t, "base64url").toString("hex").toUpperCase() : x5t256 ? Buffer.from(x5t256, "base64url").toString("hex").toUpperCase() : "none";
      return { code: 700027, description: `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${thumb}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.clientId}'.]` };
    }
    if (new Date(cert.validTo).getTime() < now()) return { code: 700027, description: `The certificate used to sign the client assertion has expired on application '${app.clientId}'.` };
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2]!, "base64url");
    let valid = false;
    if (header.alg === "PS256") valid = verify("sha256", data, { key: cert.publicKey, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature);
    else if (header.alg === "RS256") valid = verify("sha256", data, cert.publicKey, signature);
    else return { code: 5002738, description: `Invalid JWT token. '${String(header.alg)}' is not a supported signature algorithm.` };
    if (!valid) return { code: 700027, description: "Client assertion failed signature validation." };
    if (payload.aud !== audience) return { code: 700212, description: `No matching federated identity record found for presented assertion audience '${String(payload.aud)}'.` };
    if (payload.iss !== app.clientId || payload.sub !== app.clientId) return { code: 700021, description: "Client assertion application identifier doesn't match 'client_id' parameter." };
    const t = nowSeconds();
    const skew = 300;
    if (typeof payload.exp !== "number" || payload.exp + skew < t || (typeof payload.nbf === "number" && payload.nbf - skew > t)) {
      return { code: 700024, description: "Client assertion is not within its valid time range." };
    }
    // No jti replay check: msal-node reuses one assertion (same jti) for its 10-minute lifetime.
    if (typeof payload.jti !== "string" || !payload.jti) return { code: 50027, description: "JWT token is invalid or malformed: jti is missing." };
    return null;
  }

  // ---------- Key Vault ----------

  function kvError(r: EmulatorRequest, status: number, code: string, message: string, inner?: string, headers: Record<string, string> = {}) {
    json(r.res, status, { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } }, { "x-ms-keyvault-service-version": "1.9.2710.1", "x-ms-request-id": randomUUID(), ...headers });
  }

  function challenge(): string {
    return `Bearer authorization="${origin}/${tenantId}", resource="https://vault.azure.net"`;
  }

  function bundle(s: Secret, v: Version, withValue: boolean) {
    return {
      ...(withValue ? { value: v.value } : {}),
      ...(v.contentType ? { contentType: v.contentType } : {}),
      id: `${origin}/secrets/${s.name}/${v.version}`,
      attributes: {
        enabled: v.enabled,
        ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
        ...(v.exp !== undefined ? { exp: v.exp } : {}),
        created: v.created,
        updated: v.updated,
        recoveryLevel: "Recoverable+Purgeable",
        recoverableDays: 90,
      },
      ...(v.tags ? { tags: v.tags } : {}),
    };
  }

  function deletedBundle(s: Secret) {
    const latest = s.versions.at(-1)!;
    return {
      ...bundle(s, latest, false),
      recoveryId: `${origin}/deletedsecrets/${s.name}`,
      deletedDate: s.deleted!.deletedDate,
      scheduledPurgeDate: s.deleted!.scheduledPurgeDate,
    };
  }

  const notFound = (r: EmulatorRequest, what: string) =>
    kvError(r, 404, "SecretNotFound", `A secret with (name/id) ${what} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`);

  function handleVault(r: EmulatorRequest, segments: string[]) {
    const method = r.req.method ?? "GET";
    // Challenge first: the SDK's first request carries no token and (for PUT/PATCH) no body.
    const auth = r.req.headers.authorization;
    if (!auth) return kvError(r, 401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", undefined, { "www-authenticate": challenge() });
    const bearer = /^Bearer\s+(\S+)$/i.exec(auth)?.[1] ?? "";
    const token = tokens.get(bearer);
    if (!token || token.revoked === "plain") {
      return kvError(r, 401, "Unauthorized", "AKV10022: Invalid audience or token.", undefined, { "www-authenticate": challenge() });
    }
    if (token.expiresAt <= now()) return kvError(r, 401, "Unauthorized", "AKV10032: Token expired.", undefined, { "www-authenticate": challenge() });
    if (token.revoked === "cae") {
      const claims = Buffer.from(JSON.stringify({ access_token: { nbf: { essential: true, value: String(nowSeconds()) } } })).toString("base64");
      return kvError(r, 401, "Unauthorized", "AKV10000: Token has been revoked (continuous access evaluation).", undefined, {
        "www-authenticate": `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="${claims}"`,
      });
    }
    if (!r.url.searchParams.get("api-version")) return kvError(r, 400, "BadParameter", "The request URI contains an invalid API version. api-version is required.");
    if (throttleLeft > 0) {
      throttleLeft--;
      return kvError(r, 429, "Throttled", "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached", undefined, throttleRetryAfter !== undefined ? { "retry-after": String(throttleRetryAfter) } : {});
    }
    const app = apps.get(token.clientId.toLowerCase());
    const allowed = (perm: SecretPermission) => !!app && app.permissions.has(perm);
    const forbid = (perm: SecretPermission) =>
      kvError(r, 403, "Forbidden", `The user, group or application 'appid=${token.clientId};oid=${randomUUID()};iss=https://sts.windows.net/${tenantId}/' does not have secrets ${perm} permission on key vault 'latch-emulator;location=westeurope'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287`, "AccessDenied");

    const [collection, rawName, third, fourth] = segments;
    const name = rawName ?? "";
    if (collection === "secrets") {
      if (!rawName) {
        if (method !== "GET") return kvError(r, 405, "BadParameter", "Method not allowed.");
        if (!allowed("list")) return forbid("list");
        return json(r.res, 200, { value: [...secrets.values()].filter((s) => !s.deleted).map((s) => { const b = bundle(s, s.versions.at(-1)!, false); return { ...b, id: `${origin}/secrets/${s.name}` }; }), nextLink: null });
      }
      if (!NAME.test(name)) return kvError(r, 400, "BadParameter", `The request URI contains an invalid name: ${name}`);
      if (method === "PUT" && third === undefined) {
        if (!allowed("set")) return forbid("set");
        let input: { value?: unknown; contentType?: unknown; tags?: unknown; attributes?: { enabled?: unknown } };
        try {
          input = JSON.parse(r.body || "null") as typeof input;
        } catch {
          return kvError(r, 400, "BadParameter", "The request body is not valid JSON.");
        }
        if (!input || typeof input.value !== "string") return kvError(r, 400, "BadParameter", "Property 'value' is required.");
        const existing = secrets.get(key(name));
        if (existing?.deleted) {
          return kvError(r, 409, "Conflict", `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`, "ObjectIsDeletedButRecoverable");
        }
        const created = addVersion(existing?.name ?? name, {
          value: input.value,
          ...(typeof input.contentType === "string" ? { contentType: input.contentType } : {}),
          ...(input.tags && typeof input.tags === "object" ? { tags: input.tags as Record<string, string> } : {}),
          ...(typeof input.attributes?.enabled === "boolean" ? { enabled: input.attributes.enabled } : {}),
        });
        const s = liveSecret(name)!;
        return json(r.res, 200, bundle(s, s.versions.find((v) => v.version === created.version)!, true));
      }
      if (method === "DELETE" && third === undefined) {
        if (!allowed("delete")) return forbid("delete");
        const s = liveSecret(name);
        if (!s) return notFound(r, name);
        s.deleted = { deletedDate: nowSeconds(), scheduledPurgeDate: nowSeconds() + 90 * 86400 };
        return json(r.res, 200, deletedBundle(s));
      }
      if (method === "GET" && third === "versions" && fourth === undefined) {
        if (!allowed("list")) return forbid("list");
        const s = liveSecret(name);
        if (!s) return notFound(r, name);
        return json(r.res, 200, { value: s.versions.map((v) => bundle(s, v, false)), nextLink: null });
      }
      if (method === "GET" && fourth === undefined) {
        if (!allowed("get")) return forbid("get");
        const s = liveSecret(name);
        const v = !third ? s?.versions.at(-1) : s?.versions.find((x) => x.version.toLowerCase() === third.toLowerCase());
        if (!s || !v) return notFound(r, third ? `${name}/${third}` : name);
        if (!v.enabled) return kvError(r, 403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled");
        return json(r.res, 200, bundle(s, v, true));
      }
      if (method === "PATCH" && fourth === undefined) {
        if (!allowed("set")) return forbid("set");
        const s = liveSecret(name);
        const v = !third ? s?.versions.at(-1) : s?.versions.find((x) => x.version.toLowerCase() === third.toLowerCase());
        if (!s || !v) return notFound(r, third ? `${name}/${third}` : name);
        let input: { contentType?: unknown; tags?: unknown; attributes?: { enabled?: unknown; nbf?: unknown; exp?: unknown } };
        try {
          input = JSON.parse(r.body || "{}") as typeof input;
        } catch {
          return kvError(r, 400, "BadParameter", "The request body is not valid JSON.");
        }
        if (typeof input.attributes?.enabled === "boolean") v.enabled = input.attributes.enabled;
        if (typeof input.attributes?.nbf === "number") v.nbf = input.attributes.nbf;
        if (typeof input.attributes?.exp === "number") v.exp = input.attributes.exp;
        if (typeof input.contentType === "string") v.contentType = input.contentType;
        if (input.tags && typeof input.tags === "object") v.tags = input.tags as Record<string, string>;
        v.updated = nowSeconds();
        return json(r.res, 200, bundle(s, v, false));
      }
      return kvError(r, 405, "BadParameter", `The method ${method} is not allowed on this resource.`);
    }
    // deletedsecrets
    const s = secrets.get(key(name));
    if (!rawName) {
      if (!allowed("list")) return forbid("list");
      return json(r.res, 200, { value: [...secrets.values()].filter((x) => x.deleted).map(deletedBundle), nextLink: null });
    }
    if (method === "GET" && third === undefined) {
      if (!allowed("list")) return forbid("list");
      if (!s?.deleted) return kvError(r, 404, "SecretNotFound", `Deleted Secret not found: ${name}`);
      return json(r.res, 200, deletedBundle(s));
    }
    if (method === "DELETE" && third === undefined) {
      if (!allowed("purge")) return forbid("purge");
      if (!s?.deleted) return kvError(r, 404, "SecretNotFound", `Deleted Secret not found: ${name}`);
      secrets.delete(key(name));
      r.res.writeHead(204, { date: new Date().toUTCString() });
      return void r.res.end();
    }
    if (method === "POST" && third === "recover") {
      if (!allowed("recover")) return forbid("recover");
      if (!s?.deleted) return kvError(r, 404, "SecretNotFound", `Deleted Secret not found: ${name}`);
      delete s.deleted;
      return json(r.res, 200, bundle(s, s.versions.at(-1)!, false));
    }
    return kvError(r, 405, "BadParameter", `The method ${method} is not allowed on this resource.`);
  }

  async function handle(r: EmulatorRequest) {
    const segments = r.url.pathname.split("/").slice(1).map(decodeURIComponent);
    // The SDK asks for the latest version as /secrets/{name}/ (empty version segment).
    if (segments.at(-1) === "" && segments.length > 1) segments.pop();
    if (segments[0] === "secrets" || segments[0] === "deletedsecrets") return handleVault(r, segments);
    if (handleIdentity(r, segments)) return;
    json(r.res, 404, { error: { code: "NotFound", message: `No route for ${r.req.method} ${r.url.pathname}` } });
  }

  const api = {
    registerApp,
    removeApp: (clientId: string) => void apps.delete(clientId.toLowerCase()),
    setPermissions(clientId: string, permissions: SecretPermission[]) {
      const app = apps.get(clientId.toLowerCase());
      if (!app) throw new Error(`unknown app ${clientId}`);
      app.permissions = new Set(permissions);
    },
    seedSecret: (input: SeedSecretInput) => addVersion(input.name, input),
    rotateSecret(name: string, value?: string) {
      const s = liveSecret(name);
      if (!s) throw new Error(`unknown secret ${name}`);
      return addVersion(s.name, { value: value ?? `rotated-${randomBytes(9).toString("base64url")}`, ...(s.versions.at(-1)?.contentType ? { contentType: s.versions.at(-1)!.contentType } : {}) });
    },
    deleteSecret(name: string, o: { purge?: boolean } = {}) {
      const s = secrets.get(key(name));
      if (!s) throw new Error(`unknown secret ${name}`);
      if (o.purge) secrets.delete(key(name));
      else s.deleted = { deletedDate: nowSeconds(), scheduledPurgeDate: nowSeconds() + 90 * 86400 };
    },
    setSecretEnabled(name: string, enabled: boolean, version?: string) {
      const s = liveSecret(name);
      const v = version ? s?.versions.find((x) => x.version === version) : s?.versions.at(-1);
      if (!s || !v) throw new Error(`unknown secret ${name}${version ? `/${version}` : ""}`);
      v.enabled = enabled;
      v.updated = nowSeconds();
    },
    versions: (name: string) => {
      const s = secrets.get(key(name));
      return s ? s.versions.map((v) => info(s, v)) : [];
    },
    isDeleted: (name: string) => !!secrets.get(key(name))?.deleted,
    revokeTokens(o: { clientId?: string; mode?: "cae" | "plain" } = {}) {
      let n = 0;
      for (const t of tokens.values()) {
        if (o.clientId && t.clientId.toLowerCase() !== o.clientId.toLowerCase()) continue;
        t.revoked = o.mode ?? "plain";
        n++;
      }
      return n;
    },
    setTokenTtl: (seconds: number) => void (tokenTtl = seconds),
    setClockOffset: (seconds: number) => void (clockOffsetMs = seconds * 1000),
    throttle(o: { times?: number; retryAfterSeconds?: number } = {}) {
      throttleLeft = o.times ?? 1;
      throttleRetryAfter = "retryAfterSeconds" in o ? o.retryAfterSeconds : 1;
    },
    failTokenEndpoint(o: { times?: number; status?: 429 | 503; retryAfterSeconds?: number; html?: boolean } = {}) {
      tokenFailLeft = o.times ?? 1;
      tokenFailStatus = o.status ?? 503;
      tokenFailRetryAfter = "retryAfterSeconds" in o ? o.retryAfterSeconds : 1;
      tokenFailHtml = o.html ?? false;
      if (tokenFailLeft === 0) tokenRetryNotBefore = 0;
    },
    earlyTokenRetries: () => earlyTokenRetries,
    tokenRequests: (clientId?: string) => (clientId ? (tokenRequestCounts.get(clientId.toLowerCase()) ?? 0) : [...tokenRequestCounts.values()].reduce((a, b) => a + b, 0)),
  };

  async function control({ req, res, url, body }: EmulatorRequest): Promise<boolean> {
    const route = `${req.method} ${url.pathname}`;
    const input = (body ? JSON.parse(body) : {}) as Record<string, unknown>;
    const ok = (data: unknown = { ok: true }) => (json(res, 200, data), true);
    try {
      switch (route) {
        case "GET /_control/secrets":
          return ok([...secrets.values()].map((s) => ({ name: s.name, deleted: !!s.deleted, versions: api.versions(s.name) })));
        case "POST /_control/secrets":
          return ok(api.seedSecret(input as unknown as SeedSecretInput));
        case "POST /_control/secrets/rotate":
          return ok(api.rotateSecret(input.name as string, input.value as string | undefined));
        case "POST /_control/secrets/delete":
          api.deleteSecret(input.name as string, { purge: input.purge === true });
          return ok();
        case "POST /_control/secrets/enable":
          api.setSecretEnabled(input.name as string, input.enabled !== false, input.version as string | undefined);
          return ok();
        case "POST /_control/apps": {
          const secret = input.secret as string | undefined;
          api.registerApp({
            clientId: input.clientId as string,
            ...(secret ? { secrets: [{ value: secret }] } : {}),
            ...(input.certificatePem ? { certificates: [input.certificatePem as string] } : {}),
            ...(Array.isArray(input.permissions) ? { permissions: input.permissions as SecretPermission[] } : input.access === false ? { permissions: [] } : {}),
          });
          return ok();
        }
        case "POST /_control/apps/permissions":
          api.setPermissions(input.clientId as string, (input.permissions as SecretPermission[] | undefined) ?? (input.access === false ? [] : ALL_PERMISSIONS));
          return ok();
        case "POST /_control/apps/delete":
          api.removeApp(input.clientId as string);
          return ok();
        case "POST /_control/tokens/revoke":
          return ok({ revoked: api.revokeTokens({ clientId: input.clientId as string | undefined, mode: input.mode as "cae" | "plain" | undefined }) });
        case "POST /_control/tokens/ttl":
          api.setTokenTtl(Number(input.seconds ?? 3600));
          return ok();
        case "POST /_control/throttle":
          api.throttle({ times: Number(input.times ?? 1), retryAfterSeconds: input.retryAfterSeconds === undefined ? 1 : Number(input.retryAfterSeconds) });
          return ok();
        case "POST /_control/clock":
          api.setClockOffset(Number(input.offsetSeconds ?? 0));
          return ok();
        default:
          return false;
      }
    } catch (error) {
      json(res, 400, { error: (error as Error).message });
      return true;
    }
  }

  const emulator = await startEmulator({ name: "azure", tls: { cert: opts.pki.serverCert, key: opts.pki.serverKey }, handle, control });
  origin = emulator.url;
  return {
    ...emulator,
    ...api,
    pki: opts.pki,
    tenantId,
    vaultUrl: origin,
    authorityHost: origin,
    tokenEndpoint: `${origin}/${tenantId}/oauth2/v2.0/token`,
    failInternal: ({ times = 1 } = {}) =>
      emulator.inject({ pathIncludes: "/secrets", times, fault: { type: "status", status: 500, body: { error: { code: "InternalServerError", message: "An unexpected error occurred." } } } }),
    hang: ({ times, pathIncludes = "/secrets" }: { times?: number; pathIncludes?: string } = {}) => emulator.inject({ pathIncludes, ...(times !== undefined ? { times } : {}), fault: { type: "hang" } }),
  };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Demo data for `npm run emulators`: one app (client secret and certificate), two secrets. */
export function seedDemoAzure(emulator: AzureEmulator) {
  const clientId = "5d0c7a53-4b1e-4f6a-9c2d-1e8f3a7b6c90";
  const clientSecret = "latch-demo~client-secret-0000000000000";
  const cert = generateClientCertificate({ commonName: "latch-demo", validDays: 30 });
  emulator.registerApp({ clientId, secrets: [{ value: clientSecret }], certificates: [cert.certificatePem], permissions: ["get", "list", "set", "delete", "purge", "recover"] });
  emulator.seedSecret({ name: "payroll-db-password", value: "demo-Payr0ll-pass" });
  emulator.rotateSecret("payroll-db-password", "demo-Payr0ll-pass-2");
  emulator.seedSecret({ name: "crm-api-key", value: "demo-crm-api-key-123", contentType: "text/plain" });
  const pemPath = path.join(emulator.pki.dir, "azure-demo-client.pem");
  writeFileSync(pemPath, cert.credentialPem, { mode: 0o600 });
  const caPath = path.join(emulator.pki.dir, "latch-test-ca.pem");
  const storeConfig = { vault: emulator.vaultUrl, tenantId: emulator.tenantId, clientId, authorityHost: emulator.authorityHost, auth: "client_secret" };
  const instructions = [
    `Azure Key Vault + Entra ID emulator at ${emulator.url} (one origin for the vault and the sign-in endpoints).`,
    `Register a store of kind "Azure Key Vault": vault ${emulator.vaultUrl}, directory (tenant) ID ${emulator.tenantId}, application (client) ID ${clientId},`,
    `authority host ${emulator.authorityHost}, authentication "Client secret", client secret ${clientSecret}; upload ${caPath} as the CA bundle.`,
    `For certificate authentication instead, paste ${pemPath} (certificate + private key; thumbprint ${cert.thumbprintSha1Hex}).`,
    `Secrets: payroll-db-password (2 versions) and crm-api-key.`,
    `Control API: ${emulator.controlUrl}/_control/… (secrets, secrets/rotate, secrets/delete, secrets/enable, apps, apps/permissions, tokens/revoke, tokens/ttl, throttle, clock, faults).`,
  ].join("\n");
  return { instructions, storeConfig, storeSecrets: { clientSecret } };
}

import "server-only";
import { classifyNetworkError, StoreError } from "../../errors";
import { parseRetryAfter } from "../../retry";

/**
 * Azure SDK errors → StoreError. Messages are written here from status codes, Key Vault error codes
 * and AADSTS numbers plus non-secret context (vault host, tenant, client id, secret name). The
 * services' own message text is only inspected, never echoed.
 */
export type AzureErrorContext = {
  vaultHost: string;
  authorityHost: string;
  tenantId: string;
  clientId: string;
  auth: "client_secret" | "certificate";
  action: "read" | "write" | "delete" | "check";
  secretName?: string;
  version?: string;
  /** The transport's last network failure: identity/MSAL drop the cause of token-endpoint failures. */
  lastTransportError?: unknown;
  /** The token endpoint's last status and Retry-After, which MSAL does not pass on either. */
  lastSignInAnswer?: { status: number; retryAfterSeconds?: number };
};

/** How long Entra ID throttles sign-ins when its 429 names no Retry-After (vault-protocols.md §3.5). */
export const SIGN_IN_THROTTLE_DEFAULT_SECONDS = 60;

/** Key Vault refused a token it had accepted before (revoked, expired early): worth one fresh sign-in. */
export class VaultRejectedTokenError extends StoreError {
  static override readonly brand = "latch.VaultRejectedTokenError";
}
/**
 * Entra ID was throttling or down. MSAL then refuses further sign-ins from the same credential for
 * 60 s without asking (it misses the lower-cased Retry-After), so the caller should build a new one.
 */
export class SignInUnavailableError extends StoreError {
  static override readonly brand = "latch.SignInUnavailableError";
}
/** The vault's access policy or RBAC refused the app: it did sign in (unlike a disabled secret or the firewall). */
export class AccessDeniedError extends StoreError {
  static override readonly brand = "latch.AccessDeniedError";
}

type AnyError = {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  details?: unknown;
  response?: { headers?: { get(name: string): string | undefined } };
  request?: { url?: string };
  errorResponse?: { error?: string; errorDescription?: string; errorCodes?: number[] };
};

const PERMISSION_FOR: Record<AzureErrorContext["action"], string> = {
  read: "Get",
  write: "Set",
  delete: "Delete",
  check: "Get",
};
const RBAC_ROLE_FOR: Record<AzureErrorContext["action"], string> = {
  read: "Key Vault Secrets User",
  write: "Key Vault Secrets Officer",
  delete: "Key Vault Secrets Officer",
  check: "Key Vault Secrets User",
};

const asError = (e: unknown): AnyError => (e && typeof e === "object" ? (e as AnyError) : {});
const safeCode = (code: string | undefined) => (code && /^[A-Za-z][A-Za-z0-9_.]{0,63}$/.test(code) ? code : undefined);

function innerCode(details: unknown): string | undefined {
  const error = (details as { error?: { innerError?: { code?: unknown }; innererror?: { code?: unknown } } } | undefined)?.error;
  const code = error?.innerError?.code ?? error?.innererror?.code;
  return typeof code === "string" ? code : undefined;
}

function secretLabel(ctx: AzureErrorContext): string {
  if (!ctx.secretName) return "the secret";
  return ctx.version ? `“${ctx.secretName}” (version ${ctx.version})` : `“${ctx.secretName}”`;
}

function retryAfterOf(e: AnyError): number | undefined {
  const get = (h: string) => e.response?.headers?.get(h);
  const seconds = parseRetryAfter(get("retry-after"));
  if (seconds !== undefined) return seconds;
  const ms = Number(get("retry-after-ms") ?? get("x-ms-retry-after-ms"));
  return Number.isFinite(ms) && ms > 0 ? ms / 1000 : undefined;
}

/** Which host a failed request went to, from the SDK's RestError. */
function requestHost(e: AnyError): string | undefined {
  try {
    return e.request?.url ? new URL(e.request.url).host : undefined;
  } catch {
    return undefined;
  }
}

export function mapAzureError(error: unknown, ctx: AzureErrorContext): StoreError {
  if (error instanceof StoreError) return error;
  const e = asError(error);
  const name = e.name ?? "";
  const message = e.message ?? "";

  if (name === "AbortError") return new StoreError("timeout", `${ctx.vaultHost} or the sign-in endpoint did not answer in time.`);
  if (name === "CredentialUnavailableError" || name === "AuthenticationRequiredError" || name === "AuthenticationError" || name === "ClientAuthError" || name === "ClientConfigurationError") {
    return mapIdentityError(error, e, ctx);
  }
  if (name === "RestError" && e.statusCode === undefined) {
    const network = classifyNetworkError(error, requestHost(e) ?? ctx.vaultHost);
    if (network) return network;
  }
  // The SDK reports an unparseable body with the response's status, often 200.
  if (name === "RestError" && e.code === "PARSE_ERROR") {
    return new StoreError("bad_response", `${requestHost(e) ?? ctx.vaultHost} did not answer with JSON. Check that the vault URL points at Azure Key Vault.`);
  }
  if (typeof e.statusCode === "number") return mapVaultStatus(e, ctx);
  if (/Bad number of segments|Invalid url|id must be/i.test(message)) {
    return new StoreError("bad_response", `${ctx.vaultHost} returned a secret identifier Latch cannot parse. The vault URL must be the vault's root address (https://name.vault.azure.net), without a path.`);
  }
  const network = classifyNetworkError(error, ctx.vaultHost);
  if (network) return network;
  if (name === "SyntaxError") return new StoreError("bad_response", `${ctx.vaultHost} did not answer with JSON. Check that the vault URL points at Azure Key Vault.`);
  return new StoreError("bad_response", `Talking to Azure Key Vault at ${ctx.vaultHost} failed unexpectedly (${safeCode(name) ?? "unknown error"}).`);
}

function mapVaultStatus(e: AnyError, ctx: AzureErrorContext): StoreError {
  const status = e.statusCode!;
  const code = safeCode(e.code);
  const inner = innerCode(e.details);
  const what = secretLabel(ctx);
  const vault = ctx.vaultHost;
  if (status === 401) {
    return new VaultRejectedTokenError("auth", `Key Vault at ${vault} did not accept the access token Latch obtained for application ${ctx.clientId}. Check that the vault belongs to tenant ${ctx.tenantId}.`);
  }
  if (status === 403) {
    if (inner === "SecretDisabled") {
      return new StoreError("permission", `Secret ${what} is disabled in Key Vault ${vault}. Enable that version in the portal (Secrets → the secret → the version → Enabled), or reference an enabled version.`);
    }
    if (inner === "ForbiddenByFirewall" || /firewall|Client address is not authorized/i.test(e.message ?? "")) {
      return new StoreError("permission", `The firewall of Key Vault ${vault} does not admit Latch's network address. Add it under Networking → Firewalls and virtual networks, or use a private endpoint.`);
    }
    if (inner === "ForbiddenByRbac") {
      return new AccessDeniedError("permission", `Application ${ctx.clientId} has no role on Key Vault ${vault} that allows it to ${verb(ctx)} ${what}. Assign it “${RBAC_ROLE_FOR[ctx.action]}” on the vault (Access control (IAM)).`);
    }
    return new AccessDeniedError("permission", `Application ${ctx.clientId} may not ${verb(ctx)} ${what} in Key Vault ${vault}. Give it the secret permission “${PERMISSION_FOR[ctx.action]}” under Access policies (or “${RBAC_ROLE_FOR[ctx.action]}” if the vault uses Azure RBAC).`);
  }
  if (status === 404) {
    if (ctx.version) return new StoreError("not_found", `Key Vault ${vault} has no version ${ctx.version} of secret “${ctx.secretName}”. Check the version, or leave it empty for the latest.`);
    return new StoreError("not_found", `Key Vault ${vault} has no secret ${what}. Check the name (letters, digits and hyphens) and the vault.`);
  }
  if (status === 409 && inner === "ObjectIsDeletedButRecoverable") {
    return new StoreError("deleted", `Secret ${what} was deleted in Key Vault ${vault} and is kept for recovery, so its name cannot be reused yet. Recover it (Secrets → Manage deleted secrets) or purge it, then try again.`);
  }
  if (status === 429) {
    return new StoreError("throttled", `Key Vault ${vault} is throttling Latch's requests. They are retried automatically; if this persists, lower the request rate.`, retryAfterOf(e));
  }
  if (status >= 500) return new StoreError("unavailable", `Key Vault ${vault} reported an internal error (HTTP ${status}). Try again shortly.`, retryAfterOf(e));
  if (status === 400) {
    return new StoreError("config", `Key Vault ${vault} rejected the request for ${what}${code ? ` (${code})` : ""}. Check the secret name (1–127 letters, digits or hyphens) and version.`);
  }
  return new StoreError("bad_response", `Key Vault ${vault} answered HTTP ${status}${code ? ` with ${code}` : ""}.`);
}

function verb(ctx: AzureErrorContext): string {
  return { read: "read", write: "write", delete: "delete", check: "read" }[ctx.action];
}

/** AADSTS numbers and OAuth error names are safe to show; the descriptions are not echoed. */
function aadCodes(e: AnyError): { error?: string; codes: number[] } {
  const codes = new Set<number>(e.errorResponse?.errorCodes ?? []);
  const text = `${e.message ?? ""}\n${e.errorResponse?.errorDescription ?? ""}`;
  for (const m of text.matchAll(/AADSTS(\d{5,8})/g)) codes.add(Number(m[1]));
  for (const m of text.matchAll(/Error\(s\):\s*([\d ,-]+?)\s*-/g)) for (const n of m[1]!.split(/[ ,]+/)) if (/^\d+$/.test(n)) codes.add(Number(n));
  const error = e.errorResponse?.error ?? /^([a-z_]+)(?::| Status code)/.exec(e.message ?? "")?.[1];
  return { error: safeCode(error), codes: [...codes] };
}

function mapIdentityError(error: unknown, e: AnyError, ctx: AzureErrorContext): StoreError {
  const message = e.message ?? "";
  const signIn = ctx.authorityHost;
  const app = `application ${ctx.clientId}`;
  const tenantMismatch = /not configured to acquire tokens for tenant ([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)/.exec(message);
  if (tenantMismatch) {
    return new StoreError("config", `Key Vault ${ctx.vaultHost} belongs to tenant ${tenantMismatch[1]}, but the store is set up for tenant ${ctx.tenantId}. Enter the vault's directory (tenant) ID.`);
  }
  const { error: oauthError, codes } = aadCodes(e);
  const has = (...n: number[]) => n.some((c) => codes.includes(c));
  if (has(7000215)) return new StoreError("auth", `Entra ID rejected the client secret for ${app}. Paste the secret's Value (not its Secret ID) from Certificates & secrets, or create a new one.`);
  if (has(7000222)) return new StoreError("auth", `The client secret of ${app} has expired. Create a new one under Certificates & secrets and save it here.`);
  if (has(700027)) {
    return new StoreError("auth", `Entra ID did not accept Latch's certificate for ${app}: it is not uploaded to the app registration, has expired there, or was replaced. Upload the certificate (.cer) under Certificates & secrets → Certificates.`);
  }
  if (has(700024)) return new StoreError("auth", `Entra ID refused Latch's signed sign-in request as outside its valid time. Check the Latch server's clock (NTP).`);
  if (has(700016)) return new StoreError("auth", `Entra ID knows no ${app} in tenant ${ctx.tenantId}. Check the application (client) ID and the directory (tenant) ID.`);
  if (has(90002, 90023)) return new StoreError("config", `Entra ID at ${signIn} has no tenant ${ctx.tenantId}. Check the directory (tenant) ID, and the authority host for sovereign clouds.`);
  if (has(700021, 700023, 50027, 5002738, 900023, 7000218)) return new StoreError("auth", `Entra ID rejected Latch's sign-in request for ${app} (AADSTS${codes[0]}).`);
  if (has(500011, 70011)) return new StoreError("config", `Tenant ${ctx.tenantId} has no Azure Key Vault resource for the sign-in Latch requested. Check the authority host matches the vault's cloud.`);
  const answer = ctx.lastSignInAnswer;
  if (answer?.status === 429 || has(50196) || /throttl|\b429\b/i.test(message)) {
    // Waited out, not retried at once: Entra ID throttles a client that comes back sooner (AADSTS50196).
    return new SignInUnavailableError("throttled", `Entra ID at ${signIn} is throttling Latch's sign-in requests.`, answer?.retryAfterSeconds ?? SIGN_IN_THROTTLE_DEFAULT_SECONDS);
  }
  // A 5xx whose body is not JSON reaches us as MSAL's "network_error", the same as an unreadable 200.
  if ((answer !== undefined && answer.status >= 500) || has(90033) || oauthError === "temporarily_unavailable" || oauthError === "server_error" || /\b50[0-9]\b/.test(message)) {
    return new SignInUnavailableError("unavailable", `Entra ID at ${signIn} is temporarily unavailable.`, answer?.retryAfterSeconds);
  }
  if (oauthError === "invalid_client" || oauthError === "unauthorized_client") {
    return new StoreError("auth", `Entra ID rejected the ${ctx.auth === "certificate" ? "certificate" : "client secret"} of ${app}${codes[0] ? ` (AADSTS${codes[0]})` : ""}.`);
  }
  // Transport failures reach us flattened by MSAL; the transport kept the real cause.
  const network = classifyNetworkError(error, signIn) ?? (ctx.lastTransportError ? classifyNetworkError(ctx.lastTransportError, hostOfError(ctx.lastTransportError) ?? signIn) : null);
  if (network) return network;
  // MSAL's "network_error" with the exchange itself intact: the answer could not be read as a token response.
  if (oauthError === "network_error") {
    return new StoreError("bad_response", `${signIn} did not answer like a Microsoft Entra ID token endpoint (the response could not be read). Check the authority host.`);
  }
  if (/endpoints_resolution_error|openid|authority/i.test(message)) {
    return new StoreError("config", `Latch could not read the sign-in configuration of tenant ${ctx.tenantId} at ${signIn}. Check the directory (tenant) ID and the authority host.`);
  }
  if (/certificate|PEM|private key/i.test(message) && ctx.auth === "certificate") {
    return new StoreError("config", "The stored certificate could not be used to sign in. Paste the certificate together with its private key (PEM) again.");
  }
  if (oauthError) return new StoreError("auth", `Entra ID refused to sign in ${app} (${oauthError}${codes[0] ? `, AADSTS${codes[0]}` : ""}).`);
  return new StoreError("auth", `Signing in to Entra ID at ${signIn} as ${app} failed. Check the tenant ID, client ID and credential.`);
}

function hostOfError(error: unknown): string | undefined {
  const url = (error as { request?: { url?: string } })?.request?.url;
  if (!url) return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

import "server-only";
import { ClientCertificateCredential, ClientSecretCredential, type TokenCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import type { Dispatcher } from "undici";
import { assertStoreUrl, createDispatcher } from "@/lib/net/egress";
import { StoreError } from "../../errors";
import type { CommonOptions } from "../../types";
import { loadCertificateCredential } from "./certificate";
import { VAULT_NAME_URL } from "./descriptor";
import { createEgressHttpClient, type EgressHttpClient, type Exchange } from "./http-client";

export const DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com";

/** Public and sovereign Key Vault DNS suffixes: only these answer challenges for their own resource. */
const KEY_VAULT_SUFFIXES = ["vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net", "vault.microsoftazure.de", "managedhsm.azure.net"];
/** Authorities MSAL already knows; any other host (Azure Stack, an emulator) skips instance discovery. */
const KNOWN_AUTHORITIES = ["login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn", "login.microsoftonline.de", "login.windows.net", "login.microsoft.com", "sts.windows.net"];

export type AzureSettings = {
  vault: string;
  tenantId: string;
  clientId: string;
  authorityHost?: string;
  auth: "client_secret" | "certificate";
  clientSecret?: string;
  certificatePem?: string;
  certificatePassword?: string;
};

/** A vault name becomes https://{name}.vault.azure.net; a URL is used as given (origin only). */
export function resolveVaultUrl(vault: string): string {
  const v = vault.trim();
  if (/^https?:\/\//i.test(v)) return new URL(v).origin;
  return VAULT_NAME_URL.replace("{name}", v.toLowerCase());
}

/**
 * The SDK checks that the challenge's resource (vault.azure.net) is a suffix of the vault host. Hosts
 * outside the Key Vault domains (private DNS names, emulators) cannot pass, so the check is off there.
 */
export function needsChallengeResourceVerificationOff(vaultUrl: string): boolean {
  const host = new URL(vaultUrl).hostname.toLowerCase();
  return !KEY_VAULT_SUFFIXES.some((suffix) => host.endsWith(`.${suffix}`));
}

export function isKnownAuthority(authorityHost: string): boolean {
  return KNOWN_AUTHORITIES.includes(new URL(authorityHost).hostname.toLowerCase());
}

export type AzureTransport = { http: EgressHttpClient; dispatcher: Dispatcher };
export type AzureClients = { secrets: SecretClient; credential: TokenCredential };

/** Latch's transport for both Entra ID and Key Vault: egress policy, CA bundle, proxy, timeout. */
export function createAzureTransport(common: CommonOptions, onExchange?: (e: Exchange) => void): AzureTransport {
  let dispatcher: Dispatcher;
  try {
    dispatcher = createDispatcher({ ca: common.caBundle, proxyUrl: common.proxyUrl, timeoutMs: common.timeoutMs });
  } catch (error) {
    if (error instanceof TypeError) throw new StoreError("config", "The proxy URL of this store is not a valid URL.");
    throw error;
  }
  return { dispatcher, http: createEgressHttpClient({ dispatcher, timeoutMs: common.timeoutMs, ...(onExchange ? { onExchange } : {}) }) };
}

/**
 * One credential and one SecretClient on the given transport. The SDK's own retries are off
 * (withRetry owns throttling and 5xx); each HTTP exchange is bounded by the transport.
 */
export function createAzureClients(settings: AzureSettings, transport: AzureTransport): AzureClients {
  const vaultUrl = resolveVaultUrl(settings.vault);
  const authorityHost = settings.authorityHost ?? DEFAULT_AUTHORITY_HOST;
  assertStoreUrl(vaultUrl);
  assertStoreUrl(authorityHost);
  const credentialOptions = {
    authorityHost,
    httpClient: transport.http,
    retryOptions: { maxRetries: 0 },
    disableInstanceDiscovery: !isKnownAuthority(authorityHost),
    additionallyAllowedTenants: [],
    userAgentOptions: { userAgentPrefix: "Latch" },
  };

  let credential: TokenCredential;
  if (settings.auth === "client_secret") {
    if (!settings.clientSecret) throw new StoreError("config", "No client secret is stored. Paste the client secret's Value from the app registration (Certificates & secrets).");
    credential = new ClientSecretCredential(settings.tenantId, settings.clientId, settings.clientSecret, credentialOptions);
  } else {
    const loaded = loadCertificateCredential(settings.certificatePem, settings.certificatePassword);
    credential = new ClientCertificateCredential(settings.tenantId, settings.clientId, { certificate: loaded.pem }, credentialOptions);
  }

  const secrets = new SecretClient(vaultUrl, credential, {
    httpClient: transport.http,
    retryOptions: { maxRetries: 0 },
    disableChallengeResourceVerification: needsChallengeResourceVerificationOff(vaultUrl),
    userAgentOptions: { userAgentPrefix: "Latch" },
  });
  return { secrets, credential };
}

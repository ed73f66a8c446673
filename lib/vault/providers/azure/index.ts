import "server-only";
import { randomUUID } from "node:crypto";
import type { KeyVaultSecret, SecretClient } from "@azure/keyvault-secrets";
import type { z } from "zod";
import { StoreError } from "../../errors";
import { withRetry } from "../../retry";
import { defineProvider } from "../../define";
import type { CommonOptions, FetchedSecret, SecretRef } from "../../types";
import { azureDescriptor, SECRET_NAME, SECRET_VERSION, type azureConfigSchema, type azureSecretSchema } from "./descriptor";
import { DEFAULT_AUTHORITY_HOST, createAzureClients, createAzureTransport, resolveVaultUrl, type AzureClients, type AzureSettings, type AzureTransport } from "./client";
import { AccessDeniedError, mapAzureError, SignInUnavailableError, VaultRejectedTokenError, type AzureErrorContext } from "./errors";
import type { Exchange } from "./http-client";

import { certificateCredentialProblem, generateClientCertificate, publicCertificateOf } from "./certificate";

export { certificateCredentialProblem, generateClientCertificate, publicCertificateOf } from "./certificate";
export { azureConfigSchema, azureSecretSchema } from "./descriptor";


type Config = z.output<typeof azureConfigSchema>;
type Secrets = z.output<typeof azureSecretSchema>;

/**
 * Azure Key Vault: one secret = one string value (returned as key "value"). Writes add a version;
 * deletes soft-delete, wait for Key Vault to finish, then purge if the app has the Purge permission
 * (otherwise the secret stays recoverable for the vault's retention period).
 */
export const azureProvider = defineProvider(azureDescriptor, {
  create: ({ config, secrets, common }) => createAzureStoreClient(config, secrets, common),
  validateOnSave({ config, secrets }) {
    if (config.auth !== "certificate" || !secrets.certificatePem) return {};
    const problem = certificateCredentialProblem(secrets.certificatePem, secrets.certificatePassword);
    return problem ? { [`secrets.${problem.field}`]: [problem.message] } : {};
  },
  // Better than OpenSSL on a laptop: the private key is made in Latch and never leaves it.
  certificateCredential: {
    uploadTo: "the app registration",
    uploadSteps: "In the Azure portal open the app registration → Certificates & secrets → Certificates → Upload certificate.",
    generate({ config, secrets, commonName }) {
      const cert = generateClientCertificate({ commonName, validDays: 730 });
      // A password belonged to the key being replaced.
      const { certificatePassword: _dropped, ...kept } = secrets;
      return { config: { ...config, auth: "certificate" }, secrets: { ...kept, certificatePem: cert.credentialPem }, thumbprint: cert.thumbprintSha1Hex, notAfter: cert.notAfter };
    },
    publicCertificate: (secrets) => publicCertificateOf(secrets.certificatePem, secrets.certificatePassword),
    signsInOtherwise: (config) => (config.auth === "client_secret" ? "a client secret" : null),
  },
});

/** The longest Latch keeps from signing in after Entra ID asked it to wait, whatever it asked. */
const MAX_SIGN_IN_PAUSE_SECONDS = 120;
const PAUSE_SLACK_MS = 250;

export function createAzureStoreClient(config: Config, secretValues: Secrets, common: CommonOptions, hooks: { onExchange?: (e: Exchange) => void } = {}) {
  const settings: AzureSettings = { ...config, ...secretValues };
  const vaultHost = safeHost(() => resolveVaultUrl(config.vault));
  const authorityHost = safeHost(() => config.authorityHost ?? DEFAULT_AUTHORITY_HOST);
  const baseCtx = { vaultHost, authorityHost, tenantId: config.tenantId, clientId: config.clientId, auth: config.auth };
  let transport: AzureTransport | undefined;
  let clients: AzureClients | undefined;

  function get(): AzureClients {
    transport ??= createAzureTransport(common, hooks.onExchange);
    clients ??= createAzureClients(settings, transport);
    return clients;
  }
  /** After Entra ID said when to come back (Retry-After, 60 s for a bare 429): sign-ins wait until then. */
  let signInPause: { until: number; error: SignInUnavailableError } | undefined;
  /** Drops the credential's token cache; the transport stays, so concurrent calls are not cut off. */
  function renew(stale: AzureClients | undefined) {
    if (stale && clients === stale) clients = undefined;
  }

  /** Bounded retries for throttling and 5xx; one fresh sign-in if the vault rejects a cached token. */
  async function call<T>(ctx: Omit<AzureErrorContext, keyof typeof baseCtx>, op: (c: SecretClient) => Promise<T>): Promise<T> {
    let renewed = false;
    return withRetry(
      async () => {
        for (;;) {
          const started = Date.now();
          let current: AzureClients | undefined;
          // Every call after a refused sign-in needs one (that credential was dropped): none is asked for early.
          // With a little slack: a retry that slept the same Retry-After may wake a millisecond early.
          const paused = signInPause && signInPause.until - started;
          if (paused && paused > PAUSE_SLACK_MS) throw new SignInUnavailableError(signInPause!.error.kind, signInPause!.error.message, Math.ceil(paused / 1000));
          try {
            current = get();
            const result = await op(current.secrets);
            signInPause = undefined;
            return result;
          } catch (error) {
            const mapped = mapAzureError(error, {
              ...baseCtx,
              ...ctx,
              lastTransportError: transport?.http.transportErrorSince(started),
              lastSignInAnswer: transport?.http.signInAnswerSince(started),
            });
            if (mapped instanceof VaultRejectedTokenError && !renewed) {
              renewed = true;
              renew(current);
              continue;
            }
            // A new credential: MSAL's own would refuse sign-ins for a minute offline, whatever Entra ID asked for.
            if (mapped instanceof SignInUnavailableError) {
              renew(current);
              // Capped: a gateway's Retry-After of an hour must not keep the store down after Entra ID is back.
              if (mapped.retryAfterSeconds) signInPause = { until: Date.now() + Math.min(mapped.retryAfterSeconds, MAX_SIGN_IN_PAUSE_SECONDS) * 1000, error: mapped };
            }
            throw mapped;
          }
        }
      },
      { attempts: 3, baseDelayMs: 200, maxDelayMs: 2000 },
    );
  }

  function checkName(ref: SecretRef): { name: string; version?: string } {
    const name = ref.name.trim();
    if (!SECRET_NAME.test(name)) throw new StoreError("config", `“${name.slice(0, 130)}” is not a Key Vault secret name: use 1–127 letters, digits and hyphens.`);
    const version = ref.version?.trim();
    if (!version || version.toLowerCase() === "latest") return { name };
    if (!SECRET_VERSION.test(version)) throw new StoreError("config", `“${version.slice(0, 70)}” is not a Key Vault secret version: use the version ID (32 letters and digits), or leave it empty for the latest.`);
    return { name, version };
  }

  function toFetched(secret: KeyVaultSecret, name: string): FetchedSecret {
    if (typeof secret.value !== "string") throw new StoreError("bad_response", `Key Vault ${vaultHost} returned secret “${name}” without a value.`);
    return { values: { value: secret.value }, version: secret.properties.version ?? null, updatedAt: secret.properties.updatedOn ?? null };
  }

  /** Key Vault answers 404 for soft-deleted secrets too; tell the two apart when Latch may look. */
  async function explainNotFound(name: string, notFound: StoreError): Promise<StoreError> {
    try {
      const deleted = await get().secrets.getDeletedSecret(name, { abortSignal: AbortSignal.timeout(common.timeoutMs) });
      const purge = deleted.properties.scheduledPurgeDate ? ` until ${deleted.properties.scheduledPurgeDate.toISOString().slice(0, 10)}` : "";
      const when = deleted.properties.deletedOn ? ` on ${deleted.properties.deletedOn.toISOString().slice(0, 10)}` : "";
      return new StoreError("deleted", `Secret “${name}” was deleted in Key Vault ${vaultHost}${when}. It can be recovered${purge} under Secrets → Manage deleted secrets.`);
    } catch {
      return notFound;
    }
  }

  return {
    host: vaultHost,
    async getSecret(ref: SecretRef): Promise<FetchedSecret> {
      const { name, version } = checkName(ref);
      try {
        const secret = await call({ action: "read", secretName: name, ...(version ? { version } : {}) }, (c) =>
          c.getSecret(name, { ...(version ? { version } : {}), abortSignal: AbortSignal.timeout(operationBudget(common)) }),
        );
        return toFetched(secret, name);
      } catch (error) {
        if (error instanceof StoreError && error.kind === "not_found") throw await explainNotFound(name, error);
        throw error;
      }
    },

    async putSecret(ref: SecretRef, values: Record<string, string>) {
      const { name } = checkName({ name: ref.name });
      const keys = Object.keys(values);
      if (keys.length !== 1 || keys[0] !== "value" || typeof values.value !== "string") {
        throw new StoreError("config", `Azure Key Vault secrets hold a single value; Latch writes only the key “value” (got ${keys.length ? keys.map((k) => `“${k}”`).join(", ") : "none"}).`);
      }
      const value = values.value;
      const secret = await call({ action: "write", secretName: name }, (c) => c.setSecret(name, value, { abortSignal: AbortSignal.timeout(operationBudget(common)) }));
      return { version: secret.properties.version ?? null };
    },

    async deleteSecret(ref: SecretRef) {
      const { name } = checkName({ name: ref.name });
      await call({ action: "delete", secretName: name }, async (c) => {
        const abortSignal = AbortSignal.timeout(operationBudget(common) * 2);
        const poller = await c.beginDeleteSecret(name, { intervalInMs: 500, abortSignal });
        await poller.pollUntilDone({ abortSignal });
      });
      try {
        await get().secrets.purgeDeletedSecret(name, { abortSignal: AbortSignal.timeout(operationBudget(common)) });
      } catch {
        // No Purge permission or purge protection: the secret stays soft-deleted and recoverable.
      }
    },

    async health() {
      // A name that cannot exist: "not found" proves TLS, sign-in and the vault's access check all passed.
      const probe = `latch-health-probe-${randomUUID()}`;
      try {
        await call({ action: "check", secretName: probe }, (c) => c.getSecret(probe, { abortSignal: AbortSignal.timeout(operationBudget(common)) }));
      } catch (error) {
        // Access granted per secret (RBAC at secret scope) refuses unknown names; sign-in still worked.
        if (error instanceof StoreError && (error.kind === "not_found" || error instanceof AccessDeniedError)) return;
        throw error;
      }
    },

    async close() {
      const current = transport;
      clients = undefined;
      transport = undefined;
      await current?.dispatcher.close().catch(() => {});
    },
  };
}

/**
 * One SDK call may take several exchanges (challenge probe, OpenID discovery, token, the request),
 * each bounded by timeoutMs in the transport; this caps the whole call.
 */
function operationBudget(common: CommonOptions): number {
  return common.timeoutMs * 4;
}

function safeHost(url: () => string): string {
  try {
    return new URL(url()).host;
  } catch {
    return "the vault";
  }
}

import "server-only";
import { randomUUID } from "node:crypto";
import type { KeyVaultSecret, SecretClient } from "@azure/keyvault-secrets";
import { z } from "zod";
import { StoreError } from "../../errors";
import { withRetry } from "../../retry";
import type { CommonOptions, FetchedSecret, FieldSpec, SecretRef, StoreProvider } from "../../types";
import { DEFAULT_AUTHORITY_HOST, createAzureClients, createAzureTransport, resolveVaultUrl, type AzureClients, type AzureSettings, type AzureTransport } from "./client";
import { AccessDeniedError, mapAzureError, SignInUnavailableError, VaultRejectedTokenError, type AzureErrorContext } from "./errors";
import type { Exchange } from "./http-client";

import { certificateCredentialProblem } from "./certificate";

export { certificateCredentialProblem, generateClientCertificate, publicCertificateOf } from "./certificate";

const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const VAULT_NAME = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;
const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const VERSION = /^[0-9a-zA-Z]{1,64}$/;

function isVaultUrl(v: string): boolean {
  if (!URL.canParse(v)) return false;
  const u = new URL(v);
  return u.protocol === "https:" && !u.username && !u.password && (u.pathname === "/" || u.pathname === "") && !u.search && !u.hash;
}

export const azureConfigSchema = z.object({
  vault: z
    .string({ error: "Enter the vault name or URL." })
    .trim()
    .refine((v) => VAULT_NAME.test(v) || isVaultUrl(v), "Enter the vault name (3–24 letters, digits and hyphens, e.g. contoso-prod) or its URL without a path (https://contoso-prod.vault.azure.net)."),
  tenantId: z
    .string({ error: "Enter the directory (tenant) ID." })
    .trim()
    .refine((v) => GUID.test(v) || /^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+$/.test(v), "Enter the directory (tenant) ID, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47.")
    .refine((v) => !["common", "organizations", "consumers"].includes(v.toLowerCase()), "Enter your own tenant's ID; “common” cannot be used by an application."),
  clientId: z.string({ error: "Enter the application (client) ID." }).trim().regex(GUID, "The application (client) ID is a GUID, e.g. 0f7b3c1e-2d4a-4b5c-9e8f-1a2b3c4d5e6f."),
  authorityHost: z.preprocess(
    blankToUndefined,
    z
      .string()
      .trim()
      .refine((v) => URL.canParse(v) && new URL(v).protocol === "https:", "Enter an https:// address, e.g. https://login.microsoftonline.us")
      .optional(),
  ),
  auth: z.enum(["certificate", "client_secret"]).default("certificate"),
});

export const azureSecretSchema = z.object({
  clientSecret: z.preprocess(blankToUndefined, z.string().trim().min(8, "Paste the client secret's Value (not its Secret ID).").optional()),
  certificatePem: z.preprocess(
    blankToUndefined,
    z
      .string()
      .optional()
      .refine((v) => !v || (v.includes("-----BEGIN CERTIFICATE-----") && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v)), "Paste the certificate and its private key together (one PEM with both BEGIN CERTIFICATE and BEGIN PRIVATE KEY blocks)."),
  ),
  certificatePassword: z.preprocess(blankToUndefined, z.string().optional()),
});

type Config = z.output<typeof azureConfigSchema>;
type Secrets = z.output<typeof azureSecretSchema>;

const fields: FieldSpec[] = [
  {
    name: "vault",
    label: "Key vault",
    type: "text",
    required: true,
    placeholder: "contoso-prod or https://contoso-prod.vault.azure.net",
    help: "The key vault's name (Latch reaches it at https://NAME.vault.azure.net) or its full Vault URI from the vault's Overview page, e.g. for Azure Government or China (…vault.usgovcloudapi.net, …vault.azure.cn) or a private endpoint. For addresses outside the Key Vault domains, Latch turns off the SDK's check that the vault's sign-in challenge names a Key Vault domain.",
  },
  {
    name: "tenantId",
    label: "Directory (tenant) ID",
    type: "text",
    required: true,
    placeholder: "72f988bf-86f1-41af-91ab-2d7cd011db47",
    help: "Microsoft Entra ID → Overview → Tenant ID: the directory that holds the vault and the app registration.",
  },
  {
    name: "clientId",
    label: "Application (client) ID",
    type: "text",
    required: true,
    placeholder: "0f7b3c1e-2d4a-4b5c-9e8f-1a2b3c4d5e6f",
    help: "App registrations → the app registered for Latch → Application (client) ID. Give this app the secret permission Get (and Set and Delete if Latch writes secrets) under the vault's Access policies, or the role “Key Vault Secrets User” (“Key Vault Secrets Officer” for writes) if the vault uses Azure RBAC.",
  },
  {
    name: "auth",
    label: "Authentication",
    type: "select",
    required: true,
    options: [
      { value: "certificate", label: "Certificate" },
      { value: "client_secret", label: "Client secret" },
    ],
    help: "How the app proves its identity to Entra ID. A certificate is recommended: Latch can generate the key pair itself, keep the private key, and give you only the public certificate (.cer) to upload under Certificates & secrets → Certificates.",
  },
  {
    name: "certificatePem",
    label: "Certificate and private key (PEM)",
    type: "textarea",
    secret: true,
    showWhen: { field: "auth", equals: ["certificate"] },
    help: "Filled in when Latch generates the key pair. Otherwise paste one PEM holding the certificate and its unencrypted or encrypted private key, e.g. the my-certificate.pem made by `openssl req -x509 -nodes -days 365 -newkey rsa:2048 -keyout my-certificate.pem -out my-certificate.pem`. Upload only the public part (.cer) to the app registration.",
  },
  {
    name: "certificatePassword",
    label: "Private key password",
    type: "text",
    secret: true,
    showWhen: { field: "auth", equals: ["certificate"] },
    help: "Only if the private key in the PEM is encrypted. Leave empty otherwise.",
  },
  {
    name: "clientSecret",
    label: "Client secret",
    type: "text",
    secret: true,
    showWhen: { field: "auth", equals: ["client_secret"] },
    help: "The Value shown once when the secret was created under Certificates & secrets → Client secrets (not the Secret ID). Client secrets expire; note the expiry date. Stored encrypted; leave empty when editing to keep the current one.",
  },
  {
    name: "authorityHost",
    label: "Authority host",
    type: "url",
    placeholder: DEFAULT_AUTHORITY_HOST,
    help: "Where Latch signs in. Leave empty for the public cloud (https://login.microsoftonline.com). Azure Government: https://login.microsoftonline.us; Azure China: https://login.chinacloudapi.cn.",
  },
];

/**
 * Azure Key Vault: one secret = one string value (returned as key "value"). Writes add a version;
 * deletes soft-delete, wait for Key Vault to finish, then purge if the app has the Purge permission
 * (otherwise the secret stays recoverable for the vault's retention period).
 */
export const azureProvider: StoreProvider<typeof azureConfigSchema, typeof azureSecretSchema> = {
  kind: "azure",
  label: "Azure Key Vault",
  description: "Reads and writes secrets in Azure Key Vault, signing in to Microsoft Entra ID as an app registration with a certificate or a client secret.",
  configSchema: azureConfigSchema,
  secretSchema: azureSecretSchema,
  fields,
  supportsWrite: true,
  singleValue: true,
  defaultKeys: { username: "username", password: "value" },
  referenceHint: "Secret name, e.g. payroll-db-password; version: empty for the latest, or a 32-character version ID",
  create: ({ config, secrets, common }) => createAzureStoreClient(config, secrets, common),
  validateOnSave({ config, secrets }) {
    if (config.auth !== "certificate" || !secrets.certificatePem) return {};
    const problem = certificateCredentialProblem(secrets.certificatePem, secrets.certificatePassword);
    return problem ? { [`secrets.${problem.field}`]: [problem.message] } : {};
  },
};

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
          try {
            current = get();
            return await op(current.secrets);
          } catch (error) {
            const mapped = mapAzureError(error, { ...baseCtx, ...ctx, lastTransportError: transport?.http.transportErrorSince(started) });
            if (mapped instanceof VaultRejectedTokenError && !renewed) {
              renewed = true;
              renew(current);
              continue;
            }
            // Without a new credential MSAL would keep refusing sign-ins for a minute, offline.
            if (mapped instanceof SignInUnavailableError) renew(current);
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
    if (!VERSION.test(version)) throw new StoreError("config", `“${version.slice(0, 70)}” is not a Key Vault secret version: use the version ID (32 letters and digits), or leave it empty for the latest.`);
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

import { z } from "zod";
import { defineStoreKind } from "../../descriptor";
import { secret, setting, USER_INFO_MESSAGE, withoutUserInfo } from "../../fields";

const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Key Vault secret names and version ids, as Azure accepts them. */
export const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
export const SECRET_VERSION = /^[0-9a-zA-Z]{1,64}$/;
const VAULT_NAME = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;
const onAuth = (auth: string) => ({ field: "auth", equals: [auth] });
/** Where a vault given by name is reached. */
export const VAULT_NAME_URL = "https://{name}.vault.azure.net";

function isVaultUrl(v: string): boolean {
  if (!URL.canParse(v)) return false;
  const u = new URL(v);
  return u.protocol === "https:" && !u.username && !u.password && (u.pathname === "/" || u.pathname === "") && !u.search && !u.hash;
}

export const azureDescriptor = defineStoreKind({
  kind: "azure",
  label: "Azure Key Vault",
  description: "Reads and writes secrets in Azure Key Vault, signing in to Microsoft Entra ID as an app registration with a certificate or a client secret.",
  supportsWrite: true,
  singleValue: true,
  reference: {
    nameLabel: "Secret name",
    writeNameLabel: "Secret name to write to",
    nameHelp: "The Key Vault secret's name: 1–127 letters, digits and hyphens, e.g. payroll-db-password.",
    namePlaceholder: "payroll-db-password",
    nameNoun: "name",
    name: z
      .string()
      .min(1, "Enter the Key Vault secret's name.")
      .regex(SECRET_NAME, "Key Vault secret names are 1–127 letters, digits and hyphens, e.g. payroll-db-password."),
    // Key Vault matches secret names whatever their case.
    caseInsensitive: true,
    version: {
      mode: "single",
      label: "Version ID",
      help: "The 32-character version ID from the secret's versions list. Leave empty to always use the latest.",
      placeholder: "Latest",
      rule: z
        .string()
        .regex(SECRET_VERSION, "A Key Vault version ID is letters and digits (32 of them), as shown in the secret's versions list; leave it empty for the latest."),
    },
    defaultKeys: { username: "username", password: "value" },
    hint: "Secret name, e.g. payroll-db-password; version: empty for the latest, or a 32-character version ID",
  },
  shape: {
    vault: setting(
      z
        .string({ error: "Enter the vault name or URL." })
        .trim()
        .refine((v) => VAULT_NAME.test(v) || isVaultUrl(v), "Enter the vault name (3–24 letters, digits and hyphens, e.g. contoso-prod) or its URL without a path (https://contoso-prod.vault.azure.net)."),
      {
        label: "Key vault",
        locator: true,
        nameUrl: VAULT_NAME_URL,
        placeholder: "contoso-prod or https://contoso-prod.vault.azure.net",
        help: "The key vault's name (Latch reaches it at https://NAME.vault.azure.net) or its full Vault URI from the vault's Overview page, e.g. for Azure Government or China (…vault.usgovcloudapi.net, …vault.azure.cn) or a private endpoint. For addresses outside the Key Vault domains, Latch turns off the SDK's check that the vault's sign-in challenge names a Key Vault domain.",
      },
    ),
    tenantId: setting(
      z
        .string({ error: "Enter the directory (tenant) ID." })
        .trim()
        .refine((v) => !["common", "organizations", "consumers"].includes(v.toLowerCase()), "Enter your own tenant's ID; “common” cannot be used by an application.")
        // Key Vault's sign-in challenge names the tenant by its ID in lower case, and the SDK compares
        // the two as text: a domain name, or the ID in capitals, would fail every call.
        .refine(
          (v) => GUID.test(v) || !/^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+$/.test(v),
          "Enter the tenant ID (a GUID), not a domain name: Key Vault names its tenant by ID. Find it under Microsoft Entra ID → Overview.",
        )
        .refine((v) => GUID.test(v), "Enter the directory (tenant) ID, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47.")
        .transform((v) => v.toLowerCase()),
      {
        label: "Directory (tenant) ID",
        placeholder: "72f988bf-86f1-41af-91ab-2d7cd011db47",
        help: "Microsoft Entra ID → Overview → Tenant ID: the directory that holds the vault and the app registration.",
      },
    ),
    clientId: setting(z.string({ error: "Enter the application (client) ID." }).trim().regex(GUID, "The application (client) ID is a GUID, e.g. 0f7b3c1e-2d4a-4b5c-9e8f-1a2b3c4d5e6f."), {
      label: "Application (client) ID",
      placeholder: "0f7b3c1e-2d4a-4b5c-9e8f-1a2b3c4d5e6f",
      help: "App registrations → the app registered for Latch → Application (client) ID. Give this app the secret permission Get (and Set and Delete if Latch writes secrets) under the vault's Access policies, or the role “Key Vault Secrets User” (“Key Vault Secrets Officer” for writes) if the vault uses Azure RBAC.",
    }),
    auth: setting(z.enum(["certificate", "client_secret"]).default("certificate"), {
      label: "Authentication",
      options: [{ value: "certificate", label: "Certificate" }, { value: "client_secret", label: "Client secret" }],
      help: "How the app proves its identity to Entra ID. A certificate is recommended: Latch can generate the key pair itself, keep the private key, and give you only the public certificate (.cer) to upload under Certificates & secrets → Certificates.",
    }),
    certificatePem: secret(
      z.preprocess(
        blankToUndefined,
        z
          .string()
          .max(100_000, "The PEM is too large (100 KB at most).")
          .optional()
          .refine((v) => !v || (v.includes("-----BEGIN CERTIFICATE-----") && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v)), "Upload or paste the certificate and its private key together (one PEM with both BEGIN CERTIFICATE and BEGIN PRIVATE KEY blocks)."),
      ),
      {
        label: "Certificate and private key (PEM)",
        input: "pem",
        accept: ".pem,.crt,.key,.txt",
        showWhen: onAuth("certificate"),
        help: "Leave it empty to let Latch generate the key pair on the store's page after saving. Otherwise upload (or paste) one PEM holding the certificate and its private key, e.g. the my-certificate.pem made by `openssl req -x509 -nodes -days 365 -newkey rsa:2048 -keyout my-certificate.pem -out my-certificate.pem`. Upload only the public part (.cer) to the app registration.",
      },
    ),
    certificatePassword: secret(z.preprocess(blankToUndefined, z.string().optional()), {
      label: "Private key password",
      showWhen: onAuth("certificate"),
      help: "Only if the private key in the PEM is encrypted. Leave empty otherwise.",
    }),
    clientSecret: secret(z.preprocess(blankToUndefined, z.string().trim().min(8, "Paste the client secret's Value (not its Secret ID).").optional()), {
      label: "Client secret",
      showWhen: onAuth("client_secret"),
      requiredWhenShown: "Paste the client secret's Value.",
      help: "The Value shown once when the secret was created under Certificates & secrets → Client secrets (not the Secret ID). Client secrets expire; note the expiry date. Stored encrypted.",
    }),
    authorityHost: setting(
      z.preprocess(
        blankToUndefined,
        z
          .string()
          .trim()
          .refine((v) => URL.canParse(v) && new URL(v).protocol === "https:", "Enter an https:// address, e.g. https://login.microsoftonline.us")
          .refine(withoutUserInfo, USER_INFO_MESSAGE)
          .optional(),
      ),
      {
        label: "Authority host",
        input: "url",
        locator: true,
        placeholder: "https://login.microsoftonline.com",
        help: "Where Latch signs in. Leave empty for the public cloud (https://login.microsoftonline.com). Azure Government: https://login.microsoftonline.us; Azure China: https://login.chinacloudapi.cn.",
      },
    ),
  },
});

export const azureConfigSchema = azureDescriptor.configSchema;
export const azureSecretSchema = azureDescriptor.secretSchema;

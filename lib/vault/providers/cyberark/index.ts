import "server-only";
import { z } from "zod";
import { StoreError } from "../../errors";
import type { CommonOptions, FieldSpec, StoreProvider } from "../../types";
import { CcpClient, UNSUPPORTED_CHARACTERS } from "./ccp-client";
import { loadClientCertificate, type ClientCertificate } from "./client-certificate";

/** Queried by health() when no probe object is set: "not found" then proves the App ID authenticated. */
export const HEALTH_PROBE_OBJECT = "latch-connection-check-no-such-object";

const queryValue = (label: string) =>
  z
    .string({ error: `${label} is required.` })
    .trim()
    .min(1, `${label} is required.`)
    .refine((v) => !UNSUPPORTED_CHARACTERS.test(v), `${label} contains a character CyberArk does not support in queries (+ & % ;).`);

const configSchema = z.object({
  url: z
    .string({ error: "Enter the CCP's address, e.g. https://ccp.example.com" })
    .trim()
    .refine((v) => URL.canParse(v), "Enter the CCP's address, e.g. https://ccp.example.com")
    .refine((v) => !URL.canParse(v) || new URL(v).protocol === "https:", "The Credential Provider is reached over https:// (mutual TLS)."),
  appId: queryValue("App ID"),
  safe: queryValue("Safe"),
  folder: queryValue("Folder").default("Root"),
  certificateFormat: z.enum(["pem", "pfx"]).default("pem"),
  failOnPasswordChange: z.boolean().default(false),
});

const secretSchema = z.object({
  clientCertificatePem: z
    .string()
    .optional()
    .refine((v) => !v || (v.includes("-----BEGIN CERTIFICATE-----") && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v)), "Paste both the certificate and its private key, each with its BEGIN and END lines."),
  clientCertificatePfx: z
    .string()
    .optional()
    .refine((v) => !v || /^[A-Za-z0-9+/=\s]+$/.test(v), "Upload the certificate as a .pfx or .p12 file (PKCS#12)."),
  passphrase: z.string().optional(),
});

type Config = z.output<typeof configSchema>;
type Secrets = z.output<typeof secretSchema>;

const fields: FieldSpec[] = [
  {
    name: "url",
    label: "CCP URL",
    type: "url",
    required: true,
    placeholder: "https://ccp.example.com",
    help: "Base address of the Central Credential Provider web service. Latch appends /AIMWebService/api/Accounts. Add your CA under the CA bundle setting if the CCP's certificate is issued by a private CA.",
  },
  {
    name: "appId",
    label: "App ID",
    type: "text",
    required: true,
    placeholder: "Latch",
    help: "The Application ID defined for Latch in CyberArk (Applications in the PVWA). It must allow certificate authentication with the client certificate below.",
  },
  { name: "safe", label: "Safe", type: "text", required: true, placeholder: "Finance", help: "The safe holding the accounts. The App ID and the Credential Provider's user must both be members of it." },
  { name: "folder", label: "Folder", type: "text", placeholder: "Root", help: "Folder inside the safe. Almost always Root." },
  {
    name: "certificateFormat",
    label: "Client certificate format",
    type: "select",
    options: [
      { value: "pem", label: "PEM (certificate and private key)" },
      { value: "pfx", label: "PFX / PKCS#12 file" },
    ],
    help: "How you will supply the client certificate Latch presents to the CCP (mutual TLS).",
  },
  {
    name: "clientCertificatePem",
    label: "Client certificate and private key (PEM)",
    type: "textarea",
    secret: true,
    showWhen: { field: "certificateFormat", equals: ["pem"] },
    help: "Paste the certificate (with any intermediate certificates) followed by its private key, including the BEGIN and END lines. If the key is encrypted, enter its passphrase below.",
  },
  {
    name: "clientCertificatePfx",
    label: "Client certificate (PFX)",
    type: "file",
    secret: true,
    accept: ".pfx,.p12",
    showWhen: { field: "certificateFormat", equals: ["pfx"] },
    help: "A .pfx or .p12 file holding the certificate and its private key. Files exported with legacy RC2/3DES encryption must be re-exported with AES-256.",
  },
  { name: "passphrase", label: "Certificate passphrase", type: "text", secret: true, help: "The PFX file's password, or the passphrase of an encrypted PEM private key. Leave empty if there is none." },
  {
    name: "failOnPasswordChange",
    label: "Fail while the password is being changed",
    type: "boolean",
    help: "Ask CyberArk to refuse a request while its CPM is changing the password (FailRequestOnPasswordChange), so Latch never hands out a password that is about to become invalid. Latch retries briefly, then reports the store as unavailable.",
  },
];

/**
 * CyberArk Central Credential Provider: read-only, one GET per account, the application
 * authenticated by App ID and client certificate (mutual TLS). A secret reference is the account's
 * Object name; values are password, username, address and the account's other properties with the
 * first letter lower-cased (database, logonDomain, policyID, custom properties…).
 */
export const cyberarkProvider: StoreProvider<typeof configSchema, typeof secretSchema> = {
  kind: "cyberark",
  label: "CyberArk Central Credential Provider",
  description:
    "Reads account passwords from a CyberArk Vault through the Central Credential Provider (AIMWebService), authenticated by App ID and client certificate. Read-only. Values: password, username, address and the account's other properties (first letter lower-cased, e.g. logonDomain).",
  configSchema,
  secretSchema,
  fields,
  supportsWrite: false,
  singleValue: false,
  defaultKeys: { username: "username", password: "password" },
  referenceHint: "The account's Object name in the safe, e.g. Operating System-UnixSSH-db01-root",
  create: ({ config, secrets, common }) => createCcpStoreClient(config, secrets, common),
};

function createCcpStoreClient(config: Config, secrets: Secrets, common: CommonOptions) {
  let certificate: ClientCertificate | undefined;
  const ccp = new CcpClient({
    baseUrl: config.url,
    certificate: () => (certificate ??= loadClientCertificate(config.certificateFormat, secrets)),
    caBundle: common.caBundle,
    proxyUrl: common.proxyUrl,
    timeoutMs: common.timeoutMs,
  });
  const query = (object: string, failOnPasswordChange: boolean) =>
    ccp.getPassword({ appId: config.appId, safe: config.safe, folder: config.folder, object, failOnPasswordChange });

  return {
    host: URL.canParse(config.url) ? new URL(config.url).host : config.url,
    async getSecret(ref: { name: string; version?: string }) {
      if (ref.version) throw new StoreError("config", `CyberArk's Credential Provider always returns the current password; remove the version (“${ref.version}”) from the reference.`);
      return query(ref.name.trim(), config.failOnPasswordChange);
    },
    async health() {
      // A named probe is the store-wide "probe secret" setting, read by the store test after this.
      try {
        await query(HEALTH_PROBE_OBJECT, false);
      } catch (error) {
        // CCP answers "not found" only after the application has authenticated.
        if (error instanceof StoreError && error.kind === "not_found") return;
        throw error;
      }
    },
    close: () => ccp.close(),
  };
}

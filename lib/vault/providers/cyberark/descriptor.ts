import { z } from "zod";
import { defineStoreKind } from "../../descriptor";
import { secret, setting, USER_INFO_MESSAGE, withoutUserInfo } from "../../fields";

/** Characters CyberArk does not support in query values (they collide with its Query syntax). */
export const UNSUPPORTED_CHARACTERS = /[+&%;]/;

const queryValue = (label: string) =>
  z
    .string({ error: `${label} is required.` })
    .trim()
    .min(1, `${label} is required.`)
    .refine((v) => !UNSUPPORTED_CHARACTERS.test(v), `${label} contains a character CyberArk does not support in queries (+ & % ;).`);
const onFormat = (format: string) => ({ field: "certificateFormat", equals: [format] });

export const cyberarkDescriptor = defineStoreKind({
  kind: "cyberark",
  label: "CyberArk Central Credential Provider",
  description:
    "Reads account passwords from a CyberArk Vault through the Central Credential Provider (AIMWebService), authenticated by App ID and client certificate. Read-only. Values: password, username, address and the account's other properties (first letter lower-cased, e.g. logonDomain).",
  supportsWrite: false,
  singleValue: false,
  reference: {
    nameLabel: "Object",
    writeNameLabel: "Object",
    nameHelp: "The account's Object name in the store's safe, e.g. Operating System-UnixSSH-db01-root.",
    namePlaceholder: "Operating System-UnixSSH-db01-root",
    nameNoun: "name",
    name: z
      .string()
      .min(1, "Enter the account's Object name.")
      .max(500, "An Object name can be at most 500 characters.")
      .refine((v) => !UNSUPPORTED_CHARACTERS.test(v), "CyberArk's Credential Provider cannot look up names containing + & % or ;. Rename the account in CyberArk."),
    // CyberArk matches Object names whatever their case.
    caseInsensitive: true,
    version: { mode: "none", note: "CyberArk's Credential Provider always returns the account's current password; there are no versions to choose." },
    defaultKeys: { username: "username", password: "password" },
    hint: "The account's Object name in the safe, e.g. Operating System-UnixSSH-db01-root",
  },
  shape: {
    url: setting(
      z
        .string({ error: "Enter the CCP's address, e.g. https://ccp.example.com" })
        .trim()
        .refine((v) => URL.canParse(v), "Enter the CCP's address, e.g. https://ccp.example.com")
        .refine((v) => !URL.canParse(v) || new URL(v).protocol === "https:", "The Credential Provider is reached over https:// (mutual TLS).")
        .refine((v) => !URL.canParse(v) || withoutUserInfo(v), USER_INFO_MESSAGE),
      {
        label: "CCP URL",
        input: "url",
        locator: true,
        placeholder: "https://ccp.example.com",
        help: "Base address of the Central Credential Provider web service. Latch appends /AIMWebService/api/Accounts. Add your CA under the CA bundle setting if the CCP's certificate is issued by a private CA.",
      },
    ),
    appId: setting(queryValue("App ID"), {
      label: "App ID",
      placeholder: "Latch",
      help: "The Application ID defined for Latch in CyberArk (Applications in the PVWA). It must allow certificate authentication with the client certificate below.",
    }),
    safe: setting(queryValue("Safe"), { label: "Safe", placeholder: "Finance", help: "The safe holding the accounts. The App ID and the Credential Provider's user must both be members of it." }),
    folder: setting(queryValue("Folder").default("Root"), { label: "Folder", placeholder: "Root", help: "Folder inside the safe. Almost always Root." }),
    certificateFormat: setting(z.enum(["pem", "pfx"]).default("pem"), {
      label: "Client certificate format",
      options: [{ value: "pem", label: "PEM (certificate and private key)" }, { value: "pfx", label: "PFX / PKCS#12 file" }],
      help: "How you will supply the client certificate Latch presents to the CCP (mutual TLS).",
    }),
    clientCertificatePem: secret(
      z
        .string()
        .max(100_000, "The PEM is too large (100 KB at most).")
        .optional()
        .refine((v) => !v || (v.includes("-----BEGIN CERTIFICATE-----") && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v)), "Paste both the certificate and its private key, each with its BEGIN and END lines."),
      {
        label: "Client certificate and private key (PEM)",
        input: "textarea",
        showWhen: onFormat("pem"),
        requiredWhenShown: "Paste the client certificate and its private key (PEM).",
        help: "Paste the certificate (with any intermediate certificates) followed by its private key, including the BEGIN and END lines. If the key is encrypted, enter its passphrase below.",
      },
    ),
    clientCertificatePfx: secret(
      z
        .string()
        .max(200_000, "The PFX file is too large.")
        .optional()
        .refine((v) => !v || /^[A-Za-z0-9+/=\s]+$/.test(v), "Upload the certificate as a .pfx or .p12 file (PKCS#12)."),
      {
        label: "Client certificate (PFX)",
        input: "file",
        accept: ".pfx,.p12",
        showWhen: onFormat("pfx"),
        requiredWhenShown: "Upload the client certificate (.pfx or .p12).",
        help: "A .pfx or .p12 file holding the certificate and its private key. Files exported with legacy RC2/3DES encryption must be re-exported with AES-256.",
      },
    ),
    passphrase: secret(z.string().optional(), {
      label: "Certificate passphrase",
      help: "The PFX file's password, or the passphrase of an encrypted PEM private key. Leave empty if there is none.",
    }),
    failOnPasswordChange: setting(z.boolean().default(false), {
      label: "Fail while the password is being changed",
      help: "Ask CyberArk to refuse a request while its CPM is changing the password (FailRequestOnPasswordChange), so Latch never hands out a password that is about to become invalid. Latch retries briefly, then reports the store as unavailable.",
    }),
  },
});

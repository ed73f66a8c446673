import { z } from "zod";
import { defineStoreKind } from "../../descriptor";
import { secret, setting, USER_INFO_MESSAGE, withoutUserInfo } from "../../fields";

const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const trimSlashes = (v: unknown) => (typeof v === "string" ? v.trim().replace(/^\/+|\/+$/g, "") : v);
/**
 * Slash-separated segments of letters, digits, . _ and -, none of them "." or "..": the URL parser
 * would resolve those, and a mount of ../../other would send the token (and, for a login, the
 * secret ID or password) to another path of a gateway in front of Vault.
 */
const VAULT_PATH = /^(?!\.{1,2}(?:\/|$))[\w.-]+(?:\/(?!\.{1,2}(?:\/|$))[\w.-]+)*$/;
const mountPath = (fallback: string) =>
  z.preprocess(
    (v) => blankToUndefined(trimSlashes(v)),
    z.string().regex(VAULT_PATH, "A mount path such as secret or team/kv (letters, digits, . _ - and /; no . or .. segments)").default(fallback),
  );
const optionalText = () => z.preprocess(blankToUndefined, z.string().trim().optional());
const onAuth = (auth: string) => ({ field: "auth", equals: [auth] });

export const hashicorpDescriptor = defineStoreKind({
  kind: "hashicorp",
  label: "HashiCorp Vault",
  description: "Reads and writes secrets in a HashiCorp Vault (or OpenBao) KV secrets engine, version 1 or 2, with a token, AppRole or userpass login.",
  supportsWrite: true,
  singleValue: false,
  reference: {
    nameLabel: "Path",
    writeNameLabel: "Path to write to",
    nameHelp: "The secret's path below the store's KV mount, without the mount, e.g. prod/payroll-db.",
    namePlaceholder: "prod/payroll-db",
    nameNoun: "path",
    name: z
      .string()
      .transform((p) => p.replace(/^\/+|\/+$/g, ""))
      .pipe(
        z
          .string()
          .min(1, "Enter the secret's path below the KV mount, e.g. prod/payroll-db.")
          .max(500, "Paths can be at most 500 characters.")
          .refine((p) => p.split("/").every((seg) => seg !== "" && seg !== "." && seg !== ".."), "A path cannot have empty, “.” or “..” parts, e.g. prod/payroll-db.")
          .refine((p) => !/\s/.test(p), "A Vault path cannot contain spaces."),
      ),
    caseInsensitive: false,
    version: {
      mode: "single",
      label: "Version",
      help: "KV version 2 mounts only: a version number such as 3. Leave empty to always use the latest.",
      placeholder: "Latest",
      rule: z.string().regex(/^[1-9]\d{0,9}$/, "A Vault version is a whole number such as 3; leave it empty for the latest."),
    },
    defaultKeys: { username: "username", password: "password" },
    hint: "Path below the KV mount, e.g. prod/payroll-db; version (KV v2 only): a version number",
  },
  shape: {
    // http:// passes here so the egress policy can explain that only development allows it.
    address: setting(
      z
        .url({ protocol: /^https?$/, error: "Enter Vault's full address, e.g. https://vault.example.com:8200" })
        .refine(withoutUserInfo, USER_INFO_MESSAGE)
        .transform((v) => v.replace(/\/+$/, "").replace(/\/v1$/, "")),
      { label: "Vault address", input: "url", locator: true, placeholder: "https://vault.example.com:8200", help: "The address you would put in VAULT_ADDR: scheme, host and port, without /v1." },
    ),
    namespace: setting(z.preprocess((v) => blankToUndefined(trimSlashes(v)), z.string().regex(VAULT_PATH, "A namespace such as admin or admin/team-a (no . or .. segments)").optional()), {
      label: "Namespace",
      placeholder: "admin/team-a",
      help: "Vault Enterprise or HCP Vault only: the namespace that holds the mount and the auth method (sent as X-Vault-Namespace). Leave empty for the root namespace or open-source Vault.",
    }),
    mount: setting(mountPath("secret"), {
      label: "KV mount path",
      placeholder: "secret",
      help: "Where the KV secrets engine is mounted, e.g. secret (the default) or kv. Secret references are paths below this mount.",
    }),
    kvVersion: setting(z.enum(["auto", "2", "1"]).default("auto"), {
      label: "KV version",
      options: [{ value: "auto", label: "Detect automatically" }, { value: "2", label: "Version 2 (versioned)" }, { value: "1", label: "Version 1 (not versioned)" }],
      help: "Detection asks Vault (sys/internal/ui/mounts), which any token with access to the mount may do. Choose the version explicitly if your policies forbid it.",
    }),
    auth: setting(z.enum(["token", "approle", "userpass"]).default("token"), {
      label: "Authentication",
      options: [{ value: "token", label: "Token" }, { value: "approle", label: "AppRole (recommended)" }, { value: "userpass", label: "Username and password (userpass)" }],
      help: "AppRole suits a service such as Latch: it logs in with a role ID and secret ID and renews or replaces its token by itself. With a token, Latch renews it past half its TTL if it is renewable, but a token that reaches its maximum TTL or is revoked must be replaced here by hand.",
    }),
    token: secret(optionalText(), {
      label: "Token",
      showWhen: onAuth("token"),
      requiredWhenShown: "Enter the Vault token Latch uses.",
      help: "A Vault token (hvs.…) whose policy allows reading (and, for read-write stores, writing and deleting) the paths Latch uses. Stored encrypted.",
    }),
    roleId: setting(optionalText(), {
      label: "Role ID",
      showWhen: onAuth("approle"),
      requiredWhenShown: "Enter the role ID of the AppRole Latch logs in with.",
      help: "From `vault read auth/approle/role/<name>/role-id`.",
    }),
    secretId: secret(optionalText(), {
      label: "Secret ID",
      showWhen: onAuth("approle"),
      requiredWhenShown: "Enter the secret ID of the AppRole Latch logs in with.",
      help: "From `vault write -f auth/approle/role/<name>/secret-id`. Use a secret ID without a use limit or short TTL, since Latch logs in again whenever its token expires. Stored encrypted.",
    }),
    approleMount: setting(mountPath("approle"), {
      label: "AppRole mount path",
      placeholder: "approle",
      showWhen: onAuth("approle"),
      help: "Only if the AppRole auth method is enabled at a path other than approle.",
    }),
    username: setting(optionalText(), {
      label: "Username",
      showWhen: onAuth("userpass"),
      requiredWhenShown: "Enter the Vault username Latch logs in with.",
      help: "A userpass user dedicated to Latch.",
    }),
    password: secret(z.preprocess(blankToUndefined, z.string().optional()), {
      label: "Password",
      showWhen: onAuth("userpass"),
      requiredWhenShown: "Enter the password of the Vault user.",
      help: "The user's password. Stored encrypted.",
    }),
    userpassMount: setting(mountPath("userpass"), {
      label: "Userpass mount path",
      placeholder: "userpass",
      showWhen: onAuth("userpass"),
      help: "Only if the userpass auth method is enabled at a path other than userpass.",
    }),
  },
});

export const hashicorpConfigSchema = hashicorpDescriptor.configSchema;
export const hashicorpSecretSchema = hashicorpDescriptor.secretSchema;

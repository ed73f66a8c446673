import "server-only";
import { z } from "zod";
import { StoreError } from "../../errors";
import type { FetchedSecret, SecretRef, StoreProvider } from "../../types";
import { VaultClient, firstError, type VaultResponse, type VaultSettings } from "./vault-client";

const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const trimSlashes = (v: unknown) => (typeof v === "string" ? v.trim().replace(/^\/+|\/+$/g, "") : v);
const mountPath = (fallback: string) =>
  z.preprocess(
    (v) => blankToUndefined(trimSlashes(v)),
    z.string().regex(/^[\w.-]+(\/[\w.-]+)*$/, "A mount path such as secret or team/kv (letters, digits, . _ - and /)").default(fallback),
  );

export const hashicorpConfigSchema = z
  .object({
    // http:// passes here so the egress policy can explain that only development allows it.
    address: z.url({ protocol: /^https?$/, error: "Enter Vault's full address, e.g. https://vault.example.com:8200" }).transform((v) => v.replace(/\/+$/, "").replace(/\/v1$/, "")),
    namespace: z.preprocess((v) => blankToUndefined(trimSlashes(v)), z.string().regex(/^[\w.-]+(\/[\w.-]+)*$/, "A namespace such as admin or admin/team-a").optional()),
    mount: mountPath("secret"),
    kvVersion: z.enum(["auto", "1", "2"]).default("auto"),
    auth: z.enum(["token", "approle", "userpass"]).default("token"),
    roleId: z.preprocess(blankToUndefined, z.string().trim().optional()),
    approleMount: mountPath("approle"),
    username: z.preprocess(blankToUndefined, z.string().trim().optional()),
    userpassMount: mountPath("userpass"),
  })
  .superRefine((c, ctx) => {
    if (c.auth === "approle" && !c.roleId) ctx.addIssue({ code: "custom", path: ["roleId"], message: "Enter the role ID of the AppRole Latch logs in with." });
    if (c.auth === "userpass" && !c.username) ctx.addIssue({ code: "custom", path: ["username"], message: "Enter the Vault username Latch logs in with." });
  });

export const hashicorpSecretSchema = z.object({
  token: z.preprocess(blankToUndefined, z.string().trim().optional()),
  secretId: z.preprocess(blankToUndefined, z.string().trim().optional()),
  password: z.preprocess(blankToUndefined, z.string().optional()),
});

type Config = z.output<typeof hashicorpConfigSchema>;

/** A secret reference as a Vault path below the mount: no leading slash, no "." or ".." segments. */
function secretPath(name: string): string {
  const p = name.trim().replace(/^\/+|\/+$/g, "");
  if (!p) throw new StoreError("config", "The secret path is empty.");
  if (p.split("/").some((seg) => !seg || seg === "." || seg === "..")) throw new StoreError("config", `The secret path “${name}” has an empty, “.” or “..” segment.`);
  return p;
}
const encodePath = (p: string) => p.split("/").map(encodeURIComponent).join("/");

const stringify = (data: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(data).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));

function asObject(v: unknown): Record<string, unknown> | null {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** Vault's answer to a KV v1-style path on a KV v2 mount. */
const isVersionedPathWarning = (res: VaultResponse) => {
  const warnings = asObject(res.body)?.warnings;
  return Array.isArray(warnings) && warnings.some((w) => typeof w === "string" && /versioned K\/V/i.test(w));
};

function parseTime(v: unknown): Date | null {
  if (typeof v !== "string" || !v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

export const hashicorpProvider: StoreProvider<typeof hashicorpConfigSchema, typeof hashicorpSecretSchema> = {
  kind: "hashicorp",
  label: "HashiCorp Vault",
  description: "Reads and writes secrets in a HashiCorp Vault (or OpenBao) KV secrets engine, version 1 or 2, with a token, AppRole or userpass login.",
  configSchema: hashicorpConfigSchema,
  secretSchema: hashicorpSecretSchema,
  fields: [
    { name: "address", label: "Vault address", type: "url", required: true, placeholder: "https://vault.example.com:8200", help: "The address you would put in VAULT_ADDR: scheme, host and port, without /v1." },
    { name: "namespace", label: "Namespace", type: "text", placeholder: "admin/team-a", help: "Vault Enterprise or HCP Vault only: the namespace that holds the mount and the auth method (sent as X-Vault-Namespace). Leave empty for the root namespace or open-source Vault." },
    { name: "mount", label: "KV mount path", type: "text", placeholder: "secret", help: "Where the KV secrets engine is mounted, e.g. secret (the default) or kv. Secret references are paths below this mount." },
    {
      name: "kvVersion",
      label: "KV version",
      type: "select",
      options: [
        { value: "auto", label: "Detect automatically" },
        { value: "2", label: "Version 2 (versioned)" },
        { value: "1", label: "Version 1 (not versioned)" },
      ],
      help: "Detection asks Vault (sys/internal/ui/mounts), which any token with access to the mount may do. Choose the version explicitly if your policies forbid it.",
    },
    {
      name: "auth",
      label: "Authentication",
      type: "select",
      required: true,
      options: [
        { value: "token", label: "Token" },
        { value: "approle", label: "AppRole (recommended)" },
        { value: "userpass", label: "Username and password (userpass)" },
      ],
      help: "AppRole suits a service such as Latch: it logs in with a role ID and secret ID and renews or replaces its token by itself. With a token, Latch renews it past half its TTL if it is renewable, but a token that reaches its maximum TTL or is revoked must be replaced here by hand.",
    },
    { name: "token", label: "Token", type: "text", secret: true, showWhen: { field: "auth", equals: ["token"] }, help: "A Vault token (hvs.…) whose policy allows reading (and, for read-write stores, writing and deleting) the paths Latch uses. Stored encrypted; leave empty when editing to keep the current one." },
    { name: "roleId", label: "Role ID", type: "text", showWhen: { field: "auth", equals: ["approle"] }, help: "From `vault read auth/approle/role/<name>/role-id`." },
    { name: "secretId", label: "Secret ID", type: "text", secret: true, showWhen: { field: "auth", equals: ["approle"] }, help: "From `vault write -f auth/approle/role/<name>/secret-id`. Use a secret ID without a use limit or short TTL, since Latch logs in again whenever its token expires. Stored encrypted." },
    { name: "approleMount", label: "AppRole mount path", type: "text", placeholder: "approle", showWhen: { field: "auth", equals: ["approle"] }, help: "Only if the AppRole auth method is enabled at a path other than approle." },
    { name: "username", label: "Username", type: "text", showWhen: { field: "auth", equals: ["userpass"] }, help: "A userpass user dedicated to Latch." },
    { name: "password", label: "Password", type: "text", secret: true, showWhen: { field: "auth", equals: ["userpass"] }, help: "The user's password. Stored encrypted; leave empty when editing to keep the current one." },
    { name: "userpassMount", label: "Userpass mount path", type: "text", placeholder: "userpass", showWhen: { field: "auth", equals: ["userpass"] }, help: "Only if the userpass auth method is enabled at a path other than userpass." },
  ],
  supportsWrite: true,
  singleValue: false,
  defaultKeys: { username: "username", password: "password" },
  referenceHint: "Path below the KV mount, e.g. prod/payroll-db; version (KV v2 only): a version number",
  create({ config, secrets, common }) {
    const settings: VaultSettings = { ...(config as Config), ...secrets };
    const vault = new VaultClient(settings, common);
    const mount = settings.mount;
    const where = () => `${mount}/${settings.namespace ? ` in namespace “${settings.namespace}”` : ""}`;
    let detected: Promise<1 | 2> | undefined;

    /** The mount's KV version as Vault reports it (sys/internal/ui/mounts, as the vault CLI asks). */
    async function lookupMount(): Promise<{ version: 1 | 2 } | { refused: true }> {
      const res = await vault.call("GET", `sys/internal/ui/mounts/${encodePath(mount)}`, { action: "look up the KV mount", secretPath: mount });
      // 403 "preflight capability check": no such mount, or the token's policies grant nothing below it.
      if (res.status === 403 || res.status === 400 || res.status === 404) return { refused: true };
      const data = asObject(asObject(res.body)?.data);
      if (res.status !== 200 || !data) throw new StoreError("bad_response", `Vault at ${vault.host} answered the mount lookup for “${mount}/” with HTTP ${res.status}.`);
      if (data.type !== "kv" && data.type !== "generic") throw new StoreError("config", `The mount “${mount}/” is a ${typeof data.type === "string" ? data.type : "non-KV"} secrets engine, not KV. Check the mount path.`);
      return { version: String(asObject(data.options)?.version ?? "1") === "2" ? 2 : 1 };
    }

    async function detect(): Promise<1 | 2> {
      const found = await lookupMount();
      if ("refused" in found) {
        throw new StoreError("config", `Vault has no KV mount at “${mount}/”${settings.namespace ? ` in namespace “${settings.namespace}”` : ""} that Latch's policies can see. Check the mount path, or choose the KV version explicitly.`);
      }
      return found.version;
    }

    function kvVersion(): Promise<1 | 2> {
      if (settings.kvVersion !== "auto") return Promise.resolve(settings.kvVersion === "2" ? 2 : 1);
      detected ??= detect().catch((error: unknown) => {
        detected = undefined;
        throw error;
      });
      return detected;
    }

    /** health(): the mount exists and, when the version is set by hand, has that version (if Vault lets Latch see it). */
    async function checkMount() {
      if (settings.kvVersion === "auto") return void (await kvVersion());
      const found = await lookupMount();
      if ("version" in found && String(found.version) !== settings.kvVersion) {
        throw new StoreError("config", `The mount “${where()}” is KV version ${found.version}, but the store is set to version ${settings.kvVersion}. Choose version ${found.version} or “Detect automatically”.`);
      }
    }

    const wrongVersion = (configured: 1 | 2) =>
      new StoreError("config", `The mount “${where()}” is not KV version ${configured}. Choose the other KV version, or “Detect automatically”.`);

    /** Statuses left after auth and transient ones are handled. */
    function unexpected(res: VaultResponse, action: string, path: string): StoreError {
      const msg = firstError(res.body);
      if (/no handler for route/i.test(msg)) return new StoreError("config", `Vault has no secrets engine mounted at “${where()}”. Check the KV mount path and namespace.`);
      if (res.status === 400) return new StoreError("config", `Vault refused to ${action} “${path}” in ${where()} (HTTP 400). Check the path and the KV version.`);
      if (res.status === 405) return new StoreError("config", `Vault does not support ${action} at “${path}” in ${where()} (HTTP 405). Check the KV version of the mount.`);
      return new StoreError("bad_response", `Vault at ${vault.host} answered HTTP ${res.status} when asked to ${action} “${path}”.`);
    }

    /** KV v2 current_version (0 when the key does not exist), for check-and-set writes. */
    async function currentVersion(path: string): Promise<number> {
      const res = await vault.call("GET", `${encodePath(mount)}/metadata/${encodePath(path)}`, { action: "read the metadata of", secretPath: path });
      if (res.status === 404) return 0;
      const n = asObject(asObject(res.body)?.data)?.current_version;
      if (res.status !== 200 || typeof n !== "number") throw unexpected(res, "read the metadata of", path);
      return n;
    }

    return {
      host: vault.host,
      async getSecret(ref: SecretRef): Promise<FetchedSecret> {
        const path = secretPath(ref.name);
        const version = ref.version?.trim() || undefined;
        const v = await kvVersion();
        if (v === 1) {
          if (version) throw new StoreError("config", `The mount “${mount}/” is KV version 1, which keeps no versions; remove the version “${version}” from the reference.`);
          const res = await vault.call("GET", `${encodePath(mount)}/${encodePath(path)}`, { action: "read", secretPath: path });
          if (res.status === 404 && isVersionedPathWarning(res)) throw wrongVersion(1);
          if (res.status === 404 && !firstError(res.body)) throw new StoreError("not_found", `There is no secret “${path}” in ${where()}.`);
          const data = asObject(asObject(res.body)?.data);
          if (res.status !== 200) throw unexpected(res, "read", path);
          if (!data) throw new StoreError("bad_response", `Vault returned no data for “${path}” in ${where()}.`);
          return { values: stringify(data), version: null, updatedAt: null };
        }
        if (version && !/^\d+$/.test(version)) throw new StoreError("config", `“${version}” is not a KV version number; use a number such as 3, or leave the version empty for the latest.`);
        const res = await vault.call("GET", `${encodePath(mount)}/data/${encodePath(path)}`, { action: "read", secretPath: path }, version ? { query: { version } } : {});
        const data = asObject(asObject(res.body)?.data);
        const metadata = asObject(data?.metadata);
        if (res.status === 404) {
          if (metadata && (metadata.destroyed === true || (typeof metadata.deletion_time === "string" && metadata.deletion_time !== ""))) {
            const n = typeof metadata.version === "number" ? metadata.version : version;
            const how = metadata.destroyed === true ? "destroyed" : "deleted";
            const fix = how === "deleted" ? "Undelete it (`vault kv undelete`) or write a new version." : "Its data is gone; write a new version.";
            throw new StoreError("deleted", `Version ${n ?? "latest"} of “${path}” in ${where()} was ${how}. ${fix}`);
          }
          if (!firstError(res.body)) {
            throw new StoreError("not_found", version ? `Secret “${path}” in ${where()} has no version ${version}.` : `There is no secret “${path}” in ${where()}.`);
          }
        }
        if (res.status !== 200) throw unexpected(res, "read", path);
        const values = asObject(data?.data);
        if (!values || !metadata) throw new StoreError("bad_response", `Vault returned no KV v2 data for “${path}” in ${where()}. Check that the mount is KV version 2.`);
        return {
          values: stringify(values),
          version: typeof metadata.version === "number" || typeof metadata.version === "string" ? String(metadata.version) : null,
          updatedAt: parseTime(metadata.created_time),
        };
      },

      async putSecret(ref, values) {
        const path = secretPath(ref.name);
        const v = await kvVersion();
        if (v === 1) {
          const res = await vault.call("POST", `${encodePath(mount)}/${encodePath(path)}`, { action: "write", secretPath: path }, { body: values });
          if (res.status === 404 && isVersionedPathWarning(res)) throw wrongVersion(1);
          if (res.status !== 204 && res.status !== 200) throw unexpected(res, "write", path);
          return { version: null };
        }
        const write = (cas?: number) =>
          vault.call("POST", `${encodePath(mount)}/data/${encodePath(path)}`, { action: "write", secretPath: path }, { body: cas === undefined ? { data: values } : { data: values, options: { cas } } });
        let res = await write();
        // Mounts or keys with cas_required: write on top of the current version.
        if (res.status === 400 && /check-and-set parameter required/i.test(firstError(res.body))) res = await write(await currentVersion(path));
        if (res.status !== 200) throw unexpected(res, "write", path);
        const n = asObject(asObject(res.body)?.data)?.version;
        return { version: typeof n === "number" || typeof n === "string" ? String(n) : null };
      },

      async deleteSecret(ref) {
        const path = secretPath(ref.name);
        const v = await kvVersion();
        // KV v2: the metadata endpoint removes every version and the key itself.
        const target = v === 1 ? `${encodePath(mount)}/${encodePath(path)}` : `${encodePath(mount)}/metadata/${encodePath(path)}`;
        const res = await vault.call("DELETE", target, { action: "delete", secretPath: path });
        if (res.status !== 204 && res.status !== 200 && res.status !== 404) throw unexpected(res, "delete", path);
      },

      async health() {
        await vault.health();
        await checkMount();
      },

      close: () => vault.close(),
    };
  },
};

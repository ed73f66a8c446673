import "server-only";
import type { z } from "zod";
import { StoreError } from "../../errors";
import { defineProvider } from "../../define";
import type { FetchedSecret, ReadWriteStoreClient, SecretRef } from "../../types";
import { hashicorpDescriptor, type hashicorpConfigSchema } from "./descriptor";
import { VaultClient, firstError, type VaultResponse, type VaultSettings } from "./vault-client";

export { hashicorpConfigSchema, hashicorpSecretSchema } from "./descriptor";

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

export const hashicorpProvider = defineProvider(hashicorpDescriptor, {
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
      // Vault answers for the mount that holds the path: a path inside a mount is not the mount.
      const actual = typeof data.path === "string" ? data.path.replace(/\/+$/, "") : null;
      if (actual !== null && actual !== mount.replace(/\/+$/, "")) {
        throw new StoreError("config", `“${mount}/” is not a mount but a path inside the mount “${actual}/”. Set the mount to “${actual}” and start the assets' secret names with “${mount.slice(actual.length).replace(/^\/+/, "")}/”.`);
      }
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

    /**
     * A configuration error after the version was detected may mean the mount changed since (`vault kv
     * enable-versioning`): the client is kept after such errors (lib/stores/client.ts), so the next
     * call detects again rather than failing for good.
     */
    function redetectAfterConfigError(error: unknown): never {
      if (settings.kvVersion === "auto" && error instanceof StoreError && error.kind === "config") detected = undefined;
      throw error;
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

    const client: ReadWriteStoreClient = {
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
    return {
      ...client,
      getSecret: (ref) => client.getSecret(ref).catch(redetectAfterConfigError),
      putSecret: (ref, values) => client.putSecret(ref, values).catch(redetectAfterConfigError),
      deleteSecret: (ref) => client.deleteSecret(ref).catch(redetectAfterConfigError),
    };
  },
});

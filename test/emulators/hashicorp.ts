import { randomBytes, randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { json, startEmulator, type Emulator, type EmulatorRequest } from "./harness";
import type { TestPki } from "./tls";

/**
 * HashiCorp Vault emulator (HTTPS, JSON under /v1/), faithful enough for any Vault HTTP client:
 * a token store with TTL / renewable / max TTL, token + AppRole + userpass auth, ACL policies,
 * KV v1 and v2 mounts (versions, metadata, delete/undelete/destroy, the 404-with-envelope for
 * deleted versions), sys/internal/ui/mounts, Enterprise namespaces (X-Vault-Namespace header or
 * path prefix), rate-limit quotas (429 + Retry-After) and sealing (503).
 */

export type Capability = "create" | "read" | "update" | "patch" | "delete" | "list" | "sudo" | "deny";
/** Vault policy paths (exact, `prefix*` globs, `+` one-segment wildcards) → capabilities. */
export type PolicyRules = Record<string, Capability[]>;

export type HashicorpEmulatorOptions = {
  pki: TestPki;
  /** Root token of the root namespace (random when omitted). */
  rootToken?: string;
  /** Mounts KV v2 at secret/ and KV v1 at kv/ in the root namespace, and KV v2 at secret/ in every new namespace (default true). */
  devMounts?: boolean;
};

type Where = { namespace?: string };
export type SecretKey = Where & { mount?: string; path: string };

export type TokenSpec = Where & {
  id?: string;
  /** Default: ["root"] (all access), like a child of the root token. */
  policies?: string[];
  /** Shorthand for a policy granting every capability below these path prefixes. */
  allowedPaths?: string[];
  noDefaultPolicy?: boolean;
  /** 0 = never expires (root-like). */
  ttlSeconds?: number;
  maxTtlSeconds?: number;
  renewable?: boolean;
  displayName?: string;
};

export type TokenInfo = {
  id: string;
  accessor: string;
  /** "" for the root namespace, else e.g. "team-a" (no trailing slash). */
  namespace: string;
  policies: string[];
  path: string;
  renewable: boolean;
  issuedAt: Date;
  expiresAt: Date | null;
  maxExpiresAt: Date | null;
  renewals: number;
  /** Revoked or expired. */
  dead: boolean;
};

export type TokenFilter = Where & {
  token?: string;
  accessor?: string;
  /** Creation path prefix, e.g. "auth/approle/login". */
  pathPrefix?: string;
  /** Include the root token (default false). */
  includeRoot?: boolean;
};

export type AppRoleSpec = Where & {
  mount?: string;
  name: string;
  roleId?: string;
  secretId?: string;
  /** Default: a policy granting everything (or only `allowedPaths`). */
  policies?: string[];
  allowedPaths?: string[];
  tokenTtlSeconds?: number;
  tokenMaxTtlSeconds?: number;
  /** Emulator knob: issue non-renewable tokens (real Vault: batch tokens). */
  renewable?: boolean;
  /** Vault's token_no_default_policy: tokens without the default policy (they cannot look up, renew or revoke themselves). */
  tokenNoDefaultPolicy?: boolean;
  /** 0 = unlimited. */
  secretIdNumUses?: number;
  /** 0 = never expires. */
  secretIdTtlSeconds?: number;
};

export type UserSpec = Where & {
  mount?: string;
  username: string;
  password: string;
  policies?: string[];
  allowedPaths?: string[];
  tokenTtlSeconds?: number;
  tokenMaxTtlSeconds?: number;
  renewable?: boolean;
};

export type HashicorpEmulator = Emulator & {
  pki: TestPki;
  rootToken: string;
  createNamespace(path: string): void;
  mountKv(opts: Where & { path: string; version: 1 | 2; maxVersions?: number; casRequired?: boolean }): void;
  unmount(opts: Where & { path: string }): void;
  hasMount(opts: Where & { path: string }): boolean;
  enableAuth(opts: Where & { path: string; type: "approle" | "userpass" }): void;
  writePolicy(opts: Where & { name: string; rules: PolicyRules }): void;
  /** Creates (or replaces) a role and issues one secret ID; returns both. */
  createAppRole(spec: AppRoleSpec): { roleId: string; secretId: string };
  issueSecretId(opts: Where & { mount?: string; role: string; numUses?: number; ttlSeconds?: number }): string;
  /** Invalidates one secret ID, or all of the role's when none is given. */
  revokeSecretId(opts: Where & { mount?: string; role: string; secretId?: string }): void;
  createUser(spec: UserSpec): void;
  setUserPassword(opts: Where & { mount?: string; username: string; password: string }): void;
  createToken(spec?: TokenSpec): string;
  /** Live tokens (the root token only with includeRoot). */
  tokens(filter?: TokenFilter): TokenInfo[];
  /** Every token ever issued, oldest first, revoked and expired ones included (for "never leaks" assertions). */
  issuedTokens(): TokenInfo[];
  revokeTokens(filter?: TokenFilter): number;
  revokeToken(id: string): number;
  /** Makes matching tokens expire now (they then answer 403 like revoked ones). */
  expireTokens(filter?: TokenFilter): number;
  /** Changes the remaining lifetime (and optionally the max TTL) of live tokens. */
  setTokenTtl(filter: TokenFilter, ttlSeconds: number, maxTtlSeconds?: number): number;
  /** Writes a secret: KV v2 adds a version, KV v1 overwrites. */
  seedSecret(key: SecretKey & { data: Record<string, unknown> }): { version: number | null };
  /** A new version with the given data, or with every string value replaced by a random one. */
  rotateSecret(key: SecretKey & { data?: Record<string, unknown> }): { version: number | null; data: Record<string, unknown> };
  /** soft: KV v2 delete of versions (default latest); destroy: permanent; all: metadata delete (KV v1: delete). */
  deleteSecret(key: SecretKey & { mode?: "soft" | "destroy" | "all"; destroy?: boolean; versions?: number[] }): void;
  undeleteSecret(key: SecretKey & { versions: number[] }): void;
  readSecret(key: SecretKey & { version?: number }): Record<string, unknown> | undefined;
  /** Whether the key exists at all (KV v2: metadata, even with every version deleted). */
  secretExists(key: SecretKey): boolean;
  /** AppRole with a role ID / secret ID of your choosing; a thin form of createAppRole. */
  addAppRole(name: string, creds?: { roleId?: string; secretId?: string }, opts?: Omit<AppRoleSpec, "name" | "roleId" | "secretId">): { roleId: string; secretId: string };
  addUserpass(username: string, password: string, opts?: Omit<UserSpec, "username" | "password">): void;
  setSealed(sealed: boolean): void;
  /** Sealed until unseal(); with `times`, only the next N requests answer 503 "Vault is sealed". */
  seal(opts?: { times?: number }): void;
  unseal(): void;
  /** 500 (or `status`) with a Vault error body for the next N matching requests. */
  failInternal(opts?: { times?: number; status?: number; pathIncludes?: string }): void;
  /** Never answer the next N matching requests. */
  hang(opts?: { times?: number; pathIncludes?: string }): void;
  /**
   * The next `times` matching requests (substring of the URL path) get 429 with the quota message and
   * Retry-After (none with `retryAfterSeconds: null`, as Vault sends by default); cleared by clearFaults.
   */
  throttle(opts: { times?: number; retryAfterSeconds?: number | null; pathIncludes?: string }): void;
  /**
   * A rate-limit quota (fixed window), as `vault write sys/quotas/rate-limit/…`; null removes it. Its
   * 429 carries Retry-After and X-Ratelimit-* only with `responseHeaders` (Vault's
   * enable_rate_limit_response_headers, off by default).
   */
  setRateLimit(quota: { rate: number; intervalSeconds: number; pathIncludes?: string; responseHeaders?: boolean } | null): void;
  setClockOffset(seconds: number): void;
};

const ALL_CAPS: Capability[] = ["create", "read", "update", "patch", "delete", "list", "sudo"];
const SYSTEM_MAX_TTL = 32 * 24 * 3600; // 768h, Vault's default max_lease_ttl
const KV_V1_LEASE = 2_764_800;
const VERSION = "1.17.6";
const DEFAULT_POLICY: PolicyRules = {
  "auth/token/lookup-self": ["read"],
  "auth/token/renew-self": ["update"],
  "auth/token/revoke-self": ["update"],
  "sys/capabilities-self": ["update"],
  "sys/internal/ui/resultant-acl": ["read"],
};

type V2Version = { data: Record<string, unknown>; created: string; deletionTime: string; destroyed: boolean };
type V2Secret = { versions: Map<number, V2Version>; current: number; oldest: number; maxVersions: number; casRequired: boolean; created: string; updated: string; customMetadata: Record<string, string> | null };
type KvMount = {
  path: string;
  version: 1 | 2;
  accessor: string;
  uuid: string;
  v1: Map<string, Record<string, unknown>>;
  v2: Map<string, V2Secret>;
  maxVersions: number;
  casRequired: boolean;
};
type SecretIdEntry = { usesLeft: number; expiresAt: number | null; accessor: string };
type AppRole = { name: string; roleId: string; secretIds: Map<string, SecretIdEntry>; policies: string[]; tokenTtl: number; tokenMaxTtl: number; renewable: boolean; noDefaultPolicy: boolean; secretIdNumUses: number; secretIdTtl: number };
type User = { username: string; password: string; policies: string[]; tokenTtl: number; tokenMaxTtl: number; renewable: boolean };
type AuthMount = { path: string; type: "approle" | "userpass"; accessor: string; roles: Map<string, AppRole>; users: Map<string, User> };
type Namespace = { path: string; id: string; mounts: Map<string, KvMount>; auths: Map<string, AuthMount>; policies: Map<string, PolicyRules> };
type Token = {
  id: string;
  accessor: string;
  namespace: string;
  policies: string[];
  path: string;
  displayName: string;
  meta: Record<string, string> | null;
  issuedAt: number;
  creationTtl: number;
  explicitMaxTtl: number;
  expiresAt: number | null;
  maxExpiresAt: number | null;
  renewable: boolean;
  renewals: number;
  lastRenewal: number | null;
};

class VaultFault extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    readonly headers: Record<string, string> = {},
  ) {
    super(errors[0] ?? `HTTP ${status}`);
  }
}
const denied = () => new VaultFault(403, ["permission denied"]);
const badRequest = (message: string) => new VaultFault(400, [message]);

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const randomText = (n: number) => Array.from(randomBytes(n), (b) => ALPHABET[b % 62]).join("");
const normNs = (ns: string | undefined) => {
  const trimmed = (ns ?? "").trim().replace(/^\/+|\/+$/g, "");
  return trimmed ? `${trimmed}/` : "";
};
const normMount = (p: string) => `${p.trim().replace(/^\/+|\/+$/g, "")}/`;

/** Vault-style durations: 90, "90", "90s", "15m", "1h", "1h30m". */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return Math.max(0, Math.floor(value));
  if (typeof value !== "string" || !value.trim()) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const re = /(\d+)(h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const m of v.matchAll(re)) {
    total += Number(m[1]) * ({ h: 3600, m: 60, s: 1 } as const)[m[2] as "h" | "m" | "s"];
    consumed += m[0].length;
  }
  return consumed === v.length ? total : undefined;
}

const fmtDuration = (s: number) => `${s}s`;

/** Glob match as Vault ACLs do: `*` only at the end (prefix), `+` for one path segment. */
function ruleMatches(pattern: string, path: string): boolean {
  const glob = pattern.endsWith("*");
  const body = glob ? pattern.slice(0, -1) : pattern;
  if (!body.includes("+")) return glob ? path.startsWith(body) : path === body;
  const re = new RegExp(`^${body.split("+").map((p) => p.replace(/[.*?^${}()|[\]\\]/g, "\\$&")).join("[^/]+")}${glob ? "" : "$"}`);
  return re.test(path);
}

export async function startHashicorpEmulator(opts: HashicorpEmulatorOptions): Promise<HashicorpEmulator> {
  let clockOffsetMs = 0;
  const now = () => Date.now() + clockOffsetMs;
  const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/Z$/, `${String(randomBytes(3).readUIntBE(0, 3) % 1_000_000).padStart(6, "0")}Z`);

  const namespaces = new Map<string, Namespace>();
  const tokens = new Map<string, Token>();
  let sealed = false;
  let throttles: { times: number; retryAfterSeconds: number | null; pathIncludes?: string }[] = [];
  let quota: { rate: number; intervalSeconds: number; pathIncludes?: string; responseHeaders?: boolean; windowStart: number; count: number } | null = null;

  function createNamespace(path: string): Namespace {
    const key = normNs(path);
    const existing = namespaces.get(key);
    if (existing) return existing;
    // Parents first, as Vault requires.
    const parts = key.split("/").filter(Boolean);
    if (parts.length > 1) createNamespace(parts.slice(0, -1).join("/"));
    const ns: Namespace = { path: key, id: key ? randomText(5) : "root", mounts: new Map(), auths: new Map(), policies: new Map() };
    namespaces.set(key, ns);
    if (key && opts.devMounts !== false) ns.mounts.set("secret/", newKvMount("secret", 2));
    return ns;
  }
  /** Helpers create namespaces on first use. */
  const getNs = (where: Where): Namespace => createNamespace(where.namespace ?? "");

  function newKvMount(path: string, version: 1 | 2, maxVersions = 0, casRequired = false): KvMount {
    return { path: normMount(path), version, accessor: `kv_${randomText(8).toLowerCase()}`, uuid: randomUUID(), v1: new Map(), v2: new Map(), maxVersions, casRequired };
  }
  function mountKv(o: Where & { path: string; version: 1 | 2; maxVersions?: number; casRequired?: boolean }) {
    getNs(o).mounts.set(normMount(o.path), newKvMount(o.path, o.version, o.maxVersions, o.casRequired));
  }
  createNamespace("");
  function enableAuth(o: Where & { path: string; type: "approle" | "userpass" }): AuthMount {
    const ns = getNs(o);
    const key = normMount(o.path);
    const existing = ns.auths.get(key);
    if (existing) return existing;
    const mount: AuthMount = { path: key, type: o.type, accessor: `auth_${o.type}_${randomText(8).toLowerCase()}`, roles: new Map(), users: new Map() };
    ns.auths.set(key, mount);
    return mount;
  }
  function authMount(where: Where, path: string | undefined, type: "approle" | "userpass"): AuthMount {
    return enableAuth({ ...where, path: path ?? type, type });
  }

  /** A policy named after its owner, granting everything or only below `allowedPaths`. */
  function grantPolicy(where: Where, owner: string, allowedPaths?: string[]): string[] {
    const rules: PolicyRules = {};
    for (const p of allowedPaths ?? [""]) rules[p.endsWith("/") || p === "" ? `${p}*` : p] = ALL_CAPS;
    const name = `emulator-${owner}`;
    getNs(where).policies.set(name, rules);
    return [name];
  }

  const allTokens: Token[] = [];
  const rootToken = opts.rootToken ?? `hvs.${randomText(24)}`;
  function mintToken(spec: TokenSpec & { path: string; meta?: Record<string, string> | null; namespace?: string }): Token {
    const issuedAt = now();
    const ttl = spec.ttlSeconds ?? 0;
    const explicitMax = spec.maxTtlSeconds ?? 0;
    const isRoot = (spec.policies ?? []).includes("root");
    const maxTtl = isRoot && ttl === 0 ? 0 : Math.min(explicitMax || SYSTEM_MAX_TTL, SYSTEM_MAX_TTL);
    const policies = [...new Set([...(spec.noDefaultPolicy || isRoot ? [] : ["default"]), ...(spec.policies ?? [])])].sort();
    const token: Token = {
      id: spec.id ?? `hvs.${randomText(24)}`,
      accessor: randomText(24),
      namespace: normNs(spec.namespace),
      policies,
      path: spec.path,
      displayName: spec.displayName ?? "token",
      meta: spec.meta ?? null,
      issuedAt,
      creationTtl: ttl,
      explicitMaxTtl: explicitMax,
      expiresAt: ttl > 0 ? issuedAt + Math.min(ttl, maxTtl || ttl) * 1000 : null,
      maxExpiresAt: maxTtl > 0 ? issuedAt + maxTtl * 1000 : null,
      renewable: ttl > 0 && (spec.renewable ?? true),
      renewals: 0,
      lastRenewal: null,
    };
    tokens.set(token.id, token);
    allTokens.push(token);
    return token;
  }
  mintToken({ id: rootToken, policies: ["root"], path: "auth/token/root", displayName: "root", ttlSeconds: 0 });

  if (opts.devMounts !== false) {
    mountKv({ path: "secret", version: 2 });
    mountKv({ path: "kv", version: 1 });
  }

  // ---- tokens & ACL ------------------------------------------------------------------------

  function liveToken(id: string | undefined): Token | undefined {
    if (!id) return undefined;
    const t = tokens.get(id);
    if (!t) return undefined;
    if (t.expiresAt !== null && t.expiresAt <= now()) {
      tokens.delete(id);
      return undefined;
    }
    return t;
  }

  function capabilitiesFor(token: Token, nsPath: string, path: string): Set<Capability> {
    if (token.policies.includes("root")) return new Set(["create", "read", "update", "patch", "delete", "list", "sudo"]);
    // A parent namespace's token addresses child-namespace paths with the namespace as prefix.
    const full = nsPath.slice(token.namespace.length) + path;
    const tokenNs = namespaces.get(token.namespace);
    const merged = new Map<string, Set<Capability>>();
    for (const name of token.policies) {
      const rules = name === "default" ? { ...DEFAULT_POLICY, ...(tokenNs?.policies.get("default") ?? {}) } : tokenNs?.policies.get(name);
      for (const [pattern, caps] of Object.entries(rules ?? {})) {
        const set = merged.get(pattern) ?? new Set<Capability>();
        for (const c of caps) set.add(c);
        merged.set(pattern, set);
      }
    }
    // Most specific rule wins: an exact path, else the longest glob.
    let best: { pattern: string; caps: Set<Capability> } | undefined;
    for (const [pattern, caps] of merged) {
      if (!ruleMatches(pattern, full)) continue;
      const exact = !pattern.endsWith("*") && !pattern.includes("+");
      if (!best || exact || (best.pattern.endsWith("*") && pattern.length > best.pattern.length)) best = { pattern, caps };
      if (exact) break;
    }
    if (!best || best.caps.has("deny")) return new Set();
    return best.caps;
  }

  function hasMountAccess(token: Token, nsPath: string, mountPath: string): boolean {
    if (token.policies.includes("root")) return true;
    const prefix = nsPath.slice(token.namespace.length) + mountPath;
    const tokenNs = namespaces.get(token.namespace);
    for (const name of token.policies) {
      const rules = name === "default" ? DEFAULT_POLICY : tokenNs?.policies.get(name);
      for (const [pattern, caps] of Object.entries(rules ?? {})) {
        if (caps.includes("deny") || caps.length === 0) continue;
        const body = pattern.replace(/\*$/, "");
        if (body.startsWith(prefix) || (pattern.endsWith("*") && prefix.startsWith(body)) || ruleMatches(pattern, prefix)) return true;
      }
    }
    return false;
  }

  /** Which token may act in this namespace: its own, or an ancestor's. */
  function authenticate(headers: EmulatorRequest["req"]["headers"], nsPath: string): Token {
    const bearer = /^Bearer\s+(.+)$/i.exec(String(headers.authorization ?? ""))?.[1];
    const raw = headers["x-vault-token"];
    const id = (Array.isArray(raw) ? raw[0] : raw) ?? bearer;
    const token = liveToken(id);
    if (!token || !nsPath.startsWith(token.namespace)) throw denied();
    return token;
  }

  function requireCaps(token: Token, nsPath: string, path: string, anyOf: Capability[]) {
    const caps = capabilitiesFor(token, nsPath, path);
    if (!anyOf.some((c) => caps.has(c))) throw denied();
  }

  function filterTokens(f: TokenFilter = {}): Token[] {
    const list = [...tokens.values()].filter((t) => liveToken(t.id));
    return list.filter(
      (t) =>
        (f.includeRoot || t.id !== rootToken) &&
        (f.token === undefined || t.id === f.token) &&
        (f.accessor === undefined || t.accessor === f.accessor) &&
        (f.namespace === undefined || t.namespace === normNs(f.namespace)) &&
        (f.pathPrefix === undefined || t.path.startsWith(f.pathPrefix)),
    );
  }

  const tokenInfo = (t: Token): TokenInfo => ({
    id: t.id,
    accessor: t.accessor,
    namespace: t.namespace.replace(/\/$/, ""),
    policies: t.policies,
    path: t.path,
    renewable: t.renewable,
    issuedAt: new Date(t.issuedAt),
    expiresAt: t.expiresAt === null ? null : new Date(t.expiresAt),
    maxExpiresAt: t.maxExpiresAt === null ? null : new Date(t.maxExpiresAt),
    renewals: t.renewals,
    dead: !liveToken(t.id),
  });

  const ttlLeft = (t: Token) => (t.expiresAt === null ? 0 : Math.max(0, Math.floor((t.expiresAt - now()) / 1000)));

  function authBlock(t: Token, metadata: Record<string, string> | null) {
    return {
      client_token: t.id,
      accessor: t.accessor,
      policies: t.policies,
      token_policies: t.policies,
      metadata,
      // The granted TTL (rounded, not the floor of what is left a millisecond later).
      lease_duration: t.expiresAt === null ? 0 : Math.max(0, Math.round((t.expiresAt - now()) / 1000)),
      renewable: t.renewable,
      entity_id: "",
      token_type: "service",
      orphan: true,
      mfa_requirement: null,
      num_uses: 0,
    };
  }

  // ---- KV ----------------------------------------------------------------------------------

  function secretMount(key: SecretKey): KvMount {
    const ns = getNs(key);
    const mount = ns.mounts.get(normMount(key.mount ?? "secret"));
    if (!mount) throw new Error(`emulator: no mount ${key.mount ?? "secret"} in namespace "${ns.path}"`);
    return mount;
  }
  const cleanPath = (p: string) => p.replace(/^\/+|\/+$/g, "");

  function v2Write(mount: KvMount, path: string, data: Record<string, unknown>, cas?: number): { version: number; entry: V2Version } {
    const existing = mount.v2.get(path);
    const casRequired = mount.casRequired || existing?.casRequired;
    if (casRequired && cas === undefined) throw badRequest("check-and-set parameter required for this call");
    const current = existing?.current ?? 0;
    if (cas !== undefined && cas !== current) throw badRequest("check-and-set parameter did not match the current version");
    const at = rfc3339(now());
    const secret: V2Secret = existing ?? { versions: new Map(), current: 0, oldest: 0, maxVersions: 0, casRequired: false, created: at, updated: at, customMetadata: null };
    const version = current + 1;
    const entry: V2Version = { data: structuredClone(data), created: at, deletionTime: "", destroyed: false };
    secret.versions.set(version, entry);
    secret.current = version;
    secret.updated = at;
    if (secret.oldest === 0) secret.oldest = version;
    const max = secret.maxVersions || mount.maxVersions || 10;
    while (secret.versions.size > max) {
      const oldest = Math.min(...secret.versions.keys());
      secret.versions.delete(oldest);
      secret.oldest = Math.min(...secret.versions.keys());
    }
    mount.v2.set(path, secret);
    return { version, entry };
  }

  function versionMetadata(v: V2Version, version: number) {
    return { created_time: v.created, custom_metadata: null, deletion_time: v.deletionTime, destroyed: v.destroyed, version };
  }

  function seedSecret(key: SecretKey & { data: Record<string, unknown> }) {
    const mount = secretMount(key);
    const path = cleanPath(key.path);
    if (mount.version === 1) {
      mount.v1.set(path, structuredClone(key.data));
      return { version: null };
    }
    return { version: v2Write(mount, path, key.data).version };
  }

  function readSecret(key: SecretKey & { version?: number }) {
    const mount = secretMount(key);
    const path = cleanPath(key.path);
    if (mount.version === 1) return mount.v1.get(path);
    const secret = mount.v2.get(path);
    const v = secret?.versions.get(key.version ?? secret.current);
    return v && !v.deletionTime && !v.destroyed ? v.data : undefined;
  }

  function rotateSecret(key: SecretKey & { data?: Record<string, unknown> }) {
    const current = readSecret(key) ?? {};
    const data = key.data ?? Object.fromEntries(Object.entries(current).map(([k, v]) => [k, typeof v === "string" && k !== "username" ? randomText(20) : v]));
    if (!key.data && Object.keys(data).length === 0) data.value = randomText(20);
    return { ...seedSecret({ ...key, data }), data };
  }

  function markVersions(secret: V2Secret, versions: number[], op: "delete" | "undelete" | "destroy") {
    const at = rfc3339(now());
    for (const n of versions) {
      const v = secret.versions.get(n);
      if (!v) continue;
      if (op === "delete" && !v.destroyed && !v.deletionTime) v.deletionTime = at;
      if (op === "undelete" && !v.destroyed) v.deletionTime = "";
      if (op === "destroy") {
        v.destroyed = true;
        v.data = {};
      }
    }
    secret.updated = at;
  }

  function deleteSecret(key: SecretKey & { mode?: "soft" | "destroy" | "all"; destroy?: boolean; versions?: number[] }) {
    const mount = secretMount(key);
    const path = cleanPath(key.path);
    if (mount.version === 1 || key.mode === "all") {
      mount.v1.delete(path);
      mount.v2.delete(path);
      return;
    }
    const secret = mount.v2.get(path);
    if (!secret) return;
    markVersions(secret, key.versions ?? [secret.current], key.mode === "destroy" || key.destroy ? "destroy" : "delete");
  }

  function undeleteSecret(key: SecretKey & { versions: number[] }) {
    const secret = secretMount(key).v2.get(cleanPath(key.path));
    if (secret) markVersions(secret, key.versions, "undelete");
  }

  // ---- AppRole / userpass ------------------------------------------------------------------

  function createAppRole(spec: AppRoleSpec) {
    const mount = authMount(spec, spec.mount, "approle");
    const role: AppRole = {
      name: spec.name,
      roleId: spec.roleId ?? randomUUID(),
      secretIds: new Map(),
      policies: spec.policies ?? grantPolicy(spec, `approle-${spec.name}`, spec.allowedPaths),
      tokenTtl: spec.tokenTtlSeconds ?? 3600,
      tokenMaxTtl: spec.tokenMaxTtlSeconds ?? 0,
      renewable: spec.renewable ?? true,
      noDefaultPolicy: spec.tokenNoDefaultPolicy ?? false,
      secretIdNumUses: spec.secretIdNumUses ?? 0,
      secretIdTtl: spec.secretIdTtlSeconds ?? 0,
    };
    mount.roles.set(spec.name, role);
    const secretId = issueSecretId({ ...spec, role: spec.name, id: spec.secretId });
    return { roleId: role.roleId, secretId };
  }

  function findRole(o: Where & { mount?: string; role: string }): AppRole {
    const role = authMount(o, o.mount, "approle").roles.get(o.role);
    if (!role) throw new Error(`emulator: no AppRole ${o.role}`);
    return role;
  }

  function issueSecretId(o: Where & { mount?: string; role: string; numUses?: number; ttlSeconds?: number; id?: string }) {
    const role = findRole(o);
    const id = o.id ?? randomUUID();
    const ttl = o.ttlSeconds ?? role.secretIdTtl;
    role.secretIds.set(id, { usesLeft: o.numUses ?? role.secretIdNumUses, expiresAt: ttl > 0 ? now() + ttl * 1000 : null, accessor: randomUUID() });
    return id;
  }

  function revokeSecretId(o: Where & { mount?: string; role: string; secretId?: string }) {
    const role = findRole(o);
    if (o.secretId) role.secretIds.delete(o.secretId);
    else role.secretIds.clear();
  }

  function createUser(spec: UserSpec) {
    const mount = authMount(spec, spec.mount, "userpass");
    mount.users.set(spec.username.toLowerCase(), {
      username: spec.username.toLowerCase(),
      password: spec.password,
      policies: spec.policies ?? grantPolicy(spec, `userpass-${spec.username.toLowerCase()}`, spec.allowedPaths),
      tokenTtl: spec.tokenTtlSeconds ?? 3600,
      tokenMaxTtl: spec.tokenMaxTtlSeconds ?? 0,
      renewable: spec.renewable ?? true,
    });
  }

  function setUserPassword(o: Where & { mount?: string; username: string; password: string }) {
    const user = authMount(o, o.mount, "userpass").users.get(o.username.toLowerCase());
    if (!user) throw new Error(`emulator: no user ${o.username}`);
    user.password = o.password;
  }

  // ---- HTTP --------------------------------------------------------------------------------

  const envelope = (data: unknown, extra: Record<string, unknown> = {}) => ({
    request_id: randomUUID(),
    lease_id: "",
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
    ...extra,
  });
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => json(res, status, body, { "cache-control": "no-store", ...headers });
  const noContent = (res: ServerResponse) => {
    res.writeHead(204, { date: new Date().toUTCString(), "cache-control": "no-store" });
    res.end();
  };

  function parseBody(text: string): Record<string, unknown> {
    if (!text.trim()) return {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch (error) {
      throw badRequest(`failed to parse JSON input: ${(error as Error).message}`);
    }
    throw badRequest("failed to parse JSON input: expected an object");
  }

  /** Rate-limit quotas apply before authentication, as in Vault; `urlPath` is what tests match on. */
  function checkQuota(urlPath: string, path: string) {
    const t = throttles.find((r) => !r.pathIncludes || urlPath.includes(r.pathIncludes));
    if (t) {
      if (--t.times <= 0) throttles = throttles.filter((r) => r !== t);
      throw new VaultFault(429, [`request path "${path}": rate limit quota exceeded`], t.retryAfterSeconds === null ? {} : { "retry-after": String(t.retryAfterSeconds) });
    }
    if (quota && (!quota.pathIncludes || urlPath.includes(quota.pathIncludes))) {
      const at = now();
      if (at - quota.windowStart >= quota.intervalSeconds * 1000) {
        quota.windowStart = at;
        quota.count = 0;
      }
      quota.count++;
      if (quota.count > quota.rate) {
        // Vault sends these only with enable_rate_limit_response_headers (off by default); its
        // Retry-After is whole seconds rounded down, so 0 in a window's last second.
        const reset = Math.max(0, Math.floor((quota.windowStart + quota.intervalSeconds * 1000 - at) / 1000));
        const headers = quota.responseHeaders
          ? { "x-ratelimit-limit": String(quota.rate), "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset), "retry-after": String(reset) }
          : undefined;
        throw new VaultFault(429, [`request path "${path}": rate limit quota exceeded`], headers);
      }
    }
  }

  type Ctx = { req: EmulatorRequest["req"]; res: ServerResponse; method: string; ns: Namespace; path: string; query: URLSearchParams; body: Record<string, unknown>; list: boolean };

  async function handle(r: EmulatorRequest) {
    const { req, res, url } = r;
    try {
      if (!url.pathname.startsWith("/v1/")) throw new VaultFault(404, []);
      let rel = url.pathname.slice(4).split("/").map(decodeURIComponent).join("/");
      const header = req.headers["x-vault-namespace"];
      let nsPath = normNs(Array.isArray(header) ? header[0] : header);
      // A namespace may also be given as a path prefix, and combined with the header.
      for (;;) {
        const first = rel.split("/")[0] ?? "";
        if (!first || !namespaces.has(`${nsPath}${first}/`) || rel === first) break;
        nsPath = `${nsPath}${first}/`;
        rel = rel.slice(first.length + 1);
      }
      const unauthenticatedSys = rel === "sys/health" || rel === "sys/seal-status";
      if (sealed && !unauthenticatedSys) throw new VaultFault(503, ["Vault is sealed"]);
      if (!unauthenticatedSys) checkQuota(r.log.path, `${nsPath}${rel}`);
      const ns = namespaces.get(nsPath);
      if (!ns) throw new VaultFault(404, ["namespace not found"]);
      const method = (req.method ?? "GET").toUpperCase();
      const list = method === "LIST" || (method === "GET" && ["true", "1"].includes(url.searchParams.get("list") ?? ""));
      const ctx: Ctx = { req, res, method, ns, path: rel, query: url.searchParams, body: method === "GET" || method === "DELETE" ? {} : parseBody(r.body), list };
      await route(ctx);
    } catch (error) {
      if (!(error instanceof VaultFault)) throw error;
      send(res, error.status, { errors: error.errors }, error.headers);
    }
  }

  async function route(c: Ctx) {
    const { path } = c;
    if (path === "sys/health") return health(c);
    if (path === "sys/seal-status") return send(c.res, 200, sealStatus());
    if (path.startsWith("auth/")) {
      const login = loginRoute(c);
      if (login) return login();
    }
    const token = authenticate(c.req.headers, c.ns.path);
    if (path.startsWith("sys/internal/ui/mounts/")) return uiMount(c, token, path.slice("sys/internal/ui/mounts/".length));
    if (path === "sys/internal/ui/mounts") return uiMounts(c, token);
    if (path.startsWith("auth/token/")) return tokenRoute(c, token, path.slice("auth/token/".length));
    if (path === "sys/mounts") {
      requireCaps(token, c.ns.path, path, ["read"]);
      return send(c.res, 200, envelope(Object.fromEntries([...c.ns.mounts.values()].map((m) => [m.path, mountInfo(m)]))));
    }
    if (path.startsWith("auth/")) return authAdminRoute(c, token);
    const mount = [...c.ns.mounts.values()].filter((m) => `${path}/`.startsWith(m.path)).sort((a, b) => b.path.length - a.path.length)[0];
    if (!mount) {
      requireCaps(token, c.ns.path, path, c.list ? ["list"] : capsFor(c.method));
      throw new VaultFault(404, [`no handler for route "${c.ns.path}${path}". route entry not found.`]);
    }
    const sub = path.slice(mount.path.length - 1).replace(/^\//, "");
    return mount.version === 1 ? kv1(c, token, mount, sub) : kv2(c, token, mount, sub);
  }

  /**
   * The capability a request needs. A write needs `create` for a key that does not exist yet and
   * `update` for one that does, as Vault decides with its existence check (KV v2: the key's metadata);
   * without one (`exists` undefined), either.
   */
  function capsFor(method: string, exists?: boolean): Capability[] {
    if (method === "GET") return ["read"];
    if (method === "DELETE") return ["delete"];
    if (method === "PATCH") return ["patch"];
    if (exists === undefined) return ["create", "update"];
    return exists ? ["update"] : ["create"];
  }

  function health(c: Ctx) {
    const body = {
      initialized: true,
      sealed,
      standby: false,
      performance_standby: false,
      replication_performance_mode: "disabled",
      replication_dr_mode: "disabled",
      server_time_utc: Math.floor(now() / 1000),
      version: VERSION,
      enterprise: namespaces.size > 1,
      cluster_name: "vault-cluster-emulator",
      cluster_id: "8d3b7c0e-0000-4000-8000-emulator0000",
      echo_duration_ms: 0,
      clock_skew_ms: 0,
    };
    send(c.res, sealed ? 503 : 200, body);
  }

  function sealStatus() {
    return { type: "shamir", initialized: true, sealed, t: 1, n: 1, progress: 0, nonce: "", version: VERSION, build_date: "2024-09-27T00:00:00Z", migration: false, recovery_seal: false, storage_type: "inmem", ...(sealed ? {} : { cluster_name: "vault-cluster-emulator" }) };
  }

  function mountInfo(m: KvMount) {
    return {
      type: "kv",
      description: m.version === 2 ? "key/value secret storage" : "",
      accessor: m.accessor,
      uuid: m.uuid,
      local: false,
      seal_wrap: false,
      external_entropy_access: false,
      // `vault secrets enable kv` leaves options empty: that is KV v1.
      options: m.version === 2 ? { version: "2" } : null,
      config: { default_lease_ttl: 0, force_no_cache: false, max_lease_ttl: 0 },
      plugin_version: "",
      running_plugin_version: `v0.20.0+builtin`,
      running_sha256: "",
    };
  }

  function uiMount(c: Ctx, token: Token, raw: string) {
    const path = normMount(raw);
    const err = new VaultFault(403, [`preflight capability check returned 403, please ensure client's policies grant access to path "${path}"`]);
    const mount = [...c.ns.mounts.values()].filter((m) => path.startsWith(m.path)).sort((a, b) => b.path.length - a.path.length)[0];
    if (!mount || !hasMountAccess(token, c.ns.path, mount.path)) throw err;
    send(c.res, 200, envelope({ ...mountInfo(mount), path: mount.path }));
  }

  function uiMounts(c: Ctx, token: Token) {
    const secret = Object.fromEntries([...c.ns.mounts.values()].filter((m) => hasMountAccess(token, c.ns.path, m.path)).map((m) => [m.path, mountInfo(m)]));
    const auth = Object.fromEntries([...c.ns.auths.values()].map((a) => [`${a.path}`, { type: a.type, accessor: a.accessor, options: null }]));
    send(c.res, 200, envelope({ secret, auth: { ...auth, "token/": { type: "token", options: null } } }));
  }

  /** Unauthenticated login endpoints; everything else under auth/ needs a token. */
  function loginRoute(c: Ctx): (() => void) | null {
    const rest = c.path.slice("auth/".length);
    const mount = [...c.ns.auths.values()].filter((m) => `${rest}/`.startsWith(m.path)).sort((a, b) => b.path.length - a.path.length)[0];
    if (!mount) return null;
    const sub = rest.slice(mount.path.length);
    if (mount.type === "approle" && sub === "login" && (c.method === "POST" || c.method === "PUT")) return () => approleLogin(c, mount);
    const user = /^login\/([^/]+)$/.exec(sub)?.[1];
    if (mount.type === "userpass" && user && (c.method === "POST" || c.method === "PUT")) return () => userpassLogin(c, mount, user);
    return null;
  }

  function approleLogin(c: Ctx, mount: AuthMount) {
    const roleId = typeof c.body.role_id === "string" ? c.body.role_id : "";
    const secretId = typeof c.body.secret_id === "string" ? c.body.secret_id : "";
    if (!roleId) throw badRequest("missing role_id");
    const role = [...mount.roles.values()].find((r) => r.roleId === roleId);
    if (!role) throw badRequest("invalid role or secret ID");
    if (!secretId) throw badRequest("missing secret_id");
    const entry = role.secretIds.get(secretId);
    if (!entry || (entry.expiresAt !== null && entry.expiresAt <= now())) {
      role.secretIds.delete(secretId);
      throw badRequest("invalid role or secret ID");
    }
    if (entry.usesLeft > 0 && --entry.usesLeft === 0) role.secretIds.delete(secretId);
    const token = mintToken({
      namespace: c.ns.path,
      policies: role.policies,
      ttlSeconds: role.tokenTtl,
      maxTtlSeconds: role.tokenMaxTtl,
      renewable: role.renewable,
      noDefaultPolicy: role.noDefaultPolicy,
      path: `auth/${mount.path}login`,
      displayName: `approle`,
      meta: { role_name: role.name },
    });
    send(c.res, 200, envelope(null, { auth: authBlock(token, { role_name: role.name }) }));
  }

  function userpassLogin(c: Ctx, mount: AuthMount, rawUser: string) {
    const username = rawUser.toLowerCase();
    const password = typeof c.body.password === "string" ? c.body.password : "";
    if (!password) throw badRequest("missing password");
    const user = mount.users.get(username);
    if (!user || user.password !== password) throw badRequest("invalid username or password");
    const token = mintToken({
      namespace: c.ns.path,
      policies: user.policies,
      ttlSeconds: user.tokenTtl,
      maxTtlSeconds: user.tokenMaxTtl,
      renewable: user.renewable,
      path: `auth/${mount.path}login/${username}`,
      displayName: `userpass-${username}`,
      meta: { username },
    });
    send(c.res, 200, envelope(null, { auth: authBlock(token, { username }) }));
  }

  function lookupData(t: Token) {
    return {
      accessor: t.accessor,
      creation_time: Math.floor(t.issuedAt / 1000),
      creation_ttl: t.creationTtl,
      display_name: t.displayName,
      entity_id: "",
      expire_time: t.expiresAt === null ? null : rfc3339(t.expiresAt),
      explicit_max_ttl: t.explicitMaxTtl,
      id: t.id,
      issue_time: rfc3339(t.issuedAt),
      ...(t.lastRenewal !== null ? { last_renewal: rfc3339(t.lastRenewal), last_renewal_time: Math.floor(t.lastRenewal / 1000) } : {}),
      meta: t.meta,
      num_uses: 0,
      orphan: true,
      path: t.path,
      policies: t.policies,
      renewable: t.renewable,
      ttl: ttlLeft(t),
      type: "service",
      ...(t.namespace ? { namespace_path: t.namespace } : {}),
    };
  }

  function tokenRoute(c: Ctx, token: Token, op: string) {
    const write = c.method === "POST" || c.method === "PUT";
    if (op === "lookup-self" && (c.method === "GET" || write)) {
      requireCaps(token, c.ns.path, c.path, ["read"]);
      return send(c.res, 200, envelope(lookupData(token)));
    }
    if (op === "renew-self" && write) {
      requireCaps(token, c.ns.path, c.path, ["update"]);
      if (!token.renewable) throw badRequest("lease is not renewable");
      const increment = parseDuration(c.body.increment) ?? token.creationTtl;
      const at = now();
      let expires = at + increment * 1000;
      const warnings: string[] = [];
      if (token.maxExpiresAt !== null && expires > token.maxExpiresAt) {
        expires = token.maxExpiresAt;
        warnings.push(`TTL of "${fmtDuration(increment)}" exceeded the effective max_ttl of "${fmtDuration(Math.max(0, Math.floor((expires - at) / 1000)))}"; TTL value is capped accordingly`);
      }
      token.expiresAt = expires;
      token.renewals++;
      token.lastRenewal = at;
      return send(c.res, 200, envelope(null, { auth: authBlock(token, token.meta), warnings: warnings.length ? warnings : null }));
    }
    if (op === "revoke-self" && write) {
      requireCaps(token, c.ns.path, c.path, ["update"]);
      tokens.delete(token.id);
      return noContent(c.res);
    }
    if (op === "create" && write) {
      requireCaps(token, c.ns.path, c.path, ["create", "update"]);
      const requested = Array.isArray(c.body.policies) ? (c.body.policies as unknown[]).map(String) : token.policies.filter((p) => p !== "default");
      if (!token.policies.includes("root") && requested.some((p) => !token.policies.includes(p))) throw badRequest("child policies must be subset of parent");
      const child = mintToken({
        namespace: c.ns.path,
        policies: requested,
        noDefaultPolicy: c.body.no_default_policy === true,
        ttlSeconds: parseDuration(c.body.ttl) ?? 2_764_800,
        maxTtlSeconds: parseDuration(c.body.explicit_max_ttl),
        renewable: c.body.renewable !== false,
        path: "auth/token/create",
        displayName: typeof c.body.display_name === "string" ? `token-${c.body.display_name}` : "token",
      });
      return send(c.res, 200, envelope(null, { auth: authBlock(child, null) }));
    }
    requireCaps(token, c.ns.path, c.path, capsFor(c.method));
    throw new VaultFault(405, ["unsupported operation"]);
  }

  /** The small part of the AppRole management API a Vault admin would use: read role-id, mint a secret-id. */
  function authAdminRoute(c: Ctx, token: Token) {
    requireCaps(token, c.ns.path, c.path, c.list ? ["list"] : capsFor(c.method));
    const rest = c.path.slice("auth/".length);
    const mount = [...c.ns.auths.values()].find((m) => `${rest}/`.startsWith(m.path));
    const m = mount && /^role\/([^/]+)\/(role-id|secret-id)$/.exec(rest.slice(mount.path.length));
    if (mount?.type === "approle" && m) {
      const role = mount.roles.get(m[1]!);
      if (!role) throw new VaultFault(404, []);
      if (m[2] === "role-id" && c.method === "GET") return send(c.res, 200, envelope({ role_id: role.roleId }));
      if (m[2] === "secret-id" && (c.method === "POST" || c.method === "PUT")) {
        const id = issueSecretId({ namespace: c.ns.path, mount: mount.path, role: role.name });
        return send(c.res, 200, envelope({ secret_id: id, secret_id_accessor: role.secretIds.get(id)!.accessor, secret_id_ttl: role.secretIdTtl, secret_id_num_uses: role.secretIdNumUses }));
      }
    }
    throw new VaultFault(404, [`no handler for route "${c.ns.path}${c.path}". route entry not found.`]);
  }

  function listKeys(paths: Iterable<string>, prefix: string): string[] {
    const keys = new Set<string>();
    for (const p of paths) {
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      const slash = rest.indexOf("/");
      keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
    }
    return [...keys].filter(Boolean).sort();
  }

  function kv1(c: Ctx, token: Token, mount: KvMount, sub: string) {
    const aclPath = `${mount.path}${sub}`;
    if (c.list) {
      requireCaps(token, c.ns.path, aclPath, ["list"]);
      const prefix = sub ? `${sub.replace(/\/$/, "")}/` : "";
      const keys = listKeys(mount.v1.keys(), prefix);
      if (keys.length === 0) throw new VaultFault(404, []);
      return send(c.res, 200, envelope({ keys }));
    }
    const path = cleanPath(sub);
    requireCaps(token, c.ns.path, aclPath, capsFor(c.method, mount.v1.has(path)));
    if (!path) throw new VaultFault(405, ["unsupported operation"]);
    if (c.method === "GET") {
      const data = mount.v1.get(path);
      if (!data) throw new VaultFault(404, []);
      return send(c.res, 200, envelope(data, { lease_duration: KV_V1_LEASE, mount_type: "kv" }));
    }
    if (c.method === "POST" || c.method === "PUT") {
      if (Object.keys(c.body).length === 0) throw badRequest("missing data fields");
      mount.v1.set(path, c.body);
      return noContent(c.res);
    }
    if (c.method === "DELETE") {
      mount.v1.delete(path);
      return noContent(c.res);
    }
    throw new VaultFault(405, ["unsupported operation"]);
  }

  function versionsOf(body: Record<string, unknown>): number[] {
    const raw = body.versions;
    const list = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : [];
    const versions = list.map((v) => Number(v)).filter((v) => Number.isInteger(v) && v > 0);
    if (versions.length === 0) throw badRequest("no versions provided");
    return versions;
  }

  function metadataOf(s: V2Secret) {
    return {
      cas_required: s.casRequired,
      created_time: s.created,
      current_version: s.current,
      custom_metadata: s.customMetadata,
      delete_version_after: "0s",
      max_versions: s.maxVersions,
      oldest_version: s.oldest,
      updated_time: s.updated,
      versions: Object.fromEntries([...s.versions.entries()].map(([n, v]) => [String(n), { created_time: v.created, deletion_time: v.deletionTime, destroyed: v.destroyed }])),
    };
  }

  function kv2(c: Ctx, token: Token, mount: KvMount, sub: string) {
    const slash = sub.indexOf("/");
    const op = slash === -1 ? sub : sub.slice(0, slash);
    const path = slash === -1 ? "" : cleanPath(sub.slice(slash + 1));
    const aclPath = `${mount.path}${sub}`;
    const mountType = { mount_type: "kv" };

    if (op === "config" && !path) {
      requireCaps(token, c.ns.path, aclPath, capsFor(c.method));
      if (c.method === "GET") return send(c.res, 200, envelope({ cas_required: mount.casRequired, delete_version_after: "0s", max_versions: mount.maxVersions }, mountType));
      if (typeof c.body.max_versions === "number") mount.maxVersions = c.body.max_versions;
      if (typeof c.body.cas_required === "boolean") mount.casRequired = c.body.cas_required;
      return noContent(c.res);
    }

    if (op === "metadata") {
      if (c.list) {
        requireCaps(token, c.ns.path, aclPath, ["list"]);
        const keys = listKeys(mount.v2.keys(), path ? `${path}/` : "");
        if (keys.length === 0) throw new VaultFault(404, []);
        return send(c.res, 200, envelope({ keys }, mountType));
      }
      requireCaps(token, c.ns.path, aclPath, capsFor(c.method));
      if (!path) throw new VaultFault(405, ["unsupported operation"]);
      const secret = mount.v2.get(path);
      if (c.method === "GET") {
        if (!secret) throw new VaultFault(404, []);
        return send(c.res, 200, envelope(metadataOf(secret), mountType));
      }
      if (c.method === "DELETE") {
        mount.v2.delete(path);
        return noContent(c.res);
      }
      if (c.method === "POST" || c.method === "PUT" || c.method === "PATCH") {
        const at = rfc3339(now());
        const s = secret ?? { versions: new Map(), current: 0, oldest: 0, maxVersions: 0, casRequired: false, created: at, updated: at, customMetadata: null };
        if (typeof c.body.max_versions === "number") s.maxVersions = c.body.max_versions;
        if (typeof c.body.cas_required === "boolean") s.casRequired = c.body.cas_required;
        if (c.body.custom_metadata && typeof c.body.custom_metadata === "object") s.customMetadata = c.body.custom_metadata as Record<string, string>;
        s.updated = at;
        mount.v2.set(path, s);
        return noContent(c.res);
      }
      throw new VaultFault(405, ["unsupported operation"]);
    }

    if (op === "data") {
      requireCaps(token, c.ns.path, aclPath, capsFor(c.method, mount.v2.has(path)));
      if (!path) throw new VaultFault(405, ["unsupported operation"]);
      const secret = mount.v2.get(path);
      if (c.method === "GET") {
        const raw = c.query.get("version");
        const asked = raw === null ? 0 : Number(raw);
        if (!Number.isInteger(asked) || asked < 0) throw badRequest("version must be a positive integer");
        const n = asked || secret?.current || 0;
        const v = secret?.versions.get(n);
        if (!secret || !v) throw new VaultFault(404, []);
        const body = envelope({ data: v.deletionTime || v.destroyed ? null : v.data, metadata: versionMetadata(v, n) }, mountType);
        return send(c.res, v.deletionTime || v.destroyed ? 404 : 200, body);
      }
      if (c.method === "POST" || c.method === "PUT") {
        const data = c.body.data;
        if (!data || typeof data !== "object" || Array.isArray(data)) throw badRequest("no data provided");
        const options = (c.body.options ?? {}) as { cas?: unknown };
        const cas = typeof options.cas === "number" ? options.cas : undefined;
        const { version, entry } = v2Write(mount, path, data as Record<string, unknown>, cas);
        return send(c.res, 200, envelope(versionMetadata(entry, version), mountType));
      }
      if (c.method === "PATCH") {
        const type = String(c.req.headers["content-type"] ?? "");
        if (!type.startsWith("application/merge-patch+json")) throw new VaultFault(415, [`Unsupported Content-Type="${type}"`]);
        const current = secret?.versions.get(secret.current);
        if (!secret || !current || current.deletionTime || current.destroyed) throw new VaultFault(404, []);
        const patch = (c.body.data ?? {}) as Record<string, unknown>;
        const merged = { ...current.data };
        for (const [k, v] of Object.entries(patch)) {
          if (v === null) delete merged[k];
          else merged[k] = v;
        }
        const { version, entry } = v2Write(mount, path, merged, secret.casRequired || mount.casRequired ? secret.current : undefined);
        return send(c.res, 200, envelope(versionMetadata(entry, version), mountType));
      }
      if (c.method === "DELETE") {
        if (secret) markVersions(secret, [secret.current], "delete");
        return noContent(c.res);
      }
      throw new VaultFault(405, ["unsupported operation"]);
    }

    if ((op === "delete" || op === "undelete" || op === "destroy") && path) {
      requireCaps(token, c.ns.path, aclPath, ["update"]);
      if (c.method !== "POST" && c.method !== "PUT") throw new VaultFault(405, ["unsupported operation"]);
      const versions = versionsOf(c.body);
      const secret = mount.v2.get(path);
      if (secret) markVersions(secret, versions, op);
      return noContent(c.res);
    }

    requireCaps(token, c.ns.path, aclPath, c.list ? ["list"] : capsFor(c.method));
    // What Vault says when a KV v1-style path is used against a KV v2 mount.
    send(c.res, 404, {
      errors: [],
      warnings: ["Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation."],
    });
  }

  // ---- control API -------------------------------------------------------------------------

  async function control(r: EmulatorRequest): Promise<boolean> {
    const { req, res, url } = r;
    const body = (r.body ? JSON.parse(r.body) : {}) as Record<string, unknown> & Where;
    const ok = (data: unknown = { ok: true }) => json(res, 200, data);
    const route = `${req.method} ${url.pathname}`;
    try {
      switch (route) {
        case "GET /_control/state":
          return ok({
            sealed,
            namespaces: [...namespaces.values()].map((n) => ({ path: n.path, mounts: [...n.mounts.values()].map((m) => ({ path: m.path, version: m.version })), auth: [...n.auths.values()].map((a) => ({ path: a.path, type: a.type })) })),
            tokens: filterTokens({ includeRoot: true }).map((t) => ({ ...tokenInfo(t), id: undefined })),
          }), true;
        case "POST /_control/namespaces":
          createNamespace(String(body.path));
          return ok(), true;
        case "POST /_control/mounts":
          mountKv(body as unknown as Parameters<typeof mountKv>[0]);
          return ok(), true;
        case "POST /_control/policies":
          getNs(body).policies.set(String(body.name), body.rules as PolicyRules);
          return ok(), true;
        case "POST /_control/secrets":
          return ok(seedSecret(body as unknown as Parameters<typeof seedSecret>[0])), true;
        case "POST /_control/secrets/rotate":
          return ok({ version: rotateSecret(body as unknown as SecretKey).version }), true;
        case "POST /_control/secrets/delete":
          deleteSecret(body as unknown as Parameters<typeof deleteSecret>[0]);
          return ok(), true;
        case "POST /_control/secrets/undelete":
          undeleteSecret(body as unknown as Parameters<typeof undeleteSecret>[0]);
          return ok(), true;
        case "POST /_control/approle":
        case "POST /_control/approles":
          return ok(createAppRole({ ...(body as unknown as AppRoleSpec), name: String(body.name ?? body.roleName) })), true;
        case "POST /_control/approle/secret-id":
          return ok({ secretId: issueSecretId(body as unknown as Parameters<typeof issueSecretId>[0]) }), true;
        case "POST /_control/approle/secret-id/revoke":
          revokeSecretId(body as unknown as Parameters<typeof revokeSecretId>[0]);
          return ok(), true;
        case "POST /_control/userpass":
          createUser(body as unknown as UserSpec);
          return ok(), true;
        case "POST /_control/tokens":
          return ok({ token: api.createToken(body as TokenSpec) }), true;
        case "POST /_control/tokens/revoke":
          return ok({ revoked: api.revokeTokens(body as TokenFilter) }), true;
        case "POST /_control/tokens/expire":
          return ok({ expired: api.expireTokens(body as TokenFilter) }), true;
        case "POST /_control/tokens/ttl":
          return ok({ changed: api.setTokenTtl(body as TokenFilter, Number(body.ttlSeconds), body.maxTtlSeconds === undefined ? undefined : Number(body.maxTtlSeconds)) }), true;
        case "POST /_control/seal":
          sealed = body.sealed !== false;
          return ok({ sealed }), true;
        case "POST /_control/throttle":
          api.throttle(body as Parameters<HashicorpEmulator["throttle"]>[0]);
          return ok(), true;
        case "POST /_control/quota":
          api.setRateLimit(body.rate ? (body as unknown as { rate: number; intervalSeconds: number }) : null);
          return ok(), true;
        case "POST /_control/clock":
          clockOffsetMs = Number(body.offsetSeconds ?? 0) * 1000;
          return ok(), true;
        default:
          return false;
      }
    } catch (error) {
      json(res, 400, { error: (error as Error).message });
      return true;
    }
  }

  const emulator = await startEmulator({ name: "hashicorp", tls: { cert: opts.pki.serverCert, key: opts.pki.serverKey }, handle, control });

  const vaultError = (status: number, message: string) => ({ type: "status" as const, status, body: { errors: [message] }, headers: { "cache-control": "no-store" } });

  const api: HashicorpEmulator = {
    ...emulator,
    pki: opts.pki,
    rootToken,
    clearFaults: () => {
      emulator.clearFaults();
      throttles = [];
    },
    createNamespace: (path) => void createNamespace(path),
    mountKv,
    unmount: (o) => void getNs(o).mounts.delete(normMount(o.path)),
    hasMount: (o) => getNs(o).mounts.has(normMount(o.path)),
    enableAuth: (o) => void enableAuth(o),
    writePolicy: (o) => void getNs(o).policies.set(o.name, o.rules),
    createAppRole,
    issueSecretId: (o) => issueSecretId(o),
    revokeSecretId,
    createUser,
    setUserPassword,
    addAppRole: (name, creds = {}, o = {}) => createAppRole({ ...o, name, roleId: creds.roleId, secretId: creds.secretId }),
    addUserpass: (username, password, o = {}) => createUser({ ...o, username, password }),
    createToken: (spec = {}) => {
      const policies = spec.policies ?? (spec.allowedPaths ? grantPolicy(spec, `token-${randomText(6)}`, spec.allowedPaths) : ["root"]);
      return mintToken({ ttlSeconds: 3600, ...spec, policies, path: "auth/token/create" }).id;
    },
    tokens: (filter) => filterTokens(filter).map(tokenInfo),
    issuedTokens: () => allTokens.filter((t) => t.id !== rootToken).map(tokenInfo),
    revokeTokens(filter) {
      const list = filterTokens(filter);
      for (const t of list) tokens.delete(t.id);
      return list.length;
    },
    revokeToken: (id) => (liveToken(id) ? Number(tokens.delete(id)) : 0),
    expireTokens(filter) {
      const list = filterTokens(filter);
      for (const t of list) t.expiresAt = now();
      return list.length;
    },
    setTokenTtl(filter, ttlSeconds, maxTtlSeconds) {
      const list = filterTokens(filter);
      for (const t of list) {
        t.expiresAt = now() + ttlSeconds * 1000;
        if (maxTtlSeconds !== undefined) {
          t.explicitMaxTtl = maxTtlSeconds;
          t.maxExpiresAt = t.issuedAt + maxTtlSeconds * 1000;
        }
      }
      return list.length;
    },
    seedSecret,
    rotateSecret,
    deleteSecret,
    undeleteSecret,
    readSecret,
    secretExists: (key) => {
      const mount = secretMount(key);
      const path = cleanPath(key.path);
      return mount.version === 1 ? mount.v1.has(path) : mount.v2.has(path);
    },
    setSealed: (s) => {
      sealed = s;
    },
    seal: (o = {}) => {
      if (o.times === undefined) sealed = true;
      else emulator.inject({ fault: vaultError(503, "Vault is sealed"), times: o.times });
    },
    unseal: () => {
      sealed = false;
    },
    failInternal: (o = {}) => emulator.inject({ fault: vaultError(o.status ?? 500, o.status === 502 ? "error proxying request to the active node" : "internal error"), times: o.times ?? 1, pathIncludes: o.pathIncludes }),
    hang: (o = {}) => emulator.inject({ fault: { type: "hang" }, times: o.times ?? 1, pathIncludes: o.pathIncludes }),
    throttle: (o) => {
      throttles.push({ times: o.times ?? 1, retryAfterSeconds: o.retryAfterSeconds === undefined ? 1 : o.retryAfterSeconds, pathIncludes: o.pathIncludes });
    },
    setRateLimit: (q) => {
      quota = q ? { ...q, windowStart: now(), count: 0 } : null;
    },
    setClockOffset: (seconds) => {
      clockOffsetMs = seconds * 1000;
    },
  };
  return api;
}

/**
 * Demo data for `npm run emulators`: KV v2 at secret/ and KV v1 at kv/, an AppRole "latch" that may
 * read and write below secret/prod/ (and the console's connection-test secrets), and read kv/legacy/.
 */
export function seedDemoHashicorp(emulator: HashicorpEmulator) {
  if (!emulator.hasMount({ path: "kv" })) emulator.mountKv({ path: "kv", version: 1 });
  emulator.writePolicy({
    name: "latch",
    rules: {
      "secret/data/prod/*": ["create", "read", "update"],
      "secret/metadata/prod/*": ["read", "list", "delete"],
      "secret/data/latch-connection-test-*": ["create", "read", "update"],
      "secret/metadata/latch-connection-test-*": ["delete"],
      "kv/legacy/*": ["read"],
    },
  });
  const { roleId, secretId } = emulator.createAppRole({ name: "latch", policies: ["latch"], tokenTtlSeconds: 600, tokenMaxTtlSeconds: 3600 });
  emulator.createUser({ username: "latch", password: "latch-demo-password", policies: ["latch"] });
  emulator.seedSecret({ path: "prod/payroll-db", data: { username: "payroll_app", password: "demo-Payr0ll-pass-1" } });
  emulator.seedSecret({ path: "prod/payroll-db", data: { username: "payroll_app", password: "demo-Payr0ll-pass-2" } });
  emulator.seedSecret({ path: "prod/crm-api-key", data: { value: "demo-crm-api-key-123" } });
  emulator.seedSecret({ mount: "kv", path: "legacy/smtp", data: { username: "mailer", password: "demo-smtp-pass" } });
  const storeConfig = { address: emulator.url, mount: "secret", kvVersion: "auto", auth: "approle", roleId };
  const storeSecrets = { secretId };
  const instructions = [
    `HashiCorp Vault emulator at ${emulator.url} (control API ${emulator.controlUrl}/_control/).`,
    `Register a store of kind "HashiCorp Vault": Vault address ${emulator.url}, Authentication "AppRole", Role ID ${roleId}, Secret ID ${secretId}, KV mount path "secret", KV version "Detect automatically".`,
    `Or: Authentication "Username and password" with user "latch" / "latch-demo-password"; or "Token" with the root token ${emulator.rootToken}.`,
    `Secrets: prod/payroll-db (2 versions; keys username, password), prod/crm-api-key (key value). KV v1 mount "kv" (set KV mount path "kv"): legacy/smtp.`,
    `Rotate: curl -XPOST ${emulator.controlUrl}/_control/secrets/rotate -d '{"path":"prod/payroll-db"}'`,
    `Revoke Latch's tokens (it logs in again): curl -XPOST ${emulator.controlUrl}/_control/tokens/revoke -d '{"pathPrefix":"auth/approle/login"}'`,
  ].join("\n");
  return { instructions, storeConfig, storeSecrets };
}

import "server-only";
import type { Dispatcher } from "undici";
import { assertStoreUrl, createDispatcher, egressFetch } from "@/lib/net/egress";
import { StoreError, classifyNetworkError } from "../../errors";
import { parseRetryAfter, withRetry } from "../../retry";
import type { CommonOptions } from "../../types";

export type VaultSettings = {
  address: string;
  namespace?: string;
  mount: string;
  kvVersion: "auto" | "1" | "2";
  auth: "token" | "approle" | "userpass";
  roleId?: string;
  approleMount: string;
  username?: string;
  userpassMount: string;
  token?: string;
  secretId?: string;
  password?: string;
};

export type VaultResponse = { status: number; body: unknown; retryAfter?: number };

/** What Latch was doing, for messages. */
export type CallContext = { action: string; secretPath?: string };

/** A token and its current lease: leaseMs 0 = never expires (or unknown, for a token Latch may not look up). */
type Session = { token: string; obtainedAt: number; leaseMs: number; renewable: boolean };

type Envelope = { errors?: unknown; data?: unknown; auth?: unknown; warnings?: unknown };

export const firstError = (body: unknown): string => {
  const errs = body && typeof body === "object" ? (body as Envelope).errors : undefined;
  return Array.isArray(errs) && typeof errs[0] === "string" ? errs[0] : "";
};

const encodePath = (p: string) => p.split("/").map(encodeURIComponent).join("/");

/** A refused lookup-self: a dead token, or one created with -no-default-policy (the default policy is what allows it). */
const DEAD_OR_NO_LOOKUP =
  "the token is invalid, expired or revoked, or it may not look itself up (a token created with -no-default-policy lacks auth/token/lookup-self)";

/** How long a 429 without a usable Retry-After waits: a whole window of Vault's default 1 s quota interval. */
const QUOTA_WAIT_SECONDS = 1;

/** Vault decides a write's capability by whether the key exists: a policy with only one of the two fails half the writes. */
const writeHint = (ctx: CallContext) =>
  ctx.action === "write" ? " (a write needs “create” for a secret that does not exist yet and “update” for one that does: grant both)" : "";

/** Bounded retries on throttling and 5xx; a Retry-After longer than withRetry's limit ends the call. */
const RETRY = { attempts: 3, baseDelayMs: 200, maxDelayMs: 2000 };
const retrying = <T>(op: () => Promise<T>) => withRetry(op, RETRY);

/** At most this often, a live AppRole/userpass token refused by its policy is replaced by a new login. */
const POLICY_RELOGIN_INTERVAL_MS = 60_000;

/**
 * A small Vault HTTP client: one undici dispatcher (egress policy, CA bundle, proxy), the token
 * lifecycle (a static token is looked up once and renewed past half its TTL; AppRole and userpass
 * log in lazily, renew past half the lease, and log in again when renewal fails or a call is
 * refused), throttling and 5xx retried through withRetry.
 */
export class VaultClient {
  private dispatcher: Dispatcher | undefined;
  private session: Session | undefined;
  /** When a live token refused by its policy was last replaced by a new login (see call()). */
  private lastPolicyRelogin = 0;
  /**
   * Learnt: this role's tokens cannot look themselves up (token_no_default_policy), so a refused
   * lookup-self says nothing about whether a token is alive.
   */
  private lookupDenied = false;
  private loggingIn: Promise<Session> | undefined;
  private renewing: Promise<string> | undefined;
  private lookingUp: Promise<Session> | undefined;
  readonly host: string;

  constructor(
    private readonly s: VaultSettings,
    private readonly common: CommonOptions,
  ) {
    this.host = URL.canParse(s.address) ? new URL(s.address).host : s.address;
  }

  private getDispatcher(): Dispatcher {
    if (!this.dispatcher) {
      assertStoreUrl(this.s.address);
      try {
        this.dispatcher = createDispatcher({ ca: this.common.caBundle, proxyUrl: this.common.proxyUrl, timeoutMs: this.common.timeoutMs });
      } catch (error) {
        if (error instanceof TypeError) throw new StoreError("config", "The proxy URL of this store is not a valid URL.");
        throw error;
      }
    }
    return this.dispatcher;
  }

  /** One HTTP exchange; network failures become StoreErrors, HTTP statuses are left to the caller. */
  async raw(method: string, path: string, opts: { token?: string; body?: unknown; query?: Record<string, string> } = {}): Promise<VaultResponse> {
    let url: URL;
    try {
      url = new URL(`v1/${path}`, this.s.address.endsWith("/") ? this.s.address : `${this.s.address}/`);
    } catch {
      throw new StoreError("config", "The Vault address is not a valid URL; enter e.g. https://vault.example.com:8200.");
    }
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: "application/json" };
    if (opts.token) headers["x-vault-token"] = opts.token;
    if (this.s.namespace) headers["x-vault-namespace"] = this.s.namespace;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    let status: number;
    let text: string;
    let retryAfter: number | undefined;
    try {
      const res = await egressFetch(url, {
        method,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        dispatcher: this.getDispatcher(),
        timeoutMs: this.common.timeoutMs,
        // An HA standby redirects writes and logins to the active node, at its own address.
        bodyAcrossOrigins: true,
      });
      status = res.status;
      retryAfter = parseRetryAfter(res.headers.get("retry-after"));
      text = await res.text();
    } catch (error) {
      throw this.networkError(error);
    }
    if (!text.trim()) return { status, body: null, retryAfter };
    try {
      return { status, body: JSON.parse(text) as unknown, retryAfter };
    } catch {
      // A proxy or load balancer in front of Vault says "busy" or "down" in HTML: judged by its status.
      if (status >= 500 || status === 429) return { status, body: null, retryAfter };
      throw new StoreError("bad_response", `${this.host} answered with something other than JSON (HTTP ${status}). Check that the address points at Vault's API (usually port 8200).`);
    }
  }

  private networkError(error: unknown): StoreError {
    const known = classifyNetworkError(error, this.host);
    if (known) return known;
    let code = "";
    for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 8 && !code; e = (e as { cause?: unknown }).cause, depth++) {
      code = String((e as { code?: unknown }).code ?? "");
    }
    return new StoreError("tcp", `The request to ${this.host} failed${code ? ` (${code})` : ""}. Check the Vault address and the network path from Latch.`);
  }

  /** Statuses every call shares: throttling, seal, server failures and an unknown namespace. */
  private transient(res: VaultResponse): StoreError | null {
    const msg = firstError(res.body);
    if (res.status === 404 && /^namespace not found/i.test(msg)) {
      return new StoreError("config", `Vault at ${this.host} has no namespace “${this.s.namespace ?? ""}”. Check the namespace (e.g. admin/team-a), or leave it empty for the root namespace.`);
    }
    if (res.status === 429) {
      // Vault sends Retry-After only with enable_rate_limit_response_headers (off by default), and
      // then in whole seconds rounded down (0 in a window's last second). Without a usable one, wait
      // a quota interval's worth (1 s, Vault's default): the usual backoff would spend every attempt
      // inside the same window.
      const wait = res.retryAfter !== undefined && res.retryAfter > 0 ? res.retryAfter : QUOTA_WAIT_SECONDS;
      return new StoreError("throttled", `Vault at ${this.host} is rate-limiting Latch (a rate-limit quota). Requests are retried automatically; if this persists, raise the quota for Latch's paths.`, wait);
    }
    if (res.status === 503) {
      if (/sealed/i.test(msg)) return new StoreError("unavailable", `Vault at ${this.host} is sealed. An operator must unseal it.`, res.retryAfter);
      return new StoreError("unavailable", `Vault at ${this.host} is unavailable (HTTP 503: standby without a reachable active node, or maintenance). Try again shortly.`, res.retryAfter);
    }
    if (res.status >= 500) return new StoreError("unavailable", `Vault at ${this.host} reported an internal error (HTTP ${res.status}). Try again shortly.`, res.retryAfter);
    return null;
  }

  // ---- authentication -------------------------------------------------------------------

  private requireSecret(value: string | undefined, label: string): string {
    if (!value) throw new StoreError("config", `The ${label} is missing. Enter it in the store's settings.`);
    return value;
  }

  private async login(): Promise<Session> {
    const s = this.s;
    let res: VaultResponse;
    let who: string;
    if (s.auth === "approle") {
      const roleId = this.requireSecret(s.roleId, "AppRole role ID");
      const secretId = this.requireSecret(s.secretId, "AppRole secret ID");
      who = `AppRole login at auth/${s.approleMount}`;
      res = await this.raw("POST", `auth/${encodePath(s.approleMount)}/login`, { body: { role_id: roleId, secret_id: secretId } });
      if (res.status === 400 && /invalid (role|secret)|role id|secret id/i.test(firstError(res.body))) {
        throw new StoreError("auth", `Vault refused the AppRole login at auth/${s.approleMount}: the role ID or secret ID is not valid (the secret ID may have expired or used up its uses). Generate a new secret ID and enter it here.`);
      }
    } else {
      const username = this.requireSecret(s.username, "username");
      const password = this.requireSecret(s.password, "password");
      who = `userpass login for “${username}” at auth/${s.userpassMount}`;
      res = await this.raw("POST", `auth/${encodePath(s.userpassMount)}/login/${encodeURIComponent(username)}`, { body: { password } });
      if (res.status === 400 && /invalid username or password/i.test(firstError(res.body))) {
        throw new StoreError("auth", `Vault refused the userpass login for “${username}” at auth/${s.userpassMount}: the username or password is not valid.`);
      }
    }
    const transient = this.transient(res);
    if (transient) throw transient;
    if (res.status === 400 || res.status === 403 || res.status === 404 || res.status === 405) {
      const mount = s.auth === "approle" ? s.approleMount : s.userpassMount;
      const kind = s.auth === "approle" ? "AppRole" : "userpass";
      throw new StoreError("auth", `Vault refused the ${who} (HTTP ${res.status}). Check that a ${kind} auth method is enabled at auth/${mount}${s.namespace ? ` in namespace “${s.namespace}”` : ""}, and the credentials.`);
    }
    const auth = res.status === 200 && res.body && typeof res.body === "object" ? (res.body as Envelope).auth : undefined;
    const token = auth && typeof auth === "object" ? (auth as { client_token?: unknown }).client_token : undefined;
    if (typeof token !== "string" || !token) throw new StoreError("bad_response", `The ${who} on ${this.host} did not return a client token (HTTP ${res.status}).`);
    return this.sessionFrom(auth as Record<string, unknown>, token);
  }

  private sessionFrom(auth: Record<string, unknown>, token: string): Session {
    const lease = Number(auth.lease_duration ?? 0);
    return { token, obtainedAt: Date.now(), leaseMs: Number.isFinite(lease) && lease > 0 ? lease * 1000 : 0, renewable: auth.renewable === true };
  }

  /** Single-flight: concurrent calls share one login. */
  private freshLogin(): Promise<Session> {
    this.loggingIn ??= this.login()
      .then((session) => (this.session = session))
      .finally(() => {
        this.loggingIn = undefined;
      });
    return this.loggingIn;
  }

  private async renew(session: Session): Promise<Session | null> {
    try {
      const res = await this.raw("POST", "auth/token/renew-self", { token: session.token, body: {} });
      const auth = res.status === 200 && res.body && typeof res.body === "object" ? (res.body as Envelope).auth : undefined;
      if (!auth || typeof auth !== "object") return null;
      const renewed = this.sessionFrom(auth as Record<string, unknown>, session.token);
      // Capped by the max TTL: a much shorter lease means the token is near its end; log in instead.
      if (renewed.leaseMs < session.leaseMs / 2) return null;
      return renewed;
    } catch {
      return null;
    }
  }

  private async currentToken(): Promise<string> {
    if (this.s.auth === "token") return this.staticToken();
    if (this.loggingIn) return (await this.loggingIn).token;
    const session = this.session;
    if (!session) return (await this.freshLogin()).token;
    if (pastHalf(session)) {
      // Single-flight: calls arriving while the token is renewed wait for that one renewal.
      this.renewing ??= this.renewOrLogin(session).finally(() => {
        this.renewing = undefined;
      });
      return this.renewing;
    }
    return session.token;
  }

  // ---- a static token: looked up once, renewed past half its TTL, never replaced by Latch ----------

  private tokenDead(ctx: CallContext | undefined, why: string): StoreError {
    const doing = ctx ? ` while Latch tried to ${ctx.action}${ctx.secretPath ? ` “${ctx.secretPath}”` : ""}` : "";
    return new StoreError(
      "auth",
      `Vault refused the token (HTTP 403)${doing}: ${why}${this.s.namespace ? ` (namespace “${this.s.namespace}”)` : ""}. Check it with \`vault token lookup\`. If it is gone, create a new token for Latch and replace it in the store's settings; Latch renews a token but cannot obtain a new one by itself (with AppRole or userpass it logs in again on its own). If it lives, give it the default policy, or another that allows reading auth/token/lookup-self.`,
    );
  }

  private tokenExpired(session: Session): StoreError {
    const at = new Date(session.obtainedAt + session.leaseMs).toISOString().replace(/\.\d+Z$/, "Z");
    return new StoreError(
      "auth",
      `The Vault token expired at ${at} and cannot be renewed (Vault issued it as non-renewable, or it reached its maximum TTL). Create a new token for Latch and replace it in the store's settings, or use AppRole, which Latch renews and replaces by itself.`,
    );
  }

  /**
   * lookup-self: the token's remaining TTL and whether it is renewable. `strict` (the store test)
   * reports a refused lookup; otherwise a token whose policies lack lookup-self is used as it is.
   */
  private async lookupToken(token: string, strict: boolean): Promise<Session> {
    const res = await this.raw("GET", "auth/token/lookup-self", { token });
    const transient = this.transient(res);
    if (transient) throw transient;
    if (res.status === 403) {
      if (strict) throw this.tokenDead({ action: "look up its own token" }, DEAD_OR_NO_LOOKUP);
      return { token, obtainedAt: Date.now(), leaseMs: 0, renewable: false };
    }
    const data = res.status === 200 && res.body && typeof res.body === "object" ? (res.body as Envelope).data : undefined;
    if (!data || typeof data !== "object") throw new StoreError("bad_response", `Vault at ${this.host} answered HTTP ${res.status} to a token lookup.`);
    const d = data as { ttl?: unknown; creation_ttl?: unknown; renewable?: unknown; expire_time?: unknown };
    const ttl = Math.max(0, Number(d.ttl) || 0);
    const creationTtl = Math.max(0, Number(d.creation_ttl) || 0);
    if (ttl === 0 && !d.expire_time) return { token, obtainedAt: Date.now(), leaseMs: 0, renewable: false };
    // The current lease is taken as the token's TTL period; Vault's own clock is never compared with
    // ours. Vault truncates ttl to whole seconds, so up to one second of "elapsed" is that, not age.
    const leaseSeconds = Math.max(ttl, creationTtl, 1);
    return { token, obtainedAt: Date.now() - Math.max(0, leaseSeconds - ttl - 1) * 1000, leaseMs: leaseSeconds * 1000, renewable: d.renewable === true };
  }

  private async staticToken(strict = false): Promise<string> {
    const token = this.requireSecret(this.s.token, "Vault token");
    let session = this.session;
    if (!session || strict) {
      this.lookingUp ??= this.lookupToken(token, strict)
        .then((found) => (this.session = found))
        .finally(() => {
          this.lookingUp = undefined;
        });
      session = await this.lookingUp;
    }
    if (!pastHalf(session)) return session.token;
    if (session.renewable) {
      this.renewing ??= this.renewStatic(session).finally(() => {
        this.renewing = undefined;
      });
      return this.renewing;
    }
    if (Date.now() >= session.obtainedAt + session.leaseMs) throw this.tokenExpired(session);
    return session.token;
  }

  /** renew-self for a static token. Refused = dead (the admin must replace it); a Vault hiccup keeps the current lease. */
  private async renewStatic(session: Session): Promise<string> {
    let res: VaultResponse;
    try {
      res = await this.raw("POST", "auth/token/renew-self", { token: session.token, body: {} });
    } catch {
      return session.token;
    }
    if (res.status === 403) {
      if (this.session === session) this.session = undefined;
      throw this.tokenDead({ action: "renew its token" }, "the token has expired or was revoked");
    }
    const auth = res.status === 200 && res.body && typeof res.body === "object" ? (res.body as Envelope).auth : undefined;
    if (auth && typeof auth === "object") {
      const renewed = this.sessionFrom(auth as Record<string, unknown>, session.token);
      // Much shorter than before: capped by the max TTL. Use it to the end; renewing again gains nothing.
      if (renewed.leaseMs < session.leaseMs / 2) renewed.renewable = false;
      if (this.session === session) this.session = renewed;
      return renewed.token;
    }
    if (res.status === 400 && this.session === session) this.session = { ...session, renewable: false };
    return session.token;
  }

  private async renewOrLogin(session: Session): Promise<string> {
    const renewed = session.renewable ? await this.renew(session) : null;
    if (renewed) {
      if (this.session === session) this.session = renewed;
      return renewed.token;
    }
    if (this.session === session) this.session = undefined;
    return (await this.freshLogin()).token;
  }

  private authError(ctx: CallContext, loggedIn = true): StoreError {
    const target = ctx.secretPath ? ` ${ctx.action} “${ctx.secretPath}”` : ` ${ctx.action}`;
    if (this.s.auth === "token") {
      return new StoreError("auth", `Vault refused the token (HTTP 403): the token is invalid, expired or revoked, or its policy does not allow Latch to${target}${this.s.namespace ? ` in namespace “${this.s.namespace}”` : ""}. Check it with \`vault token lookup\`: grant the capability on the path, or, if the token is gone, create a new one and replace it in the store's settings.`);
    }
    const method = this.s.auth === "approle" ? "AppRole role" : `userpass user “${this.s.username ?? ""}”`;
    // The login was accepted and its token refused: what is missing is a capability, not a credential.
    return new StoreError("permission", `Vault refused the request ${loggedIn ? "even with a fresh login" : "with a valid token"} (HTTP 403): the policies of the ${method} do not allow Latch to${target}${this.s.namespace ? ` in namespace “${this.s.namespace}”` : ""}. Grant the needed capabilities on the path in Vault${writeHint(ctx)}.`);
  }

  /** Whether the token is the current session's, of Latch's own login, and its lease has not ended. */
  private withinLease(token: string): boolean {
    const s = this.session;
    return !!s && s.token === token && (s.leaseMs === 0 || Date.now() < s.obtainedAt + s.leaseMs);
  }

  /** Whether Vault still knows the token (lookup-self, which Vault's default policy grants); undefined when it cannot tell. */
  private async tokenAlive(token: string): Promise<boolean | undefined> {
    try {
      const res = await this.raw("GET", "auth/token/lookup-self", { token });
      return res.status === 200 ? true : res.status === 403 ? false : undefined;
    } catch {
      return undefined;
    }
  }

  /** A static token refused: a fresh lookup tells a dead token (replace it) from a policy that does not reach the path. */
  private async tokenRefused(token: string, ctx: CallContext): Promise<StoreError> {
    const alive = await this.tokenAlive(token);
    // A live token stays: the next read, of a path its policy does reach, needs no new lookup.
    if (alive !== true && this.session?.token === token) this.session = undefined;
    if (alive === false) return this.tokenDead(ctx, DEAD_OR_NO_LOOKUP);
    if (alive === true) {
      const target = ctx.secretPath ? `${ctx.action} “${ctx.secretPath}”` : ctx.action;
      return new StoreError("permission", `Vault refused the request (HTTP 403): the token is valid, but its policies do not allow Latch to ${target}${this.s.namespace ? ` in namespace “${this.s.namespace}”` : ""}. Grant the needed capability on the path to the token's policy${writeHint(ctx)}.`);
    }
    return this.authError(ctx);
  }

  /**
   * An authenticated call with bounded retries. A 403 "permission denied" means the token is bad,
   * gone or not allowed; AppRole/userpass log in again once before reporting it.
   */
  async call(method: string, path: string, ctx: CallContext, opts: { body?: unknown; query?: Record<string, string> } = {}): Promise<VaultResponse> {
    return retrying(async () => {
      let token = await this.currentToken();
      let res = await this.raw(method, path, { ...opts, token });
      let loggedIn = false;
      if (res.status === 403 && this.s.auth !== "token" && !/preflight capability check/i.test(firstError(res.body))) {
        // A token that is still alive was refused by its policy: logging in again gets the same
        // policy, and would leave one more live token behind for every read of a path it does not
        // reach. Only a token Vault no longer knows (or cannot say) is replaced.
        const alive = await this.tokenAlive(token);
        // For a role whose tokens cannot look themselves up, a token of Latch's own login within its
        // lease is taken as alive: logging in again at every refused read would leave a live token
        // behind each time, and spend a use of a limited secret ID.
        const presumedAlive = alive === true || (alive === false && this.lookupDenied && this.withinLease(token));
        // A live token still gets a new login now and then: a policy added to the role since it was
        // issued (the usual fix for this 403) reaches only tokens issued after it.
        const relogin = !presumedAlive || Date.now() - this.lastPolicyRelogin >= POLICY_RELOGIN_INTERVAL_MS;
        if (relogin) {
          this.lastPolicyRelogin = Date.now();
          // Drop only the token that was refused: a concurrent call may already have logged in again.
          if (this.session?.token === token) this.session = undefined;
          // Not known to be gone: revoke it, so that it does not outlive its replacement (best effort).
          if (alive !== false || presumedAlive) void this.raw("POST", "auth/token/revoke-self", { token }).catch(() => undefined);
          token = await this.currentToken();
          res = await this.raw(method, path, { ...opts, token });
          loggedIn = true;
          // Refused again with a token just issued, which cannot look itself up either: this role's
          // tokens never can (the lookup said "gone" of a live token), and will not be replaced for it.
          if (res.status === 403 && alive === false && !this.lookupDenied && (await this.tokenAlive(token)) === false) this.lookupDenied = true;
        }
      }
      const transient = this.transient(res);
      if (transient) throw transient;
      if (res.status === 403 && !/preflight capability check/i.test(firstError(res.body))) {
        throw this.s.auth === "token" ? await this.tokenRefused(token, ctx) : this.authError(ctx, loggedIn);
      }
      return res;
    });
  }

  /** Proves authentication: lookup-self for a token, a fresh login otherwise. */
  async health(): Promise<void> {
    if (this.s.auth === "token") {
      await retrying(() => this.staticToken(true));
      return;
    }
    await retrying(async () => {
      this.session = undefined;
      await this.freshLogin();
    });
  }

  /** Revokes a token Latch logged in for (best effort: it would expire anyway), then closes the connection pool. */
  async close() {
    const session = this.session;
    this.session = undefined;
    if (session && this.s.auth !== "token" && this.dispatcher) {
      await this.raw("POST", "auth/token/revoke-self", { token: session.token }).catch(() => undefined);
    }
    const d = this.dispatcher;
    this.dispatcher = undefined;
    await d?.close().catch(() => {});
  }
}

/** Due for renewal: past half the current lease (a lease of 0 never expires). */
function pastHalf(session: Session): boolean {
  return session.leaseMs > 0 && Date.now() - session.obtainedAt >= session.leaseMs / 2;
}

import "server-only";
import type { Dispatcher } from "undici";
import { createDispatcher, egressFetch } from "@/lib/net/egress";
import { StoreError, classifyNetworkError } from "../../errors";
import { parseRetryAfter, withRetry } from "../../retry";
import type { FetchedSecret } from "../../types";
import type { ClientCertificate } from "./client-certificate";
import { CLIENT_CERT_ALERT, diagnoseTlsRefusal } from "./tls-refusal";

import { UNSUPPORTED_CHARACTERS } from "./descriptor";

export { UNSUPPORTED_CHARACTERS };
const ACCOUNTS_PATH = "/AIMWebService/api/Accounts";

export type CcpQuery = { appId: string; safe: string; folder: string; object: string; failOnPasswordChange: boolean };

export type CcpConnection = {
  baseUrl: string;
  certificate: () => ClientCertificate;
  caBundle?: string;
  proxyUrl?: string;
  timeoutMs: number;
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
};

/** Refuses a value CyberArk cannot match, before any request is made. */
export function assertQueryValue(label: string, value: string) {
  if (!value.trim()) throw new StoreError("config", `${label} is empty.`);
  const bad = UNSUPPORTED_CHARACTERS.exec(value);
  if (bad) throw new StoreError("config", `${label} “${value}” contains “${bad[0]}”. CyberArk's Credential Provider does not support + & % or ; in query values; rename the account or safe in CyberArk.`);
}

/** The Accounts endpoint under the configured base; a base that already ends in it is accepted. */
export function accountsUrl(base: string): URL {
  if (!URL.canParse(base)) throw new StoreError("config", "The CCP URL is not a valid address; enter e.g. https://ccp.example.com.");
  const url = new URL(base);
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path.toLowerCase().endsWith(ACCOUNTS_PATH.toLowerCase()) ? path : `${path}${ACCOUNTS_PATH}`;
  url.search = "";
  url.hash = "";
  return url;
}

const describe = (q: Pick<CcpQuery, "safe" | "folder" | "object">) => `Object “${q.object}” in safe “${q.safe}” (folder “${q.folder}”)`;

/**
 * CCP returns every account property as a string. `Content` becomes `password` and `UserName`
 * becomes `username`; every other non-empty property keeps its name with the first letter
 * lower-cased (Address → address, LogonDomain → logonDomain, custom properties likewise).
 */
export function toFetchedSecret(body: Record<string, unknown>): FetchedSecret {
  const values: Record<string, string> = {};
  for (const [name, raw] of Object.entries(body)) {
    if (name === "Content" || name === "UserName") continue;
    const value = typeof raw === "string" ? raw : typeof raw === "number" || typeof raw === "boolean" ? String(raw) : undefined;
    if (!value) continue;
    const key = name.charAt(0).toLowerCase() + name.slice(1);
    if (key === "password" || key === "username") continue;
    values[key] = value;
  }
  values.password = body.Content as string;
  if (typeof body.UserName === "string" && body.UserName) values.username = body.UserName;
  const version = typeof body.Version === "string" && body.Version ? body.Version : null;
  return { values, version, updatedAt: null };
}

type CcpErrorBody = { ErrorCode?: unknown; ErrorMsg?: unknown };

function parseErrorBody(text: string): { code: string; message: string } | null {
  try {
    const body = JSON.parse(text) as CcpErrorBody;
    if (body && typeof body.ErrorCode === "string") return { code: body.ErrorCode.toUpperCase(), message: typeof body.ErrorMsg === "string" ? body.ErrorMsg : "" };
  } catch {
    // Not a CCP error object (e.g. an IIS HTML page).
  }
  return null;
}

/** Server-supplied text, shortened: CCP error messages carry query names, never secret values. */
const excerpt = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

/** Maps a non-200 CCP answer onto a StoreError (CyberArk's documented error table). */
export function ccpHttpError(status: number, text: string, headers: { get(name: string): string | null }, q: CcpQuery, host: string): StoreError {
  const error = parseErrorBody(text);
  const code = error?.code ?? "";
  const tag = code ? ` (${code})` : ` (HTTP ${status})`;
  const retryAfter = parseRetryAfter(headers.get("retry-after"));

  if (code === "APPAP004E") {
    return new StoreError(
      "not_found",
      `CyberArk found no ${describe(q)}${tag}. Check the Object name, and that App ID “${q.appId}” and the Credential Provider's user are members of the safe — CyberArk reports missing permissions the same way.`,
    );
  }
  if (code === "APPAP306E") {
    return new StoreError("auth", `CyberArk did not authenticate the application${tag}: the client certificate or App ID “${q.appId}” is not accepted. Check that this certificate is registered as an authentication method of the App ID (and that the App ID is spelled as in CyberArk).`);
  }
  if (code === "APPAP008E") {
    return new StoreError("permission", `CyberArk refused App ID “${q.appId}”${tag}: the application is not defined in the Vault, or it lacks permission to use safe “${q.safe}”.`);
  }
  if (code === "APPAP282E") {
    return new StoreError("unavailable", `The password of ${describe(q)} is being changed by CyberArk right now${tag}. Try again shortly, or turn off “Fail while the password is being changed”.`, retryAfter);
  }
  if (/^APPAP22[789]E$/.test(code) || /too many/i.test(error?.message ?? "")) {
    return new StoreError("config", `The query matches several accounts in safe “${q.safe}”${tag}; name the Object exactly (the account's Name in CyberArk).`);
  }
  if (code === "CASVL010E") return new StoreError("config", `CyberArk rejected a value as containing invalid characters${tag}. Check the App ID, Safe, Folder and Object for + & % ; or other unusual characters.`);
  if (code === "AIMWS030E") return new StoreError("config", `CyberArk rejected the query format${tag}. Check the Safe, Folder and Object values.`);
  if (code === "AIMWS031E") return new StoreError("config", `CyberArk reported an invalid or missing parameter${tag}: ${excerpt(error!.message)} Check the App ID, Safe, Folder and Object.`);
  if (code === "APPAP007E") return new StoreError("unavailable", `The Credential Provider could not reach the CyberArk Vault${tag}. Ask the CyberArk team to check the provider's connection to the Vault.`, retryAfter);

  if (status === 401) return new StoreError("auth", `${host} asked for authentication${tag}. The CCP authenticates by App ID and client certificate; check both.`);
  if (status === 403) {
    if (!error) return new StoreError("auth", `The web server at ${host} refused the request before CyberArk answered (HTTP 403). This usually means it requires a client certificate it trusts: check the certificate and that its issuing CA is trusted by the CCP's IIS.`);
    return new StoreError("permission", `CyberArk refused the request${tag}: ${excerpt(error.message)}`);
  }
  if (status === 404 && !error) return new StoreError("config", `There is no Credential Provider web service at ${host}${ACCOUNTS_PATH} (HTTP 404). Check the CCP URL; Latch appends ${ACCOUNTS_PATH} to it.`);
  if (status === 429) return new StoreError("throttled", `${host} is throttling requests${tag}.`, retryAfter);
  if (status >= 500) return new StoreError("unavailable", `The Credential Provider at ${host} failed${tag}${error?.message ? `: ${excerpt(error.message)}` : ""}.`, retryAfter);
  if (status === 400) return new StoreError("config", `CyberArk rejected the request${tag}${error?.message ? `: ${excerpt(error.message)}` : ""}.`);
  return new StoreError("bad_response", `${host} answered HTTP ${status}${tag}, which is not a Credential Provider response.`);
}

const refusedCertificate = (host: string, reason: string) =>
  new StoreError("auth", `${host} refused the TLS connection (${reason}): it did not accept Latch's client certificate. Check that the certificate is the one registered for the App ID and that the CCP trusts its issuing CA.`);

function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    codes.push(String((e as { code?: unknown }).code ?? ""));
  }
  return codes;
}

/** Network failures, with the CCP's refusal of the client certificate during the handshake called out. */
export function ccpNetworkError(error: unknown, host: string): StoreError {
  if (error instanceof StoreError) return error;
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const alert = CLIENT_CERT_ALERT.exec(String((e as { message?: unknown }).message ?? ""));
    if (alert) return refusedCertificate(host, alert[1]!.toLowerCase());
  }
  const known = classifyNetworkError(error, host);
  if (known) return known;
  const code = errorCodes(error).find(Boolean);
  return new StoreError("tcp", `The request to ${host} failed${code ? ` (${code})` : ""}. Check the CCP URL and the network path from Latch.`);
}

/**
 * A small GetPassword client: one GET per query, mutual TLS through the egress dispatcher,
 * throttling and 5xx retried (bounded), each attempt bounded by the store's timeout.
 */
export class CcpClient {
  private dispatcher: Dispatcher | undefined;
  private material: ClientCertificate | undefined;

  constructor(private readonly conn: CcpConnection) {}

  private getDispatcher(host: string): Dispatcher {
    try {
      this.dispatcher ??= createDispatcher({
        ...(this.material ??= this.conn.certificate()),
        ca: this.conn.caBundle,
        proxyUrl: this.conn.proxyUrl,
        timeoutMs: this.conn.timeoutMs,
      });
    } catch (error) {
      if (error instanceof TypeError) throw new StoreError("config", "The proxy URL of this store is not a valid URL.");
      throw ccpNetworkError(error, host);
    }
    return this.dispatcher;
  }

  async getPassword(q: CcpQuery): Promise<FetchedSecret> {
    assertQueryValue("App ID", q.appId);
    assertQueryValue("Safe", q.safe);
    assertQueryValue("Folder", q.folder);
    assertQueryValue("Object", q.object);
    const url = accountsUrl(this.conn.baseUrl);
    const dispatcher = this.getDispatcher(url.host);
    const params: [string, string][] = [
      ["AppID", q.appId],
      ["Safe", q.safe],
      ["Folder", q.folder],
      ["Object", q.object],
    ];
    if (q.failOnPasswordChange) params.push(["FailRequestOnPasswordChange", "true"]);
    // encodeURIComponent, not URLSearchParams: CCP expects %20 for spaces, not "+".
    url.search = params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
    return withRetry(() => this.once(url, dispatcher, q), { attempts: 3, baseDelayMs: 200, maxDelayMs: 2000, ...this.conn.retry });
  }

  private async once(url: URL, dispatcher: Dispatcher, q: CcpQuery): Promise<FetchedSecret> {
    const host = url.host;
    let status: number;
    let text: string;
    let headers: { get(name: string): string | null };
    try {
      const res = await egressFetch(url, { method: "GET", headers: { accept: "application/json" }, dispatcher, timeoutMs: this.conn.timeoutMs });
      status = res.status;
      headers = res.headers;
      text = await res.text();
    } catch (error) {
      throw await this.networkError(error, url);
    }
    if (status !== 200) throw ccpHttpError(status, text, headers, q, host);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new StoreError("bad_response", `${host} answered with something other than JSON. Check that the CCP URL points at the Central Credential Provider.`);
    }
    if (!body || typeof body !== "object" || Array.isArray(body) || typeof (body as { Content?: unknown }).Content !== "string") {
      throw new StoreError("bad_response", `${host} answered without a password (no “Content” field) for ${describe(q)}.`);
    }
    return toFetchedSecret(body as Record<string, unknown>);
  }

  private async networkError(error: unknown, url: URL): Promise<StoreError> {
    const mapped = ccpNetworkError(error, url.host);
    // A closed socket after a TLS 1.3 handshake may be the CCP refusing the certificate; dial once to tell.
    if (mapped.kind === "tcp" && !this.conn.proxyUrl && this.material && errorCodes(error).some((c) => c === "UND_ERR_SOCKET" || c === "ECONNRESET")) {
      const refusal = await diagnoseTlsRefusal(url, this.material, this.conn.caBundle, this.conn.timeoutMs).catch(() => null);
      if (refusal) return refusedCertificate(url.host, refusal.reason);
    }
    return mapped;
  }

  async close() {
    const d = this.dispatcher;
    this.dispatcher = undefined;
    await d?.close().catch(() => {});
  }
}

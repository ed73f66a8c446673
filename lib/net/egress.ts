import dns from "node:dns";
import type http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import net, { BlockList, isIP, type LookupFunction, type Socket } from "node:net";
import tls, { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { Agent, fetch as undiciFetch, type Dispatcher, type RequestInit, type Response, type buildConnector } from "undici";
import { env } from "@/lib/env";

/**
 * One egress policy for every outbound call Latch makes for a store or a connection target.
 * Cloud metadata and link-local addresses are always refused; operators may add deny and allow
 * CIDR lists. The check runs on the address actually dialled (inside the socket's DNS lookup), so a
 * name that resolves differently at connect time cannot slip past it, and again on every redirect.
 * Through a proxy, Latch still resolves and checks the target and tunnels to that IP (see below).
 */
const ALWAYS_DENIED_HOSTS = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
  "metadata.azure.internal",
  "metadata.tencentyun.com",
]);

function alwaysDenied(): BlockList {
  const list = new BlockList();
  list.addSubnet("169.254.0.0", 16, "ipv4"); // link-local, incl. 169.254.169.254 (AWS, Azure, GCP, …)
  list.addSubnet("fe80::", 10, "ipv6");
  list.addAddress("100.100.100.200", "ipv4"); // Alibaba Cloud metadata
  list.addAddress("fd00:ec2::254", "ipv6"); // AWS IMDS over IPv6
  list.addAddress("0.0.0.0", "ipv4");
  list.addAddress("::", "ipv6");
  return list;
}

function parseCidrs(raw: string | undefined): BlockList | null {
  if (!raw?.trim()) return null;
  const list = new BlockList();
  for (const entry of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [address, bits] = entry.split("/");
    const type = isIP(address ?? "") === 6 ? "ipv6" : "ipv4";
    if (!address || !isIP(address)) throw new Error(`Invalid CIDR in egress policy: ${entry}`);
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

type Policy = { denied: BlockList; deny: BlockList | null; allow: BlockList | null };
let policy: Policy | undefined;
function getPolicy(): Policy {
  policy ??= {
    denied: alwaysDenied(),
    deny: parseCidrs(env().LATCH_EGRESS_DENY_CIDRS),
    allow: parseCidrs(env().LATCH_EGRESS_ALLOW_CIDRS),
  };
  return policy;
}

export class EgressDeniedError extends Error {
  override name = "EgressDeniedError";
  readonly code = "LATCH_EGRESS_DENIED";
}

/** Unwraps IPv4-mapped IPv6 (::ffff:a.b.c.d) so the IPv4 rules apply to it. */
function normalise(address: string): { address: string; type: "ipv4" | "ipv6" } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1]!, type: "ipv4" };
  return { address, type: isIP(address) === 6 ? "ipv6" : "ipv4" };
}

/** The 16 bytes of an IPv6 address, or null. */
function ipv6Bytes(address: string): number[] | null {
  if (isIP(address) !== 6) return null;
  let text = address.toLowerCase().split("%")[0]!;
  // A trailing dotted IPv4 part becomes two hex groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  if (groups.length !== 8) return null;
  return groups.flatMap((g) => {
    const n = parseInt(g || "0", 16);
    return [n >> 8, n & 0xff];
  });
}

/**
 * The IPv4 address an IPv6 one carries to an IPv4 host: NAT64 (64:ff9b::/96), 6to4 (2002::/16) and
 * IPv4-mapped in hex (::ffff:a9fe:a9fe). The IPv4 rules apply to it too: 64:ff9b::a9fe:a9fe is the
 * metadata service on a network with NAT64.
 */
function embeddedIpv4(address: string): string | null {
  const b = ipv6Bytes(address);
  if (!b) return null;
  const v4 = (at: number) => b.slice(at, at + 4).join(".");
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return v4(12);
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12);
  return null;
}

export function assertAddressAllowed(rawAddress: string, host: string): void {
  const inner = embeddedIpv4(rawAddress);
  if (inner) assertAddressAllowed(inner, host);
  const { address, type } = normalise(rawAddress);
  const p = getPolicy();
  if (p.denied.check(address, type)) {
    throw new EgressDeniedError(`Latch never connects to ${host} (${address}): link-local and cloud-metadata addresses are refused.`);
  }
  if (p.deny?.check(address, type)) throw new EgressDeniedError(`${host} (${address}) is in the administrator's egress deny list.`);
  if (p.allow && !p.allow.check(address, type)) throw new EgressDeniedError(`${host} (${address}) is not in the administrator's egress allow list.`);
}

export function assertHostAllowed(hostname: string): void {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase().replace(/\.$/, "");
  if (ALWAYS_DENIED_HOSTS.has(host)) throw new EgressDeniedError(`Latch never connects to ${host}: it is a cloud metadata service.`);
  if (isIP(host)) assertAddressAllowed(host, host);
}

/** A dns.lookup replacement for sockets: resolves, then refuses any address the policy denies. */
export const egressLookup: LookupFunction = (hostname, options, callback) => {
  try {
    assertHostAllowed(hostname);
  } catch (error) {
    return (callback as (e: Error) => void)(error as Error);
  }
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return (callback as (e: Error) => void)(error);
    const list = addresses as dns.LookupAddress[];
    try {
      for (const a of list) assertAddressAllowed(a.address, hostname);
    } catch (denied) {
      return (callback as (e: Error) => void)(denied as Error);
    }
    if ((options as dns.LookupOptions).all) return (callback as (e: null, a: dns.LookupAddress[]) => void)(null, list);
    const first = list[0]!;
    (callback as (e: null, a: string, f: number) => void)(null, first.address, first.family);
  });
};

export type TlsMaterial = { ca?: string; cert?: string; key?: string; pfx?: Buffer; passphrase?: string };
/** A connection's pool settings, as the connectors get them (sockets per origin). */
export type DispatcherPool = { max: number };

/** Checks a store URL before anything is dialled: scheme and host name. */
export function assertStoreUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new EgressDeniedError(`${raw} is not a valid URL.`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && env().LATCH_DEV_ALLOW_HTTP_STORES)) {
    throw new EgressDeniedError(`Use an https:// address (${url.host} was given with ${url.protocol}).`);
  }
  assertHostAllowed(url.hostname);
  return url;
}

/**
 * An undici dispatcher with the egress policy, optional CA bundle and client certificate, and
 * optional proxy. TLS verification is always on; a CA bundle adds to the system roots.
 */
export function createDispatcher(opts: TlsMaterial & { proxyUrl?: string; timeoutMs: number; pool?: DispatcherPool }): Dispatcher {
  const material = {
    ...(opts.ca ? { ca: [...rootCertificates, opts.ca] } : {}),
    ...(opts.cert ? { cert: opts.cert } : {}),
    ...(opts.key ? { key: opts.key } : {}),
    ...(opts.pfx ? { pfx: opts.pfx, passphrase: opts.passphrase } : {}),
  };
  // Built once per dispatcher: parsing the system roots plus a bundle costs ~20 ms of CPU, which
  // tls.connect would otherwise repeat for every new connection.
  let secureContext: SecureContext | undefined;
  try {
    secureContext = Object.keys(material).length > 0 ? createSecureContext(material) : undefined;
  } catch (cause) {
    throw Object.assign(new Error("The CA bundle or client certificate could not be read.", { cause }), { code: "LATCH_TLS_MATERIAL" });
  }
  const timeouts = {
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    // At most this many sockets per origin; further requests wait for one within their own time. The
    // idle time stays undici's (4 s, or the server's Keep-Alive hint): HTTP servers close idle sockets
    // sooner than a pool's idle time, and a request sent on one they are closing fails.
    ...(opts.pool ? { connections: opts.pool.max } : {}),
  };
  if (opts.proxyUrl) {
    const proxy = parseProxyUrl(opts.proxyUrl, opts.ca);
    const connect: buildConnector.connector = ({ hostname, protocol, port }, callback) => {
      const target = { hostname, port: Number(port) || (protocol === "https:" ? 443 : 80) };
      connectThroughProxy(proxy, target, { secure: protocol === "https:", secureContext, timeoutMs: opts.timeoutMs }).then(
        (socket) => callback(null, socket),
        (error: Error) => callback(error, null),
      );
    };
    return new Agent({ connect, ...timeouts });
  }
  return new Agent({
    connect: { ...(secureContext ? { secureContext } : {}), lookup: egressLookup, timeout: opts.timeoutMs },
    ...timeouts,
  });
}

// ---- egress through an HTTPS (CONNECT) proxy ----------------------------------------------------
//
// Latch resolves the target itself, applies the policy to that address and asks the proxy for a
// tunnel to the checked IP, so a name the proxy would resolve to a metadata or denied address cannot
// get through. TLS to the target still uses its host name (SNI and certificate check).

export type EgressProxy = { url: URL; authorization?: string; proxyCa?: string[] };

/** Splits credentials off a proxy URL (they go in Proxy-Authorization, never in a message). */
export function parseProxyUrl(raw: string, ca?: string): EgressProxy {
  const url = new URL(raw);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError("The proxy URL must start with http:// or https://");
  let authorization: string | undefined;
  try {
    authorization = url.username ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}` : undefined;
  } catch {
    // A URIError, which the providers would report as the vault being unreachable.
    throw new TypeError("The proxy URL's user name or password is not valid percent-encoding: write % as %25.");
  }
  url.username = "";
  url.password = "";
  assertHostAllowed(url.hostname);
  return { url, ...(authorization ? { authorization } : {}), ...(ca ? { proxyCa: [...rootCertificates, ca] } : {}) };
}

/** A proxy failure, in words that name the proxy (never its credentials); classified by lib/vault/errors. */
export class EgressProxyError extends Error {
  override name = "EgressProxyError";
  readonly code = "LATCH_EGRESS_PROXY";
  constructor(
    readonly kind: "dns" | "tcp" | "timeout" | "auth" | "tls_untrusted",
    message: string,
  ) {
    super(message);
  }
}

const errorCode = (error: unknown) => String((error as { code?: unknown })?.code ?? "");

function dialProxy(proxy: EgressProxy, timeoutMs: number): Promise<Socket> {
  const where = proxy.url.host;
  const port = Number(proxy.url.port) || (proxy.url.protocol === "https:" ? 443 : 80);
  const host = proxy.url.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const socket =
      proxy.url.protocol === "https:"
        ? tls.connect({ host, port, lookup: egressLookup, ...(isIP(host) ? {} : { servername: host }), ...(proxy.proxyCa ? { ca: proxy.proxyCa } : {}) })
        : net.connect({ host, port, lookup: egressLookup });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new EgressProxyError("timeout", `The egress proxy ${where} did not accept a connection in time. Check the proxy URL and that the proxy is running.`));
    }, timeoutMs);
    socket.once(proxy.url.protocol === "https:" ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      socket.destroy();
      const code = errorCode(error);
      if (error instanceof EgressDeniedError) return reject(error);
      if (/CERT|SELF_SIGNED|ISSUER|ALTNAME/.test(code)) {
        return reject(new EgressProxyError("tls_untrusted", `The TLS certificate of the egress proxy ${where} was refused (${code}). Add the proxy's CA to the store's CA bundle, or use an http:// proxy URL.`));
      }
      if (code === "ENOTFOUND" || code === "EAI_AGAIN") return reject(new EgressProxyError("dns", `The host name of the egress proxy ${where} could not be resolved. Check the proxy URL.`));
      reject(new EgressProxyError("tcp", `Latch could not connect to the egress proxy ${where}${code ? ` (${code})` : ""}. Check the proxy URL and that the proxy is running.`));
    });
  });
}

/** Sends CONNECT and reads the proxy's answer; resolves with the socket, now a tunnel. */
function requestTunnel(socket: Socket, proxy: EgressProxy, authority: string, timeoutMs: number): Promise<Socket> {
  const where = proxy.url.host;
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new EgressProxyError("timeout", `The egress proxy ${where} did not open a tunnel in time.`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > 16_384) fail(new EgressProxyError("tcp", `The egress proxy ${where} sent an unreadable answer to CONNECT.`));
        return;
      }
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString("latin1"))?.[1] ?? 0);
      if (status === 407) return fail(new EgressProxyError("auth", `The egress proxy ${where} asked for credentials (HTTP 407). Put the user name and password in the proxy URL (http://user:password@proxy:port), or check them.`));
      if (status < 200 || status >= 300) {
        return fail(new EgressProxyError("tcp", `The egress proxy ${where} refused to open a tunnel to ${authority}${status ? ` (HTTP ${status})` : ""}. Check that the proxy allows this destination.`));
      }
      cleanup();
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const onError = (error: Error) => fail(new EgressProxyError("tcp", `The connection to the egress proxy ${where} failed${errorCode(error) ? ` (${errorCode(error)})` : ""}.`));
    const onClose = () => fail(new EgressProxyError("tcp", `The egress proxy ${where} closed the connection instead of opening a tunnel to ${authority}.`));
    function cleanup() {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
    }
    socket.on("data", onData);
    socket.once("error", onError);
    socket.once("close", onClose);
    const headers = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`, ...(proxy.authorization ? [`Proxy-Authorization: ${proxy.authorization}`] : []), "", ""];
    socket.write(headers.join("\r\n"));
  });
}

/** TLS to the target over the tunnel, verified against the target's host name (not the IP dialled). */
function startTls(socket: Socket, hostname: string, secureContext: SecureContext | undefined, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      ...(isIP(hostname) ? {} : { servername: hostname }),
      ...(secureContext ? { secureContext } : {}),
      ALPNProtocols: ["http/1.1"],
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(hostname, cert),
    });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(Object.assign(new Error(`TLS handshake with ${hostname} timed out`), { code: "ETIMEDOUT" }));
    }, timeoutMs);
    secure.once("secureConnect", () => {
      clearTimeout(timer);
      secure.removeAllListeners("error");
      resolve(secure);
    });
    secure.once("error", (error) => {
      clearTimeout(timer);
      secure.destroy();
      reject(error);
    });
  });
}

/**
 * A connection to `hostname:port` through the proxy: resolve and check the target here, dial the
 * (checked) proxy, CONNECT to the target's IP, then TLS with the original host name.
 */
export async function connectThroughProxy(
  proxy: EgressProxy,
  target: { hostname: string; port: number },
  opts: { secure: boolean; secureContext?: SecureContext; timeoutMs: number },
): Promise<Socket> {
  const hostname = target.hostname.replace(/^\[|\]$/g, "");
  const address = await resolveTargetAddress(hostname);
  const authority = `${isIP(address) === 6 ? `[${address}]` : address}:${target.port}`;
  const socket = await requestTunnel(await dialProxy(proxy, opts.timeoutMs), proxy, authority, opts.timeoutMs);
  return opts.secure ? startTls(socket, hostname, opts.secureContext, opts.timeoutMs) : socket;
}

/**
 * For clients built on node:https (the AWS SDK): an agent that reaches every host through the
 * proxy with connectThroughProxy, trusting the system roots plus the CA bundle.
 */
export function createProxyHttpsAgent(opts: { proxyUrl: string; ca?: string; timeoutMs: number }): https.Agent {
  const proxy = parseProxyUrl(opts.proxyUrl, opts.ca);
  const secureContext = opts.ca ? createSecureContext({ ca: [...rootCertificates, opts.ca] }) : undefined;
  class TunnelAgent extends https.Agent {
    override createConnection(options: http.RequestOptions, callback?: (error: Error | null, stream: Duplex) => void): undefined {
      const hostname = options.hostname ?? options.host ?? "localhost";
      connectThroughProxy(proxy, { hostname, port: Number(options.port) || 443 }, { secure: true, secureContext, timeoutMs: opts.timeoutMs }).then(
        (socket) => callback?.(null, socket),
        (error: Error) => callback?.(error, undefined as never),
      );
      return undefined;
    }
  }
  return new TunnelAgent({ keepAlive: true });
}

function withoutHeaders(headers: RequestInit["headers"], names: string[]): Headers {
  const out = new Headers(headers as HeadersInit | undefined);
  for (const name of names) out.delete(name);
  return out;
}

/**
 * fetch through a dispatcher, following at most 3 redirects and checking each new URL first.
 * A body (a client secret in a token request, a secret value being written) never follows a
 * redirect to another origin unless the caller says so (`bodyAcrossOrigins`: Vault, whose HA
 * standbys redirect writes and logins to the active node).
 */
export async function egressFetch(url: string | URL, init: RequestInit & { dispatcher: Dispatcher; timeoutMs: number; bodyAcrossOrigins?: boolean }): Promise<Response> {
  let current = new URL(url);
  for (let hop = 0; hop <= 3; hop++) {
    assertStoreUrl(current.toString());
    const response = await undiciFetch(current, {
      ...init,
      redirect: "manual",
      signal: init.signal ?? AbortSignal.timeout(init.timeoutMs),
    });
    const location = response.headers.get("location");
    if (response.status < 300 || response.status >= 400 || !location) return response;
    await response.body?.cancel();
    const next = new URL(location, current);
    const method = (init.method ?? "GET").toUpperCase();
    // As fetch does: 303, and 301/302 after a POST, go on as a GET without the body.
    if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
      init = { ...init, method: method === "HEAD" ? "HEAD" : "GET", body: undefined, headers: withoutHeaders(init.headers, ["content-type", "content-length"]) };
    }
    if (next.origin !== current.origin) {
      if (init.body != null && !init.bodyAcrossOrigins) {
        throw new EgressDeniedError(`${current.host} redirected a request that carries a body to ${next.host}; Latch does not send it to another address. Use the address that answers directly.`);
      }
      // Like browsers: credentials in standard headers never follow a redirect to another origin.
      // (Vault's own X-Vault-Token does, so HA standbys can redirect to the active node; each hop is
      // still checked against the egress policy.)
      init = { ...init, headers: withoutHeaders(init.headers, ["authorization", "cookie", "proxy-authorization"]) };
    }
    current = next;
  }
  throw new EgressDeniedError(`Too many redirects from ${new URL(url).host}.`);
}

/** Test hook: policy is read from env once; tests that change it call this. */
export function resetEgressPolicyForTests() {
  policy = undefined;
}

/**
 * For drivers that take no lookup hook (database and broker clients): resolves the host under the
 * egress policy and returns the address to dial, so the check applies to the IP actually used.
 * Keep the original host name for TLS (servername) and for messages.
 */
export function resolveTargetAddress(hostname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    egressLookup(hostname, {}, ((error: Error | null, address: string) => (error ? reject(error) : resolve(address))) as never);
  });
}

/** Every address the name resolves to now, each allowed by the egress policy (else it rejects). */
export function resolveTargetAddresses(hostname: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    egressLookup(hostname, { all: true }, ((error: Error | null, list: dns.LookupAddress[]) => (error ? reject(error) : resolve(list.map((a) => a.address)))) as never);
  });
}

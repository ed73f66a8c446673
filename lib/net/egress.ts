import dns from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { createSecureContext, rootCertificates } from "node:tls";
import { Agent, ProxyAgent, fetch as undiciFetch, type Dispatcher, type RequestInit, type Response } from "undici";
import { env } from "@/lib/env";

/**
 * One egress policy for every outbound call Latch makes for a store or a connection target.
 * Cloud metadata and link-local addresses are always refused; operators may add deny and allow
 * CIDR lists. The check runs on the address actually dialled (inside the socket's DNS lookup), so a
 * name that resolves differently at connect time cannot slip past it, and again on every redirect.
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

export function assertAddressAllowed(rawAddress: string, host: string): void {
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
export function createDispatcher(opts: TlsMaterial & { proxyUrl?: string; timeoutMs: number }): Dispatcher {
  const material = {
    ...(opts.ca ? { ca: [...rootCertificates, opts.ca] } : {}),
    ...(opts.cert ? { cert: opts.cert } : {}),
    ...(opts.key ? { key: opts.key } : {}),
    ...(opts.pfx ? { pfx: opts.pfx, passphrase: opts.passphrase } : {}),
  };
  // Built once per dispatcher: parsing the system roots plus a bundle costs ~20 ms of CPU, which
  // tls.connect would otherwise repeat for every new connection.
  let tls = {};
  try {
    tls = Object.keys(material).length > 0 ? { secureContext: createSecureContext(material) } : {};
  } catch (cause) {
    throw Object.assign(new Error("The CA bundle or client certificate could not be read.", { cause }), { code: "LATCH_TLS_MATERIAL" });
  }
  if (opts.proxyUrl) {
    const proxy = new URL(opts.proxyUrl);
    const token = proxy.username ? `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString("base64")}` : undefined;
    proxy.username = "";
    proxy.password = "";
    // Through a proxy the target is resolved by the proxy; the host-name and literal-IP checks still apply.
    return new ProxyAgent({
      uri: proxy.toString(),
      token,
      requestTls: { ...tls, timeout: opts.timeoutMs },
      proxyTls: { lookup: egressLookup },
      connect: { lookup: egressLookup, timeout: opts.timeoutMs },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  }
  return new Agent({
    connect: { ...tls, lookup: egressLookup, timeout: opts.timeoutMs },
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
  });
}

function withoutHeaders(headers: RequestInit["headers"], names: string[]): Headers {
  const out = new Headers(headers as HeadersInit | undefined);
  for (const name of names) out.delete(name);
  return out;
}

/** fetch through a dispatcher, following at most 3 redirects and checking each new URL first. */
export async function egressFetch(url: string | URL, init: RequestInit & { dispatcher: Dispatcher; timeoutMs: number }): Promise<Response> {
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
    // Like browsers: credentials in standard headers never follow a redirect to another origin.
    // (Vault's own X-Vault-Token does, so HA standbys can redirect to the active node; each hop is
    // still checked against the egress policy.)
    if (next.origin !== current.origin) init = { ...init, headers: withoutHeaders(init.headers, ["authorization", "cookie", "proxy-authorization"]) };
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

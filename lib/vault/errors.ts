import { hasBrand, stampBrands } from "@/lib/error-brand";
import { hostnameMismatch, hostnameOf } from "@/lib/net/certificate-names";

/**
 * What went wrong talking to a store, in words a person can act on. Messages never contain a
 * secret: they are built here from the failure kind plus non-secret context (host, secret name).
 */
export type StoreErrorKind =
  | "dns"
  | "tcp"
  | "tls_untrusted"
  | "tls_hostname"
  | "auth"
  | "permission"
  | "not_found"
  | "deleted"
  | "timeout"
  | "throttled"
  | "unavailable"
  | "bad_response"
  | "egress_denied"
  | "config";

export const STORE_ERROR_TITLES: Record<StoreErrorKind, string> = {
  dns: "Host name not found",
  tcp: "Could not connect",
  tls_untrusted: "Certificate not trusted",
  tls_hostname: "Certificate does not match the host",
  auth: "Authentication failed",
  permission: "Permission denied",
  not_found: "Secret not found",
  deleted: "Deleted in the store",
  timeout: "Timed out",
  throttled: "Throttled by the store",
  unavailable: "Store unavailable",
  bad_response: "Unexpected response",
  egress_denied: "Address not allowed",
  config: "Configuration problem",
};

export class StoreError extends Error {
  static readonly brand: string = "latch.StoreError";
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(this, value);
  }
  override name = "StoreError";
  constructor(
    readonly kind: StoreErrorKind,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    stampBrands(this, new.target);
  }
}

/** Maps low-level network/TLS errors (Node, undici, SDKs) onto StoreError kinds. */
export function classifyNetworkError(error: unknown, host: string): StoreError | null {
  if (error instanceof StoreError) return error;
  const seen = new Set<unknown>();
  let e: unknown = error;
  while (e && typeof e === "object" && !seen.has(e)) {
    seen.add(e);
    const code = String((e as { code?: unknown }).code ?? "");
    const name = String((e as { name?: unknown }).name ?? "");
    const message = String((e as { message?: unknown }).message ?? "");
    if (code === "LATCH_EGRESS_DENIED" || code === "LATCH_EGRESS_PROXY") {
      // Latch wrote these messages itself; wrappers (the Azure transport) copy only the code.
      const origin = innermostWithCode(e, code) as { message: string; kind?: StoreErrorKind };
      return new StoreError(code === "LATCH_EGRESS_DENIED" ? "egress_denied" : (origin.kind ?? "tcp"), origin.message);
    }
    if (code === "LATCH_TLS_MATERIAL") return new StoreError("config", "The CA bundle or client certificate could not be read. Paste the PEM again, exactly as exported.");
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
      return new StoreError("dns", `The host name ${hostnameOf(host)} could not be resolved${code === "EAI_AGAIN" ? " (the DNS server did not answer)" : ""}. Check the spelling of the address, and that Latch's DNS can resolve it (private zones, split DNS).`);
    }
    if (code === "ECONNREFUSED") return new StoreError("tcp", `Nothing is listening at ${host}. Check the address and port, and that the store is running.`);
    if (code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET") return new StoreError("tcp", `The connection to ${host} was reset. Check proxies and firewalls between Latch and the store.`);
    if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return new StoreError("tcp", `${host} is unreachable from Latch's network.`);
    if (["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_UNTRUSTED"].includes(code))
      return new StoreError("tls_untrusted", `The TLS certificate of ${host} is not signed by a trusted CA. Add your CA bundle to the store's settings.`);
    if (code === "CERT_HAS_EXPIRED") return new StoreError("tls_untrusted", `The TLS certificate of ${host} has expired.`);
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return new StoreError("tls_hostname", hostnameMismatch(host, e));
    if (code === "UND_ERR_CONNECT_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" || code === "ETIMEDOUT" || name === "TimeoutError" || code === "23")
      return new StoreError("timeout", `${host} did not answer in time.`);
    // Stores that present a client certificate (CyberArk) diagnose these themselves first. For the others
    // the alert is no sign-in: a gateway that wants a certificate, or no TLS version or cipher in common.
    const alert = /alert (certificate required|handshake failure|bad certificate|unknown ca|protocol version|insufficient security)/i.exec(message);
    if (alert) {
      return new StoreError(
        "tcp",
        `${host} ended the TLS handshake (${alert[1]!.toLowerCase()}). It may ask for a client certificate, which Latch does not present to this kind of store, or share no TLS version or cipher with Latch. Check the address, and any proxy or gateway in front of the store.`,
      );
    }
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/** The innermost error in the cause chain that carries `code` (whose message Latch wrote itself). */
function innermostWithCode(error: object, code: string): object {
  let found = error;
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === code) found = e;
  }
  return found;
}

import "server-only";
import { connect, rootCertificates } from "node:tls";
import { assertStoreUrl, egressLookup } from "@/lib/net/egress";
import type { ClientCertificate } from "./client-certificate";

export type TlsRefusal = { reason: string } | null;

/** TLS alerts a server sends when it refuses the client certificate. */
export const CLIENT_CERT_ALERT = /alert (certificate required|unknown ca|bad certificate|certificate unknown|certificate revoked|certificate expired|unsupported certificate|access denied|handshake failure)/i;

/**
 * With TLS 1.3 a server checks the client certificate after the handshake has "completed" on the
 * client side, so a refusal reaches fetch only as "other side closed". This re-dials once (same
 * certificate, CA and egress policy) and watches the bare socket: an alert, or a close right after
 * the handshake, means the client certificate was refused. Only called after such a failure.
 */
export function diagnoseTlsRefusal(url: URL, certificate: ClientCertificate, caBundle: string | undefined, timeoutMs: number): Promise<TlsRefusal> {
  try {
    assertStoreUrl(url.toString());
  } catch {
    return Promise.resolve(null);
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || 443);
  const windowMs = Math.min(1000, timeoutMs);
  return new Promise((resolve) => {
    let settled = false;
    let handshaken = false;
    const done = (result: TlsRefusal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const socket = connect({
      host,
      port,
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
      lookup: egressLookup,
      ...(caBundle ? { ca: [...rootCertificates, caBundle] } : {}),
      ...certificate,
    });
    let timer = setTimeout(() => done(null), timeoutMs);
    socket.on("secureConnect", () => {
      handshaken = true;
      clearTimeout(timer);
      timer = setTimeout(() => done(null), windowMs);
    });
    socket.on("data", () => done(null));
    socket.on("error", (error) => {
      const alert = CLIENT_CERT_ALERT.exec(error.message);
      done(alert ? { reason: alert[1]!.toLowerCase() } : null);
    });
    socket.on("close", () => done(handshaken ? { reason: "connection closed right after the handshake" } : null));
  });
}

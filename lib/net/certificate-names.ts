/**
 * The message for a server certificate issued for other names than the one dialled: which names it
 * has, and the two ways out. For stores and connection targets alike.
 */

/** `host` without its port (and an IPv6 address without its brackets). */
export function hostnameOf(host: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracketed) return bracketed[1]!;
  return host.replace(/:\d+$/, "");
}

type PeerCertificate = { subjectaltname?: unknown; subject?: { CN?: unknown } };

/** The names a server certificate is issued for (public, but server-supplied: only name characters kept). */
function certificateNames(error: object): string {
  // Wrappers (the Azure transport's RestError) copy the code but not the certificate: look further down.
  let cert: PeerCertificate | undefined;
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && !cert && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    cert = (e as { cert?: PeerCertificate }).cert;
  }
  const san = typeof cert?.subjectaltname === "string" ? cert.subjectaltname : "";
  const names = san
    .split(",")
    .map((entry) => entry.trim().replace(/^(DNS|IP Address):/, ""))
    .filter((name) => /^[\w.*:-]{1,253}$/.test(name));
  if (names.length === 0 && typeof cert?.subject?.CN === "string" && /^[\w.*-]{1,253}$/.test(cert.subject.CN)) names.push(cert.subject.CN);
  return names.length > 4 ? `${names.slice(0, 4).join(", ")} and ${names.length - 4} more` : names.join(", ");
}

/** `host` as dialled (with its port, if any), `error` the TLS error (or one that wraps it). */
export function hostnameMismatch(host: string, error: object): string {
  const names = certificateNames(error);
  return `The TLS certificate of ${host} is for a different host name${names ? ` (it names ${names})` : ""}. Use the address the certificate was issued for, or have the certificate reissued to include ${hostnameOf(host)}.`;
}

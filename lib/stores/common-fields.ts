import { z } from "zod";
import { describeField, secret } from "@/lib/vault/fields";

/**
 * Write-only settings every external store has beside its provider's own, kept with the provider's
 * sealed secrets. Client-safe: the store form renders them from the same definition.
 */
export const PROXY_SECRET_KEY = "proxyUrl";

/** Whether the URL's user name and password are well-formed percent-encoding (an unparsable URL is another rule's to report). */
function credentialsDecode(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return true;
  }
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    return true;
  } catch {
    return false;
  }
}
export const proxyUrlSchema = secret(
  z
    .string()
    .trim()
    .max(500, "The proxy URL can be at most 500 characters.")
    .refine((v) => v === "" || /^https?:\/\/[^\s]+$/.test(v), "Enter a proxy URL such as http://proxy.internal:3128.")
    .refine((v) => v === "" || credentialsDecode(v), "The proxy URL's user name or password has a % that does not start an escape: write % as %25 (and @ as %40, : as %3A).")
    .default(""),
  {
    label: "HTTPS egress proxy (optional)",
    help: "e.g. http://user:password@proxy.internal:3128 — may include proxy credentials (percent-encoded: % as %25, @ as %40), so it is stored like a secret. It is sent only to the proxy, so it stays when the store's address changes.",
  },
);
export const PROXY_FIELD = describeField(PROXY_SECRET_KEY, proxyUrlSchema);

export const CA_BUNDLE_LABEL = "CA bundle";

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/g;
/** The PEM certificate blocks of a bundle, whole. */
export const certificateBlocks = (bundle: string | null | undefined) => [...(bundle ?? "").matchAll(CERTIFICATE_BLOCK)].map((m) => m[0]);
const certificatesIn = (bundle: string | null | undefined) => new Set([...(bundle ?? "").matchAll(CERTIFICATE_BLOCK)].map((m) => m[1]!.replace(/\s+/g, "")));

/**
 * Whether a new CA bundle trusts a certificate the stored one did not. A new CA could vouch for a
 * server that intercepts the store's traffic, so stored secrets must not follow unasked; removing
 * certificates only narrows trust (the system roots stay trusted either way).
 */
export function caBundleAddsTrust(before: string | null | undefined, after: string | null | undefined): boolean {
  const known = certificatesIn(before);
  return [...certificatesIn(after)].some((c) => !known.has(c));
}

/**
 * Why stored secrets must be entered again, after a change of where they go (locators) and/or of whom
 * Latch trusts to be there (the CA bundle). The egress proxy is neither: secrets pass it inside TLS,
 * checked against the same trust, so a new proxy sees only ciphertext.
 */
export function reentryReason(addressMoved: boolean, trustAdded: boolean, subject: "a stored secret" | "stored secrets" = "a stored secret"): string {
  const where = [addressMoved ? "to a new address" : null, trustAdded ? "under a newly trusted CA" : null].filter(Boolean).join(" or ");
  return `Latch never sends ${subject} ${where}`;
}

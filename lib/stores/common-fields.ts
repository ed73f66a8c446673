import { z } from "zod";
import { describeField, secret } from "@/lib/vault/fields";

/**
 * Write-only settings every external store has beside its provider's own, kept with the provider's
 * sealed secrets. Client-safe: the store form renders them from the same definition.
 */
export const PROXY_SECRET_KEY = "proxyUrl";
export const proxyUrlSchema = secret(
  z
    .string()
    .trim()
    .max(500, "The proxy URL can be at most 500 characters.")
    .refine((v) => v === "" || /^https?:\/\/[^\s]+$/.test(v), "Enter a proxy URL such as http://proxy.internal:3128.")
    .default(""),
  {
    label: "HTTPS egress proxy (optional)",
    help: "e.g. http://proxy.internal:3128 — may include proxy credentials, so it is stored like a secret. It is sent only to the proxy, so it stays when the store's address changes.",
  },
);
export const PROXY_FIELD = describeField(PROXY_SECRET_KEY, proxyUrlSchema);

import "server-only";
import { randomUUID } from "node:crypto";
import { headers } from "next/headers";
import { env } from "@/lib/env";

export const REQUEST_ID_HEADER = "x-request-id";
const VALID_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** proxy.ts stamps every request with an id; this reads it back (or makes one for non-proxied calls). */
/** What the request helpers read of a request's headers: web Headers, or the direct routes' lighter view (lib/api/handler.ts). */
export type HeaderReader = Pick<Headers, "get">;

export function requestIdFrom(h: HeaderReader): string {
  const id = h.get(REQUEST_ID_HEADER);
  return id && VALID_REQUEST_ID.test(id) ? id : randomUUID();
}

export async function getRequestId(): Promise<string> {
  return requestIdFrom(await headers());
}

/** The current request's client address (see clientAddressFrom), for a server action's rate limits. */
export async function getClientAddress(): Promise<string> {
  return clientAddressFrom(await headers());
}

/**
 * The client address for rate limiting and a token's last use. server.mjs appends the socket's peer
 * address to X-Forwarded-For on every request (Next alone only sets it when it is absent), so the last
 * entry is the peer. Behind N proxies the operator runs (LATCH_TRUST_PROXY), each of which appends
 * the address it received from, the client is the entry N from the right. Entries further left were
 * sent by the client itself and are never believed: a proxy that appends passes them on unchanged.
 */
export function clientAddressFrom(h: HeaderReader | Record<string, string | string[] | undefined>, trustedProxies = env().LATCH_TRUST_PROXY): string {
  const raw = typeof h.get === "function" ? (h as HeaderReader).get("x-forwarded-for") : (h as Record<string, string | string[] | undefined>)["x-forwarded-for"];
  const value = Array.isArray(raw) ? raw.join(",") : raw;
  const hops = (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (hops.length === 0) return "unknown";
  // Fewer entries than proxies (a proxy that does not append): the farthest one there is.
  return hops[Math.max(0, hops.length - 1 - trustedProxies)] ?? "unknown";
}

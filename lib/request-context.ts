import "server-only";
import { randomUUID } from "node:crypto";
import { headers } from "next/headers";
import { env } from "@/lib/env";
import { logger } from "@/lib/log";
import { ACTION_REQUEST_HEADER, markActionReached } from "@/lib/server/action-requests.mjs";

export const REQUEST_ID_HEADER = "x-request-id";
const VALID_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** What the request helpers read of a request's headers: web Headers, or the direct routes' lighter view (lib/api/handler.ts). */
export type HeaderReader = Pick<Headers, "get">;

/** proxy.ts stamps every request with an id; this reads it back (or makes one for non-proxied calls). */
export function requestIdFrom(h: HeaderReader): string {
  const id = h.get(REQUEST_ID_HEADER);
  return id && VALID_REQUEST_ID.test(id) ? id : randomUUID();
}

/**
 * A server action's request id, read as its action starts; in the same read, tells server.mjs that
 * this request reached its action (lib/server/action-requests.mjs).
 */
export async function startActionRequest(): Promise<string> {
  const h = await headers();
  markActionReached(h.get(ACTION_REQUEST_HEADER));
  return requestIdFrom(h);
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
  if (trustedProxies === 0 && hops.length > 1) warnUntrustedForwarding(hops.at(-1)!);
  // Fewer entries than proxies (a proxy that does not append): the farthest one there is.
  return hops[Math.max(0, hops.length - 1 - trustedProxies)] ?? "unknown";
}

let forwardingWarned = false;

/**
 * A request came with X-Forwarded-For of its own while LATCH_TRUST_PROXY says there is no proxy. Behind
 * a proxy, every client then counts as the proxy's address, and a few wrong passwords lock everyone out
 * of signing in: said once per process, to whoever reads the log. (A client can send the header itself,
 * so it is a hint, not an alarm.)
 */
function warnUntrustedForwarding(peer: string) {
  if (forwardingWarned) return;
  forwardingWarned = true;
  logger().warn(
    { event: "proxy.untrusted_forwarding", peer },
    `A request arrived through ${peer} with an X-Forwarded-For header, but LATCH_TRUST_PROXY is not set: if Latch runs behind a proxy or load balancer, every client counts as ${peer} for sign-in lock-outs and rate limits. Set LATCH_TRUST_PROXY to the number of proxies in front of Latch.`,
  );
}

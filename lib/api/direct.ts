import "server-only";
import type { IncomingMessage, ServerResponse } from "node:http";
import { nodeHeaders, unexpectedAnswer } from "@/lib/api/handler";
import { invokeRoute } from "@/lib/connections/invoke-route";
import { logger } from "@/lib/log";
import { requestIdFrom } from "@/lib/request-context";

/**
 * Routes server.mjs answers itself, before Next's router sees the request. Only the one a runner
 * calls in a loop: POST /api/v1/connections/{id}/invoke with an API token. Next's route runtime
 * costs about 2 ms of CPU per request (bench/README.md), many times the invoke's own work, and
 * the throughput target cannot be met behind it.
 *
 * Nothing about the route differs: it is the same defineRoute handler (lib/connections/invoke-route.ts,
 * also exported by its app/ route file), with the same authentication, validation, error mapping,
 * headers and audit. A request without an Authorization header (a browser session, whose cookies
 * need Next's request scope) or with any other shape of path goes on to Next, which serves it the same.
 */
const INVOKE_PATH = /^\/api\/v1\/connections\/([^/]+)\/invoke$/;

/** False: Next answers. Otherwise the answer's promise, which server.mjs waits for before it stops (the client may have hung up). */
export type DirectRoutes = (request: IncomingMessage, response: ServerResponse) => false | Promise<void>;
export const DIRECT_ROUTES = Symbol.for("latch.directRoutes");

/** Answers the request (returning the promise of the answer), or returns false and leaves it to Next. */
export const serveDirect: DirectRoutes = (request, response) => {
  if (request.method !== "POST" || request.headers.authorization === undefined) return false;
  // Node's parser passes request targets no URL parser takes ("//a:99999/x"): none is this route.
  if (!request.url?.startsWith("/api/v1/connections/")) return false;
  let url: URL;
  try {
    url = new URL(request.url, "http://direct.invalid");
  } catch {
    return false;
  }
  const match = INVOKE_PATH.exec(url.pathname);
  if (!match) return false;
  let connectionId: string;
  try {
    connectionId = decodeURIComponent(match[1]!);
  } catch {
    return false;
  }
  return invokeRoute.serveNode(request, response, { connectionId }, url).catch((error: unknown) => {
    // serveNode maps every error to an answer itself; this is a failure while writing one.
    const requestId = requestIdFrom(nodeHeaders(request));
    logger().error({ err: error, path: url.pathname, requestId }, "unexpected error while answering a direct route");
    if (response.headersSent) return void response.destroy();
    const out = unexpectedAnswer(requestId);
    response.writeHead(out.status, out.headers).end(out.body as string);
  });
};

/** Called from instrumentation.ts at start-up: server.mjs looks the table up on globalThis (it cannot import lib/). */
export function installDirectRoutes(): void {
  (globalThis as Record<symbol, unknown>)[DIRECT_ROUTES] = serveDirect;
}

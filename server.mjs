#!/usr/bin/env node
/**
 * Latch's production server: `npm start` (and `npm run up`) run this in place of `next start`.
 *
 *   node server.mjs [-p PORT] [-H HOST]      (or PORT / HOST in the environment; default 127.0.0.1:3000)
 *
 * HOSTNAME is not read: containers set it to their own name, which would decide where Latch listens.
 *
 * Everything is Next's, through its documented custom-server API, except six things done for every
 * request before Next sees it (and the JSON answer to what Node's parser refuses, below):
 *  - a method Next cannot take (TRACE, WebDAV's PROPFIND, ...) is refused with 405 (a bare 500 or an
 *    empty 400 from Next otherwise);
 *  - a path with a broken percent-escape is refused with 400 (Next's router would answer a bare 500);
 *  - a request with several Authorization headers is refused with 400 (Node would keep the first);
 *  - the peer's address is appended to X-Forwarded-For (Next only sets the header when it is absent,
 *    so a client could otherwise name its own address to the rate limits; lib/request-context.ts);
 *  - a server action request Next fails before any action runs (undecodable, or refused, like a form posted from another site) gets 400, and one whose body is over
 *    the 2 MB Next takes gets 413, where Next would answer 500 (lib/server/action-requests.mjs);
 *  - the routes lib/api/direct.ts lists (token-authenticated invokes) are answered by the same
 *    handler without Next's router, which costs more per request than the invoke itself. lib/ puts
 *    that table on globalThis from instrumentation.ts, since this file cannot import TypeScript.
 *
 * Idle kept-alive connections stay open LATCH_KEEP_ALIVE_SECONDS (65 s by default, not Node's 5 s), longer
 * than the proxy in front should keep them, so that the proxy is the side that closes them.
 *
 * On SIGTERM or SIGINT it stops as lib/server/lifecycle.mjs says: requests in flight finish (up to
 * LATCH_SHUTDOWN_GRACE_SECONDS), then sessions are closed, then exit 0. A SIGTERM or SIGINT a second
 * or more after the first kills it at once.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import next from "next";
import { ACTION_BODY_MAX_BYTES, handleActionRequest, isActionRequest } from "./lib/server/action-requests.mjs";
import { DEFAULT_GRACE_SECONDS, DEFAULT_KEEP_ALIVE_SECONDS } from "./lib/server/defaults.mjs";
import { createLifecycle } from "./lib/server/lifecycle.mjs";
import { logLine } from "./lib/server/log-line.mjs";

function option(short, long, fallback) {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === short || args[i] === long) return args[i + 1];
    if (args[i].startsWith(`${long}=`)) return args[i].slice(long.length + 1);
  }
  return fallback;
}

const portText = option("-p", "--port", process.env.PORT || "3000");
const port = /^\d+$/.test(portText ?? "") ? Number(portText) : NaN;
const hostname = option("-H", "--hostname", process.env.HOST || "127.0.0.1");
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  logLine("fatal", `server.mjs: "${portText}" is not a port number (1–65535).`);
  process.exit(2);
}

process.env.NODE_ENV ??= "production";
process.env.NEXT_TELEMETRY_DISABLED ??= "1";
const dir = path.dirname(fileURLToPath(import.meta.url));
// The app reads its own files from the working directory (prisma/migrations, for /api/ready): a
// service started as `node /opt/latch/server.mjs` from elsewhere would never be ready otherwise.
process.chdir(dir);
const app = next({ dev: false, dir, hostname, port });
const handle = app.getRequestHandler();
await app.prepare();

const DIRECT_ROUTES = Symbol.for("latch.directRoutes");
// What instrumentation.ts registers for the stop: the grace period (validated with the other variables
// in lib/env.ts) and what to close after the last request (target pools, the LISTEN session, the pool).
const SHUTDOWN = Symbol.for("latch.shutdown");
// Idle kept-alive connections (lib/server/defaults.mjs says why the default is above Node's 5 s).
const HTTP = Symbol.for("latch.http");
const server = createServer();
// Read when each answer goes out, not once here: in production app.prepare() does not wait for
// instrumentation's register(), which sets the value. An explicit assignment still wins.
let keepAliveOverride;
Object.defineProperty(server, "keepAliveTimeout", {
  get: () => keepAliveOverride ?? globalThis[HTTP]?.keepAliveMs ?? DEFAULT_KEEP_ALIVE_SECONDS * 1000,
  set(ms) {
    keepAliveOverride = ms;
  },
  configurable: true,
  enumerable: true,
});
const lifecycle = createLifecycle(server, {
  graceMs: () => globalThis[SHUTDOWN]?.graceMs ?? DEFAULT_GRACE_SECONDS * 1000,
  close: async () => {
    await app.close();
    await globalThis[SHUTDOWN]?.close();
  },
});
server.on(
  "request",
  lifecycle.listener((request, response) => {
    const peer = request.socket.remoteAddress;
    if (peer) {
      const forwarded = request.headers["x-forwarded-for"];
      request.headers["x-forwarded-for"] = forwarded ? `${forwarded}, ${peer}` : peer;
    }
    // TRACE and the like: Next would answer a bare 500 (see NEXT_METHODS).
    if (!NEXT_METHODS.has(request.method ?? "")) return void refuse(request, response, 405, `${request.method} is not a method Latch serves: it takes ${[...NEXT_METHODS].join(", ")}.`, { allow: [...NEXT_METHODS].join(", ") });
    // A path with a broken percent-escape ("%ZZ", or bytes that are not UTF-8), or a request target
    // no URL parser takes ("//a:99999/x", which Node's parser lets through), makes Next's router
    // throw: a bare 500, or no answer at all. It is the caller's mistake.
    if (!decodablePath(request.url)) return void refuseMalformedPath(request, response);
    // Node keeps the first of several Authorization headers and drops the rest; a proxy in front may
    // go by the last, and then the two would authenticate different callers.
    const authorizations = countHeader(request.rawHeaders, "authorization");
    if (authorizations > 1) return void refuse(request, response, 400, `Send one Authorization header: this request has ${authorizations}, and which one counts would be a guess.`);
    // A server action request Next fails before any action (undecodable, or refused): 400, not Next's 500 (lib/server/action-requests.mjs).
    if (isActionRequest(request)) {
      // Next would fail a larger body part-way through reading it, as a 500.
      if (Number(request.headers["content-length"] ?? 0) > ACTION_BODY_MAX_BYTES) return void refuse(request, response, 413, `The request body is larger than ${ACTION_BODY_MAX_BYTES / 1024 / 1024} MB, the most a server action takes.`);
      return handleActionRequest(request, response, handle, refuseUndecodableAction);
    }
    // The direct route's answer (a promise), or false: Next's.
    return globalThis[DIRECT_ROUTES]?.(request, response) || handle(request, response);
  }),
);

// What Node's HTTP parser refuses before there is a request (headers over 16 KB, a request line that is not
// HTTP, a request that took too long to arrive) Node answers with a bare status and no body. The same
// error shape as every other refusal instead; JSON, since the path (and so whether it was the API's) is
// unknown. Nothing of the request is echoed.
const CLIENT_ERRORS = {
  HPE_HEADER_OVERFLOW: [431, "BAD_REQUEST", "The request's headers are too large: send fewer or shorter headers (16 KB in all at most)."],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "BAD_REQUEST", "The request took too long to arrive; send it again."],
};
server.on("clientError", (error, socket) => {
  // A peer that went away, or a socket already answered: nothing to say, nobody to say it to.
  if (error.code === "ECONNRESET" || !socket.writable || socket.writableEnded) return void socket.destroy();
  const [status, code, message] = CLIENT_ERRORS[error.code] ?? [400, "BAD_REQUEST", "Latch could not read this as an HTTP/1.1 request."];
  const requestId = randomUUID();
  const body = JSON.stringify({ error: { code, message, requestId } });
  const reason = { 400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large" }[status];
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
});

function countHeader(rawHeaders, name) {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].length === name.length && rawHeaders[i].toLowerCase() === name) count++;
  return count;
}

function decodablePath(url = "/") {
  const query = url.indexOf("?");
  try {
    decodeURIComponent(query === -1 ? url : url.slice(0, query));
    new URL(url, "http://latch.invalid");
    return true;
  } catch {
    return false;
  }
}

/**
 * The methods Next's request handling takes. It builds a web Request for each, which refuses TRACE
 * outright (a bare 500), and its API routes answer other methods with an empty 400.
 */
const NEXT_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

function refuseUndecodableAction(request, response) {
  refuse(request, response, 400, "The server action request was refused before any action ran (its arguments could not be read, or it came from another site): this is not a request the console sends. Reload the page and try again.");
}

function refuseMalformedPath(request, response) {
  refuse(request, response, 400, "The address is not valid: a % in it is not followed by two hexadecimal digits or encodes something that is not UTF-8, or it is not a path.");
}

/** An answer of the API's error shape (JSON under /api/, else text) with the console's security headers. */
function refuse(request, response, status, message, headers = {}) {
  const requestId = randomUUID();
  const api = (request.url ?? "").startsWith("/api/");
  const code = status === 405 ? "METHOD_NOT_ALLOWED" : status === 413 ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST";
  const body = api ? JSON.stringify({ error: { code, message, requestId } }) : `${message}\n`;
  response.writeHead(status, {
    ...headers,
    "content-length": Buffer.byteLength(body),
    "content-type": api ? "application/json" : "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-request-id": requestId,
  });
  response.end(body);
}

/** What listen's errors mean to whoever set PORT and HOST (Node's own words name neither). */
const LISTEN_ERRORS = {
  EADDRINUSE: () => `port ${port} on ${hostname} is already in use.`,
  EADDRNOTAVAIL: () => `${hostname} is not an address of this machine: set HOST (or -H) to one of its addresses, or 0.0.0.0 for all.`,
  ENOTFOUND: () => `the host name ${hostname} does not resolve: set HOST (or -H) to an address of this machine, or 0.0.0.0 for all.`,
  EAI_AGAIN: () => `the host name ${hostname} could not be resolved just now (DNS): set HOST (or -H) to an address to avoid the lookup.`,
  EACCES: () => `port ${port} needs privileges this process does not have (ports below 1024): choose a port from 1024 up and forward to it.`,
};
server.once("error", (error) => {
  const explain = LISTEN_ERRORS[error.code];
  logLine("fatal", `server.mjs: ${explain ? explain() : (error.stack ?? String(error))}`);
  process.exit(1);
});
server.listen(port, hostname, () => logLine("info", `Latch listening on http://${hostname}:${port}`));

// The first SIGTERM or SIGINT stops gracefully; one of either kind later ends the process at once
// (Ctrl-C after a `kill -TERM` that is taking too long). Within DUPLICATE_STOP_MS of the first, it is
// the same stop arriving twice, not a second request: Ctrl-C reaches every process of the terminal's
// group, so `npm start` (whose node npm also signals) and `npm run up` (which passes it on as SIGTERM)
// deliver one stop two ways.
const STOP_SIGNALS = ["SIGTERM", "SIGINT"];
const DUPLICATE_STOP_MS = 1000;
let firstStopAt = null;
const onStopSignal = (signal) => {
  if (firstStopAt === null) {
    firstStopAt = performance.now();
    return void lifecycle.stop(signal);
  }
  if (performance.now() - firstStopAt < DUPLICATE_STOP_MS) return;
  for (const other of STOP_SIGNALS) process.removeListener(other, onStopSignal);
  process.kill(process.pid, signal);
};
for (const signal of STOP_SIGNALS) process.on(signal, onStopSignal);
// SIGHUP too: the terminal of a foreground `npm run up` closing (an SSH session dropped) would
// otherwise end the server at once, with invokes and their audit rows in flight. A hang-up comes
// more than once (the shell passes it on, then the kernel sends it as the shell exits): each is the
// same request to stop, never the "second signal" that stops at once.
process.on("SIGHUP", () => void lifecycle.stop("SIGHUP"));
// Nor may writing to a terminal that hung up (EIO) or a closed pipe end the server as it stops.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});

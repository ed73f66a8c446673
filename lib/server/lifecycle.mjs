/**
 * How server.mjs stops, apart so that a test can drive it with a stub handler (server.mjs itself
 * needs a Next build). Plain JavaScript: server.mjs cannot import TypeScript.
 *
 * On a stop signal the server stops accepting connections and waits until every request handler in
 * flight has finished (its promise settled), not only until the sockets are closed: a client that
 * hung up closes its socket while the handler may still be calling the target, and its audit row is
 * written after that. Kept-alive connections are closed as soon as their response is done. Then the
 * `close` step runs (Next's, then lib's: pooled target clients, the LISTEN session, the database
 * pool), and the process exits 0. Whatever is still running after the grace period is abandoned
 * with exit 1.
 */

import { DEFAULT_GRACE_SECONDS } from "./defaults.mjs";
import { logLine } from "./log-line.mjs";

/**
 * How long a supervisor (`npm run up`) waits for server.mjs to stop before it kills it: the server's
 * grace period and a margin, so that the server's own deadline, which says what it abandons, comes
 * first. `graceSeconds` is the variable as set; a value the server would refuse counts as the default
 * (the server then does not start at all).
 * @param {string | undefined} graceSeconds
 */
export function killAfterMs(graceSeconds) {
  // Read as lib/env.ts reads it (Number(), as zod's coerce does): "1e3", "120.0" and "+120" are the
  // server's 1,000 s and 120 s, and must be the supervisor's too, or it kills the server mid-stop.
  const text = graceSeconds?.trim() ?? "";
  const value = text === "" ? NaN : Number(text);
  const seconds = Number.isInteger(value) && value >= 1 && value <= 3600 ? value : DEFAULT_GRACE_SECONDS;
  return (seconds + 15) * 1000;
}

/**
 * @param {import("node:http").Server} server
 * @param {{
 *   graceMs: () => number,
 *   close?: () => Promise<void>,
 *   exit?: (code: number) => void,
 *   log?: (line: string, level: "info" | "warn" | "error") => void,
 * }} options
 */
export function createLifecycle(server, options) {
  const exit = options.exit ?? ((code) => process.exit(code));
  const log = options.log ?? ((line, level) => logLine(level, line));
  /** Responses whose handler has not finished yet. */
  const inFlight = new Set();
  let stopping = false;
  let closing = false;
  /** @type {(() => void) | null} */
  let onDrained = null;

  // Deferred: the server's own "finish" listener (registered before ours) detaches the socket first,
  // and only then does closeIdleConnections() count the connection as idle.
  const closeIdleSoon = () => setImmediate(() => server.closeIdleConnections());

  /** Counts `response` as in flight until `work` settles; a falsy `work` means it was answered already. */
  function track(response, work) {
    if (!work) return;
    inFlight.add(response);
    const done = () => {
      inFlight.delete(response);
      if (!stopping) return;
      closeIdleSoon();
      if (inFlight.size === 0) onDrained?.();
    };
    Promise.resolve(work).then(done, (error) => {
      log(`server.mjs: a request handler failed: ${error instanceof Error ? error.stack : String(error)}`, "error");
      done();
    });
  }

  /**
   * The request listener for `server`: `serve` answers the request and returns its promise (nothing
   * when it answered at once).
   * @param {(request: import("node:http").IncomingMessage, response: import("node:http").ServerResponse) => unknown} serve
   */
  function listener(serve) {
    return (request, response) => {
      // While stopping, each answer ends its keep-alive connection, so a client sending request after
      // request cannot keep the server open past the requests already in flight.
      if (stopping) {
        response.setHeader("connection", "close");
        response.once("finish", closeIdleSoon);
      }
      let work;
      try {
        work = serve(request, response);
      } catch (error) {
        // A handler that throws before its first await would otherwise leave the request unanswered,
        // its socket open until the client gives up (holding a stop for its whole grace period).
        work = Promise.reject(error);
        // A handler that had begun its answer cannot be given another: the connection is cut instead.
        if (response.headersSent || response.writableEnded) response.destroy();
        else response.writeHead(500, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" }).end("Internal Server Error\n");
      }
      track(response, work);
    };
  }

  /** Stops: no new connections, requests in flight finish, then `close`, then exit. A second call is a no-op. */
  async function stop(signal) {
    if (stopping) return;
    stopping = true;
    const graceMs = options.graceMs();
    const forced = setTimeout(() => {
      const after = `${graceMs / 1000} s after ${signal}`;
      log(
        closing
          ? `server.mjs: closing sessions was not done ${after}; exiting anyway (LATCH_SHUTDOWN_GRACE_SECONDS).`
          : inFlight.size > 0
            ? `server.mjs: ${inFlight.size} request(s) were still running ${after}; exiting without them (LATCH_SHUTDOWN_GRACE_SECONDS).`
            : `server.mjs: connections were still open ${after} (an answer still being sent, or a request not yet whole); exiting without them (LATCH_SHUTDOWN_GRACE_SECONDS).`,
        "error",
      );
      exit(1);
    }, graceMs);
    forced.unref();
    if (inFlight.size > 0) log(`server.mjs: ${signal}: waiting for ${inFlight.size} request(s) in flight (at most ${graceMs / 1000} s)…`, "info");

    const socketsClosed = new Promise((resolve) => server.close(() => resolve()));
    const drained = new Promise((resolve) => {
      onDrained = resolve;
      if (inFlight.size === 0) resolve();
    });
    // Responses already running end their connection too: otherwise a kept-alive one stays open
    // after its answer until the client's next request or the keep-alive timeout.
    for (const response of inFlight) {
      if (!response.headersSent) response.setHeader("connection", "close");
      else response.once("finish", closeIdleSoon);
    }
    server.closeIdleConnections();
    // A safety net for a connection that turns idle in a way the hooks above miss.
    const sweeper = setInterval(() => server.closeIdleConnections(), 250);
    sweeper.unref();

    await Promise.all([socketsClosed, drained]);
    clearInterval(sweeper);
    closing = true;
    try {
      await options.close?.();
    } catch (error) {
      // The requests are done, which is what the exit status tells; a session that would not close is only logged.
      log(`server.mjs: closing after the last request failed: ${error instanceof Error ? error.message : String(error)}`, "warn");
    }
    clearTimeout(forced);
    exit(0);
  }

  return {
    listener,
    stop,
    /** How many request handlers are running (for tests). */
    get inFlight() {
      return inFlight.size;
    },
    get stopping() {
      return stopping;
    },
  };
}

import type { Instrumentation } from "next";
import { env, nextRuntime } from "@/lib/env";

export async function register() {
  // Read inline (not through lib/env) so the bundler drops the Node-only imports below from the edge build.
  // eslint-disable-next-line no-restricted-properties
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  try {
    await start();
  } catch (error) {
    // Next only logs a failed instrumentation hook and goes on listening, answering 500 to every request
    // (health checks included): a supervisor (systemd, a container runtime) would see a live server.
    // The message names the bad variables, never their values (lib/env.ts). The logger may be what failed.
    // eslint-disable-next-line no-console
    console.error(`Latch cannot start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}

async function start() {
  // Again here, for the same reason: the edge build keeps a function it cannot see is never called there.
  // eslint-disable-next-line no-restricted-properties
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  // Fail fast at start-up, naming the bad variable, instead of on the first request.
  const settings = env();
  // Next.js prints its own errors with console.error: send them through the log redaction too.
  const { installConsoleRedaction } = await import("@/lib/log/console");
  installConsoleRedaction();
  if (settings.NODE_ENV === "production" && !settings.NEXT_SERVER_ACTIONS_ENCRYPTION_KEY) {
    const { logger } = await import("@/lib/log");
    logger().warn("NEXT_SERVER_ACTIONS_ENCRYPTION_KEY is not set: fine for one instance; instances built separately behind one address need one shared key (set LATCH_MULTI_INSTANCE=true to make it required)");
  }
  if (settings.NODE_ENV === "production" && !settings.NEXTAUTH_URL) {
    const { logger } = await import("@/lib/log");
    logger().warn("NEXTAUTH_URL is not set: set it to the address people open Latch at (https://latch.example.com). Without it, session cookies are not marked Secure and carry no HSTS behind an HTTPS proxy, and OAuth apps are given the request's own address to send people back to");
  }
  const { debugOutputWarning } = await import("@/lib/log/debug-output");
  const debugging = debugOutputWarning(settings);
  if (debugging) {
    const { logger } = await import("@/lib/log");
    logger().warn(debugging);
  }
  // Listen for other instances' cache refreshes from the start, not from this instance's first invoke:
  // values cached by a connection test must be cleared too.
  const { ensureListening } = await import("@/lib/secrets/broadcast");
  void ensureListening();
  // Whether the database's migrations are all applied, which master key this instance runs with, and
  // whether the stored data needs one it lacks.
  const { reportAtStart } = await import("@/lib/health");
  void reportAtStart();
  // server.mjs answers token-authenticated invokes without Next's router (lib/api/direct.ts).
  const { installDirectRoutes } = await import("@/lib/api/direct");
  installDirectRoutes();
  // How long server.mjs keeps idle connections open (read at each answer: start-up does not wait for this).
  (globalThis as Record<symbol, unknown>)[Symbol.for("latch.http")] = { keepAliveMs: settings.LATCH_KEEP_ALIVE_SECONDS * 1000 };
  // server.mjs's stop (lib/server/lifecycle.mjs), once the requests in flight are done: how long it may
  // wait for them, and what to close then. On globalThis because server.mjs cannot import lib/.
  const { drainAll } = await import("@/lib/connections/runtime");
  const { stopListening } = await import("@/lib/secrets/broadcast");
  const { closeDatabase } = await import("@/lib/db");
  (globalThis as Record<symbol, unknown>)[Symbol.for("latch.shutdown")] = {
    graceMs: settings.LATCH_SHUTDOWN_GRACE_SECONDS * 1000,
    close: async () => {
      // The listener first: a refresh arriving now would only reopen what is being closed.
      await stopListening();
      // No invoke holds a target client any more, so each closes now (with the credentials its driver
      // holds); a target that does not answer the goodbye is not waited for past a few seconds.
      await Promise.race([drainAll(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
      await closeDatabase();
    },
  };
}

/** Unexpected render and route errors reach the structured, redacting log with their request id. */
export const onRequestError: Instrumentation.onRequestError = async (error, request, context) => {
  if (nextRuntime() !== "nodejs") return;
  const { logger } = await import("@/lib/log");
  const header = request.headers["x-request-id"];
  const { ACTION_REQUEST_HEADER, actionNotReached } = await import("@/lib/server/action-requests.mjs");
  const actionRequest = request.headers[ACTION_REQUEST_HEADER];
  // Next reports a form post's origin refusal as a render error: the header server.mjs sets on action requests decides.
  if (actionNotReached(Array.isArray(actionRequest) ? actionRequest[0] : actionRequest)) {
    // Next could not decode the arguments, or refused the request (a form from another site); server.mjs
    // answers 400. The sender's doing, and the error would quote the sender's bytes: its kind only.
    // The digest ties this line to the "⨯ Error" block Next prints for the same error (the e2e leak check pairs them).
    logger().warn({ requestId: Array.isArray(header) ? header[0] : header, path: request.path, error: (error as Error)?.name, digest: (error as { digest?: string }).digest }, "a server action request failed before any action ran (undecodable, or refused); answered 400");
    return;
  }
  logger().error(
    {
      err: error,
      requestId: Array.isArray(header) ? header[0] : header,
      digest: (error as { digest?: string }).digest,
      path: request.path,
      routeType: context.routeType,
    },
    "unexpected error while handling a request",
  );
};

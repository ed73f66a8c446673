import { existsSync } from "node:fs";
import { ACTION_REQUEST_HEADER, markActionReached } from "../../lib/server/action-requests.mjs";

/**
 * Stands in for Next, and for what instrumentation.ts registers, when server.test.ts starts server.mjs
 * without a build. Each request prints "started <path>", waits ?ms=, prints "finished <path>" (where
 * an invoke writes its audit row), then answers, whether or not the client is still there.
 */
const SHUTDOWN = Symbol.for("latch.shutdown");
const DIRECT_ROUTES = Symbol.for("latch.directRoutes");
const HTTP = Symbol.for("latch.http");
const say = (line) => process.stdout.write(`${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function work(request, response) {
  const url = new URL(request.url ?? "/", "http://stub.invalid");
  const ms = Number(url.searchParams.get("ms") ?? 0);
  say(`started ${url.pathname}`);
  if (url.pathname === "/stream") {
    // Headers and a first chunk go out at once; the rest after the wait.
    response.writeHead(200, { "content-type": "text/plain" });
    response.write("first ");
  }
  await sleep(ms);
  say(`finished ${url.pathname}`);
  if (!response.headersSent) response.writeHead(200, { "content-type": "text/plain" });
  response.end(`done ${url.pathname}`);
}

export default function next() {
  return {
    async prepare() {
      // As lib/api/direct.ts does: false for Next, else the answer's promise.
      globalThis[DIRECT_ROUTES] = (request, response) => {
        // A handler failing before its first await (server.test.ts: answered, not left hanging).
        if (request.url === "/throws") throw new Error("thrown before any await");
        if (request.url === "/answers-then-throws") {
          response.writeHead(200, { "content-type": "text/plain", "content-length": "4" }).end("done");
          throw new Error("thrown after answering");
        }
        if (!request.url?.startsWith("/direct")) return false;
        return work(request, response);
      };
      // Later than prepare(), as in production: Next does not wait for instrumentation's register() there.
      if (process.env.STUB_KEEP_ALIVE_MS) setTimeout(() => (globalThis[HTTP] = { keepAliveMs: Number(process.env.STUB_KEEP_ALIVE_MS) }), 50);
      globalThis[SHUTDOWN] = {
        graceMs: Number(process.env.STUB_GRACE_MS ?? 5_000),
        close: async () => say("closed sessions"),
      };
    },
    getRequestHandler() {
      return async (request, response) => {
        // What GET /api/ready reads, relative to the working directory.
        if (request.url === "/migrations") return void response.end(String(existsSync("prisma/migrations")));
        // A server action's answer as Next gives it: ?ran=1 if the action started (defineAction marks it so),
        // ?status= what Next answers, ?via=writeHead to send the status that way rather than by statusCode.
        if (request.url?.startsWith("/action")) {
          const url = new URL(request.url, "http://stub.invalid");
          if (url.searchParams.get("ran") === "1") markActionReached(request.headers[ACTION_REQUEST_HEADER]);
          const status = Number(url.searchParams.get("status") ?? 500);
          if (url.searchParams.get("via") === "writeHead") response.writeHead(status, { "content-type": "text/x-component" });
          else {
            response.statusCode = status;
            response.setHeader("content-type", "text/x-component");
          }
          response.write("0:E{}");
          return void response.end("\n");
        }
        await work(request, response);
      };
    },
    async close() {
      say("next closed");
    },
  };
}

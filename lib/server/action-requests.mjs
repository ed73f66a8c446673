/**
 * Server action requests whose arguments Next cannot decode. Next decodes a server action's
 * arguments (a JSON or multipart body in React's reply format) before the action runs; a body that
 * is not one (text that is not JSON, a broken multipart form, a reference to a part that is not
 * there) makes it throw, and it answers 500 as for a fault of its own (on some pages a 200 whose
 * payload is the error). That is the sender's mistake, and no browser running the console sends it:
 * server.mjs answers it 400 instead.
 *
 * How it tells: every Latch action starts in defineAction (lib/actions/action.ts), which marks the
 * request as run (`markActionRan`). An action request answered 200 or 5xx without the mark never
 * reached an action: its arguments failed to decode. Next's other answers before an action (404 for
 * an unknown action, the sign-in redirect) stay as they are, and so does anything after an action
 * ran (a failure in the page render that follows it stays a 500). The mark travels in an AsyncLocalStorage entered only for action requests, on
 * globalThis because server.mjs is not bundled with lib/.
 */
import { AsyncLocalStorage } from "node:async_hooks";

const KEY = Symbol.for("latch.actionRequests");

/** @returns {AsyncLocalStorage<{ ran: boolean }>} */
function storage() {
  return (globalThis[KEY] ??= new AsyncLocalStorage());
}

/** Called by each action as it starts: this request's arguments were decoded. */
export function markActionRan() {
  const seen = storage().getStore();
  if (seen) seen.ran = true;
}

/** Inside an action request that has not reached an action (yet): for its error log, which is the sender's fault then. */
export function actionNotReached() {
  const seen = storage().getStore();
  return seen !== undefined && !seen.ran;
}

/** Whether the request carries a server action (Next's own test: a POST with a Next-Action header). */
export const isActionRequest = (request) => request.method === "POST" && request.headers["next-action"] !== undefined;

/**
 * Runs `handle` for an action request. If its answer is about to start with a 200 or a 5xx and no
 * action ran, `refuse` answers instead, and whatever Next goes on to write is dropped.
 */
export function handleActionRequest(request, response, handle, refuse) {
  const seen = { ran: false };
  let decided = false;
  const own = ["writeHead", "flushHeaders", "write", "end"];
  const swallow = () => {
    response.writeHead = () => response;
    response.flushHeaders = () => undefined;
    response.write = (_chunk, encoding, callback) => {
      (typeof encoding === "function" ? encoding : callback)?.();
      return true;
    };
    response.end = (chunk, encoding, callback) => {
      (typeof chunk === "function" ? chunk : typeof encoding === "function" ? encoding : callback)?.();
      return response;
    };
    response.setHeader = () => response;
    response.appendHeader = () => response;
  };
  // Whether this answer is replaced; decided once, when Next first sends something.
  const decide = (status) => {
    if (decided) return;
    decided = true;
    for (const name of own) delete response[name];
    if ((status === 200 || status >= 500) && !seen.ran && !response.headersSent) {
      for (const name of response.getHeaderNames()) response.removeHeader(name);
      refuse(request, response);
      swallow();
    }
  };
  // After decide(), these are the response's own methods again, or the swallowing ones.
  response.writeHead = (...args) => {
    decide(typeof args[0] === "number" ? args[0] : response.statusCode);
    return response.writeHead(...args);
  };
  response.flushHeaders = () => {
    decide(response.statusCode);
    return response.flushHeaders();
  };
  response.write = (...args) => {
    decide(response.statusCode);
    return response.write(...args);
  };
  response.end = (...args) => {
    decide(response.statusCode);
    return response.end(...args);
  };
  return storage().run(seen, () => handle(request, response));
}

/**
 * Server action requests that Next fails before any action runs. Next decodes a server action's
 * arguments (a JSON or multipart body in React's reply format) before the action runs; a body that
 * is not one (text that is not JSON, a broken multipart form, a reference to a part that is not
 * there) makes it throw, and so does its origin check refusing a form posted from another site; it
 * answers 500 as for a fault of its own. That is the sender's doing, and no browser running the
 * console sends it: server.mjs answers it 400 instead.
 *
 * How it tells: server.mjs gives each action request an id of its own in a request header (replacing
 * any the sender put there), and every Latch action starts in defineAction (lib/actions/action.ts),
 * which marks that id as reached (`markActionReached`). An action request answered 5xx without the
 * mark never reached an action: its arguments failed to decode, or Next refused it. Next's other answers before an
 * action (404 for an unknown action, the sign-in redirect) stay as they are, and so does anything
 * after an action ran (a failure in the page render that follows it stays a 500).
 *
 * A 200 is never replaced, even unmarked: Next forwards an action posted to a page that does not
 * have it to the page that does, with a request of its own (to this server, or through the address
 * the request came in at, so perhaps another instance). The first request then answers 200 with
 * the second one's answer, and only the second reached the action. A malformed body sent that way
 * is refused in the second request, and the first answers 200 with an empty body.
 *
 * The marks live on globalThis, because server.mjs is not bundled with lib/, and only while the
 * request is answered. No AsyncLocalStorage: once entered, one would cost every promise in the
 * process something, the invokes' included.
 */
import { randomUUID } from "node:crypto";

/** next.config.ts's serverActions.bodySizeLimit ("2mb"; components/shared/action-size.test.ts checks they agree). */
export const ACTION_BODY_MAX_BYTES = 2 * 1024 * 1024;

/** Set by server.mjs on action requests only; what a sender put there is replaced. */
export const ACTION_REQUEST_HEADER = "x-latch-action-request";

const KEY = Symbol.for("latch.actionRequests");

/** @returns {Map<string, { reached: boolean }>} the action requests being answered, by id */
function pending() {
  return (globalThis[KEY] ??= new Map());
}

/** Called by each action as it starts, with its request's ACTION_REQUEST_HEADER: the arguments were decoded. */
export function markActionReached(id) {
  const seen = id ? pending().get(id) : undefined;
  if (seen) seen.reached = true;
}

/** Whether this is an action request being answered that has not reached an action (for its error log). */
export function actionNotReached(id) {
  const seen = id ? pending().get(id) : undefined;
  return seen !== undefined && !seen.reached;
}

const FORM_TYPES = /^\s*(multipart\/form-data|application\/x-www-form-urlencoded)\b/i;

/**
 * Whether the request may carry a server action, by Next's own test (getServerActionRequestMetadata):
 * a POST with a Next-Action header, or a form posted to a page (a progressive-enhancement action
 * names itself in a $ACTION_ID_ field, inside the body). Route handlers under /api/ take their own
 * POSTs (the sign-in form among them) and are no action.
 */
export const isActionRequest = (request) =>
  request.method === "POST" &&
  (request.headers["next-action"] !== undefined || (FORM_TYPES.test(request.headers["content-type"] ?? "") && !/^\/api(\/|\?|$)/.test(request.url ?? "")));

/**
 * Runs `handle` for an action request. If its answer is about to start with a 5xx and no action was
 * reached, `refuse` answers instead, and whatever Next goes on to write is dropped.
 */
export function handleActionRequest(request, response, handle, refuse) {
  const id = randomUUID();
  const seen = { reached: false };
  request.headers[ACTION_REQUEST_HEADER] = id;
  pending().set(id, seen);
  response.once("close", () => pending().delete(id));
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
  // Decided once, when Next first sends something: its answer, or the refusal in its place.
  const decide = (status) => {
    if (decided) return;
    decided = true;
    for (const name of own) delete response[name];
    if (status >= 500 && !seen.reached && !response.headersSent) {
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
  return handle(request, response);
}

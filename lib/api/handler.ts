import "server-only";
import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { NextResponse, type NextRequest } from "next/server";
import { z } from "zod";
import { assertInputShape, fieldErrorsNamingUnknownKeys, type ActionContext, type ActionOptions } from "@/lib/actions/action";
import { requireActor } from "@/lib/auth/session";
import { dbErrorAnswer } from "@/lib/db/races";
import { env } from "@/lib/env";
import { AppError, HTTP_STATUS, unexpectedMessage } from "@/lib/errors";
import { lazyLogger, requestLogger } from "@/lib/log";
import { withFreshnessFrom } from "@/lib/authz/epoch";
import { MAX_REQUEST_BYTES } from "@/lib/api/limits";
import { REQUEST_ID_HEADER, requestIdFrom, type HeaderReader } from "@/lib/request-context";
import { authenticateBearer } from "@/lib/tokens/authenticate";

const CHALLENGE = 'Bearer realm="latch"';

type Schemas<P, Q, B> = { params?: z.ZodType<P>; query?: z.ZodType<Q>; body?: z.ZodType<B> };
type HandlerInput<P, Q, B> = ActionContext & { params: P; query: Q; body: B; request: NextRequest };
type RouteContext = { params: Promise<Record<string, string | string[]>> };

/**
 * proxy.ts does not run for /api/v1 (a runner's request should not pay for a page's CSP nonce), so
 * the wrapper sets what that API's answers need itself: never cached, never sniffed or framed.
 */
const API_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
} as const;

/**
 * Every answer's headers, as a plain object with lower-case names (web Headers cost more than the
 * rest of a small answer). What the handler set itself (`own`: a download's type and name) is kept,
 * except that nothing from /api/v1 may be cached.
 */
function apiHeaders(requestId: string, own?: Record<string, string>): Record<string, string> {
  return { ...API_HEADERS, ...hsts(), ...own, "cache-control": "no-store", [REQUEST_ID_HEADER]: requestId };
}

/** Served at an https address (NEXTAUTH_URL), the API says so as the pages do (proxy.ts): browsers then never try plain http. */
function hsts(): Record<string, string> {
  return env().NEXTAUTH_URL?.startsWith("https://") ? { "strict-transport-security": "max-age=31536000; includeSubDomains" } : {};
}

/** What a handler is given of the request, whichever server received it (Next's router or the direct route in server.mjs). */
export type Incoming = {
  method: string;
  headers: HeaderReader;
  searchParams: URLSearchParams;
  pathname: string;
  rawParams: Record<string, string | string[]>;
  /** The whole body, refused with `tooLarge()` as soon as it grows past `limit` (a chunked body included). */
  readBody: (limit: number, tooLarge: () => AppError) => Promise<Buffer>;
  /** Only when Next's router received the request. */
  request: NextRequest | null;
};

/** The answer, before either server writes it. */
export type Outgoing = { status: number; headers: Record<string, string>; body: BodyInit | null };

function json(status: number, body: unknown, requestId: string, extra?: Record<string, string>): Outgoing {
  const own: Record<string, string> = { "content-type": "application/json" };
  for (const [name, value] of Object.entries(extra ?? {})) own[name.toLowerCase()] = value;
  return { status, headers: apiHeaders(requestId, own), body: JSON.stringify(body) };
}

/** The answer to a failure while writing another answer: the API's error body and standard headers. */
export function unexpectedAnswer(requestId: string): Outgoing {
  return json(500, { error: { code: "UNEXPECTED", message: unexpectedMessage(requestId), requestId } }, requestId);
}

/** The API's answer at an address no route serves (app/api/v1/[[...path]], /api/v1 itself included): JSON, like every other. */
export function unknownApiPath(request: NextRequest): NextResponse {
  const requestId = requestIdFrom(request.headers);
  const out = json(404, { error: { code: "NOT_FOUND", message: "No API operation at this address; the reference is at /api/v1/openapi.json.", requestId } }, requestId);
  return new NextResponse(out.body, { status: out.status, headers: out.headers });
}

type ApiMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
const API_METHODS: readonly ApiMethod[] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

const REFUSAL = Symbol.for("latch.methodNotAllowed");
/** Whether a route module's export is one of otherMethods' refusals (not an operation: no OpenAPI entry, no audit). */
export const isMethodRefusal = (handler: unknown): boolean => typeof handler === "function" && REFUSAL in handler;

/**
 * Handlers for the methods a route file does not serve, to export beside its own: a JSON 405 with the
 * API's headers and `Allow`, instead of Next's bare 405 without a body, request id or no-store; and an
 * OPTIONS that lists only the methods served. HEAD follows GET.
 */
export function otherMethods<A extends ApiMethod>(...allowed: A[]): Record<Exclude<ApiMethod, A> | "OPTIONS", (request: NextRequest) => NextResponse> {
  const served: readonly ApiMethod[] = allowed;
  const allow = [...served, ...(served.includes("GET") ? ["HEAD"] : []), "OPTIONS"].join(", ");
  const refuse = (request: NextRequest) => {
    const requestId = requestIdFrom(request.headers);
    const out = json(405, { error: { code: "METHOD_NOT_ALLOWED", message: `${request.method} is not an operation at this address; it takes ${served.join(" or ")}.`, requestId } }, requestId, { allow });
    return new NextResponse(out.body, { status: out.status, headers: out.headers });
  };
  Object.defineProperty(refuse, REFUSAL, { value: true });
  // Next's own OPTIONS would list every exported method, refusals included.
  const options = (request: NextRequest) => new NextResponse(null, { status: 204, headers: { ...apiHeaders(requestIdFrom(request.headers), {}), allow } });
  Object.defineProperty(options, REFUSAL, { value: true });
  return { ...Object.fromEntries(API_METHODS.filter((m) => !served.includes(m)).map((m) => [m, refuse])), OPTIONS: options } as Record<Exclude<ApiMethod, A> | "OPTIONS", (request: NextRequest) => NextResponse>;
}

function invalid(error: z.ZodError, where: string): AppError {
  // A key a strict schema does not know is named on its own (a misspelling, or a setting put at the wrong level).
  const fieldErrors = fieldErrorsNamingUnknownKeys(error, () => `is not a field of the ${where} here; check its spelling and place against /api/v1/openapi.json.`);
  const first = Object.entries(fieldErrors)[0];
  return new AppError("VALIDATION", first ? `${where}: ${first[0]} ${first[1][0]}` : `Invalid ${where}.`, fieldErrors);
}

/**
 * The client's connection closed before its whole body arrived (a runner's own timeout, a killed
 * process). Nobody will read the answer; it is an expected event, not a server error to log.
 */
const connectionClosed = () => new AppError("BAD_REQUEST", "The connection closed before the request body was received.");

/**
 * Reads a web stream with a running count, so a chunked body with no Content-Length is refused once
 * past the limit, not buffered whole. Also for a request's clone (lib/auth/route.ts): the cancel is
 * not awaited, since a cancelled copy settles only once the original is cancelled too.
 */
export async function readStreamCapped(stream: ReadableStream<Uint8Array> | null, limit: number, tooLarge: () => AppError): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      // A request body's stream fails only when its connection does (Next passes on Node's "aborted").
      const { done, value } = await reader.read().catch(() => {
        throw connectionClosed();
      });
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw tooLarge();
      chunks.push(value);
    }
  } finally {
    if (size > limit) void reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return Buffer.concat(chunks);
}

/**
 * The same for a node:http request: past the limit the rest is read and dropped, so the 413 can still be written.
 * A connection reset before the body was read (the route was still authenticating) destroys the request and
 * drops what it held, silently: without the check and the "close" listener the answer would wait for ever,
 * and server.mjs's stop with it.
 */
function readNodeCapped(request: IncomingMessage, limit: number, tooLarge: () => AppError): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const gone = () => reject(connectionClosed());
    if (request.destroyed) return gone();
    // After "end" (the body read whole) this settles nothing: the promise is resolved already.
    request.once("close", gone);
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= limit) return void chunks.push(chunk);
      request.off("data", onData);
      request.resume();
      reject(tooLarge());
    };
    request.on("data", onData);
    request.once("end", () => resolve(Buffer.concat(chunks, size)));
    // With a listener attached, a reset while the body arrives is an "aborted" error (before "close").
    request.once("error", gone);
  });
}

async function readJson(incoming: Incoming): Promise<unknown> {
  const type = incoming.headers.get("content-type") ?? "";
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type)) {
    throw new AppError("BAD_REQUEST", "Send the request body as JSON with Content-Type: application/json.");
  }
  // A compressed body would be read as text and refused as "not valid UTF-8": say what is wrong instead.
  // Only the compressions: other values some clients send (utf-8) were always read as the body they are.
  const encoding = (incoming.headers.get("content-encoding") ?? "").trim().toLowerCase();
  if (/\b(gzip|x-gzip|deflate|br|zstd|compress|x-compress)\b/.test(encoding)) {
    throw new AppError("BAD_REQUEST", `Latch does not take compressed request bodies (Content-Encoding: ${encoding.slice(0, 40)}): send the JSON uncompressed. Answers may still come compressed.`);
  }
  const tooLarge = () => new AppError("PAYLOAD_TOO_LARGE", "The request body is larger than 1 MiB.");
  const declared = Number(incoming.headers.get("content-length") ?? 0);
  if (declared > MAX_REQUEST_BYTES) throw tooLarge();
  const bytes = await incoming.readBody(MAX_REQUEST_BYTES, tooLarge);
  let text: string;
  try {
    // Not fatal, bad bytes would become U+FFFD: a SQL parameter or message body reaching the target altered, silently.
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new AppError("BAD_REQUEST", "The request body is not valid UTF-8. Send JSON encoded as UTF-8.");
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AppError("BAD_REQUEST", "The request body is not valid JSON.");
  }
  assertInputShape(body);
  return body;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Without an Authorization header: the browser session, and for a runner that sent neither, what to send. */
async function sessionActor() {
  try {
    return await requireActor();
  } catch (error) {
    if (error instanceof AppError && error.code === "UNAUTHENTICATED") {
      throw new AppError("UNAUTHENTICATED", "No API token was sent, and no one is signed in: send a Latch API token as 'Authorization: Bearer lt_…' (or sign in to the console first).");
    }
    throw error;
  }
}

/**
 * An operation that takes no body (a refresh, a test) says so when sent one, as a misspelt field is
 * named rather than ignored: `{"force": true}` would otherwise do nothing, silently. No body, an
 * empty one and `{}` (what some clients send with every POST) are all taken as none.
 */
async function assertNoBody(incoming: Incoming): Promise<void> {
  const tooLarge = () => new AppError("PAYLOAD_TOO_LARGE", "The request body is larger than 1 MiB, and this operation takes none.");
  const text = (await incoming.readBody(MAX_REQUEST_BYTES, tooLarge)).toString("utf8").trim();
  if (text === "" || /^\{\s*\}$/.test(text)) return;
  // Named where it can be, as a misspelt field of a body is: which keys were sent.
  let keys: string[] = [];
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) keys = Object.keys(parsed).slice(0, 20);
  } catch {
    keys = [];
  }
  const message = "is not a field of this operation, which takes no request body.";
  throw new AppError(
    "VALIDATION",
    `${keys.length > 0 ? `body: ${keys[0]} ${message}` : "This operation takes no request body."} Send none (or {}). See the operation in /api/v1/openapi.json.`,
    keys.length > 0 ? Object.fromEntries(keys.map((k) => [k, [message]])) : { _form: ["This operation takes no request body."] },
  );
}

/**
 * A change made with the browser session must come from Latch's own pages. The session cookie is
 * SameSite=Lax, which stops other sites but not a sibling origin of the same site (another
 * subdomain), and a POST without a body needs no CORS preflight. Browsers say where a request
 * comes from (Sec-Fetch-Site, else Origin); API tokens, which a page cannot send by itself, are
 * not concerned.
 */
function assertSameSiteForSession(incoming: Incoming) {
  if (SAFE_METHODS.has(incoming.method.toUpperCase())) return;
  const site = incoming.headers.get("sec-fetch-site");
  const foreign = site !== null ? site !== "same-origin" && site !== "none" : originIsForeign(incoming.headers);
  if (foreign) throw new AppError("BAD_REQUEST", "A change through the API from another site cannot use the browser session. Call the API with an API token.");
}

/**
 * For browsers that do not send Sec-Fetch-Site: the Origin's host name against the names the
 * request was sent to (Host, and each X-Forwarded-Host a proxy added). Host names only, since a
 * proxy may drop a non-default port from Host. No Origin: not a cross-origin browser request.
 */
function originIsForeign(headers: HeaderReader): boolean {
  const origin = headers.get("origin");
  if (origin === null) return false;
  let hostname: string;
  try {
    hostname = new URL(origin).hostname; // "null" (a sandboxed or opaque origin) does not parse
  } catch {
    return true;
  }
  const names = [headers.get("host"), ...(headers.get("x-forwarded-host")?.split(",") ?? [])]
    .map((name) => name?.trim())
    .filter((name): name is string => !!name)
    .map((name) => {
      try {
        return new URL(`http://${name}`).hostname;
      } catch {
        return null;
      }
    });
  return !names.includes(hostname);
}

/**
 * The one wrapper for every REST handler: request id, authentication, zod validation of params, query
 * and body, and the closed mapping from AppError codes to HTTP statuses. Unexpected errors are logged
 * in full and answered with a generic message and the reference id.
 *
 * Audit: the wrapper hands every handler the actor (with its token) and the request id; routes that
 * change something record their event in their lib function, in the same transaction as the change,
 * so both land or neither (lib/api/audit-coverage.test.ts fails for a mutating route that does not).
 * Reads are not audited, except what resolves secrets (invoke, test), which always is.
 *
 * Authentication: an `Authorization` header must carry a valid API token (`Bearer lt_…`), and then
 * decides alone; without the header, the browser session does. Every later check honours the token's
 * scope through the Actor (lib/authz).
 *
 * `authorize` (e.g. requireTenant for an admin area) runs after authentication and before the params,
 * query and body are read: someone who may not use the route gets 404 whatever they send.
 */
export function apiHandler<P = Record<string, never>, Q = Record<string, never>, B = undefined>(
  schemas: Schemas<P, Q, B>,
  run: (input: HandlerInput<P, Q, B>) => Promise<unknown>,
  options: { status?: number } & ActionOptions = {},
) {
  // Kept reads (lib/authz/epoch.ts) are checked against changes committed before the request arrived.
  const handle = (incoming: Incoming): Promise<Outgoing> => withFreshnessFrom(performance.now(), () => answer(incoming));
  const answer = async (incoming: Incoming): Promise<Outgoing> => {
    const requestId = requestIdFrom(incoming.headers);
    const log = lazyLogger(() => requestLogger(requestId));
    const authorization = incoming.headers.get("authorization");
    try {
      if (authorization === null) assertSameSiteForSession(incoming);
      const actor = authorization === null ? await sessionActor() : await authenticateBearer(authorization, incoming.headers, log, requestId);
      await options.authorize?.(actor);
      const params = schemas.params ? schemas.params.safeParse(incoming.rawParams) : { success: true as const, data: {} as P };
      // A malformed id is an unknown id.
      if (!params.success) throw new AppError("NOT_FOUND", "Not found.");
      // One value per parameter: with a repeated one, which the caller meant is a guess (the last would win).
      const repeated = [...new Set([...incoming.searchParams.keys()].filter((k, i, all) => all.indexOf(k) !== i))];
      if (repeated.length > 0) throw new AppError("VALIDATION", `query: ${repeated[0]} is given more than once; give it once.`, Object.fromEntries(repeated.map((k) => [k, ["is given more than once; give it once."]])));
      const rawQuery = Object.fromEntries(incoming.searchParams);
      // As in a body: "__proto__" would be no key at all to the validation (nor to its error's field names).
      assertInputShape(rawQuery);
      // An operation without query parameters names one it is sent (`?dryRun=1` does not make a dry run).
      const unknownKeys = schemas.query ? [] : Object.keys(rawQuery);
      if (unknownKeys.length > 0) throw new AppError("VALIDATION", `query: ${unknownKeys[0]} is not a parameter of this operation, which takes none. See the operation in /api/v1/openapi.json.`, Object.fromEntries(unknownKeys.map((k) => [k, ["is not a parameter of this operation, which takes none."]])));
      const query = schemas.query ? schemas.query.safeParse(rawQuery) : { success: true as const, data: {} as Q };
      if (!query.success) throw invalid(query.error, "query");
      let body = undefined as B;
      if (!schemas.body && !SAFE_METHODS.has(incoming.method)) await assertNoBody(incoming);
      if (schemas.body) {
        const raw = await readJson(incoming);
        if ((schemas.body as z.ZodType) instanceof z.ZodObject && (raw === null || typeof raw !== "object" || Array.isArray(raw))) {
          throw new AppError("VALIDATION", "The request body must be a JSON object; see the operation in /api/v1/openapi.json for its fields.", { _form: ["The request body must be a JSON object."] });
        }
        const parsed = schemas.body.safeParse(raw);
        if (!parsed.success) throw invalid(parsed.error, "body");
        body = parsed.data;
      }
      const data = await run({
        actor,
        requestId,
        log: lazyLogger(() => log.child(actor.scope ? { userId: actor.id, via: actor.scope.tokenPrefix } : { userId: actor.id })),
        params: params.data,
        query: query.data,
        body,
        request: incoming.request as NextRequest,
      });
      // Downloads and other non-JSON answers are built by the handler; they still get the standard headers.
      if (data instanceof Response) {
        return { status: data.status, headers: apiHeaders(requestId, Object.fromEntries(data.headers)), body: data.body };
      }
      if (data === undefined) {
        return { status: 204, headers: apiHeaders(requestId), body: null };
      }
      return json(options.status ?? 200, data, requestId);
    } catch (error) {
      if (error instanceof AppError) {
        const extra: Record<string, string> = error.retryAfterSeconds ? { "Retry-After": String(error.retryAfterSeconds) } : {};
        if (error.code === "UNAUTHENTICATED") extra["WWW-Authenticate"] = authorization === null ? CHALLENGE : `${CHALLENGE}, error="invalid_token"`;
        return json(
          HTTP_STATUS[error.code],
          { error: { code: error.code, message: error.userMessage, reason: error.reason, targetCode: error.targetCode, fieldErrors: error.fieldErrors, requestId } },
          requestId,
          extra,
        );
      }
      const known = dbErrorAnswer(error);
      if (known) {
        if (known.lostRace) log.warn({ err: error, path: incoming.pathname }, "a change lost a race with another request");
        return json(HTTP_STATUS[known.code], { error: { code: known.code, message: known.message, requestId } }, requestId);
      }
      log.error({ err: error, path: incoming.pathname }, "unexpected error in route handler");
      return unexpectedAnswer(requestId);
    }
  };

  /** Next's router. */
  const next = async (request: NextRequest, context: RouteContext): Promise<NextResponse> => {
    const out = await handle({
      method: request.method,
      headers: request.headers,
      searchParams: request.nextUrl.searchParams,
      pathname: request.nextUrl.pathname,
      rawParams: await context.params,
      readBody: (limit, tooLarge) => readStreamCapped(request.body, limit, tooLarge),
      request,
    });
    return new NextResponse(out.body, { status: out.status, headers: out.headers });
  };

  /**
   * The same handler for a plain node:http request, for the routes server.mjs serves without Next's
   * router (lib/api/direct.ts says which and why). `rawParams` come from the caller's own path match.
   */
  const serveNode = async (request: IncomingMessage, response: ServerResponse, rawParams: Record<string, string>, url: URL): Promise<void> => {
    const out = await handle({
      method: request.method ?? "GET",
      headers: nodeHeaders(request),
      searchParams: url.searchParams,
      pathname: url.pathname,
      rawParams,
      readBody: (limit, tooLarge) => readNodeCapped(request, limit, tooLarge),
      request: null,
    });
    const headers = { ...out.headers };
    if (out.body === null) return void response.writeHead(out.status, headers).end();
    let bytes: Buffer | string = typeof out.body === "string" ? out.body : Buffer.from(await new Response(out.body).arrayBuffer());
    // Compressed as Next's server would have (gzip from 1 KiB, when the client accepts it).
    if (Buffer.byteLength(bytes) >= COMPRESS_FROM_BYTES && acceptsGzip(request.headers["accept-encoding"])) {
      bytes = await gzipAsync(bytes);
      headers["content-encoding"] = "gzip";
      headers.vary = "Accept-Encoding";
    }
    headers["content-length"] = String(Buffer.byteLength(bytes));
    response.writeHead(out.status, headers).end(bytes);
  };

  return Object.assign(next, { serveNode });
}

const COMPRESS_FROM_BYTES = 1024;
const gzipAsync = promisify(gzip);

/** Whether an Accept-Encoding header allows gzip (listed without q=0, or allowed by "*"). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  const weights = new Map<string, number>();
  for (const part of header.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    if (name) weights.set(name, q === undefined ? 1 : Number(q));
  }
  const gzipWeight = weights.get("gzip") ?? weights.get("*");
  return gzipWeight !== undefined && gzipWeight > 0;
}

/**
 * A node:http request's headers, read the way web Headers.get reads them (server.mjs has already
 * appended the peer to X-Forwarded-For). Not copied into a Headers object: that copy alone cost a
 * visible share of a direct invoke's CPU.
 */
export function nodeHeaders(request: IncomingMessage): HeaderReader {
  return {
    get(name: string): string | null {
      const value = request.headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(", ") : value;
    },
  };
}

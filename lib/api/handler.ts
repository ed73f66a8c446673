import "server-only";
import { NextResponse, type NextRequest } from "next/server";
import { z } from "zod";
import { fieldErrorsOf, type ActionContext, type ActionOptions } from "@/lib/actions/action";
import { requireActor } from "@/lib/auth/session";
import { AppError, HTTP_STATUS, unexpectedMessage } from "@/lib/errors";
import { requestLogger } from "@/lib/log";
import { REQUEST_ID_HEADER, requestIdFrom } from "@/lib/request-context";
import { authenticateBearer } from "@/lib/tokens/authenticate";

const MAX_BODY_BYTES = 1024 * 1024;
const CHALLENGE = 'Bearer realm="latch"';

type Schemas<P, Q, B> = { params?: z.ZodType<P>; query?: z.ZodType<Q>; body?: z.ZodType<B> };
type HandlerInput<P, Q, B> = ActionContext & { params: P; query: Q; body: B; request: NextRequest };
type RouteContext = { params: Promise<Record<string, string | string[]>> };

/**
 * proxy.ts does not run for /api/v1 (a runner's request should not pay for a page's CSP nonce), so
 * the wrapper sets what that API's answers need itself: never cached, never sniffed or framed.
 */
const API_HEADERS = {
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
  "Referrer-Policy": "no-referrer",
} as const;

function withApiHeaders(headers: Headers, requestId: string): void {
  for (const [name, value] of Object.entries(API_HEADERS)) if (name === "Cache-Control" || !headers.has(name)) headers.set(name, value);
  headers.set(REQUEST_ID_HEADER, requestId);
}

function json(status: number, body: unknown, requestId: string, extra?: Record<string, string>) {
  const response = NextResponse.json(body, { status, headers: extra });
  withApiHeaders(response.headers, requestId);
  return response;
}

function invalid(error: z.ZodError, where: string): AppError {
  const fieldErrors = fieldErrorsOf(error);
  const first = Object.entries(fieldErrors)[0];
  return new AppError("VALIDATION", first ? `${where}: ${first[0]} ${first[1][0]}` : `Invalid ${where}.`, fieldErrors);
}

/** Reads the body with a running count, so a chunked body with no Content-Length is refused once past the limit, not buffered whole. */
async function readCapped(request: NextRequest, limit: number, tooLarge: () => AppError): Promise<string> {
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw tooLarge();
      chunks.push(value);
    }
  } finally {
    if (size > limit) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return new TextDecoder("utf-8", { fatal: false }).decode(Buffer.concat(chunks));
}

async function readJson(request: NextRequest): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type)) {
    throw new AppError("BAD_REQUEST", "Send the request body as JSON with Content-Type: application/json.");
  }
  const tooLarge = () => new AppError("PAYLOAD_TOO_LARGE", "The request body is larger than 1 MiB.");
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const text = await readCapped(request, MAX_BODY_BYTES, tooLarge);
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError("BAD_REQUEST", "The request body is not valid JSON.");
  }
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
  return async (request: NextRequest, context: RouteContext): Promise<NextResponse> => {
    const requestId = requestIdFrom(request.headers);
    const log = requestLogger(requestId);
    const authorization = request.headers.get("authorization");
    try {
      const actor = authorization === null ? await requireActor() : await authenticateBearer(authorization, request.headers, log);
      await options.authorize?.(actor);
      const rawParams = await context.params;
      const params = schemas.params ? schemas.params.safeParse(rawParams) : { success: true as const, data: {} as P };
      // A malformed id is an unknown id.
      if (!params.success) throw new AppError("NOT_FOUND", "Not found.");
      const rawQuery = Object.fromEntries(request.nextUrl.searchParams);
      const query = schemas.query ? schemas.query.safeParse(rawQuery) : { success: true as const, data: {} as Q };
      if (!query.success) throw invalid(query.error, "query");
      let body = undefined as B;
      if (schemas.body) {
        const parsed = schemas.body.safeParse(await readJson(request));
        if (!parsed.success) throw invalid(parsed.error, "body");
        body = parsed.data;
      }
      const data = await run({
        actor,
        requestId,
        log: log.child(actor.scope ? { userId: actor.id, via: actor.scope.tokenPrefix } : { userId: actor.id }),
        params: params.data,
        query: query.data,
        body,
        request,
      });
      // Downloads and other non-JSON answers are built by the handler; they still get the standard headers.
      if (data instanceof Response) {
        const response = new NextResponse(data.body, { status: data.status, headers: data.headers });
        withApiHeaders(response.headers, requestId);
        return response;
      }
      if (data === undefined) {
        const response = new NextResponse(null, { status: 204 });
        withApiHeaders(response.headers, requestId);
        return response;
      }
      return json(options.status ?? 200, data, requestId);
    } catch (error) {
      if (error instanceof AppError) {
        const extra: Record<string, string> = error.retryAfterSeconds ? { "Retry-After": String(error.retryAfterSeconds) } : {};
        if (error.code === "UNAUTHENTICATED") extra["WWW-Authenticate"] = authorization === null ? CHALLENGE : `${CHALLENGE}, error="invalid_token"`;
        return json(
          HTTP_STATUS[error.code],
          { error: { code: error.code, message: error.userMessage, fieldErrors: error.fieldErrors, requestId } },
          requestId,
          extra,
        );
      }
      log.error({ err: error, path: request.nextUrl.pathname }, "unexpected error in route handler");
      return json(500, { error: { code: "UNEXPECTED", message: unexpectedMessage(requestId), requestId } }, requestId);
    }
  };
}

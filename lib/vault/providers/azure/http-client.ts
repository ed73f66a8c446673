import "server-only";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { RestError, createHttpHeaders, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import type { BodyInit, Dispatcher } from "undici";
import { egressFetch } from "@/lib/net/egress";
import { parseRetryAfter } from "@/lib/vault/retry";

/** The pipeline recognises cancellation by this name (and never retries it). */
class AbortError extends Error {
  override name = "AbortError";
}

/** One HTTP exchange as seen by Latch's transport: for diagnostics and tests, never values. */
export type Exchange = { method: string; url: string; status?: number; error?: string };

/** What a token endpoint answered, without its body: MSAL keeps neither the status nor a lower-cased Retry-After. */
export type SignInAnswer = { status: number; retryAfterSeconds?: number };

export type EgressHttpClient = HttpClient & {
  /** The most recent network-level failure since `since` (ms epoch), if any. */
  transportErrorSince(since: number): unknown;
  /** The most recent token endpoint answer since `since` (ms epoch), if any. */
  signInAnswerSince(since: number): SignInAnswer | undefined;
};

const TOKEN_PATH = /\/oauth2\/(?:v2\.0\/)?token$/;

/**
 * The Azure SDK's transport replaced by Latch's: every request (token endpoint, OpenID discovery,
 * Key Vault) goes through egressFetch on one undici dispatcher, so the egress policy, the store's
 * CA bundle, the proxy setting and the per-request timeout apply to Entra ID and Key Vault alike.
 * The SDK's own agent, tlsOptions and HTTP(S)_PROXY handling are never used.
 */
export function createEgressHttpClient(opts: { dispatcher: Dispatcher; timeoutMs: number; onExchange?: (e: Exchange) => void }): EgressHttpClient {
  let last: { error: unknown; at: number } | undefined;
  let signIn: { answer: SignInAnswer; at: number } | undefined;
  return {
    transportErrorSince: (since) => (last && last.at >= since ? last.error : undefined),
    signInAnswerSince: (since) => (signIn && signIn.at >= since ? signIn.answer : undefined),
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      const exchange: Exchange = { method: request.method, url: redactQuery(request.url) };
      if (request.abortSignal?.aborted) throw new AbortError("The operation was aborted.");
      const limit = request.timeout > 0 ? Math.min(request.timeout, opts.timeoutMs) : opts.timeoutMs;
      const timeout = AbortSignal.timeout(limit);
      const signal = request.abortSignal ? AbortSignal.any([request.abortSignal as AbortSignal, timeout]) : timeout;

      const headers: Record<string, string> = {};
      for (const [name, value] of request.headers) {
        // undici computes these itself; a stale Content-Length would corrupt the request.
        if (!["content-length", "host", "connection", "transfer-encoding"].includes(name.toLowerCase())) headers[name] = value;
      }
      const body = toBody(request.body);
      try {
        const response = await egressFetch(request.url, {
          method: request.method,
          headers,
          ...(body !== undefined ? { body, ...(isStream(body) ? { duplex: "half" as const } : {}) } : {}),
          dispatcher: opts.dispatcher,
          timeoutMs: limit,
          signal,
        });
        exchange.status = response.status;
        if (TOKEN_PATH.test(new URL(request.url).pathname)) {
          signIn = { answer: { status: response.status, retryAfterSeconds: parseRetryAfter(response.headers.get("retry-after")) }, at: Date.now() };
        }
        const responseHeaders = createHttpHeaders();
        response.headers.forEach((value, name) => {
          // fetch has already decoded the body, so these no longer describe it.
          if (name !== "content-encoding" && name !== "content-length") responseHeaders.set(name, value);
        });
        const result: PipelineResponse = { request, status: response.status, headers: responseHeaders };
        if (request.method === "HEAD") {
          await response.body?.cancel();
        } else if (request.streamResponseStatusCodes?.has(Number.POSITIVE_INFINITY) || request.streamResponseStatusCodes?.has(response.status)) {
          result.readableStreamBody = response.body ? Readable.fromWeb(response.body as WebReadableStream) : undefined;
        } else {
          result.bodyAsText = await response.text();
        }
        return result;
      } catch (error) {
        exchange.error = (error as { name?: string }).name ?? "Error";
        last = { error, at: Date.now() };
        if (request.abortSignal?.aborted) throw new AbortError("The operation was aborted.");
        // A RestError keeps the SDK's error handling intact; the original stays as `cause` for classification.
        const code = transportCode(error);
        const wrapped = new RestError(`Request to ${new URL(request.url).host} failed (${code})`, { code, request });
        (wrapped as { cause?: unknown }).cause = error;
        throw wrapped;
      } finally {
        opts.onExchange?.(exchange);
      }
    },
  };
}

function transportCode(error: unknown): string {
  const seen = new Set<unknown>();
  let e: unknown = error;
  while (e && typeof e === "object" && !seen.has(e)) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code) return code;
    if ((e as { name?: unknown }).name === "TimeoutError") return "ETIMEDOUT";
    e = (e as { cause?: unknown }).cause;
  }
  return RestError.REQUEST_SEND_ERROR;
}

type NodeReadable = NodeJS.ReadableStream;

function isStream(body: unknown): boolean {
  return !!body && typeof body === "object" && (typeof (body as NodeReadable).pipe === "function" || typeof (body as ReadableStream).getReader === "function");
}

function toBody(body: PipelineRequest["body"]): BodyInit | undefined {
  if (body === undefined || body === null) return undefined;
  const value = typeof body === "function" ? body() : body;
  if (typeof value === "string" || value instanceof ArrayBuffer || ArrayBuffer.isView(value) || value instanceof Blob) return value as BodyInit;
  if (value instanceof FormData) return value as unknown as BodyInit;
  if (typeof (value as NodeReadable).pipe === "function") return Readable.toWeb(value as Readable) as unknown as BodyInit;
  return value as unknown as BodyInit;
}

/** Query strings may carry nothing secret here, but keep diagnostics to scheme, host and path. */
function redactQuery(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

import zlib from "node:zlib";
import { X509Certificate } from "node:crypto";
import { fetch as undiciFetch, type Dispatcher, type Response } from "undici";
import { z } from "zod";
import { MAX_REQUEST_BYTES } from "@/lib/api/limits";
import { env } from "@/lib/env";
import { assertHostAllowed, createDispatcher, type DispatcherPool } from "@/lib/net/egress";
import { ConnectorError, OperationInputError } from "./types";
import { hostnameMismatch } from "@/lib/net/certificate-names";

/**
 * Plumbing shared by the HTTP-based connectors (http, oauth2): target URL checks under the egress
 * policy, network-error classification, the `request` operation (path confinement, header rules,
 * capped and redacted responses). Outbound calls never follow redirects here, so a credential is
 * never replayed to another origin.
 */

export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_REQUEST_TIMEOUT_MS = 120_000;

const httpAllowed = () => env().LATCH_DEV_ALLOW_HTTP_STORES;

function parseUrl(raw: string): URL | null {
  try {
    return new URL(raw);
  } catch {
    return null;
  }
}

/** Checks a target URL before anything is dialled: scheme, no embedded credentials, host name. */
export function assertTargetUrl(raw: string, label = "address"): URL {
  const url = parseUrl(raw);
  // The raw text is left out of messages: a pasted URL may carry a credential.
  if (!url) throw new ConnectorError("config", `The ${label} is not a valid URL.`);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && httpAllowed())) {
    throw new ConnectorError("config", `Use an https:// address for the ${label} (${url.host || "no host"} was given with ${url.protocol}).`);
  }
  if (url.username || url.password) throw new ConnectorError("config", `The ${label} must not contain a user name or password; use the credential fields.`);
  try {
    assertHostAllowed(url.hostname);
  } catch (error) {
    throw classifyTargetError(error, url.host) ?? error;
  }
  return url;
}

/** Zod check for a target URL field (the same rules as assertTargetUrl, minus the egress policy). */
export const targetUrlSchema = z
  .string()
  .trim()
  .min(1, "Enter the address.")
  .max(2048, "The address can be at most 2,048 characters.")
  .superRefine((raw, ctx) => {
    const url = parseUrl(raw);
    if (!url) return void ctx.addIssue({ code: "custom", message: "Enter a full address, e.g. https://api.example.com." });
    if (url.protocol !== "https:" && !(url.protocol === "http:" && httpAllowed())) ctx.addIssue({ code: "custom", message: `Use an https:// address (this one starts with ${url.protocol}//).` });
    if (url.username || url.password) ctx.addIssue({ code: "custom", message: "Leave the user name and password out of the address; use the credential fields." });
    if (url.hash) ctx.addIssue({ code: "custom", message: "Leave the #fragment out of the address." });
  });

/** Optional text fields arrive from forms as "" when left empty. */
export const emptyToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

export const optionalTargetUrlSchema = z.preprocess(emptyToUndefined, targetUrlSchema.optional());

/** True when the text holds at least one certificate and every PEM certificate in it parses. */
export function isCertificateBundle(pem: string): boolean {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return false;
  try {
    for (const block of blocks) new X509Certificate(block);
    return true;
  } catch {
    return false;
  }
}

export const caBundleSchema = z.preprocess(
  emptyToUndefined,
  z.string().max(200_000).refine(isCertificateBundle, "Paste one or more PEM certificates (-----BEGIN CERTIFICATE----- …).").optional(),
);

export const testPathSchema = z.string().trim().max(2048).refine((p) => !/^[a-z][a-z0-9+.-]*:|^\/\/|\\|#/i.test(p), "must be a path such as /health, not a full URL");

/**
 * A dispatcher under the egress policy with the connection's CA bundle; timeouts are per request.
 * With `pool` (at run time), it holds at most `pool.max` sockets to the target, as the SQL connectors do.
 */
export function targetDispatcher(caBundle: string | undefined, pool?: DispatcherPool): Dispatcher {
  // Node ignores a CA entry it cannot parse, which would surface later as a misleading TLS error.
  if (caBundle && !isCertificateBundle(caBundle)) throw new ConnectorError("config", "The CA bundle could not be read. Paste the PEM certificate(s) again, exactly as exported.");
  try {
    return createDispatcher({ ca: caBundle, timeoutMs: MAX_REQUEST_TIMEOUT_MS, pool });
  } catch (error) {
    throw classifyTargetError(error, "the target") ?? error;
  }
}

const TLS_UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_UNTRUSTED",
]);
const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT", "23"]);
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN"]);

/** Maps low-level network/TLS errors (Node, undici) onto ConnectorError kinds; null if not one. */
export function classifyTargetError(error: unknown, host: string): ConnectorError | null {
  if (error instanceof ConnectorError) return error;
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const e = queue.shift();
    if (!e || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const code = String((e as { code?: unknown }).code ?? "");
    const name = String((e as { name?: unknown }).name ?? "");
    const message = String((e as { message?: unknown }).message ?? "");
    if (code === "LATCH_EGRESS_DENIED") return new ConnectorError("egress_denied", message);
    if (code === "LATCH_TLS_MATERIAL") return new ConnectorError("config", "The CA bundle could not be read. Paste the PEM again, exactly as exported.");
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new ConnectorError("dns", `The host name ${host} could not be resolved. Check the address.`);
    if (code === "ECONNREFUSED") return new ConnectorError("unreachable", `Nothing is listening at ${host}. Check the address and port, and that the service is running.`);
    if (UNREACHABLE_CODES.has(code)) return new ConnectorError("unreachable", `The connection to ${host} failed (${code}). Check proxies and firewalls between Latch and the service.`);
    if (TLS_UNTRUSTED.has(code)) return new ConnectorError("tls", `The TLS certificate of ${host} is not signed by a trusted CA. Add your CA bundle to the connection.`);
    if (code === "CERT_HAS_EXPIRED") return new ConnectorError("tls", `The TLS certificate of ${host} has expired.`);
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return new ConnectorError("tls", hostnameMismatch(host, e));
    if (code.startsWith("ERR_SSL_") || /alert (certificate required|handshake failure|bad certificate|unknown ca|protocol version)|wrong version number/i.test(message))
      return new ConnectorError("tls", `The TLS handshake with ${host} failed. Check that the address is an HTTPS endpoint and what it requires.`);
    if (TIMEOUT_CODES.has(code) || name === "TimeoutError") return new ConnectorError("timeout", `${host} did not answer in time.`);
    // zlib's codes (Z_DATA_ERROR, Z_BUF_ERROR): the target answered, with a body its Content-Encoding does not describe.
    if (/^Z_[A-Z_]+$/.test(code)) return new ConnectorError("upstream_error", `${host} answered with a body that is not what its Content-Encoding says (${code}): Latch could not decode it.`);
    if (code === "UND_ERR_HEADERS_OVERFLOW") return new ConnectorError("upstream_error", `${host} answered with more header data than Latch accepts (16 KB in all).`);
    queue.push((e as { cause?: unknown }).cause);
    const nested = (e as { errors?: unknown }).errors;
    if (Array.isArray(nested)) queue.push(...nested);
  }
  return null;
}

/** host + path for messages: never the query string, which may hold an API key. */
export function describeUrl(url: URL): string {
  return `${url.host}${url.pathname}`;
}

/** One HTTP exchange, no redirects followed; network failures come back as ConnectorError. */
export async function sendTarget(
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string; dispatcher: Dispatcher; timeoutMs: number },
): Promise<Response> {
  assertTargetUrl(url.toString());
  const answered = { status: 0 };
  try {
    return await undiciFetch(url, {
      method: init.method,
      headers: init.headers,
      body: init.body,
      dispatcher: init.dispatcher.compose(noteStatus(answered)),
      redirect: "manual",
      signal: AbortSignal.timeout(init.timeoutMs),
    });
  } catch (error) {
    // fetch() turns a 407 into a network error with no reason: the status is the only trace of it.
    if (answered.status === 407) throw new ConnectorError("config", `${url.host} answered HTTP 407: a proxy between Latch and it requires authentication, and Latch does not pass a 407 on.`);
    throw classifyTargetError(error, url.host) ?? new ConnectorError("unreachable", `The request to ${url.host} failed.`);
  }
}

/** Records the status of the answer, which fetch() keeps to itself when it fails on it. */
function noteStatus(answered: { status: number }): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (options, handler) =>
    dispatch(options, {
      onRequestStart: (...args) => handler.onRequestStart?.(...args),
      onRequestUpgrade: (...args) => handler.onRequestUpgrade?.(...args),
      onResponseStart: (controller, status, ...rest) => {
        answered.status = status;
        return handler.onResponseStart?.(controller, status, ...rest);
      },
      onResponseData: (...args) => handler.onResponseData?.(...args),
      onResponseEnd: (...args) => handler.onResponseEnd?.(...args),
      onResponseError: (...args) => handler.onResponseError?.(...args),
    });
}

/** Header values a credential produces must be single-line; undici's own error could quote them. */
export function assertHeaderSafe(value: string, what: string): void {
  if (/[\r\n\0]/.test(value)) throw new ConnectorError("config", `The ${what} contains a line break or NUL character.`);
}

/** `v` as a JSON string's contents, with the characters `escape` picks written as \uXXXX. */
function jsonEscaped(v: string, escape: (c: string) => boolean, upper: boolean): string {
  let out = "";
  for (const c of v) {
    if (escape(c)) {
      // Each UTF-16 unit: an astral character is written as its surrogate pair.
      for (let i = 0; i < c.length; i++) {
        const hex = c.charCodeAt(i).toString(16).padStart(4, "0");
        out += `\\u${upper ? hex.toUpperCase() : hex}`;
      }
    } else out += JSON.stringify(c).slice(1, -1);
  }
  return out;
}

const HTML_SENSITIVE = new Set(["<", ">", "&", "'", '"', "+", "`"]);
const nonAscii = (c: string) => c.charCodeAt(0) > 0x7e;

/**
 * The ways common JSON encoders write a string beyond JSON.stringify's: PHP's json_encode (\/),
 * Go (<, > and & as \u003c…), .NET's default encoder (those, quotes, + and non-ASCII, upper-case
 * hex), Python's ensure_ascii (non-ASCII), and everything but letters and digits escaped.
 */
function jsonForms(v: string): string[] {
  const plain = JSON.stringify(v).slice(1, -1);
  return [
    plain,
    plain.replace(/\//g, "\\/"),
    // PHP's default writes both: \/ and non-ASCII as \u00e4.
    jsonEscaped(v, nonAscii, false).replace(/\//g, "\\/"),
    jsonEscaped(v, (c) => c === "<" || c === ">" || c === "&", false),
    jsonEscaped(v, (c) => HTML_SENSITIVE.has(c) || nonAscii(c), true),
    jsonEscaped(v, nonAscii, false),
    jsonEscaped(v, (c) => !/[A-Za-z0-9]/.test(c), false),
    jsonEscaped(v, (c) => !/[A-Za-z0-9]/.test(c), true),
  ];
}

/**
 * Base64 (and base64url) of the value wherever it starts in the encoded bytes (an API key inside a
 * longer encoded token or header): for each of the three alignments, only the characters that depend on
 * the value's bytes alone. Values under 8 characters give runs short enough to match by chance.
 */
function base64Forms(v: string): string[] {
  const bytes = Buffer.from(v);
  const forms = [bytes.toString("base64"), bytes.toString("base64url")];
  if (bytes.length < 8) return forms;
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    // The first characters also carry the bytes before the value; the last partial group, those after it.
    const start = [0, 2, 3][offset]!;
    const end = Math.floor((offset + bytes.length) / 3) * 4;
    const core = encoded.slice(start, end);
    forms.push(core, core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return forms;
}

/**
 * Every form in which a credential could come back from a target (raw, form-encoded, JSON-escaped as
 * common encoders write it, base64 at any alignment, hex, and UTF-16 read as UTF-8): used to blank it
 * out of responses, in any letter case and through percent-escapes and HTML references (redact).
 * Values under 4 characters are not worth matching.
 */
export function redactionForms(values: (string | undefined)[]): string[] {
  const forms = new Set<string>();
  for (const v of values) {
    if (!v || v.length < 4) continue;
    forms.add(v);
    // HTML references and percent-escapes are decoded where the forms are looked for (spansOf), in
    // whatever mix; a form-encoded space (+) is not, so a value with spaces is also looked for so.
    if (v.includes(" ")) {
      const formEncoded = new URLSearchParams({ v }).toString().slice(2);
      forms.add(formEncoded);
      // Some encoders (.NET's HttpUtility.UrlEncode among them) and proxies write the escapes in lower case.
      forms.add(formEncoded.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()));
    }
    for (const form of jsonForms(v)) forms.add(form);
    for (const form of base64Forms(v)) forms.add(form);
    forms.add(Buffer.from(v).toString("hex"));
    // UTF-16 text (a .NET or Windows API) decoded as UTF-8 when it names no charset: a NUL beside each character.
    if (/^[\x01-\x7f]+$/.test(v)) forms.add([...v].join("\u0000"));
  }
  // Longest first, so a value containing another is replaced whole.
  return [...forms].filter((f) => f.length >= 4).sort((a, b) => b.length - a.length);
}

/**
 * `value` in one letter case for matching, every character where it was (so a match's position is the
 * same in the original) and folded on its own, whatever surrounds it: the same text folds the same in
 * a body, in a prefix of it and in a form. toLowerCase() is all that when the text has neither "İ"
 * (the one character whose lower case is longer) nor "Σ" (which folds by context: "ς" at a word's end).
 */
export function caseless(value: string): string {
  if (!/[\u0130\u03a3]/.test(value)) return value.toLowerCase();
  return value.replace(/[^\x00-\x40\x5b-\x7f]/gu, (c) => {
    const lower = c.toLowerCase();
    return lower.length === c.length ? lower : c;
  });
}

/** Named character references beyond &amp; &lt; &gt; &quot; &apos;: Latin-1's (what PHP's htmlentities and Java's escapeHtml4 write for it) and common punctuation. */
const LATIN1_ENTITY_NAMES =
  "nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest " +
  "Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig " +
  "agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml";
const NAMED_ENTITIES: ReadonlyMap<string, string> = new Map([
  ...LATIN1_ENTITY_NAMES.split(" ").map((name, i) => [name, String.fromCharCode(0xa0 + i)] as [string, string]),
  ...Object.entries({ amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", sol: "/", plus: "+", equals: "=", colon: ":", num: "#", percnt: "%", commat: "@", excl: "!", quest: "?", dollar: "$", lpar: "(", rpar: ")", lowbar: "_", grave: "`", hyphen: "-", euro: "\u20ac", ndash: "\u2013", mdash: "\u2014" }),
]);
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const ESCAPE = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}));|(?:%[0-9A-Fa-f]{2})+/g;

/**
 * `text` with its HTML character references (&#43;, &#x2B;, &plus;, &ouml;) and percent-escapes
 * (%2B, %c3%b6) decoded, and for each character of the result where it starts in `text`: an echo
 * escaped character by character, as encoders do in their own ways (Go's html/template writes + as
 * &#43;, Python's quote() keeps /, Go's PathEscape keeps + and =), or mixing both, is found as the
 * value itself. Null when there is nothing to decode.
 */
function decodedView(text: string): { decoded: string; origin: number[] } | null {
  let decoded = "";
  const origin: number[] = [];
  let from = 0;
  const keep = (to: number) => {
    for (let i = from; i < to; i++) origin.push(i);
    decoded += text.slice(from, to);
  };
  for (const match of text.matchAll(ESCAPE)) {
    const at = match.index;
    let chars: { text: string; starts: number[] } | null = null;
    if (match[0].startsWith("%")) {
      // A run of escapes is bytes: UTF-8, each character starting where its first byte's escape does.
      // Bytes that are not UTF-8 are left as written.
      let bytes: string;
      try {
        bytes = STRICT_UTF8.decode(Buffer.from(match[0].replace(/%/g, ""), "hex"));
      } catch {
        continue;
      }
      const out = { text: bytes, starts: [] as number[] };
      let byte = 0;
      for (const c of bytes) {
        for (let unit = 0; unit < c.length; unit++) out.starts.push(at + byte * 3);
        byte += Buffer.byteLength(c);
      }
      chars = out;
    } else {
      const code = match[1] ? Number(match[1]) : match[2] ? parseInt(match[2], 16) : null;
      const named = match[3] ? NAMED_ENTITIES.get(match[3]) : undefined;
      const c = code !== null ? (code <= 0x10ffff ? String.fromCodePoint(code) : null) : (named ?? null);
      if (c) chars = { text: c, starts: Array.from(c, () => at) };
    }
    if (!chars) continue;
    keep(at);
    decoded += chars.text;
    origin.push(...chars.starts);
    from = at + match[0].length;
  }
  if (from === 0) return null;
  keep(text.length);
  origin.push(text.length);
  return { decoded, origin };
}

/** Where each form occurs in `text`, in any letter case. */
function literalSpans(text: string, forms: string[], spans: [number, number][], map?: number[]) {
  const folded = caseless(text);
  for (const form of forms) {
    const f = caseless(form);
    for (let at = folded.indexOf(f); at !== -1; at = folded.indexOf(f, at + f.length)) spans.push(map ? [map[at]!, map[at + f.length]!] : [at, at + f.length]);
  }
}

/**
 * Where any form occurs in `text`, in any letter case, as written or once its character references and
 * percent-escapes are decoded: sorted, overlapping spans merged (adjacent ones kept apart).
 */
function spansOf(text: string, forms: string[]): [number, number][] {
  const spans: [number, number][] = [];
  literalSpans(text, forms, spans);
  const view = forms.length > 0 ? decodedView(text) : null;
  if (view) literalSpans(view.decoded, forms, spans, view.origin);
  spans.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const span of spans) {
    const last = merged.at(-1);
    if (last && span[0] < last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push(span);
  }
  return merged;
}

/** What the request operations' descriptions (OpenAPI, GET /connectors) say about echoed credentials. */
export const ECHO_REDACTION_NOTE =
  "The body is read by its charset (UTF-8 when none is named). Wherever the connection's credentials appear in the answer (header names and values, the body), as sent or in any letter case, JSON-escaped, percent-escaped or as HTML character references (any mix of the two), base64, hex or UTF-16, they are replaced by [redacted]; " +
  "an API that encrypts or otherwise transforms what it echoes can still pass a credential on, as it could anywhere else.";

/** `text` with every form of a credential in it replaced by "[redacted]", whatever its letter case (an API that upper-cases what it echoes). */
export function redact(text: string, forms: string[]): string {
  const spans = spansOf(text, forms);
  if (spans.length === 0) return text;
  let out = "";
  let from = 0;
  for (const [start, end] of spans) {
    out += `${text.slice(from, start)}[redacted]`;
    from = end;
  }
  return out + text.slice(from);
}

// ---------------------------------------------------------------------------------------------
// The `request` operation

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers a caller may never set: credentials, cookies, and framing that fetch owns (it refuses expect itself). */
const FORBIDDEN_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer", "keep-alive", "expect", "proxy-connection"]);
/**
 * Headers that ask for part of an answer. Latch finds a credential the target echoes only within one
 * whole answer: with byte ranges, a runner could fetch an echoed secret a few bytes at a time.
 */
const PARTIAL_ANSWER_HEADERS = new Set(["range", "if-range"]);
/**
 * Headers some servers and gateways (IIS URL Rewrite, some PHP frameworks, proxies honouring a
 * forwarded prefix) route by instead of the request line: with them, a request could reach a path
 * outside the connection's base URL on the same host.
 */
const PATH_OVERRIDE_HEADERS = new Set(["x-original-url", "x-rewrite-url", "x-original-uri", "x-forwarded-uri", "x-forwarded-prefix"]);
const pathOverrideMessage = (name: string) => `The ${name} header cannot be set: some servers route by it instead of the path, which must stay under the connection's base URL.`;
const partialAnswerMessage = (name: string) => `The ${name} header cannot be set: Latch checks whole answers for the connection's secrets, so it does not ask for parts of one.`;
/** A header value HTTP/1.1 can carry: one line of visible Latin-1 text (fetch refuses anything else before sending). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * A segment that would climb out of, or stay on, its place for some server once decoded: . and ..,
 * also with ;parameters after them (Tomcat, Jetty and Spring drop those before resolving dots, so
 * "..;" is ".." to them), and anything holding a slash or backslash.
 */
function isDotOrSlashSegment(decoded: string): boolean {
  const name = decoded.split(";", 1)[0];
  return name === "." || name === ".." || /[/\\]/.test(decoded);
}

/**
 * Backslash, # and every control character. URL parsing silently drops tab and line breaks, so
 * "..\t;" checked here would reach the server as "..;".
 */
const CONTROL_OR_BACKSLASH = /[\\#\x00-\x1f\x7f]/;

/** The checks resolveUnderBase makes that need no base URL, so the schema can say what is wrong and where. */
function pathProblem(rawPath: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(rawPath) || rawPath.startsWith("//")) return "must be a path relative to the base URL, not a full URL";
  if (CONTROL_OR_BACKSLASH.test(rawPath)) return "must not contain a backslash, # or control character";
  const q = rawPath.indexOf("?");
  const problem = segmentProblem((q === -1 ? rawPath : rawPath.slice(0, q)).split("/"));
  if (problem === "encoding") return "has an invalid percent-encoding";
  if (problem === "leaves") return "must stay under the base URL (no . or .. segments, also with ;parameters, no encoded slashes)";
  return null;
}

/** Why path segments are refused, or null: one whose percent-encoding does not decode, or one that climbs out or stays put. */
function segmentProblem(segments: string[]): "encoding" | "leaves" | null {
  for (const segment of segments) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return "encoding";
    }
    if (isDotOrSlashSegment(decoded)) return "leaves";
  }
  return null;
}

export const requestInputSchema = z
  .strictObject({
    method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]).default("GET"),
    path: z.string().min(1).max(4096).meta({ description: "Relative to the base URL; may carry a ?query. Never leaves the base URL." }),
    query: z.record(z.string().min(1).max(256), z.string().max(8192)).optional(),
    headers: z
      .record(
        z.string().regex(HEADER_NAME, "A header name may use only letters, digits and !#$%&'*+-.^_`|~ (RFC 9110 token characters).").max(256),
        z
          .string()
          .max(8192)
          .regex(/^[^\r\n\0]*$/, "A header value must be a single line.")
          .regex(HEADER_VALUE, "A header value must be plain text (Latin-1, no control characters); encode anything else, e.g. as percent-encoding or base64."),
      )
      .optional()
      .meta({ description: `Extra request headers. Not allowed: ${[...FORBIDDEN_HEADERS, ...PARTIAL_ANSWER_HEADERS, ...PATH_OVERRIDE_HEADERS].join(", ")}, nor the header the connection's API key uses.` }),
    body: z
      .string({ error: (issue) => (issue.input === undefined ? undefined : "must be text: send a JSON body as a string (JSON-encode the object), with its Content-Type in headers.") })
      .max(MAX_REQUEST_BYTES)
      .optional()
      .meta({ description: "Request body as text; not allowed with GET or HEAD. Give its Content-Type in headers (e.g. application/json): without one it goes as text/plain;charset=UTF-8, which many JSON APIs refuse. The whole invoke request is limited to 1 MiB." }),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(MAX_REQUEST_TIMEOUT_MS)
      .optional()
      .meta({ description: "The most the whole invoke may take, in ms: opening the client, the request, and a retry after a rejected credential (default 30,000)." }),
  })
  .superRefine((input, ctx) => {
    const problem = pathProblem(input.path);
    if (problem) ctx.addIssue({ code: "custom", path: ["path"], message: problem });
    for (const name of Object.keys(input.headers ?? {})) {
      if (FORBIDDEN_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: "custom", path: ["headers", name], message: `cannot be set: ${name} is supplied by Latch or by the connection's credential` });
      else if (PARTIAL_ANSWER_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: "custom", path: ["headers", name], message: partialAnswerMessage(name) });
      else if (PATH_OVERRIDE_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: "custom", path: ["headers", name], message: pathOverrideMessage(name) });
    }
    if (input.body !== undefined && (input.method === "GET" || input.method === "HEAD")) ctx.addIssue({ code: "custom", path: ["body"], message: `is not allowed with ${input.method}` });
  });
export type RequestInput = z.output<typeof requestInputSchema>;
export const requestOutputSchema = z.strictObject({
  status: z.number().int().meta({ description: "The API's HTTP status, whatever it is (a 401 to the connection's credential fails the invoke instead)." }),
  headers: z.record(z.string(), z.string()).meta({ description: "Response headers by lower-case name, without Set-Cookie; repeated ones joined with \", \". A compressed body (gzip, deflate, br) is returned decompressed, without its Content-Encoding and Content-Length; Content-Length is also left out when the body returned is not the bytes the target sent (cut at the cap, with credentials blanked, or read from another charset)." }),
  body: z.string().meta({ description: "The body as text, decoded by its charset (UTF-8 when it names none). Binary content (images, archives) does not survive being read as text: call such endpoints another way." }),
  truncated: z.boolean().meta({ description: "True when the body was longer than Latch returns and was cut." }),
});
export type RequestOutput = z.output<typeof requestOutputSchema>;

/**
 * Resolves `path` (and an optional ?query in it) under the base URL. Absolute URLs, protocol-
 * relative paths, backslashes, fragments and dot segments (also percent-encoded) are refused, so
 * the result always stays on the base's origin and under its path.
 */
export function resolveUnderBase(base: URL, rawPath: string, query?: Record<string, string>): URL {
  const refuse = (why: string) => new ConnectorError("config", `The path is refused: ${why}.`);
  if (/^[a-z][a-z0-9+.-]*:/i.test(rawPath) || rawPath.startsWith("//")) throw refuse("give a path relative to the base URL, not a full URL");
  if (CONTROL_OR_BACKSLASH.test(rawPath)) throw refuse("it contains a backslash, # or control character");
  const q = rawPath.indexOf("?");
  const pathPart = q === -1 ? rawPath : rawPath.slice(0, q);
  const segments = pathPart.split("/").filter((s, i) => !(i === 0 && s === ""));
  const refuseSegments = (problem: ReturnType<typeof segmentProblem>) => {
    if (problem) throw refuse(problem === "encoding" ? "it has an invalid percent-encoding" : "it would leave the base URL");
  };
  refuseSegments(segmentProblem(segments));
  const basePath = base.pathname.endsWith("/") ? base.pathname : `${base.pathname}/`;
  const url = new URL(base.toString());
  url.hash = "";
  url.pathname = basePath + segments.join("/");
  if (url.origin !== base.origin || !(url.pathname + "/").startsWith(basePath)) throw refuse("it would leave the base URL");
  // What the server will read, checked again after the URL parser's own rewriting.
  refuseSegments(segmentProblem(url.pathname.slice(basePath.length).split("/")));
  // The path's own query goes out as written: re-serialising it (URLSearchParams) would turn "?uploads" into
  // "?uploads=" and %20 into +, which breaks signed URLs and APIs that tell them apart.
  if (q !== -1 && q < rawPath.length - 1) appendRawQuery(url, rawPath.slice(q + 1));
  appendQuery(url, query ?? {});
  return url;
}

function appendRawQuery(url: URL, raw: string) {
  url.search = url.search.length > 1 ? `${url.search.slice(1)}&${raw}` : raw;
}

/**
 * Adds name=value pairs to the URL's query, each percent-encoded (a space as %20), leaving what is
 * already there exactly as it is. `url.searchParams.append` would re-serialise the whole query.
 */
export function appendQuery(url: URL, params: Record<string, string>) {
  const added = Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  if (added.length > 0) appendRawQuery(url, added.join("&"));
}

/** What a connector client offers the shared `request` operation. */
export type RequestTarget = {
  readonly base: URL;
  /** Lower-case header names and query parameter names the credential uses. */
  readonly reservedHeaders: ReadonlySet<string>;
  readonly reservedQuery: ReadonlySet<string>;
  /**
   * Sends with the credential attached (and whatever retry policy the connector has). A credential
   * that changes while requests run (an OAuth access token) is pushed onto `attached` each time it
   * is sent: the response is redacted of the value it went out with, even if another request
   * renewed it meanwhile.
   */
  send(url: URL, init: { method: string; headers: Record<string, string>; body?: string; timeoutMs: number }, attached: string[]): Promise<Response>;
  /** The redaction forms of the credential values as they are now (a fixed credential computes them once). */
  redactionForms(): string[];
};

export async function runRequest(target: RequestTarget, input: RequestInput, opts: { timeoutMs: number }): Promise<RequestOutput> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    const lower = name.toLowerCase();
    if (FORBIDDEN_HEADERS.has(lower) || target.reservedHeaders.has(lower)) {
      throw new OperationInputError(`headers.${name}`, `The ${name} header cannot be set on a request: the connection supplies credentials itself.`);
    }
    if (PARTIAL_ANSWER_HEADERS.has(lower)) throw new OperationInputError(`headers.${name}`, partialAnswerMessage(name));
    if (PATH_OVERRIDE_HEADERS.has(lower)) throw new OperationInputError(`headers.${name}`, pathOverrideMessage(name));
    if (!HEADER_VALUE.test(value) || /[\r\n\0]/.test(value)) {
      throw new OperationInputError(`headers.${name}`, `The ${name} header must be one line of plain text (Latin-1, no control characters).`);
    }
    headers[lower] = value;
  }
  let url: URL;
  try {
    url = resolveUnderBase(target.base, input.path, input.query);
  } catch (error) {
    throw error instanceof ConnectorError ? new OperationInputError("path", error.message) : error;
  }
  for (const name of new Set(url.searchParams.keys())) {
    if (target.reservedQuery.has(name)) throw new OperationInputError("query", `The ${name} query parameter cannot be set: the connection supplies the API key itself.`);
  }
  if (input.body !== undefined && (input.method === "GET" || input.method === "HEAD")) {
    throw new OperationInputError("body", `A ${input.method} request cannot have a body.`);
  }
  // What the request asked for, within what the caller has left of its own time (an invoke's deadline).
  const timeoutMs = Math.min(input.timeoutMs ?? opts.timeoutMs, opts.timeoutMs, MAX_REQUEST_TIMEOUT_MS);
  const attached: string[] = [];
  const response = await target.send(url, { method: input.method, headers, body: input.body, timeoutMs }, attached);
  try {
    const forms = attached.length === 0 ? target.redactionForms() : [...new Set([...target.redactionForms(), ...redactionForms(attached)])].sort((a, b) => b.length - a.length);
    return await readResponse(response, forms, input.method === "HEAD");
  } catch (error) {
    throw classifyTargetError(error, url.host) ?? new ConnectorError("unreachable", `Reading the response from ${url.host} failed.`);
  }
}

/**
 * Reads at most `limit` bytes, plus `slack` more so that whatever straddles the cut can still be seen
 * whole (readResponse uses it to drop a credential cut in half).
 */
export async function readCapped(response: Response, limit: number, slack = 64 * 1024): Promise<{ text: string; truncated: boolean }> {
  const { bytes, truncated } = await readCappedBytes(response, limit, slack);
  return { text: decoderFor(bytes, response.headers.get("content-type"))(bytes), truncated };
}

/** The body's first bytes: up to `limit` and `slack` more (a whole chunk past that at most); `truncated` when it had more than `limit`. */
async function readCappedBytes(response: Response, limit: number, slack: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  if (!response.body) return { bytes: Buffer.alloc(0), truncated: false };
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  try {
    while (size <= limit + slack) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const all = Buffer.concat(chunks);
  return { bytes: all, truncated: all.byteLength > limit };
}

const utf8 = (bytes: Buffer) => bytes.toString("utf8");

/**
 * How to read a body as text, as a browser would: by its UTF-16 byte-order mark, else by the charset
 * its Content-Type names (ISO-8859-1, Shift_JIS, UTF-16…), else as UTF-8 (the function `utf8`). A
 * function, so that a prefix of the body (a cut) is read the same way.
 */
function decoderFor(bytes: Buffer, contentType: string | null): (bytes: Buffer) => string {
  let label = bytes[0] === 0xff && bytes[1] === 0xfe ? "utf-16le" : bytes[0] === 0xfe && bytes[1] === 0xff ? "utf-16be" : null;
  label ??= /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? "")?.[1]?.toLowerCase() ?? null;
  if (label && label !== "utf-8" && label !== "utf8") {
    try {
      const decoder = new TextDecoder(label);
      return (b) => decoder.decode(b);
    } catch {
      // A charset Node does not know: read as UTF-8, as before.
    }
  }
  return utf8;
}

/**
 * Where to end a body cut at about `limit` bytes so that no credential is cut in half: the kept text
 * is a prefix of `text`, and any form that starts in it but runs past its end is left out whole
 * (redacting afterwards could not match half of one).
 */
export function safeCut(text: string, limit: number | string, forms: string[]): string {
  // A number: that many bytes of the text as UTF-8; a string: the body's first bytes up to the cap, as decoded.
  let kept = typeof limit === "string" ? limit : Buffer.from(text, "utf8").subarray(0, limit).toString("utf8");
  // A character cut in two decodes as U+FFFD, which `text` does not have there.
  while (kept.length > 0 && !text.startsWith(kept)) kept = kept.slice(0, -1);
  let end = kept.length;
  // The spans redact will blank (any letter case, merged); cutting before the one the end falls in keeps it whole.
  for (const [start, stop] of spansOf(text, forms)) if (start < end && stop > end) end = start;
  return text.slice(0, end);
}

/** The codings undici's fetch decodes (all of a response's, or it decodes none): lib/web/fetch/index.js. */
const FETCH_DECODES = new Set(["gzip", "x-gzip", "deflate", "br", ...("createZstdDecompress" in zlib ? ["zstd"] : [])]);

function decompressedByFetch(response: Response): boolean {
  if ([101, 204, 205, 304].includes(response.status)) return false;
  const codings = (response.headers.get("content-encoding") ?? "").toLowerCase().split(",").map((c) => c.trim()).filter(Boolean);
  return codings.length > 0 && codings.length <= 5 && codings.every((c) => FETCH_DECODES.has(c));
}

export async function readResponse(response: Response, forms: string[], head = false): Promise<RequestOutput> {
  const headers: Record<string, string> = {};
  for (const [name, value] of response.headers) {
    if (name === "set-cookie" || name === "set-cookie2") continue;
    // Names too: a target can echo a credential into a header's name (x-token-<value>: 1).
    headers[redact(name, forms)] = redact(value, forms);
  }
  if (head) {
    await response.body?.cancel().catch(() => undefined);
    return { status: response.status, headers, body: "", truncated: false };
  }
  // fetch undid the compression: the body returned is not what these two described, and a client going by
  // them would decompress it again or read the wrong length.
  if (decompressedByFetch(response)) {
    delete headers["content-encoding"];
    delete headers["content-length"];
  }
  // Cut first, then redact: redacting first shrinks the text, and the cut could then fall inside a
  // credential that the redaction never saw whole.
  // Slack for the longest form in UTF-16 (two bytes a character), so one that starts before the cap ends in what is read.
  const longest = forms.reduce((n, f) => Math.max(n, 2 * f.length), 0);
  const { bytes, truncated } = await readCappedBytes(response, MAX_BODY_BYTES, Math.max(64 * 1024, longest));
  let decode = decoderFor(bytes, response.headers.get("content-type"));
  let text = decode(bytes);
  // A label can make bytes that hold a credential as plain text read as something else (ASCII labelled
  // UTF-16 turns into CJK): whatever the label says, a body whose bytes hold more of the credentials as
  // UTF-8 than its decoding shows is read as UTF-8, so the runner cannot re-encode its way to them.
  // (A body read as UTF-8 already needs no second reading.)
  if (forms.length > 0 && decode !== utf8) {
    const asUtf8 = utf8(bytes);
    if (spansOf(asUtf8, forms).length > spansOf(text, forms).length) {
      decode = utf8;
      text = asUtf8;
    }
  }
  // Cut where the cap falls in the bytes, as decoded: in UTF-16 that is half as many characters as bytes.
  const body = redact(truncated ? safeCut(text, decode(bytes.subarray(0, MAX_BODY_BYTES)), forms) : text, forms);
  // The target's length describes its bytes: not a body that was cut, blanked or read from another charset.
  if (truncated || body !== text || decode !== utf8) delete headers["content-length"];
  return { status: response.status, headers, body, truncated };
}

/** For ConnectInput fields the type does not list yet: usernames filled from Credential assets. */
export function usernameFrom(input: object, field: string, fallback: string | undefined): string | undefined {
  const usernames = (input as { usernames?: Record<string, string> | null }).usernames;
  return usernames?.[field] || fallback || undefined;
}

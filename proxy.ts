import { NextResponse, type NextRequest } from "next/server";
import { isDevelopment } from "@/lib/env";

/**
 * Stamps each request with an id and sets the security headers. It makes no access decisions:
 * every page, action and route handler authenticates and authorises itself.
 */
const VALID_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

function contentSecurityPolicy(nonce: string, dev: boolean) {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ""}`,
    // Radix and the toaster set inline style attributes; styles cannot run code.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** A UUID path segment with a capital letter: ids are lower case everywhere else (links, trees, tabs). */
const CAPITALISED_ID = /(?<=\/)[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?=\/|$)/g;

/**
 * A console page addressed with an id in capitals (typed, or pasted from a tool that upper-cases
 * UUIDs) goes to its canonical address, so the folder tree and tabs can tell where the person is.
 */
function canonicalPage(request: NextRequest): URL | null {
  if (request.method !== "GET" && request.method !== "HEAD") return null;
  const { pathname } = request.nextUrl;
  if (pathname.startsWith("/api/") || !/[A-F]/.test(pathname)) return null;
  const canonical = pathname.replace(CAPITALISED_ID, (id) => id.toLowerCase());
  if (canonical === pathname) return null;
  const url = request.nextUrl.clone();
  url.pathname = canonical;
  return url;
}

export function proxy(request: NextRequest) {
  const canonical = canonicalPage(request);
  if (canonical) return NextResponse.redirect(canonical, 308);
  const incoming = request.headers.get("x-request-id");
  const requestId = incoming && VALID_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
  const nonce = Buffer.from(crypto.randomUUID()).toString("base64");
  const csp = contentSecurityPolicy(nonce, isDevelopment());

  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("x-request-id", requestId);
  requestHeaders.set("x-nonce", nonce);
  // Where to come back to after signing in, should the page find no session (lib/auth/session.ts).
  requestHeaders.set("x-latch-path", `${request.nextUrl.pathname}${request.nextUrl.search}`);
  requestHeaders.set("Content-Security-Policy", csp);

  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set("x-request-id", requestId);
  response.headers.set("Content-Security-Policy", csp);
  response.headers.set("X-Content-Type-Options", "nosniff");
  response.headers.set("Referrer-Policy", "strict-origin-when-cross-origin");
  response.headers.set("X-Frame-Options", "DENY");
  response.headers.set("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
  if (request.nextUrl.protocol === "https:") {
    response.headers.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  }
  // Everything but static assets is per-user: never let a shared cache keep it.
  response.headers.set("Cache-Control", "no-store, max-age=0");
  return response;
}

export const config = {
  // /api/v1 answers JSON to runners and sets its own headers (lib/api/handler.ts): no nonce to stamp,
  // and the hottest route (invoke) should not pay for a page's proxy.
  // Exactly these files and folders: "/favicon.icoo" or "/_next/staticx" is a page (not found) and gets the headers.
  matcher: ["/((?!_next/static/|_next/image$|favicon\\.ico$|icon\\.svg$|api/v1/|api/v1$).*)"],
};

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

export function proxy(request: NextRequest) {
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
  matcher: ["/((?!_next/static/|_next/image$|favicon\\.ico$|icon\\.svg$|api/v1/).*)"],
};

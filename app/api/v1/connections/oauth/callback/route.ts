import { NextResponse, type NextRequest } from "next/server";
import { z } from "zod";
import { defineRoute } from "@/lib/api/route";
import { getCurrentUser } from "@/lib/auth/session";
import { declineOAuthAuthorization, finishOAuthAuthorization } from "@/lib/connections/oauth";
import { isUuid } from "@/lib/ids";
import { otherMethods } from "@/lib/api/handler";

/**
 * The OAuth app sends the browser back here after the person authorises it (with a code) or
 * declines (with an error). Either way the signed-in person must still hold connections.write on
 * the connection's folder and the state must match the pending authorisation, which the callback
 * uses up (otherwise: not found).
 */
const handler = defineRoute(
  {
    method: "GET",
    path: "/connections/oauth/callback",
    summary: "OAuth authorization callback",
    description: "For browsers, not automations: the OAuth app redirects here after the person authorises it, and Latch redirects on to the connection's page.",
    tags: ["Connections"],
    access: { kind: "session", permission: "connections.write", on: "connection" },
    // Loose: authorization servers add parameters of their own (iss, session_state, scope, …).
    query: z.looseObject({
      state: z.string().min(3).max(200),
      code: z.string().min(1).max(2000).optional(),
      error: z.string().max(200).optional(),
    }),
    response: {
      raw: {
        "303": {
          description: "Back to the connection's page, with ?authorization=done|failed|denied; a browser that is not signed in goes to the sign-in page first, and comes back here after it.",
          headers: { Location: { description: "A relative URL in the console.", schema: { type: "string" } } },
        },
      },
    },
    errors: [404],
  },
  async ({ query, actor, requestId }) => {
    const connectionId = query.state.split(".")[0] ?? "";
    // A relative Location: behind proxies (or `server.mjs -H`) the request's idea of its own origin
    // can differ from the one the browser used, and the session cookie belongs to the latter.
    const back = (outcome: string) =>
      new NextResponse(null, { status: 303, headers: { Location: isUuid(connectionId) ? `/connections/${connectionId}?authorization=${outcome}` : "/folders", "Cache-Control": "no-store" } });
    if (!query.code) return back((await declineOAuthAuthorization({ actor, requestId }, { state: query.state, error: query.error })).declined ? "denied" : "failed");
    const result = await finishOAuthAuthorization({ actor, requestId }, { state: query.state, code: query.code });
    return back(result.ok ? "done" : "failed");
  },
);

/** A browser whose session ended while it was at the app's sign-in page: sign in, then finish here. */
export const GET = Object.assign(
  async (request: NextRequest, context: { params: Promise<Record<string, string | string[]>> }) => {
    const browser = (request.headers.get("accept") ?? "").includes("text/html");
    if (browser && !request.headers.has("authorization") && !(await getCurrentUser())) {
      const back = `${request.nextUrl.pathname}${request.nextUrl.search}`;
      return new NextResponse(null, { status: 303, headers: { Location: `/login?callbackUrl=${encodeURIComponent(back)}`, "Cache-Control": "no-store" } });
    }
    return handler(request, context);
  },
  { openapi: handler.openapi },
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");

import "server-only";
import NextAuth from "next-auth";
import { NextResponse, type NextRequest } from "next/server";
import { getAuthOptions } from "@/lib/auth/options";

type Context = { params: Promise<{ nextauth: string[] }> };

/** A sign-in form or a CSRF token is a few hundred bytes; nothing next-auth takes comes near this. */
const MAX_AUTH_BODY_BYTES = 64 * 1024;

function refuse(status: 400 | 413, message: string): NextResponse {
  return NextResponse.json({ error: { code: status === 400 ? "BAD_REQUEST" : "PAYLOAD_TOO_LARGE", message } }, { status, headers: { "cache-control": "no-store" } });
}

/** Reads a copy of the body, stopping once it is past the limit. */
async function bodyWithin(request: NextRequest, limit: number): Promise<string | null> {
  const stream = request.clone().body;
  if (!stream) return "";
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      // Not awaited: a cancelled copy settles only once the original is cancelled too.
      void reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * next-auth's handlers, for app/api/auth/[...nextauth]. Anyone may call them, signed in or not, so
 * the body is checked first: next-auth parses a JSON body with an unguarded request.json(), and a
 * malformed one answered 500; nor does it bound the body's size.
 */
export async function authRoute(request: NextRequest, context: Context): Promise<Response> {
  if (request.method === "POST") {
    if (Number(request.headers.get("content-length") ?? 0) > MAX_AUTH_BODY_BYTES) return refuse(413, "The request body is too large.");
    const body = await bodyWithin(request, MAX_AUTH_BODY_BYTES);
    if (body === null) return refuse(413, "The request body is too large.");
    if ((request.headers.get("content-type") ?? "").includes("application/json")) {
      try {
        JSON.parse(body);
      } catch {
        return refuse(400, "The request body is not valid JSON.");
      }
    }
  }
  return NextAuth(request, context, getAuthOptions());
}

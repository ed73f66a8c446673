import "server-only";
import NextAuth from "next-auth";
import { NextResponse, type NextRequest } from "next/server";
import { readStreamCapped } from "@/lib/api/handler";
import { getAuthOptions } from "@/lib/auth/options";
import { AppError } from "@/lib/errors";

type Context = { params: Promise<{ nextauth: string[] }> };

/** A sign-in form or a CSRF token is a few hundred bytes; nothing next-auth takes comes near this. */
const MAX_AUTH_BODY_BYTES = 64 * 1024;

const CODES = { 400: "BAD_REQUEST", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE" } as const;

function refuse(status: keyof typeof CODES, message: string, headers: Record<string, string> = {}): NextResponse {
  return NextResponse.json({ error: { code: CODES[status], message } }, { status, headers: { "cache-control": "no-store", ...headers } });
}

/**
 * next-auth's handlers, for app/api/auth/[...nextauth]. Anyone may call them, signed in or not, so
 * the body is checked first: next-auth parses a JSON body with an unguarded request.json(), and a
 * malformed one answered 500; nor does it bound the body's size.
 */
export async function authRoute(request: NextRequest, context: Context): Promise<Response> {
  const [action, provider] = (await context.params).nextauth ?? [];
  // The sign-in form posts its credentials here; next-auth answers any other method with a bare 500.
  if (request.method !== "POST" && action === "callback" && provider === "credentials") {
    return refuse(405, "Sign in with the form at /login: this address takes its POST only.", { allow: "POST" });
  }
  if (request.method === "POST") {
    const tooLarge = () => new AppError("PAYLOAD_TOO_LARGE", "The request body is too large.");
    let body: string;
    try {
      if (Number(request.headers.get("content-length") ?? 0) > MAX_AUTH_BODY_BYTES) throw tooLarge();
      // A copy: next-auth reads the request itself afterwards.
      body = (await readStreamCapped(request.clone().body, MAX_AUTH_BODY_BYTES, tooLarge)).toString("utf8");
    } catch (error) {
      if (error instanceof AppError) return refuse(error.code === "PAYLOAD_TOO_LARGE" ? 413 : 400, error.userMessage);
      throw error;
    }
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

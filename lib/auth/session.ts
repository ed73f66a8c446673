import "server-only";
import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { decode } from "next-auth/jwt";
import { cache } from "react";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { isUuid } from "@/lib/ids";

/**
 * The name next-auth gives the session cookie (lib/auth/options.ts useSecureCookies): only that one is
 * read. Over https, a plain-named cookie could have been planted over http by someone on the network
 * (a session of theirs, used whenever the person has no __Secure- one): it is ignored.
 */
export const sessionCookieName = () => (env().NEXTAUTH_URL?.startsWith("https://") ? "__Secure-next-auth.session-token" : "next-auth.session-token");

/**
 * The real authentication check. The JWT only proves which server-side session it was issued for;
 * that session must still exist and its user must still be active — deactivation and sign-out
 * therefore end access at the very next request.
 */
export const getCurrentUser = cache(async (): Promise<Actor | null> => {
  const jar = await cookies();
  const raw = jar.get(sessionCookieName())?.value;
  if (!raw) return null;
  let token;
  try {
    token = await decode({ token: raw, secret: env().NEXTAUTH_SECRET });
  } catch {
    return null;
  }
  const sid = token?.sid;
  if (!isUuid(sid) || !isUuid(token?.sub)) return null;
  const session = await db().session.findUnique({ where: { id: sid }, include: { user: true } });
  if (!session || session.userId !== token.sub || session.expiresAt <= new Date() || !session.user.active) return null;
  const { user } = session;
  return { id: user.id, email: user.email, name: user.name, isAdmin: user.isAdmin, sessionId: session.id };
});

/** The page asked for, as proxy.ts recorded it (a server component cannot read its own URL). */
export const REQUESTED_PATH_HEADER = "x-latch-path";

/**
 * For pages and layouts: no session sends the browser to sign in, and back to the page it asked
 * for afterwards (a shared link, or any click after the session ended). The login page checks the
 * path (safeCallbackPath) before it goes there.
 */
export async function requireUser(): Promise<Actor> {
  const user = await getCurrentUser();
  if (!user) {
    const path = (await headers()).get(REQUESTED_PATH_HEADER);
    redirect(path && path !== "/" ? `/login?callbackUrl=${encodeURIComponent(path)}` : "/login");
  }
  return user;
}

/** For actions and route handlers. */
export async function requireActor(): Promise<Actor> {
  const user = await getCurrentUser();
  if (!user) throw new AppError("UNAUTHENTICATED", "Your session has ended. Sign in again.");
  return user;
}

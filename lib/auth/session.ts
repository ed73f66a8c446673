import "server-only";
import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { decode } from "next-auth/jwt";
import { cache } from "react";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { isUuid } from "@/lib/ids";

const COOKIE_NAMES = ["__Secure-next-auth.session-token", "next-auth.session-token"];

/**
 * The real authentication check. The JWT only proves which server-side session it was issued for;
 * that session must still exist and its user must still be active — deactivation and sign-out
 * therefore end access at the very next request.
 */
export const getCurrentUser = cache(async (): Promise<Actor | null> => {
  const jar = await cookies();
  const raw = COOKIE_NAMES.map((name) => jar.get(name)?.value).find(Boolean);
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

/** For pages and layouts: no session sends the browser to sign in. */
export async function requireUser(): Promise<Actor> {
  const user = await getCurrentUser();
  if (!user) redirect("/login");
  return user;
}

/** For actions and route handlers. */
export async function requireActor(): Promise<Actor> {
  const user = await getCurrentUser();
  if (!user) throw new AppError("UNAUTHENTICATED", "Your session has ended. Sign in again.");
  return user;
}

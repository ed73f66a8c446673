import "server-only";
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { z } from "zod";
import { recordAuditEvent } from "@/lib/audit/record";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { requestLogger } from "@/lib/log";
import { clientAddressFrom, requestIdFrom } from "@/lib/request-context";
import { dummyPasswordHash, verifyPassword } from "./password";
import { confirmFailure, pruneSignInState, reserveAttempt, settleSuccess } from "./throttle";

const PRUNE_CHANCE = 0.02;

export const SESSION_MAX_AGE_SECONDS = 12 * 60 * 60;

/** The only texts a failed sign-in can show: one for wrong credentials, one for the lock-out. */
export const SIGN_IN_ERRORS = {
  invalid: "Invalid e-mail or password.",
  locked: "Too many failed sign-ins. Wait a few minutes, then try again.",
  unavailable: "Latch cannot check sign-ins right now. Try again in a moment; if it goes on, tell your administrator.",
} as const;
const KNOWN_SIGN_IN_ERRORS = new Set<string>(Object.values(SIGN_IN_ERRORS));

const credentialsSchema = z.object({
  // No control characters (a NUL cannot even reach the database): such an address is simply not one.
  email: z.string().trim().toLowerCase().max(254).regex(/^[^\p{Cc}]*$/u),
  password: z.string().max(1024),
});

type AuthorizedUser = { id: string; email: string; name: string; sessionId: string };

/**
 * next-auth sends an error's message back to the browser (in the redirect it answers with), so only
 * the texts above may leave here. Anything else (Latch's database unreachable, say) is logged with the
 * request id and answered with "cannot check sign-ins", not taken for a wrong password.
 */
export async function authorizeCredentials(raw: unknown, headers: Record<string, string | string[] | undefined>): Promise<AuthorizedUser> {
  const requestId = requestIdFrom(new Headers({ "x-request-id": String(headers["x-request-id"] ?? "") }));
  try {
    return await checkCredentials(raw, headers, requestId);
  } catch (error) {
    if (error instanceof Error && KNOWN_SIGN_IN_ERRORS.has(error.message)) throw error;
    requestLogger(requestId).error({ err: error, event: "sign_in.error" }, "sign-in could not be checked");
    throw new Error(SIGN_IN_ERRORS.unavailable);
  }
}

async function checkCredentials(raw: unknown, headers: Record<string, string | string[] | undefined>, requestId: string): Promise<AuthorizedUser> {
  const parsed = credentialsSchema.safeParse(raw);
  if (!parsed.success || !parsed.data.email || !parsed.data.password) throw new Error(SIGN_IN_ERRORS.invalid);
  const { email, password } = parsed.data;
  const keys = { email, address: clientAddressFrom(headers) };
  const log = requestLogger(requestId);

  // The client's address, as the throttle counts it: what `npm run auth:unlock -- <address>` takes.
  if (!(await reserveAttempt(keys))) {
    log.warn({ event: "sign_in.locked", clientAddress: keys.address }, "sign-in refused: throttled");
    throw new Error(SIGN_IN_ERRORS.locked);
  }

  const user = await db().user.findUnique({ where: { email } });
  // Verify against a dummy hash for unknown users so response time does not reveal which e-mails exist.
  const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
  if (!user || !ok || !user.active) {
    await confirmFailure(keys);
    await recordAuditEvent(db(), {
      actor: user ? { id: user.id, email: user.email } : null,
      action: "user.sign_in",
      target: { type: "user", id: user?.id, label: email },
      outcome: "FAILURE",
      requestId,
      details: { reason: !user ? "unknown_user" : !user.active ? "deactivated" : "wrong_password", clientAddress: keys.address },
    });
    log.info({ event: "sign_in.failed", clientAddress: keys.address }, "sign-in failed");
    throw new Error(SIGN_IN_ERRORS.invalid);
  }

  await settleSuccess(keys);
  const userAgent = headers["user-agent"];
  const session = await db().$transaction(async (tx) => {
    // The password checked above must still be the user's, and the user active: a reset or change that
    // committed during the (deliberately slow) check ended the sessions there were, not this one. With
    // the row share-locked, a reset that comes now waits, and then ends this session too.
    const [current] = await tx.$queryRaw<{ password_hash: string; active: boolean }[]>`SELECT password_hash, active FROM users WHERE id = ${user.id}::uuid FOR SHARE`;
    if (!current || current.password_hash !== user.passwordHash || !current.active) throw new Error(SIGN_IN_ERRORS.invalid);
    const created = await tx.session.create({
      data: {
        userId: user.id,
        expiresAt: new Date(Date.now() + SESSION_MAX_AGE_SECONDS * 1000),
        userAgent: typeof userAgent === "string" ? userAgent.slice(0, 300) : null,
      },
    });
    await recordAuditEvent(tx, {
      actor: { id: user.id, email: user.email },
      action: "user.sign_in",
      target: { type: "user", id: user.id, label: user.email },
      requestId,
    });
    return created;
  });
  log.info({ event: "sign_in.succeeded", userId: user.id }, "signed in");
  // Now and then, what no sign-in will read again goes; the answer does not wait for it.
  if (Math.random() < PRUNE_CHANCE) void pruneSignInState().catch((error: unknown) => log.warn({ err: error }, "could not prune expired sessions and sign-in counters"));
  return { id: user.id, email: user.email, name: user.name, sessionId: session.id };
}

export function getAuthOptions(): NextAuthOptions {
  const secure = env().NEXTAUTH_URL?.startsWith("https://") ?? false;
  return {
    secret: env().NEXTAUTH_SECRET,
    session: { strategy: "jwt", maxAge: SESSION_MAX_AGE_SECONDS },
    pages: { signIn: "/login", error: "/login" },
    useSecureCookies: secure,
    providers: [
      CredentialsProvider({
        name: "E-mail and password",
        credentials: { email: { label: "E-mail", type: "email" }, password: { label: "Password", type: "password" } },
        authorize: (credentials, req) => authorizeCredentials(credentials, req.headers ?? {}),
      }),
    ],
    callbacks: {
      // The cookie carries only the user id and the server-side session id; every request re-checks both.
      jwt({ token, user }) {
        if (user) {
          const u = user as unknown as AuthorizedUser;
          return { sub: u.id, sid: u.sessionId, name: u.name, email: u.email };
        }
        return token;
      },
      session({ session }) {
        return { expires: session.expires, user: { name: session.user?.name, email: session.user?.email } };
      },
    },
    events: {
      async signOut({ token }) {
        const sid = typeof token?.sid === "string" ? token.sid : null;
        if (sid) await db().session.deleteMany({ where: { id: sid } });
      },
    },
    logger: {
      error: (code, metadata) => requestLogger("next-auth").error({ code, metadata }, "next-auth error"),
      warn: (code) => requestLogger("next-auth").warn({ code }, "next-auth warning"),
      debug: () => {},
    },
  };
}

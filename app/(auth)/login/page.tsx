import { KeyRoundIcon } from "lucide-react";
import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { LoginForm } from "@/components/auth/login-form";
import { safeCallbackPath } from "@/lib/auth/callback";
import { getCurrentUser, sessionCookieName } from "@/lib/auth/session";

export const metadata = { title: "Sign in" };

export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const params = await searchParams;
  const callbackUrl = safeCallbackPath(params.callbackUrl);
  if (await getCurrentUser()) redirect(callbackUrl);
  // A session cookie that no longer signs in: the session expired, was signed out elsewhere or was
  // ended by an administrator. Signing out here clears the cookie, so that says nothing.
  const sessionEnded = (await cookies()).has(sessionCookieName());
  return (
    <main id="main" className="flex min-h-dvh items-center justify-center bg-muted/40 p-4">
      <div className="w-full max-w-sm">
        <div className="mb-8 flex flex-col items-center gap-3 text-center">
          <span className="flex size-11 items-center justify-center rounded-xl bg-primary text-primary-foreground shadow-sm">
            <KeyRoundIcon className="size-5" aria-hidden="true" />
          </span>
          <h1 className="text-2xl font-semibold tracking-tight">Sign in to Latch</h1>
          <p className="text-sm text-muted-foreground">Credentials stay in your vaults. Connections just work.</p>
        </div>
        {sessionEnded ? (
          <p role="status" className="mb-4 rounded-md border border-info/30 bg-info/10 px-3 py-2 text-sm">
            Your session has ended. Sign in again to go on.
          </p>
        ) : null}
        <div className="rounded-xl border bg-card p-6 shadow-sm">
          <LoginForm callbackUrl={callbackUrl} />
        </div>
      </div>
    </main>
  );
}

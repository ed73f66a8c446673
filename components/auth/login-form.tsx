"use client";

import { LoaderCircleIcon } from "lucide-react";
import { signIn } from "next-auth/react";
import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { FormField } from "@/components/shared/form-field";
import { useHydrated } from "@/components/shared/use-hydrated";

// lib/auth/options.ts SIGN_IN_ERRORS (not imported: that module is server-only).
const INVALID = "Invalid e-mail or password.";
const KNOWN_ERRORS = new Set([
  INVALID,
  "Too many failed sign-ins. Wait a few minutes, then try again.",
  "Latch cannot check sign-ins right now. Try again in a moment; if it goes on, tell your administrator.",
]);

/**
 * The sign-in form. On the sign-in page it goes to `callbackUrl` afterwards; in the "session ended"
 * dialog (components/auth/session-ended.tsx) it signs the same person in again (`email`, fixed) and
 * calls `onSignedIn`, leaving the page and what was entered on it as they are.
 */
export function LoginForm({ callbackUrl = "/", email, onSignedIn }: { callbackUrl?: string; email?: string; onSignedIn?: () => void }) {
  const router = useRouter();
  const [pending, setPending] = useState(false);
  // Until the console has rendered: the button stays busy, and a second click cannot sign in twice.
  const [navigating, startNavigation] = useTransition();
  const [error, setError] = useState<string | null>(null);
  const hydrated = useHydrated();

  async function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    setPending(true);
    setError(null);
    try {
      const result = await signIn("credentials", {
        email: String(data.get("email") ?? ""),
        password: String(data.get("password") ?? ""),
        redirect: false,
      });
      if (!result || result.error) {
        setError(result?.error && KNOWN_ERRORS.has(result.error) ? result.error : INVALID);
        return;
      }
      if (onSignedIn) return onSignedIn();
      startNavigation(() => {
        router.replace(callbackUrl);
        router.refresh();
      });
    } catch {
      setError("Could not reach Latch. Check your connection and try again.");
    } finally {
      setPending(false);
    }
  }

  const busy = pending || navigating;
  // A refused e-mail or password is about both fields (which one is not said): each points at the message.
  // An outage or a lock-out says nothing of what was typed.
  const invalid = error === INVALID ? { "aria-invalid": true, "aria-describedby": "login-error" } : {};
  return (
    // POST, and the button enabled only once hydrated: the password never goes into a URL, whatever is clicked when.
    <form method="post" onSubmit={submit} className="grid gap-5" aria-describedby={error ? "login-error" : undefined}>
      {error ? (
        <p id="login-error" role="alert" className="rounded-md border border-danger/30 bg-danger/10 px-3 py-2 text-sm text-danger">
          {error}
        </p>
      ) : null}
      <FormField label="E-mail" id="email">
        <Input name="email" type="email" autoComplete="username" required autoFocus={!email} defaultValue={email} readOnly={!!email} {...invalid} />
      </FormField>
      <FormField label="Password" id="password">
        <Input name="password" type="password" autoComplete="current-password" required {...invalid} />
      </FormField>
      <Button type="submit" pending={busy} disabled={!hydrated} className="w-full">
        {busy ? <LoaderCircleIcon className="animate-spin" aria-hidden="true" /> : null}
        {busy ? "Signing in…" : "Sign in"}
      </Button>
    </form>
  );
}

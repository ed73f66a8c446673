"use client";

import { Button } from "@/components/ui/button";

/** What an unexpected failure says everywhere: a generic message and the reference the server log is keyed by. */
export function UnexpectedError({ digest, reset }: { digest?: string; reset: () => void }) {
  return (
    <div className="flex min-h-[60dvh] flex-col items-center justify-center gap-4 p-8 text-center">
      <h1 className="text-2xl font-semibold tracking-tight">Something went wrong</h1>
      <p className="max-w-md text-muted-foreground">
        Latch could not show this page. Try again; if it keeps happening, give your administrator this reference:{" "}
        <code className="rounded bg-muted px-1.5 py-0.5 font-mono text-sm">{digest ?? "unknown"}</code>
      </p>
      <Button onClick={reset}>Try again</Button>
    </div>
  );
}

"use client";

import { Button } from "@/components/ui/button";

/**
 * What an unexpected failure says everywhere: a generic message and the reference the server log is
 * keyed by (a failure in the browser has none). "Try again" asks the server for the page afresh:
 * `retry`, not `reset`, which would only redraw the same failed answer.
 */
export function UnexpectedError({ digest, retry }: { digest?: string; retry: () => void }) {
  return (
    <div className="flex min-h-[60dvh] flex-col items-center justify-center gap-4 p-8 text-center">
      <h1 className="text-2xl font-semibold tracking-tight">Something went wrong</h1>
      <p className="max-w-md text-muted-foreground">
        Latch could not show this page. Try again
        {digest ? (
          <>
            ; if it keeps happening, give your administrator this reference:{" "}
            <code className="rounded bg-muted px-1.5 py-0.5 font-mono text-sm">{digest}</code>
          </>
        ) : (
          "; if it keeps happening, reload the page."
        )}
      </p>
      <Button onClick={retry}>Try again</Button>
    </div>
  );
}

"use client";

import { UnexpectedError } from "@/components/shared/unexpected-error";

/** Unexpected failures outside the console (sign-in): no shell here, so this page is its own main region. */
export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <main id="main">
      <UnexpectedError digest={error.digest} reset={reset} />
    </main>
  );
}

"use client";

import { UnexpectedError } from "@/components/shared/unexpected-error";

/** Unexpected failures outside the console (sign-in): no shell here, so this page is its own main region. */
export default function ErrorPage({ error, retry }: { error: Error & { digest?: string }; retry: () => void }) {
  return (
    <main id="main">
      <UnexpectedError digest={error.digest} retry={retry} />
    </main>
  );
}

"use client";

import { UnexpectedError } from "@/components/shared/unexpected-error";

/** Unexpected failures of a console page: inside the shell, so the sidebar still leads elsewhere. */
export default function ConsoleError({ error, retry }: { error: Error & { digest?: string }; retry: () => void }) {
  return <UnexpectedError digest={error.digest} retry={retry} />;
}

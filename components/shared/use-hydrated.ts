"use client";

import { useSyncExternalStore } from "react";

const subscribe = () => () => {};

/**
 * False in the server's HTML and until React has taken over the page, true after. Forms keep their
 * submit button disabled until then: a click that lands before hydration would otherwise submit the
 * form natively (a GET to the same page, with any named field, a password too, in the URL) and lose
 * what was typed.
 */
export function useHydrated(): boolean {
  return useSyncExternalStore(
    subscribe,
    () => true,
    () => false,
  );
}

"use client";

import { useRouter } from "next/navigation";
import { useTransition } from "react";

/**
 * Opens what a form just saved (its page, re-rendered), in a transition: `opening` stays true until
 * that page has rendered. A form shows itself busy until then, so a second Create cannot make a
 * second item and nothing typed meanwhile is dropped when the fresh page replaces the form.
 */
export function useOpenSaved() {
  const router = useRouter();
  const [opening, startOpening] = useTransition();
  const open = (href: string) =>
    startOpening(() => {
      router.push(href);
      router.refresh();
    });
  return { opening, open };
}

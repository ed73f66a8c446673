"use client";

import { usePathname } from "next/navigation";
import { useEffect, useRef } from "react";

/**
 * Next leaves focus alone when it navigates. After a navigation that removed the focused control (the
 * Connect button that led to the new connection, a deleted asset's Delete), focus fell to <body>, and
 * the next Tab started from the top of the page again. It goes to <main> instead; a navigation that
 * leaves focus on something (a sidebar link) keeps it there, and a full page load is left alone.
 */
export function FocusAfterNavigation({ targetId }: { targetId: string }) {
  const pathname = usePathname();
  const previous = useRef(pathname);
  useEffect(() => {
    if (previous.current === pathname) return;
    previous.current = pathname;
    const frame = requestAnimationFrame(() => {
      const active = document.activeElement;
      if (active && active !== document.body) return;
      document.getElementById(targetId)?.focus({ preventScroll: true });
    });
    return () => cancelAnimationFrame(frame);
  }, [pathname, targetId]);
  return null;
}

"use client";

import { usePathname, useSearchParams } from "next/navigation";
import { useEffect, useRef } from "react";

/**
 * Next leaves focus alone when it navigates. After a navigation that removed the focused control (the
 * Connect button that led to the new connection, a deleted asset's Delete), focus fell to <body>, and
 * the next Tab started from the top of the page again. It goes to <main> instead; a navigation that
 * leaves focus on something (a sidebar link) keeps it there, and a full page load is left alone.
 */
export function FocusAfterNavigation({ targetId }: { targetId: string }) {
  // The query too: some pages are steps of one address (the connector chooser's ?kind=).
  const location = `${usePathname()}?${useSearchParams().toString()}`;
  const previous = useRef(location);
  useEffect(() => {
    if (previous.current === location) return;
    previous.current = location;
    const frame = requestAnimationFrame(() => {
      const active = document.activeElement;
      if (active && active !== document.body) return;
      document.getElementById(targetId)?.focus({ preventScroll: true });
    });
    return () => cancelAnimationFrame(frame);
  }, [location, targetId]);
  return null;
}

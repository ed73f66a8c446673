"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { cn } from "@/lib/utils";

/**
 * Route-backed tabs: each tab is a link, so they work without JavaScript and keep their URL. On a
 * narrow screen the row scrolls sideways; a fade at an edge shows that more tabs lie beyond it, and
 * the current tab is scrolled into view.
 */
const FADE_PX = 48;

export function FolderTabs({ tabs }: { tabs: { href: string; label: string }[] }) {
  const pathname = usePathname();
  const list = useRef<HTMLUListElement>(null);
  const [more, setMore] = useState({ left: false, right: false });

  useEffect(() => {
    const el = list.current;
    if (!el) return;
    const measure = () => {
      const left = el.scrollLeft > 1;
      const right = el.scrollLeft + el.clientWidth < el.scrollWidth - 1;
      setMore((was) => (was.left === left && was.right === right ? was : { left, right }));
    };
    // Sideways only (scrollIntoView could also move the page), and clear of the fade (3rem).
    const current = el.querySelector("[aria-current]")?.getBoundingClientRect();
    const box = el.getBoundingClientRect();
    if (current && current.right > box.right - FADE_PX) el.scrollLeft += current.right - box.right + FADE_PX;
    else if (current && current.left < box.left + FADE_PX) el.scrollLeft -= box.left + FADE_PX - current.left;
    measure();
    el.addEventListener("scroll", measure, { passive: true });
    const resize = new ResizeObserver(measure);
    resize.observe(el);
    return () => {
      el.removeEventListener("scroll", measure);
      resize.disconnect();
    };
  }, [pathname]);

  const fade = more.left && more.right ? "edges" : more.left ? "left" : more.right ? "right" : null;
  // On a tab's own page it is the page; below it (a new asset, a new connection) it is still the section
  // the person is in: the longest tab address the path starts with.
  const section = tabs.filter((tab) => pathname === tab.href || pathname.startsWith(`${tab.href}/`)).sort((a, b) => b.href.length - a.href.length)[0]?.href;
  return (
    <nav aria-label="Folder sections" className="border-b">
      <ul
        ref={list}
        data-more={fade ?? undefined}
        className={cn(
          "-mb-px flex gap-1 overflow-x-auto [scrollbar-width:thin]",
          fade === "right" && "[mask-image:linear-gradient(to_right,black_calc(100%-3rem),transparent)]",
          fade === "left" && "[mask-image:linear-gradient(to_left,black_calc(100%-3rem),transparent)]",
          fade === "edges" && "[mask-image:linear-gradient(to_right,transparent,black_3rem,black_calc(100%-3rem),transparent)]",
        )}
      >
        {tabs.map((tab) => {
          const active = tab.href === section;
          return (
            <li key={tab.href} className="shrink-0">
              <Link
                href={tab.href}
                aria-current={active ? (pathname === tab.href ? "page" : "location") : undefined}
                className={cn(
                  "inline-flex h-10 items-center border-b-2 px-3 text-sm font-medium transition-colors focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-ring",
                  active ? "border-primary text-foreground" : "border-transparent text-muted-foreground hover:text-foreground",
                )}
              >
                {tab.label}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

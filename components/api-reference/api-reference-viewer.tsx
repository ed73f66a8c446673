"use client";

import { useEffect, useRef } from "react";
import dynamic from "next/dynamic";
import { useTheme } from "next-themes";
import "@scalar/api-reference-react/style.css";

// Scalar mounts a Vue app into a div and touches the DOM as it loads: browser only.
const ApiReferenceReact = dynamic(() => import("@scalar/api-reference-react").then((m) => m.ApiReferenceReact), {
  ssr: false,
  loading: () => <p className="text-sm text-muted-foreground">Loading the API reference…</p>,
});

// The console's fonts and colours (Scalar's web fonts would come from a CDN the CSP refuses), and the
// sticky header's height so Scalar's own sticky sidebar sits below it.
const customCss = `
body.light-mode, body.dark-mode, .scalar-app {
  --scalar-font: var(--font-sans);
  --scalar-font-code: var(--font-mono);
  --scalar-background-1: var(--card);
  --scalar-background-2: var(--muted);
  --scalar-background-3: var(--accent);
  --scalar-color-1: var(--foreground);
  --scalar-color-2: var(--muted-foreground);
  --scalar-color-3: var(--muted-foreground);
  --scalar-color-accent: var(--primary);
  --scalar-border-color: var(--border);
  --scalar-custom-header-height: 3.5rem;
}
/* Scalar's method colours (GET, POST, DELETE, ...) fall below WCAG AA's 4.5:1 on the console's backgrounds. */
body.light-mode {
  --scalar-color-blue: #1d4ed8;
  --scalar-color-green: #166534;
  --scalar-color-orange: #9a3412;
  --scalar-color-red: #b91c1c;
  --scalar-color-purple: #7e22ce;
  --scalar-color-yellow: #854d0e;
}
body.dark-mode {
  --scalar-color-blue: #60a5fa;
  --scalar-color-green: #4ade80;
  --scalar-color-orange: #fb923c;
  --scalar-color-red: #f87171;
  --scalar-color-purple: #c084fc;
  --scalar-color-yellow: #facc15;
}
/* The sidebar's expand buttons are 22 px: WCAG 2.2 asks for 24 px targets. */
.scalar-app li[data-sidebar-id] > div > button[aria-expanded] {
  padding: 4px;
}
`;

/**
 * "Test Request" with no token typed in would send an empty `Authorization: Bearer`, which the API
 * refuses (a present header decides alone); dropping it lets the request ride on the console session.
 */
function withoutEmptyBearer(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  if (/^Bearer\s*$/i.test(request.headers.get("authorization") ?? "x")) request.headers.delete("authorization");
  return fetch(request);
}

/**
 * What Scalar renders that a screen reader would stumble on, mended as it appears (it renders as the
 * reader expands things): its copy buttons on code blocks are icons with no name ("button"); its own
 * <main> sits inside the console's, a second main landmark; and its toaster is a second region named
 * like the console's ("Notifications alt+T").
 */
function useAccessibleScalar(root: React.RefObject<HTMLDivElement | null>) {
  useEffect(() => {
    const element = root.current;
    if (!element) return;
    const name = () => {
      element.querySelectorAll("button.scalar-code-copy:not([aria-label])").forEach((b) => b.setAttribute("aria-label", "Copy code"));
      element.querySelectorAll("main:not([role])").forEach((m) => m.setAttribute("role", "region"));
      element.querySelectorAll('section[aria-label^="Notifications"]').forEach((t) => t.setAttribute("aria-label", "API reference notifications"));
    };
    name();
    const observer = new MutationObserver(name);
    observer.observe(element, { childList: true, subtree: true });
    return () => observer.disconnect();
  }, [root]);
}

/** The OpenAPI document rendered by Scalar, offline: the document is passed in, nothing is fetched from elsewhere. */
export function ApiReferenceViewer({ document }: { document: Record<string, unknown> }) {
  const { resolvedTheme } = useTheme();
  const root = useRef<HTMLDivElement>(null);
  useAccessibleScalar(root);
  return (
    <div ref={root} className="rounded-lg border bg-card">
      <ApiReferenceReact
        // Scalar reads its dark-mode setting once: a theme switched while the page is open needs a new viewer.
        key={resolvedTheme}
        configuration={{
          content: document,
          withDefaultFonts: false,
          customCss,
          forceDarkModeState: resolvedTheme === "dark" ? "dark" : "light",
          hideDarkModeToggle: true,
          showDeveloperTools: "never",
          telemetry: false,
          agent: { disabled: true },
          mcp: { disabled: true },
          persistAuth: false,
          customFetch: withoutEmptyBearer,
          // The page's own button downloads the document; Scalar's would be a second one.
          documentDownloadType: "none",
          hideClientButton: false,
          defaultOpenFirstTag: true,
        }}
      />
    </div>
  );
}

"use client";

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

/** The OpenAPI document rendered by Scalar, offline: the document is passed in, nothing is fetched from elsewhere. */
export function ApiReferenceViewer({ document }: { document: Record<string, unknown> }) {
  const { resolvedTheme } = useTheme();
  return (
    <div className="rounded-lg border bg-card">
      <ApiReferenceReact
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
          documentDownloadType: "json",
          hideClientButton: false,
          defaultOpenFirstTag: true,
        }}
      />
    </div>
  );
}

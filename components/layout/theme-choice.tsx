"use client";

import * as React from "react";
import { useTheme } from "next-themes";
import { MonitorIcon, MoonIcon, SunIcon } from "lucide-react";

import { Button } from "@/components/ui/button";

const order = ["light", "dark", "system"] as const;
type ThemeChoice = (typeof order)[number];

const labels: Record<ThemeChoice, string> = { light: "Light", dark: "Dark", system: "System" };

const subscribe = () => () => {};

/** Cycles light → dark → system. The theme is unknown on the server, so the icon waits for mount. */
export function ThemeToggle({ className }: { className?: string }) {
  const { theme, setTheme } = useTheme();
  const mounted = React.useSyncExternalStore(
    subscribe,
    () => true,
    () => false,
  );
  const current: ThemeChoice = mounted && (order as readonly string[]).includes(theme ?? "") ? (theme as ThemeChoice) : "system";
  const next = order[(order.indexOf(current) + 1) % order.length] ?? "system";
  const Icon = !mounted ? MonitorIcon : current === "light" ? SunIcon : current === "dark" ? MoonIcon : MonitorIcon;

  return (
    <Button
      variant="ghost"
      size="icon"
      aria-label="Toggle theme"
      title={mounted ? `Theme: ${labels[current]} (switch to ${labels[next].toLowerCase()})` : "Toggle theme"}
      data-theme-choice={mounted ? current : undefined}
      onClick={() => setTheme(next)}
      className={className}
    >
      <Icon className="size-[1.125rem]" aria-hidden="true" />
    </Button>
  );
}

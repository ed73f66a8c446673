"use client";

import * as React from "react";
import { useTheme } from "next-themes";
import { MonitorIcon, MoonIcon, SunIcon, type LucideIcon } from "lucide-react";

import { cn } from "@/lib/utils";
import { Button } from "@/components/ui/button";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuLabel,
  DropdownMenuRadioGroup,
  DropdownMenuRadioItem,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";

const choices = [
  { value: "light", label: "Light", icon: SunIcon },
  { value: "dark", label: "Dark", icon: MoonIcon },
  { value: "system", label: "System", icon: MonitorIcon },
] as const satisfies ReadonlyArray<{ value: string; label: string; icon: LucideIcon }>;

type ThemeChoice = (typeof choices)[number];

const subscribe = () => () => {};

/** The person's choice, or null until mounted: the theme lives in the browser, so the server cannot know it. */
function useThemeChoice(): [ThemeChoice | null, (value: string) => void] {
  const { theme, setTheme } = useTheme();
  const mounted = React.useSyncExternalStore(
    subscribe,
    () => true,
    () => false,
  );
  const choice = mounted ? (choices.find((c) => c.value === theme) ?? choices[2]) : null;
  return [choice, setTheme];
}

/** The header's theme menu: its name says the current choice ("Theme: Dark"); the menu offers all three. */
export function ThemeMenu({ className }: { className?: string }) {
  const [choice, setTheme] = useThemeChoice();
  const Icon = choice?.icon ?? MonitorIcon;
  return (
    <DropdownMenu modal={false}>
      <DropdownMenuTrigger asChild>
        <Button
          variant="ghost"
          size="icon"
          aria-label={choice ? `Theme: ${choice.label}` : "Theme"}
          title={choice ? `Theme: ${choice.label}` : "Theme"}
          className={className}
        >
          <Icon className="size-[1.125rem]" aria-hidden="true" />
        </Button>
      </DropdownMenuTrigger>
      <DropdownMenuContent align="end" className="w-40">
        <DropdownMenuLabel className="text-xs font-medium text-muted-foreground">Theme</DropdownMenuLabel>
        <DropdownMenuRadioGroup value={choice?.value} onValueChange={setTheme}>
          {choices.map(({ value, label, icon: ItemIcon }) => (
            <DropdownMenuRadioItem key={value} value={value}>
              <ItemIcon aria-hidden="true" />
              {label}
            </DropdownMenuRadioItem>
          ))}
        </DropdownMenuRadioGroup>
      </DropdownMenuContent>
    </DropdownMenu>
  );
}

/** Settings' theme choice: three radio buttons in one row, the current one checked; arrow keys move between them. */
export function ThemeChoiceGroup() {
  const [choice, setTheme] = useThemeChoice();
  return (
    <div role="radiogroup" aria-label="Theme" className="inline-flex rounded-lg border bg-muted/40 p-1">
      {choices.map(({ value, label, icon: Icon }) => (
        <label
          key={value}
          className={cn(
            "relative flex cursor-pointer items-center gap-2 rounded-md px-3 py-1.5 text-sm font-medium text-muted-foreground transition-colors has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-ring hover:text-foreground",
            choice?.value === value && "bg-background text-foreground shadow-xs",
          )}
        >
          <input
            type="radio"
            name="theme"
            value={value}
            checked={choice?.value === value}
            disabled={!choice}
            onChange={() => setTheme(value)}
            // Over the whole option, invisible: a click anywhere on it is a click on the radio.
            className="absolute inset-0 m-0 cursor-pointer appearance-none rounded-md opacity-0"
          />
          <Icon className="size-4" aria-hidden="true" />
          {label}
        </label>
      ))}
    </div>
  );
}

"use client";

import { useHydrated } from "./use-hydrated";

const STYLES = {
  date: { dateStyle: "medium" },
  datetime: { dateStyle: "medium", timeStyle: "short" },
  seconds: { dateStyle: "medium", timeStyle: "medium" },
} as const satisfies Record<string, Intl.DateTimeFormatOptions>;

export type TimeStyle = keyof typeof STYLES;

/**
 * A moment in the reader's own time zone, in one format across the console. The server does not
 * know that zone, so its HTML shows the moment in UTC and says so; once the page is live, the
 * browser shows local time (the tooltip keeps the exact ISO time). Server pages pass a Date
 * straight through: it survives the trip to the client.
 */
export function LocalTime({ value, style = "datetime", className }: { value: Date | string; style?: TimeStyle; className?: string }) {
  const hydrated = useHydrated();
  const date = typeof value === "string" ? new Date(value) : value;
  const text = hydrated
    ? new Intl.DateTimeFormat("en", STYLES[style]).format(date)
    : `${new Intl.DateTimeFormat("en", { ...STYLES[style], timeZone: "UTC" }).format(date)}${style === "date" ? "" : " UTC"}`;
  return (
    <time dateTime={date.toISOString()} title={date.toISOString()} className={className}>
      {text}
    </time>
  );
}

"use client";

import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useTransition } from "react";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";

const ALL = "all";

/**
 * A list filter kept in the URL (`?<param>=`), so it survives reloads and links; choosing one goes
 * back to the first page. `options` are the values the list's query schema takes.
 */
export function UrlSelectFilter({ param, label, allLabel, options, className = "w-44" }: { param: string; label: string; allLabel: string; options: readonly { value: string; label: string }[]; className?: string }) {
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const [pending, startTransition] = useTransition();
  const asked = params.get(param);
  const chosen = options.find((o) => o.value === asked);
  return (
    <Select
      value={chosen?.value ?? ALL}
      onValueChange={(value) => {
        const next = new URLSearchParams(params);
        if (value === ALL) next.delete(param);
        else next.set(param, value);
        next.delete("page");
        startTransition(() => router.replace(`${pathname}${next.size ? `?${next}` : ""}`));
      }}
    >
      <SelectTrigger className={className} aria-label={label} aria-busy={pending || undefined}>
        {/* Given, not looked up: Radix finds an item's text only once the menu has been rendered, so the
            trigger was blank until first opened. */}
        <SelectValue>{chosen?.label ?? allLabel}</SelectValue>
      </SelectTrigger>
      <SelectContent>
        <SelectItem value={ALL}>{allLabel}</SelectItem>
        {options.map((o) => (
          <SelectItem key={o.value} value={o.value}>
            {o.label}
          </SelectItem>
        ))}
      </SelectContent>
    </Select>
  );
}

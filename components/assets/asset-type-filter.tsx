"use client";

import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useTransition } from "react";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { ASSET_TYPES, ASSET_TYPE_LABELS } from "@/lib/assets/schemas";

const ALL = "all";

/** Filters the assets list by type through the URL (`?type=`), so the filter survives reloads and links. */
export function AssetTypeFilter() {
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const [pending, startTransition] = useTransition();
  const current = params.get("type") ?? ALL;
  return (
    <Select
      value={ASSET_TYPES.includes(current as never) ? current : ALL}
      onValueChange={(value) => {
        const next = new URLSearchParams(params);
        if (value === ALL) next.delete("type");
        else next.set("type", value);
        next.delete("page");
        startTransition(() => router.replace(`${pathname}${next.size ? `?${next}` : ""}`));
      }}
    >
      <SelectTrigger className="w-44" aria-label="Filter by type" aria-busy={pending || undefined}>
        <SelectValue />
      </SelectTrigger>
      <SelectContent>
        <SelectItem value={ALL}>All types</SelectItem>
        {ASSET_TYPES.map((t) => (
          <SelectItem key={t} value={t}>
            {ASSET_TYPE_LABELS[t]}
          </SelectItem>
        ))}
      </SelectContent>
    </Select>
  );
}

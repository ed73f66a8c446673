"use client";

import { UrlSelectFilter } from "@/components/shared/url-select-filter";
import { ASSET_TYPES, ASSET_TYPE_LABELS } from "@/lib/assets/schemas";

const OPTIONS = ASSET_TYPES.map((t) => ({ value: t, label: ASSET_TYPE_LABELS[t] }));

/** Filters the assets list by type through the URL (`?type=`). */
export function AssetTypeFilter() {
  return <UrlSelectFilter param="type" label="Filter by type" allLabel="All types" options={OPTIONS} />;
}

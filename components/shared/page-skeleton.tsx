import { cn } from "@/lib/utils";
import { Skeleton } from "@/components/ui/skeleton";
import { DataTableSkeleton } from "@/components/shared/data-table";

export type PageSkeletonProps = {
  /** What the page shows once loaded: a list (table), a form (labelled fields), or one item's details. */
  variant?: "table" | "form" | "detail";
  columns?: number;
  rows?: number;
  /** Placeholder for page tabs (e.g. a folder's Assets / Connections). */
  tabs?: boolean;
  className?: string;
};

/** Drop-in body for a route's loading.tsx: header, optional tabs, and the shape of what loads, so nothing jumps when it does. */
export function PageSkeleton({ variant = "table", columns = 4, rows = 8, tabs = false, className }: PageSkeletonProps) {
  return (
    <div className={cn("flex flex-col gap-6", className)}>
      <div className="flex flex-col gap-4 sm:flex-row sm:items-start sm:justify-between" aria-hidden="true">
        <div className="flex flex-col gap-2">
          <Skeleton className="h-7 w-48" />
          <Skeleton className="h-4 w-72 max-w-full" />
        </div>
        {variant === "form" ? null : <Skeleton className="h-9 w-28" />}
      </div>
      {tabs ? <Skeleton className="h-9 w-56" /> : null}
      {variant === "table" ? <DataTableSkeleton columns={columns} rows={rows} /> : <CardSkeleton variant={variant} />}
    </div>
  );
}

/** A card of labelled fields (a form) or of term/value rows (details). */
function CardSkeleton({ variant }: { variant: "form" | "detail" }) {
  return (
    <div role="status" aria-live="polite">
      <span className="sr-only">Loading…</span>
      <div className="rounded-xl border bg-card p-6 shadow-xs" aria-hidden="true">
        <Skeleton className="mb-6 h-5 w-40" />
        {variant === "form" ? (
          <div className="grid gap-5 md:grid-cols-2">
            {Array.from({ length: 6 }, (_, i) => (
              <div key={i} className={cn("grid gap-2", i === 0 && "md:col-span-2")}>
                <Skeleton className="h-4 w-28" />
                <Skeleton className="h-9 w-full" />
              </div>
            ))}
          </div>
        ) : (
          <div className="grid gap-4">
            {Array.from({ length: 5 }, (_, i) => (
              <div key={i} className="grid gap-2 sm:grid-cols-[10rem_1fr] sm:gap-6">
                <Skeleton className="h-4 w-24" />
                <Skeleton className={cn("h-4", ["w-64", "w-40", "w-56", "w-32", "w-48"][i])} />
              </div>
            ))}
          </div>
        )}
      </div>
    </div>
  );
}

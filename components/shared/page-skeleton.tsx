import { cn } from "@/lib/utils";
import { Skeleton } from "@/components/ui/skeleton";
import { DataTableSkeleton } from "@/components/shared/data-table";

export type PageSkeletonProps = {
  columns?: number;
  rows?: number;
  /** Placeholder for page tabs (e.g. a folder's Assets / Connections). */
  tabs?: boolean;
  className?: string;
};

/** Drop-in body for a route's loading.tsx: header, optional tabs, table. */
export function PageSkeleton({ columns = 4, rows = 8, tabs = false, className }: PageSkeletonProps) {
  return (
    <div className={cn("flex flex-col gap-6", className)}>
      <div className="flex flex-col gap-4 sm:flex-row sm:items-start sm:justify-between" aria-hidden="true">
        <div className="flex flex-col gap-2">
          <Skeleton className="h-7 w-48" />
          <Skeleton className="h-4 w-72 max-w-full" />
        </div>
        <Skeleton className="h-9 w-28" />
      </div>
      {tabs ? <Skeleton className="h-9 w-56" /> : null}
      <DataTableSkeleton columns={columns} rows={rows} />
    </div>
  );
}

import * as React from "react";
import { InboxIcon } from "lucide-react";

import { cn } from "@/lib/utils";
import { Skeleton } from "@/components/ui/skeleton";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { EmptyState } from "@/components/shared/empty-state";

export type DataTableColumn<T> = {
  key: string;
  header: React.ReactNode;
  cell: (row: T) => React.ReactNode;
  /** Applied to both the header and body cells of this column (e.g. "w-24 text-right"). */
  className?: string;
};

export type DataTableProps<T> = {
  columns: ReadonlyArray<DataTableColumn<T>>;
  rows: ReadonlyArray<T>;
  getRowId: (row: T) => string;
  /** Accessible name of the table (rendered as a visually hidden <caption>). */
  label?: string;
  /** Rendered above the table, e.g. a SearchInput and filter buttons. */
  toolbar?: React.ReactNode;
  /** Rendered below the table, e.g. <Pagination>. */
  footer?: React.ReactNode;
  /** Shown instead of the table when `rows` is empty. */
  empty?: React.ReactNode;
  className?: string;
};

/**
 * Plain presentational table with no client state, so it renders in server components as well
 * as client ones. Note `cell` is a function: from a server component build the columns there,
 * not in a client component's props.
 */
export function DataTable<T>({
  columns,
  rows,
  getRowId,
  label,
  toolbar,
  footer,
  empty,
  className,
}: DataTableProps<T>) {
  return (
    <div data-slot="data-table" className={cn("flex flex-col gap-3", className)}>
      {toolbar ? <div className="flex flex-wrap items-center gap-2">{toolbar}</div> : null}
      <div className="overflow-hidden rounded-lg border bg-card shadow-xs">
        {rows.length === 0 ? (
          (empty ?? <EmptyState icon={InboxIcon} title="No results" description="Nothing to show here yet." />)
        ) : (
          <Table>
            {label ? <caption className="sr-only">{label}</caption> : null}
            <TableHeader>
              <TableRow className="hover:bg-transparent">
                {columns.map((column) => (
                  <TableHead key={column.key} className={column.className}>
                    {column.header}
                  </TableHead>
                ))}
              </TableRow>
            </TableHeader>
            <TableBody>
              {rows.map((row) => (
                <TableRow key={getRowId(row)}>
                  {columns.map((column) => (
                    <TableCell key={column.key} className={column.className}>
                      {column.cell(row)}
                    </TableCell>
                  ))}
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </div>
      {footer}
    </div>
  );
}

export type DataTableSkeletonProps = {
  columns?: number;
  rows?: number;
  /** Show a placeholder toolbar (search box) above the table. */
  toolbar?: boolean;
  className?: string;
};

const widths = ["w-2/3", "w-1/2", "w-3/4", "w-1/3", "w-2/5"] as const;

export function DataTableSkeleton({ columns = 4, rows = 6, toolbar = true, className }: DataTableSkeletonProps) {
  return (
    <div data-slot="data-table-skeleton" role="status" aria-live="polite" className={cn("flex flex-col gap-3", className)}>
      <span className="sr-only">Loading…</span>
      {toolbar ? <Skeleton className="h-9 w-full max-w-xs" /> : null}
      <div className="overflow-hidden rounded-lg border bg-card shadow-xs" aria-hidden="true">
        <div className="flex h-10 items-center gap-6 border-b bg-muted/50 px-4">
          {Array.from({ length: columns }, (_, c) => (
            <Skeleton key={c} className="h-3 flex-1 max-w-24" />
          ))}
        </div>
        {Array.from({ length: rows }, (_, r) => (
          <div key={r} className="flex h-[49px] items-center gap-6 border-b px-4 last:border-b-0">
            {Array.from({ length: columns }, (_, c) => (
              <div key={c} className="flex-1">
                <Skeleton className={cn("h-4", widths[(r + c) % widths.length])} />
              </div>
            ))}
          </div>
        ))}
      </div>
    </div>
  );
}

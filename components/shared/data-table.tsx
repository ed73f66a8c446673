import * as React from "react";
import { InboxIcon } from "lucide-react";

import { cn } from "@/lib/utils";
import { Skeleton } from "@/components/ui/skeleton";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { EmptyState } from "@/components/shared/empty-state";

/**
 * For a column of names people choose (up to 100 characters, maybe without a space): it breaks them
 * anywhere rather than pushing the other columns out of the table, and keeps room for a few words;
 * on a phone, for a name of two short words ("Latch Database", not "Latch / Data / base").
 */
export const NAME_COLUMN_CLASS = "[overflow-wrap:anywhere] min-w-36 sm:min-w-44";

export type DataTableColumn<T> = {
  key: string;
  header: React.ReactNode;
  cell: (row: T) => React.ReactNode;
  /** Applied to both the header and body cells of this column (e.g. "w-24 text-right"). */
  className?: string;
};

/**
 * Below the md breakpoint: "scroll" keeps the table and lets it scroll sideways (fine for a few
 * short columns); "cards" shows each row as a card whose cells are labelled with their column
 * headers, for tables with long text that would otherwise be a narrow, very tall column.
 */
export type DataTablePhoneLayout = "scroll" | "cards";

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
  phoneLayout?: DataTablePhoneLayout;
  className?: string;
};

// Cards keep the table's semantics: a table whose display is changed loses its roles in some
// browsers, so with cards every part states its role.
const cards = {
  table: "max-md:block",
  header: "max-md:sr-only",
  // Every column is a line of the card, so every header is there for assistive tech (even one the table hides).
  headerCell: "max-md:table-cell",
  body: "max-md:block",
  row: "max-md:grid max-md:gap-1.5 max-md:px-4 max-md:py-3",
  cell: "max-md:grid max-md:grid-cols-[7rem_minmax(0,1fr)] max-md:items-baseline max-md:gap-3 max-md:p-0! max-md:w-auto max-md:text-left! max-md:before:text-xs max-md:before:font-medium max-md:before:tracking-wide max-md:before:text-muted-foreground max-md:before:uppercase max-md:before:content-[attr(data-label)]",
} as const;

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
  phoneLayout = "scroll",
  className,
}: DataTableProps<T>) {
  const asCards = phoneLayout === "cards";
  const role = (name: string) => (asCards ? name : undefined);
  return (
    <div data-slot="data-table" className={cn("flex flex-col gap-3", className)}>
      {toolbar ? <div className="flex flex-wrap items-center gap-2">{toolbar}</div> : null}
      <div className="overflow-hidden rounded-lg border bg-card shadow-xs">
        {rows.length === 0 ? (
          (empty ?? <EmptyState icon={InboxIcon} title="No results" description="Nothing to show here yet." />)
        ) : (
          <Table role={role("table")} className={cn(asCards && cards.table)}>
            {label ? <caption className="sr-only">{label}</caption> : null}
            <TableHeader role={role("rowgroup")} className={cn(asCards && cards.header)}>
              <TableRow role={role("row")} className="hover:bg-transparent">
                {columns.map((column) => (
                  <TableHead key={column.key} role={role("columnheader")} className={cn(column.className, asCards && cards.headerCell)}>
                    {column.header}
                  </TableHead>
                ))}
              </TableRow>
            </TableHeader>
            <TableBody role={role("rowgroup")} className={cn(asCards && cards.body)}>
              {rows.map((row) => (
                <TableRow key={getRowId(row)} role={role("row")} className={cn(asCards && cards.row)}>
                  {columns.map((column) => (
                    <TableCell
                      key={column.key}
                      role={role("cell")}
                      data-label={asCards && typeof column.header === "string" ? column.header : undefined}
                      className={cn(column.className, asCards && cards.cell)}
                    >
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

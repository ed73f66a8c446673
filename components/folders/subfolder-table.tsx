import { FolderIcon, FolderOpenIcon } from "lucide-react";
import Link from "next/link";
import { DataTable, NAME_COLUMN_CLASS } from "@/components/shared/data-table";
import { EmptyState } from "@/components/shared/empty-state";
import { Pagination } from "@/components/shared/pagination";
import { SearchInput } from "@/components/shared/search-input";
import type { FolderRow } from "@/lib/folders/queries";
import { LocalTime } from "@/components/shared/local-time";


export function SubfolderTable({
  rows,
  total,
  page,
  pageSize,
  q,
  emptyAction,
  label,
  nested = false,
}: {
  rows: FolderRow[];
  total: number;
  page: number;
  pageSize: number;
  q: string;
  emptyAction?: React.ReactNode;
  label: string;
  /** A folder's subfolders, rather than the top level. */
  nested?: boolean;
}) {
  return (
    <DataTable
      label={label}
      toolbar={<SearchInput label="Search folders" placeholder="Search folders…" />}
      rows={rows}
      getRowId={(r) => r.id}
      columns={[
        {
          key: "name",
          header: "Name",
          className: NAME_COLUMN_CLASS,
          cell: (r) => (
            <Link href={`/folders/${r.id}`} className="inline-flex items-center gap-2 font-medium hover:underline">
              <FolderIcon className="size-4 shrink-0 text-muted-foreground" aria-hidden="true" />
              {r.name}
            </Link>
          ),
        },
        { key: "subfolders", header: "Subfolders", cell: (r) => r.subfolderCount, className: "w-28 text-right tabular-nums" },
        { key: "members", header: "Direct members", cell: (r) => r.memberCount, className: "w-36 text-right tabular-nums" },
        {
          key: "updated",
          header: "Updated",
          cell: (r) => <LocalTime value={r.updatedAt} style="date" />,
          className: "hidden w-36 md:table-cell",
        },
      ]}
      empty={
        q ? (
          <EmptyState icon={FolderOpenIcon} title="No folders match your search" description={`Nothing is named like “${q}”.`} />
        ) : (
          <EmptyState
            icon={FolderOpenIcon}
            title={nested ? "No subfolders yet" : "No folders here yet"}
            description={
              nested
                ? "Subfolders divide this folder’s assets and connections further. Its members keep their roles in them."
                : "Folders group credential assets and connections, and decide who may use them."
            }
            action={emptyAction}
          />
        )
      }
      footer={<Pagination page={page} pageSize={pageSize} total={total} />}
    />
  );
}

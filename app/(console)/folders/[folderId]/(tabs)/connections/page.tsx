import { PlugZapIcon, PlusIcon } from "lucide-react";
import Link from "next/link";
import { ConnectionStatusBadge } from "@/components/connections/connection-status";
import { DataTable, NAME_COLUMN_CLASS } from "@/components/shared/data-table";
import { EmptyState } from "@/components/shared/empty-state";
import { Pagination } from "@/components/shared/pagination";
import { SearchInput } from "@/components/shared/search-input";
import { Button } from "@/components/ui/button";
import { listConnections } from "@/lib/connections/queries";
import { parseListQuery } from "@/lib/list-query";
import { folderPageMetadata, loadFolderView } from "../../folder-view";
import { LocalTime } from "@/components/shared/local-time";

export const generateMetadata = folderPageMetadata("Connections");

export default async function ConnectionsPage({
  params,
  searchParams,
}: {
  params: Promise<{ folderId: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { folderId } = await params;
  const { user, view } = await loadFolderView(folderId);
  const query = parseListQuery(await searchParams);
  const { rows, total, permissions } = await listConnections(user, view.folder.id, query);
  const add = permissions.write ? (
    <Button asChild>
      <Link href={`/folders/${view.folder.id}/connections/new`}>
        <PlusIcon aria-hidden="true" /> Add connection
      </Link>
    </Button>
  ) : null;
  return (
    <section aria-labelledby="connections-heading" className="grid grid-cols-1 gap-4">
      <div className="flex items-center justify-between gap-4">
        <div>
          <h2 id="connections-heading" className="text-lg font-semibold">
            Connections
          </h2>
          <p className="text-sm text-muted-foreground">Connections to databases, brokers and APIs. A secret field can use a credential asset: the connection keeps only the reference, and the value is read from its store when needed.</p>
        </div>
        {add}
      </div>
      <DataTable
        label="Connections"
        toolbar={<SearchInput label="Search connections" placeholder="Search connections…" />}
        rows={rows}
        getRowId={(r) => r.id}
        columns={[
          {
            key: "name",
            header: "Name",
            className: NAME_COLUMN_CLASS,
            cell: (r) => (
              <Link href={`/connections/${r.id}`} className="font-medium hover:underline">
                {r.name}
              </Link>
            ),
          },
          { key: "kind", header: "Connector", cell: (r) => <span className="text-sm">{r.kindLabel}</span> },
          { key: "status", header: "Status", cell: (r) => <ConnectionStatusBadge status={r.status} /> },
          {
            key: "last",
            header: "Last connected",
            cell: (r) => <span className="text-sm text-muted-foreground">{r.lastConnectedAt ? <LocalTime value={r.lastConnectedAt} /> : "—"}</span>,
            className: "hidden md:table-cell",
          },
          {
            key: "assets",
            header: "Uses assets for",
            cell: (r) => <span className="text-sm">{r.assetFields.length ? r.assetFields.join(", ") : <span className="text-muted-foreground">—</span>}</span>,
            className: "hidden lg:table-cell",
          },
        ]}
        empty={
          <EmptyState
            icon={PlugZapIcon}
            title={query.q ? "No connections match your search" : "No connections yet"}
            description={query.q ? undefined : "Connect PostgreSQL, MariaDB, Redis, RabbitMQ, an HTTP API or an OAuth 2.0 app, with secrets from credential assets."}
            action={query.q ? undefined : add}
          />
        }
        footer={<Pagination page={query.page} pageSize={query.pageSize} total={total} />}
      />
    </section>
  );
}

import { KeyRoundIcon, PlusIcon } from "lucide-react";
import Link from "next/link";
import { AssetTypeBadge } from "@/components/assets/asset-type-badge";
import { AssetTypeFilter } from "@/components/assets/asset-type-filter";
import { DataTable, NAME_COLUMN_CLASS } from "@/components/shared/data-table";
import { EmptyState } from "@/components/shared/empty-state";
import { Pagination } from "@/components/shared/pagination";
import { SearchInput } from "@/components/shared/search-input";
import { StatusBadge } from "@/components/shared/status-badge";
import { Button } from "@/components/ui/button";
import { listAssets } from "@/lib/assets/queries";
import { ASSET_TYPES, ASSET_TYPE_LABELS, type AssetType } from "@/lib/assets/schemas";
import { parseListQuery } from "@/lib/list-query";
import { folderPageMetadata, loadFolderView } from "../../folder-view";

export const generateMetadata = folderPageMetadata("Assets");

export default async function AssetsPage({
  params,
  searchParams,
}: {
  params: Promise<{ folderId: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { folderId } = await params;
  const { user, view } = await loadFolderView(folderId);
  const raw = await searchParams;
  const query = parseListQuery(raw);
  const typeParam = Array.isArray(raw.type) ? raw.type[0] : raw.type;
  const type = ASSET_TYPES.includes(typeParam as AssetType) ? (typeParam as AssetType) : undefined;
  const { rows, total, permissions } = await listAssets(user, view.folder.id, { ...query, type });
  const filtered = !!query.q || !!type;
  const addButton = permissions.write ? (
    <Button asChild>
      <Link href={`/folders/${view.folder.id}/assets/new`}>
        <PlusIcon aria-hidden="true" /> Add asset
      </Link>
    </Button>
  ) : null;
  return (
    <section aria-labelledby="assets-heading" className="grid grid-cols-1 gap-4">
      <div className="flex items-center justify-between gap-4">
        <div>
          <h2 id="assets-heading" className="text-lg font-semibold">
            Credential assets
          </h2>
          <p className="text-sm text-muted-foreground">Pointers to secrets in credential stores, and plain settings. Latch never shows a secret value.</p>
        </div>
        {addButton}
      </div>
      <DataTable
        label="Credential assets"
        toolbar={
          <>
            <SearchInput label="Search assets" placeholder="Search by name or description…" />
            <AssetTypeFilter />
          </>
        }
        rows={rows}
        getRowId={(r) => r.id}
        columns={[
          {
            key: "name",
            header: "Name",
            className: NAME_COLUMN_CLASS,
            cell: (r) => (
              <div className="grid">
                <Link href={`/assets/${r.id}`} className="font-medium hover:underline">
                  {r.name}
                </Link>
                {r.description ? <span className="line-clamp-1 text-sm text-muted-foreground">{r.description}</span> : null}
              </div>
            ),
          },
          { key: "type", header: "Type", cell: (r) => <AssetTypeBadge type={r.type} /> },
          {
            key: "store",
            header: "Store",
            cell: (r) =>
              r.store ? (
                <div className="grid text-sm">
                  <span>{r.store.name}</span>
                  <span className="font-mono text-xs text-muted-foreground">{r.reference}</span>
                </div>
              ) : (
                <span className="text-sm text-muted-foreground">Plain setting</span>
              ),
            className: "hidden md:table-cell",
          },
          {
            key: "resolve",
            header: "Last resolve test",
            cell: (r) =>
              r.lastResolve ? (
                <StatusBadge tone={r.lastResolve.ok ? "success" : "danger"}>{r.lastResolve.ok ? "Found" : "Failed"}</StatusBadge>
              ) : (
                <span className="text-sm text-muted-foreground">—</span>
              ),
            className: "hidden lg:table-cell",
          },
        ]}
        empty={
          <EmptyState
            icon={KeyRoundIcon}
            title={filtered ? "No assets match" : "No assets yet"}
            description={
              filtered
                ? `Nothing${type ? ` of type ${ASSET_TYPE_LABELS[type]}` : ""}${query.q ? ` matches “${query.q}”` : ""}.`
                : "Add a Credential or Secret asset to let connections use a secret without anyone seeing it."
            }
            action={filtered ? undefined : addButton}
          />
        }
        footer={<Pagination page={query.page} pageSize={query.pageSize} total={total} />}
      />
    </section>
  );
}

import { canTenant } from "@/lib/authz";
import { notFound } from "next/navigation";
import { PlusIcon, VaultIcon } from "lucide-react";
import Link from "next/link";
import { Breadcrumbs } from "@/components/layout/breadcrumbs";
import { DataTable, NAME_COLUMN_CLASS } from "@/components/shared/data-table";
import { EmptyState } from "@/components/shared/empty-state";
import { PageHeader } from "@/components/shared/page-header";
import { SearchInput } from "@/components/shared/search-input";
import { StatusBadge } from "@/components/shared/status-badge";
import { StoreHealth } from "@/components/stores/store-health";
import { Button } from "@/components/ui/button";
import { requireUser } from "@/lib/auth/session";
import { parseListQuery } from "@/lib/list-query";
import { listStores } from "@/lib/stores/queries";
import { PROVIDERS, registrableKinds } from "@/lib/vault/registry";
import { INLINE_LINK } from "@/components/shared/link-styles";
import { titleIfAllowed } from "../../page-title";

export const generateMetadata = async () => titleIfAllowed(canTenant(await requireUser(), "stores.manage"), "Credential stores");

export default async function StoresPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await requireUser();
  // Layouts and pages render in parallel: the page re-checks rather than rely on its layout.
  if (!canTenant(user, "stores.manage")) notFound();
  const { q } = parseListQuery(await searchParams);
  const stores = await listStores(user, { q });
  return (
    <div className="grid grid-cols-1 gap-6">
      <Breadcrumbs items={[{ label: "Credential stores" }]} />
      <PageHeader
        title="Credential stores"
        description="The vaults credential assets point into, Latch’s own encrypted store among them. A connection reads a secret from its store when it needs it, and keeps the value only in memory, for at most an hour."
        actions={
          <Button asChild>
            <Link href="/stores/new">
              <PlusIcon aria-hidden="true" /> Add store
            </Link>
          </Button>
        }
      />
      <DataTable
        label="Credential stores"
        // Five columns, the health badge last: on a phone each store is a card, so none is off-screen.
        phoneLayout="cards"
        toolbar={<SearchInput label="Search stores" placeholder="Search stores…" />}
        rows={stores}
        getRowId={(s) => s.id}
        columns={[
          {
            key: "name",
            header: "Name",
            className: NAME_COLUMN_CLASS,
            cell: (s) => (
              <Link href={`/stores/${s.id}`} className="inline-flex items-center gap-2 font-medium hover:underline">
                <VaultIcon className="size-4 shrink-0 text-muted-foreground" aria-hidden="true" />
                {s.name}
              </Link>
            ),
          },
          { key: "kind", header: "Kind", cell: (s) => <span className="text-sm">{s.kindLabel}</span> },
          {
            key: "scope",
            header: "Scope",
            cell: (s) => (s.folder ? <Link className={`text-sm ${INLINE_LINK}`} href={`/folders/${s.folder.id}`}>Folder: {s.folder.name}</Link> : <span className="text-sm">Tenant-wide</span>),
          },
          { key: "mode", header: "Mode", cell: (s) => <StatusBadge tone="neutral">{s.mode === "READ_WRITE" ? "Read-write" : "Read-only"}</StatusBadge> },
          {
            key: "assets",
            header: "Assets",
            cell: (s) => <span className="text-sm tabular-nums">{s.assetCount}</span>,
            className: "hidden md:table-cell text-right",
          },
          { key: "health", header: "Health", cell: (s) => <StoreHealth lastTest={s.lastTest} withReason /> },
        ]}
        empty={<EmptyState icon={VaultIcon} title={q ? "No stores match your search" : "No credential stores yet"} description={q ? undefined : `Add ${new Intl.ListFormat("en", { type: "disjunction" }).format(registrableKinds().map((k) => PROVIDERS[k].label))}.`} />}
      />
    </div>
  );
}

import { UsersIcon } from "lucide-react";
import Link from "next/link";
import { AddMemberDialog, MemberRowActions } from "@/components/folders/member-dialogs";
import { DataTable, NAME_COLUMN_CLASS } from "@/components/shared/data-table";
import { EmptyState } from "@/components/shared/empty-state";
import { Pagination } from "@/components/shared/pagination";
import { SearchInput } from "@/components/shared/search-input";
import { StatusBadge } from "@/components/shared/status-badge";
import { ROLE_LABELS } from "@/lib/authz/permissions";
import { listMembers } from "@/lib/folders/queries";
import { parseListQuery } from "@/lib/list-query";
import { folderPageMetadata, loadFolderView } from "../../folder-view";
import { INLINE_LINK } from "@/components/shared/link-styles";

export const generateMetadata = folderPageMetadata("Members");

export default async function MembersPage({
  params,
  searchParams,
}: {
  params: Promise<{ folderId: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { folderId } = await params;
  const { user, view } = await loadFolderView(folderId);
  const query = parseListQuery(await searchParams);
  const { rows, total } = await listMembers(user, view.folder.id, query);
  const manage = view.permissions.manageMembers;
  return (
    <section aria-labelledby="members-heading" className="grid grid-cols-1 gap-4">
      <div className="flex items-center justify-between gap-4">
        <div>
          <h2 id="members-heading" className="text-lg font-semibold">
            Members
          </h2>
          <p className="text-sm text-muted-foreground">Roles given here or on a parent folder. Administrators can see every folder.</p>
        </div>
        {manage ? <AddMemberDialog folderId={view.folder.id} /> : null}
      </div>
      <DataTable
        label="Members"
        toolbar={<SearchInput label="Search members" placeholder="Search by name or e-mail…" />}
        rows={rows}
        getRowId={(r) => r.userId}
        columns={[
          {
            key: "name",
            header: "Name",
            className: NAME_COLUMN_CLASS,
            cell: (r) => (
              <div className="grid">
                <span className="font-medium">{r.name}</span>
                <span className="text-sm text-muted-foreground">{r.email}</span>
              </div>
            ),
          },
          { key: "role", header: "Role", cell: (r) => <StatusBadge tone={r.role === "FOLDER_ADMIN" ? "info" : "neutral"}>{ROLE_LABELS[r.role]}</StatusBadge> },
          {
            key: "source",
            header: "Granted on",
            cell: (r) =>
              r.inheritedFrom ? (
                <span className="grid text-sm">
                  {r.inheritedFrom.id ? (
                    <Link className={INLINE_LINK} href={`/folders/${r.inheritedFrom.id}/members`}>
                      Inherited from {r.inheritedFrom.name}
                    </Link>
                  ) : (
                    <span className="text-muted-foreground">Inherited from {r.inheritedFrom.name}</span>
                  )}
                  {r.directRole ? <span className="text-muted-foreground">Also {ROLE_LABELS[r.directRole]} here</span> : null}
                </span>
              ) : (
                <span className="text-sm">This folder</span>
              ),
            className: "hidden sm:table-cell",
          },
          {
            key: "status",
            header: "Status",
            cell: (r) => (r.active ? <StatusBadge tone="success">Active</StatusBadge> : <StatusBadge tone="warning">Deactivated</StatusBadge>),
            className: "hidden md:table-cell",
          },
          {
            key: "actions",
            header: <span className="sr-only">Actions</span>,
            // The role given here, even when a higher one is inherited: it can be changed or removed only here.
            cell: (r) => (manage && r.directRole ? <MemberRowActions folderId={view.folder.id} member={{ ...r, role: r.directRole }} isSelf={r.userId === user.id} /> : null),
            className: "w-12 text-right",
          },
        ]}
        empty={
          <EmptyState
            icon={UsersIcon}
            title={query.q ? "No members match your search" : "No members yet"}
            description={query.q ? undefined : "Add people and give them a role on this folder and everything below it."}
          />
        }
        footer={<Pagination page={query.page} pageSize={query.pageSize} total={total} />}
      />
    </section>
  );
}

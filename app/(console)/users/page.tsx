import { UsersIcon } from "lucide-react";
import { notFound } from "next/navigation";
import { Breadcrumbs } from "@/components/layout/breadcrumbs";
import { CreateUserDialog, UserRowActions } from "@/components/users/user-dialogs";
import { DataTable, NAME_COLUMN_CLASS } from "@/components/shared/data-table";
import { EmptyState } from "@/components/shared/empty-state";
import { PageHeader } from "@/components/shared/page-header";
import { Pagination } from "@/components/shared/pagination";
import { SearchInput } from "@/components/shared/search-input";
import { StatusBadge } from "@/components/shared/status-badge";
import { requireUser } from "@/lib/auth/session";
import { canTenant } from "@/lib/authz";
import { parseListQuery } from "@/lib/list-query";
import { listUsers } from "@/lib/users/queries";
import { LocalTime } from "@/components/shared/local-time";
import { titleIfAllowed } from "../page-title";

export const generateMetadata = async () => titleIfAllowed(canTenant(await requireUser(), "users.manage"), "Users");


export default async function UsersPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await requireUser();
  if (!canTenant(user, "users.manage")) notFound();
  const query = parseListQuery(await searchParams);
  const { rows, total } = await listUsers(user, query);
  return (
    <div className="grid grid-cols-1 gap-6">
      <Breadcrumbs items={[{ label: "Users" }]} />
      <PageHeader title="Users" description="People who can sign in to Latch. Folder roles decide what each of them may see and do." actions={<CreateUserDialog />} />
      <DataTable
        label="Users"
        // On a phone, one card per person: the name, e-mail, role and status do not fit side by side.
        phoneLayout="cards"
        toolbar={<SearchInput label="Search users" placeholder="Search by name or e-mail…" />}
        rows={rows}
        getRowId={(r) => r.id}
        columns={[
          {
            key: "name",
            header: "Name",
            className: NAME_COLUMN_CLASS,
            cell: (r) => (
              <div className="grid">
                <span className="font-medium">
                  {r.name} {r.id === user.id ? <span className="text-xs font-normal text-muted-foreground">(you)</span> : null}
                </span>
                <span className="text-sm text-muted-foreground">{r.email}</span>
              </div>
            ),
          },
          { key: "role", header: "Role", cell: (r) => (r.isAdmin ? <StatusBadge tone="info">Administrator</StatusBadge> : <StatusBadge>Member</StatusBadge>) },
          {
            key: "status",
            header: "Status",
            cell: (r) => (r.active ? <StatusBadge tone="success">Active</StatusBadge> : <StatusBadge tone="warning">Deactivated</StatusBadge>),
          },
          {
            key: "created",
            header: "Created",
            cell: (r) => <LocalTime value={r.createdAt} style="date" />,
            className: "hidden md:table-cell",
          },
          { key: "actions", header: <span className="sr-only">Actions</span>, cell: (r) => <UserRowActions user={r} isSelf={r.id === user.id} />, className: "w-12 text-right" },
        ]}
        empty={<EmptyState icon={UsersIcon} title="No users match your search" />}
        footer={<Pagination page={query.page} pageSize={query.pageSize} total={total} />}
      />
    </div>
  );
}

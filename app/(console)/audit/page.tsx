import { notFound } from "next/navigation";
import { AuditTable } from "@/components/audit/audit-table";
import { Breadcrumbs } from "@/components/layout/breadcrumbs";
import { PageHeader } from "@/components/shared/page-header";
import { canSeeAudit, listAuditEvents, parseAsOf, parseAuditOutcome } from "@/lib/audit/queries";
import { requireUser } from "@/lib/auth/session";
import { parseListQuery } from "@/lib/list-query";
import { titleIfAllowed } from "../page-title";

export const generateMetadata = async () => titleIfAllowed(canSeeAudit(await requireUser()), "Audit log");

export default async function AuditPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await requireUser();
  if (!(await canSeeAudit(user))) notFound();
  const params = await searchParams;
  const query = { ...parseListQuery(params, 25), outcome: parseAuditOutcome(params.outcome) };
  // Later pages read the log as it was at the first page's newest event (see parseAsOf).
  const pinned = query.page > 1 ? parseAsOf(params.asOf) : null;
  const { rows, total } = await listAuditEvents(user, { ...query, asOf: pinned });
  const asOf = pinned ?? (query.page === 1 ? (rows[0]?.occurredAt ?? null) : null);
  return (
    <div className="grid grid-cols-1 gap-6">
      <Breadcrumbs items={[{ label: "Audit log" }]} />
      <PageHeader
        title="Audit log"
        description={
          user.isAdmin
            ? "Every change in this installation, and every use of a credential. Events never contain secret values."
            : "Changes in the folders you administer, and every use of their credentials. Events never contain secret values."
        }
      />
      <AuditTable rows={rows} total={total} page={query.page} pageSize={query.pageSize} q={query.q} filtered={!!query.outcome} asOf={asOf} />
    </div>
  );
}

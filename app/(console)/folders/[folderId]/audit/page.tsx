import { notFound } from "next/navigation";
import { AuditTable } from "@/components/audit/audit-table";
import { listAuditEvents, parseAsOf, parseAuditOutcome } from "@/lib/audit/queries";
import { parseListQuery } from "@/lib/list-query";
import { folderPageMetadata, loadFolderView } from "../folder-view";

export const generateMetadata = folderPageMetadata("Audit", (view) => view.permissions.readAudit);

export default async function FolderAuditPage({
  params,
  searchParams,
}: {
  params: Promise<{ folderId: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { folderId } = await params;
  const { user, view } = await loadFolderView(folderId);
  if (!view.permissions.readAudit) notFound();
  const search = await searchParams;
  const query = { ...parseListQuery(search, 25), outcome: parseAuditOutcome(search.outcome) };
  // Later pages read the log as it was at the first page's newest event (see parseAsOf).
  const pinned = query.page > 1 ? parseAsOf(search.asOf) : null;
  const { rows, total } = await listAuditEvents(user, { ...query, folderId: view.folder.id, asOf: pinned });
  const asOf = pinned ?? (query.page === 1 ? (rows[0]?.occurredAt ?? null) : null);
  return (
    <section aria-labelledby="audit-heading" className="grid grid-cols-1 gap-4">
      <h2 id="audit-heading" className="text-lg font-semibold">
        Audit events for this folder
      </h2>
      <AuditTable rows={rows} total={total} page={query.page} pageSize={query.pageSize} q={query.q} filtered={!!query.outcome} asOf={asOf} />
    </section>
  );
}

import { notFound } from "next/navigation";
import { AuditTable } from "@/components/audit/audit-table";
import { listAuditEvents } from "@/lib/audit/queries";
import { parseListQuery } from "@/lib/list-query";
import { loadFolderView } from "../folder-view";

export const metadata = { title: "Folder audit" };

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
  const query = parseListQuery(await searchParams, 25);
  const { rows, total } = await listAuditEvents(user, { ...query, folderId: view.folder.id });
  return (
    <section aria-labelledby="audit-heading" className="grid grid-cols-1 gap-4">
      <h2 id="audit-heading" className="text-lg font-semibold">
        Audit events for this folder
      </h2>
      <AuditTable rows={rows} total={total} page={query.page} pageSize={query.pageSize} q={query.q} />
    </section>
  );
}

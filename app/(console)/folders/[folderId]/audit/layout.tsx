import { notFound } from "next/navigation";
import { loadFolderView } from "../folder-view";

/** Only someone who may read the folder's audit trail gets this page; decided before the loading boundary below, so a refusal answers 404. */
export default async function FolderAuditLayout({ children, params }: { children: React.ReactNode; params: Promise<{ folderId: string }> }) {
  const { view } = await loadFolderView((await params).folderId);
  if (!view.permissions.readAudit) notFound();
  return children;
}

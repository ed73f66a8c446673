import { notFound } from "next/navigation";
import { can } from "@/lib/authz";
import { loadFolderView } from "../../folder-view";

/** Only someone who may add connections to the folder gets this page; decided before the loading boundary below, so a refusal answers 404. */
export default async function NewConnectionLayout({ children, params }: { children: React.ReactNode; params: Promise<{ folderId: string }> }) {
  const { view } = await loadFolderView((await params).folderId);
  if (!can(view, "connections.write")) notFound();
  return children;
}

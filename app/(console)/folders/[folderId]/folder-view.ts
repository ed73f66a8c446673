import "server-only";
import { getFolderViewOrThrow } from "@/lib/folders/queries";
import { viewLoader } from "../../view-loader";

/** Shared by the folder layout and its tabs. */
export const loadFolderView = viewLoader("view", getFolderViewOrThrow);

/** A folder page's title: "Payroll" for its subfolders, "Assets · Payroll" for a tab or page of it. */
export function folderPageMetadata(section?: string) {
  return async ({ params }: { params: Promise<{ folderId: string }> }) => {
    const { view } = await loadFolderView((await params).folderId);
    return { title: section ? `${section} · ${view.folder.name}` : view.folder.name };
  };
}

import "server-only";
import { notFound } from "next/navigation";
import { getFolderViewOrThrow } from "@/lib/folders/queries";
import { viewLoader } from "../../view-loader";

/** Shared by the folder layout and its tabs. */
export const loadFolderView = viewLoader("view", getFolderViewOrThrow);

/**
 * A folder page's title: "Payroll" for its subfolders, "Assets · Payroll" for a tab or page of it.
 * `allowed` refuses it as the page does, so a refused page's tab does not name what it hides.
 */
export function folderPageMetadata(section?: string, allowed?: (view: Awaited<ReturnType<typeof loadFolderView>>["view"]) => boolean) {
  return async ({ params }: { params: Promise<{ folderId: string }> }) => {
    const { view } = await loadFolderView((await params).folderId);
    if (allowed && !allowed(view)) notFound();
    return { title: section ? `${section} · ${view.folder.name}` : view.folder.name };
  };
}

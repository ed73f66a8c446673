import "server-only";
import { notFound } from "next/navigation";
import { cache } from "react";
import { requireUser } from "@/lib/auth/session";
import { AppError } from "@/lib/errors";
import { getFolderViewOrThrow } from "@/lib/folders/queries";

/** Shared by the folder layout and its tabs; forbidden and absent both render the 404 page. */
export const loadFolderView = cache(async (folderId: string) => {
  const user = await requireUser();
  try {
    return { user, view: await getFolderViewOrThrow(user, folderId) };
  } catch (error) {
    if (error instanceof AppError && error.code === "NOT_FOUND") notFound();
    throw error;
  }
});

/** A folder page's title: "Payroll" for its subfolders, "Assets · Payroll" for a tab or page of it. */
export function folderPageMetadata(section?: string) {
  return async ({ params }: { params: Promise<{ folderId: string }> }) => {
    const { view } = await loadFolderView((await params).folderId);
    return { title: section ? `${section} · ${view.folder.name}` : view.folder.name };
  };
}

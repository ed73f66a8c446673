import { PlusIcon } from "lucide-react";
import { FolderNameDialog } from "@/components/folders/folder-name-dialog";
import { SubfolderTable } from "@/components/folders/subfolder-table";
import { Button } from "@/components/ui/button";
import { listSubfolders } from "@/lib/folders/queries";
import { parseListQuery } from "@/lib/list-query";
import { folderPageMetadata, loadFolderView } from "../folder-view";

export const generateMetadata = folderPageMetadata();

export default async function FolderPage({
  params,
  searchParams,
}: {
  params: Promise<{ folderId: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { folderId } = await params;
  const { user, view } = await loadFolderView(folderId);
  const query = parseListQuery(await searchParams);
  const { rows, total } = await listSubfolders(user, view.folder.id, query);
  const createButton = view.permissions.manage ? (
    <FolderNameDialog
      mode="create"
      parentId={view.folder.id}
      trigger={
        <Button size="sm">
          <PlusIcon aria-hidden="true" /> New subfolder
        </Button>
      }
    />
  ) : null;
  return (
    <section aria-labelledby="subfolders-heading" className="grid grid-cols-1 gap-4">
      <div className="flex items-center justify-between gap-4">
        <h2 id="subfolders-heading" className="text-lg font-semibold">
          Subfolders
        </h2>
        {createButton}
      </div>
      <SubfolderTable label="Subfolders" nested rows={rows} total={total} page={query.page} pageSize={query.pageSize} q={query.q} emptyAction={createButton} />
    </section>
  );
}

import { PlusIcon } from "lucide-react";
import { Breadcrumbs } from "@/components/layout/breadcrumbs";
import { FolderNameDialog } from "@/components/folders/folder-name-dialog";
import { SubfolderTable } from "@/components/folders/subfolder-table";
import { PageHeader } from "@/components/shared/page-header";
import { Button } from "@/components/ui/button";
import { requireUser } from "@/lib/auth/session";
import { listSubfolders } from "@/lib/folders/queries";
import { parseListQuery } from "@/lib/list-query";
import { canTenant } from "@/lib/authz";

export const metadata = { title: "Folders" };

export default async function FoldersPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await requireUser();
  const query = parseListQuery(await searchParams);
  const { rows, total } = await listSubfolders(user, null, query);
  const createButton = canTenant(user, "folders.create.root") ? (
    <FolderNameDialog
      mode="create"
      parentId={null}
      trigger={
        <Button>
          <PlusIcon aria-hidden="true" /> New folder
        </Button>
      }
    />
  ) : null;
  return (
    <div className="grid grid-cols-1 gap-6">
      <Breadcrumbs items={[{ label: "Folders" }]} />
      <PageHeader
        title="Folders"
        description={
          user.isAdmin
            ? "Top-level folders of this installation. Roles given on a folder apply to all its subfolders."
            : "Folders you are a member of, directly or through a parent folder."
        }
        actions={createButton}
      />
      <SubfolderTable label="Folders" rows={rows} total={total} page={query.page} pageSize={query.pageSize} q={query.q} emptyAction={createButton} />
    </div>
  );
}

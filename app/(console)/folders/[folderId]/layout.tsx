import { FolderIcon } from "lucide-react";
import { Breadcrumbs, folderCrumbs } from "@/components/layout/breadcrumbs";
import { FolderActionsMenu } from "@/components/folders/folder-actions-menu";
import { FolderTabs } from "@/components/folders/folder-tabs";
import { PageHeader } from "@/components/shared/page-header";
import { StatusBadge } from "@/components/shared/status-badge";
import { canTenant } from "@/lib/authz";
import { ROLE_LABELS } from "@/lib/authz/permissions";
import { folderDeleteRefusal } from "@/lib/folders/contents";
import { listMoveDestinations } from "@/lib/folders/queries";
import { loadFolderView } from "./folder-view";

export default async function FolderLayout({
  children,
  params,
}: {
  children: React.ReactNode;
  params: Promise<{ folderId: string }>;
}) {
  const { folderId } = await params;
  const { user, view } = await loadFolderView(folderId);
  const { folder } = view;
  const [destinations, deleteRefusal] = view.permissions.manage ? await Promise.all([listMoveDestinations(user, folder.id), folderDeleteRefusal(folder)]) : [[], null];
  const base = `/folders/${folder.id}`;
  return (
    <div className="grid grid-cols-1 gap-6">
      <Breadcrumbs
        items={[
          ...folderCrumbs(view.ancestors),
          { label: folder.name },
        ]}
      />
      <PageHeader
        eyebrow={<FolderIcon className="size-5 text-muted-foreground" aria-hidden="true" />}
        title={folder.name}
        description={
          <span className="inline-flex flex-wrap items-center gap-2">
            Your access:{" "}
            <StatusBadge tone={view.role === "FOLDER_ADMIN" || view.isTenantAdmin ? "info" : "neutral"}>
              {/* An administrator may do everything whatever role they also hold here. */}
              {view.isTenantAdmin ? "Administrator" : view.role ? ROLE_LABELS[view.role] : "Administrator"}
            </StatusBadge>
          </span>
        }
        actions={
          view.permissions.manage ? (
            <FolderActionsMenu
              folder={{ id: folder.id, name: folder.name, parentId: view.parentId }}
              destinations={destinations}
              allowTopLevel={canTenant(user, "folders.create.root")}
              afterDeleteHref={view.parentId ? `/folders/${view.parentId}` : "/folders"}
              deleteRefusal={deleteRefusal}
            />
          ) : null
        }
      />
      <FolderTabs
        tabs={[
          { href: base, label: "Subfolders" },
          { href: `${base}/assets`, label: "Assets" },
          { href: `${base}/connections`, label: "Connections" },
          { href: `${base}/members`, label: "Members" },
          ...(view.permissions.readAudit ? [{ href: `${base}/audit`, label: "Audit" }] : []),
        ]}
      />
      <div>{children}</div>
    </div>
  );
}

import { notFound } from "next/navigation";
import { AssetForm } from "@/components/assets/asset-form";
import { listStoreOptions } from "@/lib/assets/queries";
import { can } from "@/lib/authz";
import { folderPageMetadata, loadFolderView } from "../../folder-view";

export const generateMetadata = folderPageMetadata("Add asset");

export default async function NewAssetPage({ params }: { params: Promise<{ folderId: string }> }) {
  const { folderId } = await params;
  const { user, view } = await loadFolderView(folderId);
  if (!can(view, "assets.write")) notFound();
  const stores = await listStoreOptions(user, view.folder.id);
  return (
    <div className="grid max-w-4xl grid-cols-1 gap-4">
      <h2 className="text-lg font-semibold">Add asset</h2>
      <AssetForm folderId={view.folder.id} stores={stores} cancelHref={`/folders/${view.folder.id}/assets`} />
    </div>
  );
}

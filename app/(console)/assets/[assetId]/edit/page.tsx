import { notFound } from "next/navigation";
import { AssetForm } from "@/components/assets/asset-form";
import { Breadcrumbs, folderCrumbs } from "@/components/layout/breadcrumbs";
import { PageHeader } from "@/components/shared/page-header";
import { listStoreOptions } from "@/lib/assets/queries";
import { splitVersion } from "@/lib/assets/reference";
import { loadAssetView } from "../asset-view";

export async function generateMetadata({ params }: { params: Promise<{ assetId: string }> }) {
  const { asset } = await loadAssetView((await params).assetId);
  return { title: `Edit ${asset.name}` };
}

export default async function EditAssetPage({ params }: { params: Promise<{ assetId: string }> }) {
  const { assetId } = await params;
  const { user, asset } = await loadAssetView(assetId);
  if (!asset.permissions.write) notFound();
  const stores = await listStoreOptions(user, asset.folder.id);
  const usedBy = asset.usages.length + asset.hiddenUsages;
  // A store the folder can no longer use still shows, so the form does not silently switch it.
  const options = asset.storeOption && !stores.some((s) => s.id === asset.storeOption!.id) ? [asset.storeOption, ...stores] : stores;
  return (
    <div className="grid max-w-4xl grid-cols-1 gap-6">
      <Breadcrumbs
        items={[
          ...folderCrumbs(asset.folderPath),
          { label: "Assets", href: `/folders/${asset.folder.id}/assets` },
          { label: asset.name, href: `/assets/${asset.id}` },
          { label: "Edit" },
        ]}
      />
      <PageHeader title={`Edit “${asset.name}”`} />
      {usedBy > 0 ? (
        <p role="note" className="rounded-lg border border-info/30 bg-info/10 px-4 py-3 text-sm">
          Used by {usedBy === 1 ? "1 connection" : `${usedBy} connections`}: a change applies to {usedBy === 1 ? "it" : "them"} at the next use, on every instance. A
          new reference is tried before it is saved.
        </p>
      ) : null}
      <AssetForm
        folderId={asset.folder.id}
        stores={options}
        cancelHref={`/assets/${asset.id}`}
        existing={{
          id: asset.id,
          name: asset.name,
          description: asset.description,
          type: asset.type,
          storeId: asset.storeOption?.id ?? null,
          secretName: asset.secretName,
          ...splitVersion(asset.storeOption?.kind, asset.secretVersion),
          usernameKey: asset.usernameKey,
          valueKey: asset.valueKey,
          username: asset.username,
          ownsSecret: asset.ownsSecret,
          plainValue: asset.plainValue,
          updatedAt: asset.updatedAt.toISOString(),
        }}
      />
    </div>
  );
}

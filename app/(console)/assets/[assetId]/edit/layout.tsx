import { notFound } from "next/navigation";
import { loadAssetView } from "../asset-view";

/** Only someone who may change the asset gets its edit page; decided before the loading boundary below. */
export default async function EditAssetLayout({ children, params }: { children: React.ReactNode; params: Promise<{ assetId: string }> }) {
  const { asset } = await loadAssetView((await params).assetId);
  if (!asset.permissions.write) notFound();
  return children;
}

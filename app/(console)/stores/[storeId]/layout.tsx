import { loadStoreView } from "./store-view";

/** An unknown store is decided here, above the loading boundary, so it answers 404 rather than a streamed not-found page. */
export default async function StoreLayout({ children, params }: { children: React.ReactNode; params: Promise<{ storeId: string }> }) {
  await loadStoreView((await params).storeId);
  return children;
}

import { loadConnectionView } from "./connection-view";

/**
 * The access check, above the loading boundaries of the pages below: decided before anything is
 * sent, so forbidden and absent answer 404, not a 200 that streams the not-found page in later.
 */
export default async function ConnectionLayout({ children, params }: { children: React.ReactNode; params: Promise<{ connectionId: string }> }) {
  await loadConnectionView((await params).connectionId);
  return children;
}

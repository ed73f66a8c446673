import { notFound } from "next/navigation";
import { loadConnectionView } from "../connection-view";

/** Only someone who may change the connection gets its edit page; decided before the loading boundary below. */
export default async function EditConnectionLayout({ children, params }: { children: React.ReactNode; params: Promise<{ connectionId: string }> }) {
  const { connection } = await loadConnectionView((await params).connectionId);
  if (!connection.permissions.write) notFound();
  return children;
}

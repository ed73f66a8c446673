import Link from "next/link";
import { notFound } from "next/navigation";
import { ConnectionForm } from "@/components/connections/connection-form";
import { Card, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { listPickerFolders } from "@/lib/assets/picker";
import { can } from "@/lib/authz";
import { CONNECTOR_KINDS, getConnectorOrThrow, isConnectorKind } from "@/lib/connectors/registry";
import { folderPageMetadata, loadFolderView } from "../../folder-view";
import { oauthRedirectUri } from "@/lib/connections/oauth";

export const generateMetadata = folderPageMetadata("Add connection");

export default async function NewConnectionPage({ params, searchParams }: { params: Promise<{ folderId: string }>; searchParams: Promise<{ kind?: string }> }) {
  const { folderId } = await params;
  const { kind } = await searchParams;
  const { user, view } = await loadFolderView(folderId);
  if (!can(view, "connections.write")) notFound();
  const base = `/folders/${view.folder.id}/connections`;
  if (!kind || !isConnectorKind(kind)) {
    return (
      <div className="grid grid-cols-1 gap-4">
        <h2 className="text-lg font-semibold">Add connection: choose a connector</h2>
        <ul className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
          {CONNECTOR_KINDS.map((k) => {
            const c = getConnectorOrThrow(k);
            return (
              <li key={k}>
                <Link href={`${base}/new?kind=${k}`} className="block h-full rounded-xl focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none">
                  <Card className="h-full transition-colors hover:border-primary/50 hover:bg-muted/30">
                    <CardHeader>
                      <CardTitle>{c.label}</CardTitle>
                      <CardDescription>{c.description}</CardDescription>
                    </CardHeader>
                  </Card>
                </Link>
              </li>
            );
          })}
        </ul>
      </div>
    );
  }
  const connector = getConnectorOrThrow(kind);
  const pickerFolders = await listPickerFolders(user);
  return (
    <div className="grid max-w-4xl grid-cols-1 gap-4">
      <h2 className="text-lg font-semibold">Add connection</h2>
      <ConnectionForm
        folderId={view.folder.id}
        connector={{ kind: connector.kind, label: connector.label, fields: connector.fields }}
        pickerFolders={pickerFolders}
        cancelHref={base}
        redirectUri={connector.kind === "oauth2" ? oauthRedirectUri() : undefined}
      />
    </div>
  );
}

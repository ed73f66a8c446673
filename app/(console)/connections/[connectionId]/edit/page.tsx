import { notFound } from "next/navigation";
import { ConnectionForm } from "@/components/connections/connection-form";
import { Breadcrumbs, folderCrumbs } from "@/components/layout/breadcrumbs";
import { PageHeader } from "@/components/shared/page-header";
import { listPickerFolders } from "@/lib/assets/picker";
import { loadConnectionView } from "../connection-view";
import { oauthRedirectUri } from "@/lib/connections/oauth";

export async function generateMetadata({ params }: { params: Promise<{ connectionId: string }> }) {
  const { connection } = await loadConnectionView((await params).connectionId);
  return { title: `Edit ${connection.name}` };
}

export default async function EditConnectionPage({ params }: { params: Promise<{ connectionId: string }> }) {
  const { connectionId } = await params;
  const { user, connection: c } = await loadConnectionView(connectionId);
  if (!c.permissions.write) notFound();
  const pickerFolders = await listPickerFolders(user);
  return (
    <div className="grid max-w-4xl grid-cols-1 gap-6">
      <Breadcrumbs
        items={[
          ...folderCrumbs(c.folderPath),
          { label: "Connections", href: `/folders/${c.folder.id}/connections` },
          { label: c.name, href: `/connections/${c.id}` },
          { label: "Edit" },
        ]}
      />
      <PageHeader
        title={`Edit “${c.name}”`}
        description={
          c.owner.email === user.email
            ? "Secret fields keep what is stored unless you replace them."
            : // The connection resolves its assets as its owner; the save refuses one only the editor may use.
              `Secret fields keep what is stored unless you replace them. This connection runs as its owner, ${c.owner.name || c.owner.email}: choose credential assets they may use too.`
        }
      />
      <ConnectionForm
        folderId={c.folder.id}
        connector={{ kind: c.kind, label: c.kindLabel, fields: c.fields }}
        redirectUri={c.kind === "oauth2" ? oauthRedirectUri() : undefined}
        pickerFolders={pickerFolders}
        cancelHref={`/connections/${c.id}`}
        existing={{ id: c.id, name: c.name, config: c.config, secretFields: c.secretFields, settingsVersion: c.settingsVersion }}
      />
    </div>
  );
}

import { LinkIcon } from "lucide-react";
import Link from "next/link";
import { AssetManageActions, ResolveTest } from "@/components/assets/asset-actions";
import { AssetTypeBadge } from "@/components/assets/asset-type-badge";
import { Breadcrumbs, folderCrumbs } from "@/components/layout/breadcrumbs";
import { EmptyState } from "@/components/shared/empty-state";
import { PageHeader } from "@/components/shared/page-header";
import { ViewOnlyNote } from "@/components/shared/view-only-note";
import { StatusBadge } from "@/components/shared/status-badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { describeVersion } from "@/lib/assets/reference";
import { isSecretType } from "@/lib/assets/schemas";
import { loadAssetView } from "../asset-view";
import { LocalTime } from "@/components/shared/local-time";
import { INLINE_LINK } from "@/components/shared/link-styles";

export async function generateMetadata({ params }: { params: Promise<{ assetId: string }> }) {
  const { assetId } = await params;
  const { asset } = await loadAssetView(assetId);
  return { title: asset.name };
}

function Row({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <>
      <dt className="text-muted-foreground">{label}</dt>
      <dd className="min-w-0 break-words">{children}</dd>
    </>
  );
}

export default async function AssetPage({ params }: { params: Promise<{ assetId: string }> }) {
  const { assetId } = await params;
  const { asset } = await loadAssetView(assetId);
  const secret = isSecretType(asset.type);
  const version = describeVersion(asset.storeOption?.kind, asset.secretVersion);
  const mono = (v: string | null) => (v ? <span className="font-mono">{v}</span> : <span className="text-muted-foreground">—</span>);
  return (
    <div className="grid grid-cols-1 gap-6">
      <Breadcrumbs
        items={[
          ...folderCrumbs(asset.folderPath),
          { label: "Assets", href: `/folders/${asset.folder.id}/assets` },
          { label: asset.name },
        ]}
      />
      <PageHeader
        eyebrow={<AssetTypeBadge type={asset.type} />}
        title={asset.name}
        description={asset.description || undefined}
        actions={
          asset.permissions.write ? (
            <AssetManageActions assetId={asset.id} assetName={asset.name} folderId={asset.folder.id} usedBy={asset.usages.length + asset.hiddenUsages} holdsSecret={secret} />
          ) : (
            <ViewOnlyNote>View only: changing it needs the Editor role in its folder.</ViewOnlyNote>
          )
        }
      />
      <div className="grid items-start gap-6 lg:grid-cols-2">
        <Card>
          <CardHeader>
            <CardTitle>
              <h2>Details</h2>
            </CardTitle>
            <CardDescription>{secret ? "What Latch knows about the secret: where it is, never what it is." : "A plain setting, stored as is."}</CardDescription>
          </CardHeader>
          <CardContent>
            <dl className="grid grid-cols-[max-content_1fr] gap-x-6 gap-y-2 text-sm">
              <Row label="Folder">
                <Link className={INLINE_LINK} href={`/folders/${asset.folder.id}/assets`}>
                  {asset.folderPath.map((f) => f.name).join(" / ")}
                </Link>
              </Row>
              {secret && asset.storeOption ? (
                <>
                  <Row label="Store">
                    {asset.storeOption.name} <span className="text-muted-foreground">({asset.storeOption.isBuiltIn ? "built-in" : asset.storeOption.kindLabel})</span>
                  </Row>
                  <Row label={asset.storeOption.reference.nameLabel}>{mono(asset.secretName)}</Row>
                  {asset.storeOption.reference.version.mode === "none" ? null : (
                    <Row label="Version">
                      {version.value ? (
                        <>
                          <span className="text-muted-foreground">{version.label}</span> {mono(version.value)}
                        </>
                      ) : (
                        <span className="text-muted-foreground">{version.label}</span>
                      )}
                    </Row>
                  )}
                  {asset.type === "CREDENTIAL" ? (
                    <Row label="Username">{asset.usernameKey ? <>from key {mono(asset.usernameKey)}</> : mono(asset.username)}</Row>
                  ) : null}
                  <Row label={asset.type === "CREDENTIAL" ? "Password" : "Value"}>
                    {asset.valueKey ? <>from key {mono(asset.valueKey)}</> : <span>the secret’s single value</span>}
                  </Row>
                  {asset.ownsSecret ? (
                    <Row label="Written by">{asset.storeOption.isBuiltIn ? "Latch (typed in, stored encrypted in the Latch Database)" : `Latch (typed in and written to ${asset.storeOption.name})`}</Row>
                  ) : null}
                </>
              ) : (
                <Row label="Value">
                  <span className="font-mono whitespace-pre-wrap">{asset.plainValue}</span>
                </Row>
              )}
              <Row label="Created"><LocalTime value={asset.createdAt} /></Row>
              <Row label="Updated"><LocalTime value={asset.updatedAt} /></Row>
              {asset.lastResolve ? (
                <Row label="Last resolve test">
                  <StatusBadge tone={asset.lastResolve.ok ? "success" : "danger"}>{asset.lastResolve.ok ? "Found" : "Failed"}</StatusBadge>{" "}
                  <span className="text-muted-foreground"><LocalTime value={asset.lastResolve.at} /></span>
                </Row>
              ) : null}
            </dl>
          </CardContent>
        </Card>
        <div className="grid content-start gap-6">
          {secret ? (
            <Card>
              <CardHeader>
                <CardTitle>
                  <h2>Resolve test</h2>
                </CardTitle>
                <CardDescription>Reads the secret through its store now and shows what was found: version, keys and, for credentials, where the username comes from.</CardDescription>
              </CardHeader>
              <CardContent>
                {asset.permissions.use ? (
                  <ResolveTest assetId={asset.id} isCredential={asset.type === "CREDENTIAL"} />
                ) : (
                  <p className="text-sm text-muted-foreground">You can see this asset but not use it; an Editor or Folder Admin of the folder can run the test.</p>
                )}
              </CardContent>
            </Card>
          ) : null}
          <Card>
            <CardHeader>
              <CardTitle>
                <h2>Where used</h2>
              </CardTitle>
              <CardDescription>Connections that reference this asset. An asset in use cannot be deleted.</CardDescription>
            </CardHeader>
            <CardContent>
              {asset.usages.length === 0 && asset.hiddenUsages === 0 ? (
                <EmptyState icon={LinkIcon} headingAs="h3" title="Not used yet" description={secret ? "No connection references this asset." : "Settings are not referenced by connections."} />
              ) : (
                <ul className="grid gap-2 text-sm" aria-label="Connections using this asset">
                  {asset.usages.map((u) => (
                    <li key={u.id}>
                      <Link className={`font-medium ${INLINE_LINK}`} href={`/connections/${u.id}`}>
                        {u.name}
                      </Link>{" "}
                      <span className="text-muted-foreground">in {u.folder.name}</span>
                    </li>
                  ))}
                  {asset.hiddenUsages > 0 ? (
                    <li className="text-muted-foreground">
                      {asset.usages.length > 0 ? "and " : ""}
                      {asset.hiddenUsages === 1 ? "1 connection in a folder you cannot see" : `${asset.hiddenUsages} connections in folders you cannot see`}
                    </li>
                  ) : null}
                </ul>
              )}
            </CardContent>
          </Card>
        </div>
      </div>
    </div>
  );
}

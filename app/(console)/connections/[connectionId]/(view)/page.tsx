import { KeySquareIcon } from "lucide-react";
import Link from "next/link";
import { ConnectionActions } from "@/components/connections/connection-actions";
import { ConnectionStatusBadge } from "@/components/connections/connection-status";
import { Breadcrumbs, folderCrumbs } from "@/components/layout/breadcrumbs";
import { PageHeader } from "@/components/shared/page-header";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { loadConnectionView } from "../connection-view";
import { LocalTime } from "@/components/shared/local-time";
import { INLINE_LINK } from "@/components/shared/link-styles";

export async function generateMetadata({ params }: { params: Promise<{ connectionId: string }> }) {
  const { connectionId } = await params;
  const { connection } = await loadConnectionView(connectionId);
  return { title: connection.name };
}

const AUTHORIZATION_NOTES: Record<string, string> = {
  denied: "The authorisation was declined in the app's sign-in page. Select Authorise the app to try again.",
  failed: "The app did not complete the authorisation. Check the app's settings, then select Authorise the app to try again.",
};

export default async function ConnectionPage({ params, searchParams }: { params: Promise<{ connectionId: string }>; searchParams: Promise<{ authorization?: string }> }) {
  const { connectionId } = await params;
  const { authorization } = await searchParams;
  const authorizationNote = authorization ? AUTHORIZATION_NOTES[authorization] : undefined;
  const { connection: c } = await loadConnectionView(connectionId);
  const byName = new Map(c.secretFields.map((s) => [s.field, s]));
  const usernameFromAsset = new Map(c.secretFields.filter((s) => s.fillsUsernameField && s.asset).map((s) => [s.fillsUsernameField!, s.asset!]));
  const visible = c.fields.filter((f) => !f.showWhen || f.showWhen.equals.includes(String(c.config[f.showWhen.field] ?? "")));
  return (
    <div className="grid grid-cols-1 gap-6">
      <Breadcrumbs
        items={[
          ...folderCrumbs(c.folderPath),
          { label: "Connections", href: `/folders/${c.folder.id}/connections` },
          { label: c.name },
        ]}
      />
      <PageHeader
        eyebrow={<ConnectionStatusBadge status={c.status} />}
        title={c.name}
        description={`${c.kindLabel} · owned by ${c.owner.name}`}
        actions={
          <ConnectionActions
            connectionId={c.id}
            name={c.name}
            folderId={c.folder.id}
            canWrite={c.permissions.write}
            canUse={c.permissions.use}
            // Waiting for it, or refused by the app (a revoked grant): authorising again is the way back.
            canAuthorize={c.permissions.write && c.kind === "oauth2" && c.config.grant === "authorization_code" && (c.status === "PENDING_AUTHORIZATION" || (c.status === "FAILED" && (c.lastErrorKind === "credentials_rejected" || c.lastErrorKind === "config")))}
            awaitingAuthorization={c.status === "PENDING_AUTHORIZATION"}
          />
        }
      />
      {authorizationNote && c.status !== "CONNECTED" ? (
        <p role="alert" className="rounded-lg border border-warning/30 bg-warning/10 px-4 py-3 text-sm">
          {authorizationNote}
        </p>
      ) : null}
      {c.lastMessage ? (
        <p role="status" className={c.status === "FAILED" ? "rounded-lg border border-danger/30 bg-danger/10 px-4 py-3 text-sm text-danger" : "rounded-lg border bg-muted/30 px-4 py-3 text-sm"}>
          {c.status === "FAILED" ? "Last attempt failed: " : ""}
          {c.lastMessage}
          {c.lastCheckAt ? <span className="text-muted-foreground"> · <LocalTime value={c.lastCheckAt} /></span> : null}
        </p>
      ) : null}
      <Card>
        <CardHeader>
          <CardTitle>
            <h2>Settings</h2>
          </CardTitle>
          <CardDescription>Secret fields show where their value comes from, never the value.</CardDescription>
        </CardHeader>
        <CardContent>
          <dl className="grid grid-cols-1 gap-x-6 gap-y-3 text-sm sm:grid-cols-[max-content_1fr]">
            {visible.map((f) => {
              const secret = byName.get(f.name);
              const fromAsset = usernameFromAsset.get(f.name);
              let value: React.ReactNode;
              if (f.type === "secret") {
                value = secret?.asset ? (
                  <span className="inline-flex flex-wrap items-center gap-2 rounded-full border px-3 py-1">
                    <KeySquareIcon className="size-4 text-info" aria-hidden="true" />
                    {secret.asset.id ? (
                      <Link href={`/assets/${secret.asset.id}`} className={`font-medium ${INLINE_LINK}`}>
                        {secret.asset.name}
                      </Link>
                    ) : (
                      <span className="font-medium">{secret.asset.name}</span>
                    )}
                    <span className="text-muted-foreground">{secret.asset.folderPath}</span>
                  </span>
                ) : secret?.source === "value" ? (
                  <span className="text-muted-foreground">Typed value (hidden, stored encrypted)</span>
                ) : (
                  <span className="text-muted-foreground">—</span>
                );
              } else if (fromAsset) {
                value = <span>From the asset “{fromAsset.name}”</span>;
              } else {
                const raw = c.config[f.name];
                const option = f.options?.find((o) => o.value === raw);
                const pemCount = typeof raw === "string" ? (raw.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length : 0;
                value =
                  raw === undefined || raw === "" ? (
                    <span className="text-muted-foreground">—</span>
                  ) : f.type === "boolean" ? (
                    raw ? "Yes" : "No"
                  ) : pemCount > 0 ? (
                    <span>{pemCount === 1 ? "1 PEM certificate" : `${pemCount} PEM certificates`}</span>
                  ) : (
                    <span className="font-mono break-all">{option?.label ?? String(raw)}</span>
                  );
              }
              return (
                <div key={f.name} className="contents">
                  <dt className="text-muted-foreground">{f.label}</dt>
                  <dd className="min-w-0">{value}</dd>
                </div>
              );
            })}
          </dl>
        </CardContent>
      </Card>
    </div>
  );
}

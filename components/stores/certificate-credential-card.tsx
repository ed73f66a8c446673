"use client";

import { DownloadIcon, KeyRoundIcon } from "lucide-react";
import { useState } from "react";
import { ConfirmDialog } from "@/components/shared/confirm-dialog";
import { LocalTime } from "@/components/shared/local-time";
import { useServerAction } from "@/components/shared/use-server-action";
import { useSettingsActionSync } from "@/components/stores/settings-sync";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { generateStoreCertificateAction } from "@/lib/stores/actions";

type Props = {
  storeId: string;
  current: { thumbprint: string; notAfter: Date } | null;
  /** Why the stored certificate cannot be offered (a key that does not match, say); null when there is no such problem. */
  problem: string | null;
  /** How the store signs in now when not with a certificate ("a client secret"): a new key pair replaces it at once. */
  replaces: string | null;
  /** The store kind's words for where the public certificate goes ("the app registration") and the steps there. */
  uploadTo: string;
  uploadSteps: string;
};

/**
 * Better than creating the key pair with OpenSSL on a laptop: Latch makes it, keeps the private key
 * sealed, and offers only the public certificate (for Azure: to upload to the app registration).
 */
export function CertificateCredentialCard({ storeId, current, problem, replaces, uploadTo, uploadSteps }: Props) {
  const [confirm, setConfirm] = useState(false);
  const generate = useServerAction(generateStoreCertificateAction, { success: `Key pair generated. Download the certificate and upload it to ${uploadTo}.`, awaitRefresh: true });
  const href = (format: "cer" | "pem") => `/api/v1/stores/${storeId}/certificate?format=${format}`;
  // A new key pair is stored in the store's settings at once, and the settings form below starts afresh from them.
  const { unsaved, saving } = useSettingsActionSync(generate.pending);
  // Making a key pair changes how the store signs in, at once: ask first whenever something in use is
  // replaced, or changes typed in the form below would be discarded.
  const asks = Boolean(current || problem || replaces || unsaved);
  const discards = unsaved ? " The changes you have not saved in the settings below are discarded." : "";
  const confirmText = replaces
    ? {
        title: "Switch this store to a certificate?",
        description: `This store signs in with ${replaces} now. Latch generates a key pair and signs in with it at once, instead of ${replaces}. Sign-ins fail until you download the certificate and upload it to ${uploadTo}.${discards}`,
        confirmLabel: "Generate and switch",
      }
    : current || problem
      ? {
          title: "Replace the certificate?",
          description: `Latch replaces the key pair and uses the new one at once; the old private key is discarded. Sign-ins fail until you download the new certificate and upload it to ${uploadTo}.${discards}`,
          confirmLabel: "Generate new key pair",
        }
      : {
          title: "Discard your unsaved changes?",
          description: "Latch generates the key pair and stores it in this store’s settings at once. The changes you have not saved in the settings below are discarded: save them first to keep them.",
          confirmLabel: "Discard and generate",
        };
  const failure = (
    <p role="alert" className="rounded-md bg-danger/10 px-3 py-2 text-sm text-danger">
      {generate.formError}
    </p>
  );
  return (
    <Card>
      <CardHeader>
        <CardTitle>
          <h2>Certificate credential</h2>
        </CardTitle>
        <CardDescription>
          Let Latch generate the key pair: the private key is created and kept encrypted in Latch, and you download only the public certificate. {uploadSteps}
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">
        {current ? (
          <dl className="grid grid-cols-[9rem_1fr] gap-y-1 text-sm">
            <dt className="text-muted-foreground">Thumbprint</dt>
            <dd className="font-mono text-xs break-all">{current.thumbprint}</dd>
            <dt className="text-muted-foreground">Valid until</dt>
            <dd>
              <LocalTime value={current.notAfter} />
            </dd>
          </dl>
        ) : problem ? (
          <p role="status" className="rounded-lg border border-danger/30 bg-danger/5 p-3 text-sm text-danger">
            {problem}
          </p>
        ) : (
          <p className="text-sm text-muted-foreground">{replaces ? `No certificate yet: this store signs in with ${replaces}.` : "No certificate yet."}</p>
        )}
        {generate.formError && !confirm ? failure : null}
        <div className="flex flex-wrap gap-2">
          <Button type="button" onClick={() => (asks ? setConfirm(true) : void generate.run({ storeId }))} pending={generate.pending} disabled={saving}>
            <KeyRoundIcon aria-hidden="true" /> {generate.pending ? "Generating…" : current || problem ? "Generate a new key pair" : "Generate key pair in Latch"}
          </Button>
          {current ? (
            <>
              <Button asChild variant="outline">
                <a href={href("cer")} download>
                  <DownloadIcon aria-hidden="true" /> Download .cer
                </a>
              </Button>
              <Button asChild variant="outline">
                <a href={href("pem")} download>
                  <DownloadIcon aria-hidden="true" /> Download PEM
                </a>
              </Button>
            </>
          ) : null}
        </div>
      </CardContent>
      <ConfirmDialog
        open={confirm}
        onOpenChange={(open) => {
          setConfirm(open);
          generate.reset();
        }}
        title={confirmText.title}
        description={confirmText.description}
        destructive
        confirmLabel={confirmText.confirmLabel}
        onConfirm={async () => {
          const ok = await generate.run({ storeId });
          if (!ok) return false;
        }}
      >
        {/* Said here, not only in a toast: the page behind a modal dialog is hidden from screen readers. */}
        {generate.formError ? failure : null}
      </ConfirmDialog>
    </Card>
  );
}

"use client";

import { CheckCircle2Icon, FlaskConicalIcon, LoaderCircleIcon, PencilIcon, RotateCcwKeyIcon, Trash2Icon, XCircleIcon } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { toast } from "sonner";
import { ConfirmDialog } from "@/components/shared/confirm-dialog";
import { useServerAction, useSettleAction } from "@/components/shared/use-server-action";
import { Button } from "@/components/ui/button";
import { deleteAssetAction, refreshAssetAction, testAssetAction } from "@/lib/assets/actions";
import type { ResolveTestResult } from "@/lib/secrets/resolver";
import { LocalTime } from "@/components/shared/local-time";
import { useLeaveDeleted } from "@/components/shared/use-leave-deleted";

type TestResult = ResolveTestResult;

/**
 * Edit and delete, for people with assets.write. An asset that connections use cannot be deleted
 * (the server refuses it): Delete is then not offered, and the reason is shown in its place.
 */
export function AssetManageActions({ assetId, assetName, folderId, usedBy, holdsSecret }: { assetId: string; assetName: string; folderId: string; usedBy: number; holdsSecret: boolean }) {
  const leaveDeleted = useLeaveDeleted();
  const settle = useSettleAction();
  return (
    <div className="flex flex-wrap items-center gap-2">
      <Button variant="outline" asChild>
        <Link href={`/assets/${assetId}/edit`}>
          <PencilIcon aria-hidden="true" /> Edit
        </Link>
      </Button>
      {usedBy > 0 ? (
        <p className="max-w-64 text-xs text-muted-foreground">
          Used by {usedBy === 1 ? "a connection" : `${usedBy} connections`} (see “Where used”): it can be deleted once none uses it.
        </p>
      ) : (
      <ConfirmDialog
        trigger={
          <Button variant="outline">
            <Trash2Icon aria-hidden="true" /> Delete
          </Button>
        }
        title={`Delete “${assetName}”?`}
        description={
          holdsSecret
            ? "Connections can no longer use it. A value Latch stored for this asset in its own database is deleted too; secrets in external stores are not touched."
            : "The setting and its value are deleted."
        }
        confirmLabel="Delete asset"
        pendingLabel="Deleting…"
        destructive
        onConfirm={async () => {
          await settle(() => deleteAssetAction({ assetId }));
          toast.success(`Asset “${assetName}” deleted.`);
          leaveDeleted(`/assets/${assetId}`, `/folders/${folderId}/assets`);
        }}
      />
      )}
    </div>
  );
}


/** The Resolve test: reads the secret through its store and shows what was found, never the value. */
export function ResolveTest({ assetId, isCredential }: { assetId: string; isCredential: boolean }) {
  const [result, setResult] = useState<TestResult | null>(null);
  const test = useServerAction(testAssetAction, { onSuccess: (r) => setResult(r) });
  const refresh = useServerAction(refreshAssetAction, { success: "Cached value cleared on every instance; the next use reads it from the store." });
  return (
    <div className="grid gap-4">
      <div className="flex flex-wrap gap-2">
        <Button
          variant="outline"
          onClick={() => {
            // The last run's result goes: a failed run must not leave an earlier success showing.
            setResult(null);
            void test.run({ assetId });
          }}
          pending={test.pending}
        >
          {test.pending ? <LoaderCircleIcon className="animate-spin" aria-hidden="true" /> : <FlaskConicalIcon aria-hidden="true" />}
          {test.pending ? "Resolving…" : "Resolve test"}
        </Button>
        <Button variant="ghost" onClick={() => void refresh.run({ assetId })} pending={refresh.pending}>
          <RotateCcwKeyIcon aria-hidden="true" />
          {refresh.pending ? "Refreshing…" : "Refresh cached value"}
        </Button>
      </div>
      <div aria-live="polite">
        {result ? (
          result.ok ? (
            <div role="status" aria-label="Resolve test result" className="grid gap-3 rounded-lg border border-success/30 bg-success/5 p-4 text-sm">
              <p className="flex items-center gap-2 font-medium text-success">
                <CheckCircle2Icon className="size-4" aria-hidden="true" /> Found the secret ({result.durationMs} ms)
              </p>
              <dl className="grid grid-cols-[max-content_1fr] gap-x-6 gap-y-1.5">
                <dt className="text-muted-foreground">Version</dt>
                <dd className="font-mono">{result.version ?? "—"}</dd>
                <dt className="text-muted-foreground">Updated</dt>
                <dd>{result.updatedAt ? <LocalTime value={result.updatedAt} /> : "—"}</dd>
                <dt className="text-muted-foreground">Keys present</dt>
                <dd className="font-mono">{result.keys.join(", ") || "—"}</dd>
                {isCredential ? (
                  <>
                    <dt className="text-muted-foreground">Username</dt>
                    <dd>{result.usernameKey ? <>read from key <span className="font-mono">{result.usernameKey}</span></> : <span className="font-mono">{result.username ?? "—"}</span>}</dd>
                  </>
                ) : null}
              </dl>
              <p className="text-muted-foreground">The value itself is never shown.</p>
            </div>
          ) : (
            <div role="alert" aria-label="Resolve test result" className="grid gap-1 rounded-lg border border-danger/30 bg-danger/5 p-4 text-sm">
              <p className="flex items-center gap-2 font-medium text-danger">
                <XCircleIcon className="size-4" aria-hidden="true" /> {result.title}
              </p>
              <p>{result.message}</p>
            </div>
          )
        ) : null}
      </div>
    </div>
  );
}

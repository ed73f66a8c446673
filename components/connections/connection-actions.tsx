"use client";

import { KeyRoundIcon, LoaderCircleIcon, PencilIcon, RefreshCwIcon, RotateCcwKeyIcon, Trash2Icon } from "lucide-react";
import Link from "next/link";
import { toast } from "sonner";
import { ConfirmDialog } from "@/components/shared/confirm-dialog";
import { useServerAction, useSettleAction } from "@/components/shared/use-server-action";
import { Button } from "@/components/ui/button";
import { authorizeConnectionAction, deleteConnectionAction, reconnectConnectionAction, refreshConnectionAction } from "@/lib/connections/actions";
import { useLeaveDeleted } from "@/components/shared/use-leave-deleted";
import { ViewOnlyNote } from "@/components/shared/view-only-note";

export function ConnectionActions({
  connectionId,
  name,
  folderId,
  canWrite,
  canUse,
  canAuthorize = false,
  awaitingAuthorization = false,
}: {
  connectionId: string;
  name: string;
  folderId: string;
  canWrite: boolean;
  canUse: boolean;
  /** An OAuth app connection still waiting for authorisation, and the person may edit it. */
  canAuthorize?: boolean;
  awaitingAuthorization?: boolean;
}) {
  const leaveDeleted = useLeaveDeleted();
  const settle = useSettleAction();
  // The outcome (status badge and message) shows on the page after the refresh.
  const reconnect = useServerAction(reconnectConnectionAction, {
    onSuccess: (r) => (r.ok ? toast.success("Connected.") : toast.error(`Could not connect: ${r.title}`)),
  });
  // To the app's sign-in page; it sends the browser back to the connection.
  const authorize = useServerAction(authorizeConnectionAction, { refresh: false, onSuccess: (r) => window.location.assign(r.redirectTo) });
  const refresh = useServerAction(refreshConnectionAction, { success: "Cached credentials cleared on every instance; the next use fetches them anew." });
  if (!canUse && !canWrite && !canAuthorize) {
    return <ViewOnlyNote>View only: reconnecting or changing it needs the Editor role in its folder.</ViewOnlyNote>;
  }
  return (
    <div className="flex flex-wrap gap-2">
      {canAuthorize ? (
        <Button onClick={() => void authorize.run({ connectionId })} pending={authorize.pending}>
          {authorize.pending ? <LoaderCircleIcon className="animate-spin" aria-hidden="true" /> : <KeyRoundIcon aria-hidden="true" />}
          {authorize.pending ? "Opening the app…" : "Authorise the app"}
        </Button>
      ) : null}
      {canUse ? (
        <Button variant="outline" onClick={() => void refresh.run({ connectionId })} pending={refresh.pending}>
          <RotateCcwKeyIcon aria-hidden="true" />
          {refresh.pending ? "Refreshing…" : "Refresh credentials"}
        </Button>
      ) : null}
      {/* Waiting for the app's authorisation, there is nothing to reconnect with yet. */}
      {canUse && !awaitingAuthorization ? (
        <Button variant="outline" onClick={() => void reconnect.run({ connectionId })} pending={reconnect.pending}>
          {reconnect.pending ? <LoaderCircleIcon className="animate-spin" aria-hidden="true" /> : <RefreshCwIcon aria-hidden="true" />}
          {reconnect.pending ? "Connecting…" : "Reconnect"}
        </Button>
      ) : null}
      {canWrite ? (
        <>
          <Button variant="outline" asChild>
            <Link href={`/connections/${connectionId}/edit`}>
              <PencilIcon aria-hidden="true" /> Edit
            </Link>
          </Button>
          <ConfirmDialog
            trigger={
              <Button variant="outline">
                <Trash2Icon aria-hidden="true" /> Delete
              </Button>
            }
            title={`Delete “${name}”?`}
            description="Automations can no longer use it. The credential assets it uses are not touched."
            confirmLabel="Delete connection"
            pendingLabel="Deleting…"
            destructive
            onConfirm={async () => {
              await settle(() => deleteConnectionAction({ connectionId }));
              toast.success(`Connection “${name}” deleted.`);
              leaveDeleted(`/connections/${connectionId}`, `/folders/${folderId}/connections`);
            }}
          />
        </>
      ) : null}
    </div>
  );
}

"use client";

import { FlaskConicalIcon, LoaderCircleIcon, RotateCcwKeyIcon, Trash2Icon } from "lucide-react";
import { toast } from "sonner";
import { ConfirmDialog } from "@/components/shared/confirm-dialog";
import { useServerAction, useSettleAction } from "@/components/shared/use-server-action";
import { Button } from "@/components/ui/button";
import { deleteStoreAction, refreshStoreAction, testStoreAction } from "@/lib/stores/actions";
import { useLeaveDeleted } from "@/components/shared/use-leave-deleted";

/**
 * Test the saved settings (records the store's health) and delete. A store that assets point at
 * cannot be deleted: the dialog says so before anyone confirms (the server refuses it regardless,
 * naming the assets, should one have been added since the page loaded).
 */
export function StoreActions({ storeId, storeName, deletable, deleteRefusal }: { storeId: string; storeName: string; deletable: boolean; deleteRefusal: string | null }) {
  const leaveDeleted = useLeaveDeleted();
  const settle = useSettleAction();
  // The outcome shows on the page itself (health badge, and the failure in full) after the refresh.
  const test = useServerAction(testStoreAction, { onSuccess: (r) => (r.ok ? toast.success(`Test passed. ${r.message}`) : undefined) });
  const refresh = useServerAction(refreshStoreAction, { success: "Cached values from this store cleared on every instance; the next use reads them from the store." });
  return (
    <div className="flex flex-wrap gap-2">
      <Button variant="outline" onClick={() => void refresh.run({ storeId })} pending={refresh.pending}>
        <RotateCcwKeyIcon aria-hidden="true" />
        {refresh.pending ? "Refreshing…" : "Refresh cached values"}
      </Button>
      <Button variant="outline" onClick={() => void test.run({ storeId })} pending={test.pending}>
        {test.pending ? <LoaderCircleIcon className="animate-spin" aria-hidden="true" /> : <FlaskConicalIcon aria-hidden="true" />}
        {test.pending ? "Testing…" : "Test saved settings"}
      </Button>
      {deletable ? (
        <ConfirmDialog
          trigger={
            <Button variant="outline">
              <Trash2Icon aria-hidden="true" /> Delete
            </Button>
          }
          title={`Delete “${storeName}”?`}
          description={deleteRefusal ?? "Latch forgets the store and its credentials. Secrets in the vault itself are not touched."}
          confirmLabel="Delete store"
          confirmDisabled={deleteRefusal !== null}
          pendingLabel="Deleting…"
          destructive
          onConfirm={async () => {
            await settle(() => deleteStoreAction({ storeId }));
            toast.success(`Store “${storeName}” deleted.`);
            leaveDeleted(`/stores/${storeId}`, "/stores");
          }}
        />
      ) : null}
    </div>
  );
}

"use client";

import { Button } from "@/components/ui/button";
import { DialogClose, DialogFooter, useDialogBusy } from "@/components/ui/dialog";

/**
 * The end of a dialog's form: the error that belongs to no field it shows (useServerAction's
 * formError), then Cancel and the submit button, which says what it is doing while pending.
 * Cancel closes the dialog the way Escape and the close button do (through its onOpenChange), so
 * the dialog's own clean-up runs: no error or abandoned input is waiting when it opens again.
 * While pending the dialog cannot be closed at all (useDialogBusy): the answer still on its way
 * belongs to this opening, not the next.
 */
export function DialogFormFooter({
  formError,
  pending,
  submitLabel,
  pendingLabel = "Saving…",
  submitDisabled,
}: {
  formError?: string | null;
  pending: boolean;
  submitLabel: string;
  pendingLabel?: string;
  submitDisabled?: boolean;
}) {
  useDialogBusy(pending);
  return (
    <>
      {formError ? (
        <p role="alert" className="text-sm text-danger">
          {formError}
        </p>
      ) : null}
      <DialogFooter>
        <DialogClose asChild>
          <Button type="button" variant="outline" disabled={pending}>
            Cancel
          </Button>
        </DialogClose>
        <Button type="submit" disabled={submitDisabled} pending={pending}>
          {pending ? pendingLabel : submitLabel}
        </Button>
      </DialogFooter>
    </>
  );
}

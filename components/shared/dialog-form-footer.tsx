import { Button } from "@/components/ui/button";
import { DialogFooter } from "@/components/ui/dialog";

/**
 * The end of a dialog's form: the error that belongs to no field it shows (useServerAction's
 * formError), then Cancel and the submit button, which says what it is doing while pending.
 */
export function DialogFormFooter({
  formError,
  pending,
  submitLabel,
  pendingLabel = "Saving…",
  submitDisabled,
  onCancel,
}: {
  formError?: string | null;
  pending: boolean;
  submitLabel: string;
  pendingLabel?: string;
  submitDisabled?: boolean;
  onCancel: () => void;
}) {
  return (
    <>
      {formError ? (
        <p role="alert" className="text-sm text-danger">
          {formError}
        </p>
      ) : null}
      <DialogFooter>
        <Button type="button" variant="outline" onClick={onCancel}>
          Cancel
        </Button>
        <Button type="submit" disabled={submitDisabled} pending={pending}>
          {pending ? pendingLabel : submitLabel}
        </Button>
      </DialogFooter>
    </>
  );
}

"use client";

import * as React from "react";
import { LoaderCircleIcon } from "lucide-react";

import {
  AlertDialog,
  AlertDialogCancel,
  AlertDialogContent,
  AlertDialogDescription,
  AlertDialogFooter,
  AlertDialogHeader,
  AlertDialogTitle,
  AlertDialogTrigger,
} from "@/components/ui/alert-dialog";
import { Button } from "@/components/ui/button";

export type ConfirmDialogProps = {
  /** Element that opens the dialog (rendered with Radix `asChild`). Omit when controlling `open`. */
  trigger?: React.ReactElement;
  open?: boolean;
  onOpenChange?: (open: boolean) => void;
  title: React.ReactNode;
  description?: React.ReactNode;
  /** Extra content between the description and the buttons. */
  children?: React.ReactNode;
  confirmLabel?: string;
  cancelLabel?: string;
  /** Label shown on the confirm button while `onConfirm` runs. */
  pendingLabel?: string;
  destructive?: boolean;
  /** The action cannot be taken now; the description says why. */
  confirmDisabled?: boolean;
  /**
   * Runs on confirm. The dialog stays open (buttons disabled) until it settles and closes on
   * success. Return `false` to keep it open; a thrown error's message is shown inside the dialog.
   */
  onConfirm: () => void | boolean | Promise<void | boolean>;
};

export function ConfirmDialog({
  trigger,
  open: openProp,
  onOpenChange,
  title,
  description,
  children,
  confirmLabel = "Confirm",
  cancelLabel = "Cancel",
  pendingLabel,
  destructive = false,
  confirmDisabled = false,
  onConfirm,
}: ConfirmDialogProps) {
  const [uncontrolledOpen, setUncontrolledOpen] = React.useState(false);
  const [pending, setPending] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const open = openProp ?? uncontrolledOpen;
  const errorId = React.useId();

  const setOpen = React.useCallback(
    (next: boolean) => {
      if (openProp === undefined) setUncontrolledOpen(next);
      onOpenChange?.(next);
    },
    [openProp, onOpenChange],
  );

  function handleOpenChange(next: boolean) {
    // Closing mid-request would hide the outcome of an action that is still running.
    if (pending) return;
    // Cleared on close too: a dialog opened from a menu (the open prop) never reports its opening.
    setError(null);
    setOpen(next);
  }

  async function handleConfirm() {
    setPending(true);
    setError(null);
    try {
      const result = await onConfirm();
      if (result !== false) setOpen(false);
    } catch (err) {
      setError(err instanceof Error && err.message ? err.message : "Something went wrong. Please try again.");
    } finally {
      setPending(false);
    }
  }

  return (
    <AlertDialog open={open} onOpenChange={handleOpenChange}>
      {trigger ? <AlertDialogTrigger asChild>{trigger}</AlertDialogTrigger> : null}
      <AlertDialogContent
        aria-busy={pending || undefined}
        // Without a description, tell Radix explicitly so it does not warn about a missing one.
        {...(description ? {} : { "aria-describedby": undefined })}
      >
        <AlertDialogHeader>
          <AlertDialogTitle>{title}</AlertDialogTitle>
          {description ? <AlertDialogDescription>{description}</AlertDialogDescription> : null}
        </AlertDialogHeader>
        {children}
        {error ? (
          <p id={errorId} role="alert" className="rounded-md bg-danger/10 px-3 py-2 text-sm text-danger">
            {error}
          </p>
        ) : null}
        <AlertDialogFooter>
          <AlertDialogCancel disabled={pending}>{cancelLabel}</AlertDialogCancel>
          {/* A plain Button rather than AlertDialogAction: Action closes the dialog before the promise settles. */}
          <Button
            variant={destructive ? "destructive" : "default"}
            onClick={handleConfirm}
            pending={pending}
            disabled={confirmDisabled}
            aria-describedby={error ? errorId : undefined}
          >
            {pending ? <LoaderCircleIcon className="animate-spin" aria-hidden="true" /> : null}
            {pending && pendingLabel ? pendingLabel : confirmLabel}
          </Button>
        </AlertDialogFooter>
      </AlertDialogContent>
    </AlertDialog>
  );
}

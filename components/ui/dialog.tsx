"use client";

import * as React from "react";
import { Dialog as DialogPrimitive } from "radix-ui";
import { XIcon } from "lucide-react";

import { cn } from "@/lib/utils";
import { useMenuFocusReturn } from "./focus-return";

/**
 * Whether a request started in the dialog is still running (a form being sent reports it through
 * useDialogBusy). Meanwhile the dialog refuses to close: closing would hide the outcome, and the
 * late answer would land in the next opening (an error again, or a result nobody sees).
 */
const DialogBusyContext = React.createContext<{ busy: boolean; setBusy: (busy: boolean) => void } | null>(null);

/** Radix's Dialog root, which ignores every request to close while the dialog is busy. */
export function Dialog({ open: openProp, defaultOpen, onOpenChange, ...props }: React.ComponentProps<typeof DialogPrimitive.Root>) {
  // Always controlled here, so that a refused close is refused for uncontrolled dialogs too.
  const [uncontrolledOpen, setUncontrolledOpen] = React.useState(defaultOpen ?? false);
  const [busy, setBusy] = React.useState(false);
  const open = openProp ?? uncontrolledOpen;
  const busyContext = React.useMemo(() => ({ busy, setBusy }), [busy]);

  function handleOpenChange(next: boolean) {
    if (!next && busy) return;
    if (openProp === undefined) setUncontrolledOpen(next);
    onOpenChange?.(next);
  }

  return (
    <DialogBusyContext.Provider value={busyContext}>
      <DialogPrimitive.Root open={open} onOpenChange={handleOpenChange} {...props} />
    </DialogBusyContext.Provider>
  );
}

/** Marks the dialog around the caller busy while `busy` is true: it cannot be closed until then. */
export function useDialogBusy(busy: boolean) {
  const setBusy = React.useContext(DialogBusyContext)?.setBusy;
  React.useLayoutEffect(() => {
    if (!setBusy) return;
    setBusy(busy);
    return () => setBusy(false);
  }, [setBusy, busy]);
}

export const DialogTrigger = DialogPrimitive.Trigger;
export const DialogPortal = DialogPrimitive.Portal;
export const DialogClose = DialogPrimitive.Close;

export function DialogOverlay({ className, ...props }: React.ComponentProps<typeof DialogPrimitive.Overlay>) {
  return (
    <DialogPrimitive.Overlay
      data-slot="dialog-overlay"
      className={cn(
        "fixed inset-0 z-50 bg-black/50 backdrop-blur-[1px] data-[state=closed]:animate-out data-[state=open]:animate-in",
        className,
      )}
      {...props}
    />
  );
}

export type DialogContentProps = React.ComponentProps<typeof DialogPrimitive.Content> & {
  /** Show the top-right close button (labelled "Close"). */
  showCloseButton?: boolean;
};

export function DialogContent({
  className,
  children,
  showCloseButton = true,
  onCloseAutoFocus,
  onEscapeKeyDown,
  onInteractOutside,
  ...props
}: DialogContentProps) {
  const { openerNote, ...focusReturn } = useMenuFocusReturn({ onCloseAutoFocus });
  const busy = React.useContext(DialogBusyContext)?.busy ?? false;
  return (
    <DialogPortal>
      <DialogOverlay />
      <DialogPrimitive.Content
        data-slot="dialog-content"
        className={cn(
          "fixed top-1/2 left-1/2 z-50 grid grid-cols-[minmax(0,1fr)] max-h-[calc(100dvh-2rem)] w-full max-w-[calc(100%-2rem)] -translate-x-1/2 -translate-y-1/2 gap-4 overflow-y-auto rounded-xl border bg-popover p-6 text-popover-foreground shadow-xl outline-none data-[state=closed]:animate-out data-[state=open]:animate-in sm:max-w-lg",
          className,
        )}
        aria-busy={busy || undefined}
        {...focusReturn}
        {...props}
        onEscapeKeyDown={(event) => {
          if (busy) event.preventDefault();
          onEscapeKeyDown?.(event);
        }}
        onInteractOutside={(event) => {
          if (busy) event.preventDefault();
          onInteractOutside?.(event);
        }}
      >
        {openerNote}
        {children}
        {showCloseButton ? (
          <DialogPrimitive.Close
            disabled={busy}
            className="absolute top-3.5 right-3.5 inline-flex size-8 items-center justify-center rounded-md text-muted-foreground transition-colors outline-none hover:bg-accent hover:text-accent-foreground focus-visible:ring-2 focus-visible:ring-ring disabled:pointer-events-none"
            aria-label="Close"
          >
            <XIcon className="size-4" aria-hidden="true" />
          </DialogPrimitive.Close>
        ) : null}
      </DialogPrimitive.Content>
    </DialogPortal>
  );
}

export function DialogHeader({ className, ...props }: React.ComponentProps<"div">) {
  return <div data-slot="dialog-header" className={cn("flex flex-col gap-1.5 pr-6 text-left", className)} {...props} />;
}

export function DialogFooter({ className, ...props }: React.ComponentProps<"div">) {
  return (
    <div
      data-slot="dialog-footer"
      // Stays in view at the bottom of a dialog taller than the screen, which scrolls under it; the fade
      // above it shows that content goes on below (over the gap of a dialog that fits, it shows nothing).
      className={cn(
        "sticky -bottom-6 -mx-6 -mb-6 flex flex-col-reverse gap-2 bg-popover px-6 pt-2 pb-6 before:pointer-events-none before:absolute before:inset-x-0 before:-top-4 before:h-4 before:bg-gradient-to-t before:from-popover before:to-transparent sm:flex-row sm:justify-end",
        className,
      )}
      {...props}
    />
  );
}

export function DialogTitle({ className, ...props }: React.ComponentProps<typeof DialogPrimitive.Title>) {
  return (
    <DialogPrimitive.Title
      data-slot="dialog-title"
      className={cn("text-lg leading-tight font-semibold [overflow-wrap:anywhere]", className)}
      {...props}
    />
  );
}

export function DialogDescription({ className, ...props }: React.ComponentProps<typeof DialogPrimitive.Description>) {
  return (
    <DialogPrimitive.Description
      data-slot="dialog-description"
      className={cn("text-sm text-muted-foreground [overflow-wrap:anywhere]", className)}
      {...props}
    />
  );
}

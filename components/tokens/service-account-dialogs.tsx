"use client";

import { BotIcon, MoreHorizontalIcon } from "lucide-react";
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { DropdownMenu, DropdownMenuContent, DropdownMenuItem, DropdownMenuSeparator, DropdownMenuTrigger } from "@/components/ui/dropdown-menu";
import { moveFocusWhenRemoved } from "@/components/ui/focus-return";
import { Input } from "@/components/ui/input";
import { Textarea } from "@/components/ui/textarea";
import { ConfirmDialog } from "@/components/shared/confirm-dialog";
import { FormField } from "@/components/shared/form-field";
import { DialogFormFooter } from "@/components/shared/dialog-form-footer";
import { useServerAction, useSettleAction } from "@/components/shared/use-server-action";
import {
  createServiceAccountAction,
  deleteServiceAccountAction,
  setServiceAccountDisabledAction,
  updateServiceAccountAction,
} from "@/lib/tokens/actions";

type Account = { id: string; name: string; description: string; disabled: boolean };

function ServiceAccountForm({
  account,
  open,
  onOpenChange,
}: {
  account?: Account;
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const [form, setForm] = useState({ name: account?.name ?? "", description: account?.description ?? "" });
  // The new account's "New token" gets focus when the dialog closes: the control that opened it
  // (the empty list's button) may be gone by then.
  const createdId = useRef<string | null>(null);
  const create = useServerAction(createServiceAccountAction, {
    success: (a) => `Service account “${a.name}” created. Give it a token next.`,
    onSuccess: (a) => (createdId.current = a.id),
  });
  const update = useServerAction(updateServiceAccountAction, { success: "Service account saved.", awaitRefresh: true });
  const current = account ? update : create;

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    const ok = account ? await update.run({ serviceAccountId: account.id, ...form }) : await create.run(form);
    if (ok) {
      onOpenChange(false);
      if (!account) setForm({ name: "", description: "" });
    }
  }

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        onOpenChange(next);
        if (next) return;
        current.reset();
        // A new account's form stays mounted: what was typed and cancelled must not wait in the next one.
        if (!account) setForm({ name: "", description: "" });
      }}
    >
      <DialogContent
        onCloseAutoFocus={(event) => {
          const id = createdId.current;
          if (!id) return;
          createdId.current = null;
          event.preventDefault();
          focusWhenShown([`[data-service-account="${CSS.escape(id)}"]:not(:disabled)`, "[data-new-service-account]"]);
        }}
      >
        <form onSubmit={submit} noValidate className="grid gap-5">
          <DialogHeader>
            <DialogTitle>{account ? `Edit ${account.name}` : "New service account"}</DialogTitle>
            <DialogDescription>A principal for automation that belongs to no person. It holds no folder role: only what its tokens allow.</DialogDescription>
          </DialogHeader>
          <FormField label="Name" id="sa-name" error={current.fieldError("name")} description="Unique, e.g. “deploy-runner”." required>
            <Input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} autoComplete="off" maxLength={300} autoFocus />
          </FormField>
          <FormField label="Description" id="sa-description" error={current.fieldError("description")} description="What runs with it, and who to ask about it.">
            <Textarea value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} maxLength={500} rows={3} />
          </FormField>
          <DialogFormFooter formError={current.formError} pending={current.pending} submitLabel={account ? "Save" : "Create service account"} />
        </form>
      </DialogContent>
    </Dialog>
  );
}

/** Focuses the first element matching one of the selectors once the page shows it (a refresh may still be on its way). */
function focusWhenShown(selectors: string[], waitMs = 3000) {
  const until = Date.now() + waitMs;
  const attempt = () => {
    // The person has moved on (focus is somewhere again): leave it there.
    if (document.activeElement && document.activeElement !== document.body) return;
    const target = document.querySelector<HTMLElement>(selectors[0]!);
    if (target) return target.focus();
    if (Date.now() < until) return void setTimeout(attempt, 50);
    for (const selector of selectors.slice(1)) {
      const fallback = document.querySelector<HTMLElement>(selector);
      if (fallback) return fallback.focus();
    }
  };
  attempt();
}

export function CreateServiceAccountButton({ variant = "default" }: { variant?: "default" | "outline" }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <Button variant={variant} onClick={() => setOpen(true)} data-new-service-account="">
        <BotIcon aria-hidden="true" /> New service account
      </Button>
      <ServiceAccountForm open={open} onOpenChange={setOpen} />
    </>
  );
}

/** `tokenCount`: all its tokens listed (deleted with it); `usableTokenCount`: those a runner can use now (stopped by Disable). */
export function ServiceAccountActions({ account, tokenCount, usableTokenCount }: { account: Account; tokenCount: number; usableTokenCount: number }) {
  const router = useRouter();
  const settle = useSettleAction();
  const [dialog, setDialog] = useState<"edit" | "disable" | "delete" | null>(null);
  const actions = useRef<HTMLButtonElement>(null);
  const toggle = useServerAction(setServiceAccountDisabledAction, { success: `${account.name} enabled.` });
  return (
    <>
      <DropdownMenu>
        <DropdownMenuTrigger asChild>
          <Button ref={actions} variant="ghost" size="icon" aria-label={`Actions for ${account.name}`}>
            <MoreHorizontalIcon aria-hidden="true" />
          </Button>
        </DropdownMenuTrigger>
        <DropdownMenuContent align="end">
          <DropdownMenuItem onSelect={() => setDialog("edit")}>Edit</DropdownMenuItem>
          {/* Disabling breaks every runner using its tokens at once: asked first. Enabling is not. */}
          <DropdownMenuItem
            disabled={toggle.pending}
            onSelect={() => (account.disabled ? void toggle.run({ serviceAccountId: account.id, disabled: false }) : setDialog("disable"))}
          >
            {account.disabled ? "Enable" : "Disable"}
          </DropdownMenuItem>
          <DropdownMenuSeparator />
          <DropdownMenuItem variant="destructive" onSelect={() => setDialog("delete")}>
            Delete
          </DropdownMenuItem>
        </DropdownMenuContent>
      </DropdownMenu>

      {/* Mounted when opened, so the form starts from the account as it is now. */}
      {dialog === "edit" ? <ServiceAccountForm account={account} open onOpenChange={(open) => setDialog(open ? "edit" : null)} /> : null}

      <ConfirmDialog
        open={dialog === "disable"}
        onOpenChange={(open) => setDialog(open ? "disable" : null)}
        title={`Disable ${account.name}?`}
        description={`${usableTokenCount === 1 ? "Its usable token is" : usableTokenCount > 1 ? `Its ${usableTokenCount} usable tokens are` : "Tokens it is given are"} refused until you enable it again: runners using ${usableTokenCount === 1 ? "it" : "them"} stop working at once.`}
        confirmLabel="Disable service account"
        pendingLabel="Disabling…"
        destructive
        onConfirm={async () => {
          await settle(() => setServiceAccountDisabledAction({ serviceAccountId: account.id, disabled: true }));
          toast.success(`${account.name} disabled: its tokens are refused.`);
          router.refresh();
        }}
      />

      <ConfirmDialog
        open={dialog === "delete"}
        onOpenChange={(open) => setDialog(open ? "delete" : null)}
        title={`Delete ${account.name}?`}
        description={
          tokenCount > 0
            ? `Its ${tokenCount === 1 ? "token is" : `${tokenCount} tokens are`} deleted with it and refused from now on. The audit log keeps their history.`
            : "The audit log keeps its history."
        }
        confirmLabel="Delete service account"
        pendingLabel="Deleting…"
        destructive
        onConfirm={async () => {
          await settle(() => deleteServiceAccountAction({ serviceAccountId: account.id }));
          toast.success(`${account.name} deleted.`);
          // Its card goes with the refresh, and with it the Actions button focus returns to.
          moveFocusWhenRemoved(actions.current);
          router.refresh();
        }}
      />
    </>
  );
}

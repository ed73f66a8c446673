"use client";

import { MoreHorizontalIcon, UserPlusIcon } from "lucide-react";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Checkbox } from "@/components/ui/checkbox";
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogHeader,
  DialogTitle,
  DialogTrigger,
} from "@/components/ui/dialog";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuSeparator,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { ConfirmDialog } from "@/components/shared/confirm-dialog";
import { FormField } from "@/components/shared/form-field";
import { DialogFormFooter } from "@/components/shared/dialog-form-footer";
import { useServerAction, useSettleAction } from "@/components/shared/use-server-action";
import {
  createUserAction,
  resetUserPasswordAction,
  setUserActiveAction,
  setUserAdminAction,
  updateUserAction,
} from "@/lib/users/actions";
import { NewPasswordInput } from "./password-input";

const NEW_USER = { email: "", name: "", password: "", isAdmin: false };

export function CreateUserDialog() {
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState(NEW_USER);
  const create = useServerAction(createUserAction, { success: (u) => `User ${u.email} created. Share the initial password with them securely.` });

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    if (await create.run(form)) {
      setOpen(false);
      setForm(NEW_USER);
    }
  }

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (next) return;
        // Cancelled: nothing typed waits for the next opening, least of all an initial password.
        create.reset();
        setForm(NEW_USER);
      }}
    >
      <DialogTrigger asChild>
        <Button>
          <UserPlusIcon aria-hidden="true" /> New user
        </Button>
      </DialogTrigger>
      <DialogContent>
        <form onSubmit={submit} noValidate className="grid gap-5">
          <DialogHeader>
            <DialogTitle>New user</DialogTitle>
            <DialogDescription>They sign in with this e-mail and the initial password you give them.</DialogDescription>
          </DialogHeader>
          <NameAndEmailFields idPrefix="user" value={form} onChange={(v) => setForm({ ...form, ...v })} fieldError={create.fieldError} />
          <FormField
            label="Initial password"
            id="user-password"
            error={create.fieldError("password")}
            description="At least 12 characters. Generate one, then share it with the person securely."
            required
          >
            <NewPasswordInput value={form.password} onChange={(password) => setForm({ ...form, password })} />
          </FormField>
          <div className="flex items-center gap-2">
            <Checkbox id="user-admin" checked={form.isAdmin} onCheckedChange={(v) => setForm({ ...form, isAdmin: v === true })} />
            <Label htmlFor="user-admin">Administrator (manages users, stores and every folder)</Label>
          </div>
          <DialogFormFooter formError={create.formError} pending={create.pending} submitLabel="Create user" pendingLabel="Creating…" />
        </form>
      </DialogContent>
    </Dialog>
  );
}

/** A person's name and sign-in e-mail, as both the New user and the Edit dialogs ask for them. */
function NameAndEmailFields({
  idPrefix,
  value,
  onChange,
  fieldError,
}: {
  idPrefix: string;
  value: { name: string; email: string };
  onChange: (value: Partial<{ name: string; email: string }>) => void;
  fieldError: (name: string) => string | null;
}) {
  return (
    <>
      <FormField label="Name" id={`${idPrefix}-name`} error={fieldError("name")} required>
        <Input value={value.name} onChange={(e) => onChange({ name: e.target.value })} autoComplete="off" autoFocus />
      </FormField>
      <FormField label="E-mail" id={`${idPrefix}-email`} error={fieldError("email")} required>
        <Input type="email" value={value.email} onChange={(e) => onChange({ email: e.target.value })} autoComplete="off" />
      </FormField>
    </>
  );
}

type UserSummary = { id: string; name: string; email: string; isAdmin: boolean; active: boolean };

export function UserRowActions({ user, isSelf }: { user: UserSummary; isSelf: boolean }) {
  const router = useRouter();
  const settle = useSettleAction();
  const [dialog, setDialog] = useState<"edit" | "reset" | "deactivate" | "admin" | null>(null);
  const [password, setPassword] = useState("");
  const reset = useServerAction(resetUserPasswordAction, {
    success: (r) =>
      `${isSelf ? "Your password was reset. Your other sessions were ended" : `Password of ${user.name} reset. Their sessions were ended`}${r.tokensRevoked ? `, and ${r.tokensRevoked} personal access token${r.tokensRevoked === 1 ? " was" : "s were"} revoked` : ""}.`,
  });
  const [revokeTokens, setRevokeTokens] = useState(true);
  const active = useServerAction(setUserActiveAction, { success: `${user.name} reactivated.` });

  return (
    <>
      <DropdownMenu>
        <DropdownMenuTrigger asChild>
          <Button variant="ghost" size="icon" aria-label={`Actions for ${user.name}`}>
            <MoreHorizontalIcon aria-hidden="true" />
          </Button>
        </DropdownMenuTrigger>
        <DropdownMenuContent align="end">
          <DropdownMenuItem onSelect={() => setDialog("edit")}>Edit name and e-mail</DropdownMenuItem>
          <DropdownMenuItem onSelect={() => setDialog("reset")}>Reset password</DropdownMenuItem>
          <DropdownMenuItem onSelect={() => setDialog("admin")}>{user.isAdmin ? "Remove administrator" : "Make administrator"}</DropdownMenuItem>
          <DropdownMenuSeparator />
          {user.active ? (
            <DropdownMenuItem variant="destructive" disabled={isSelf} onSelect={() => setDialog("deactivate")}>
              Deactivate
            </DropdownMenuItem>
          ) : (
            <DropdownMenuItem disabled={active.pending} onSelect={() => void active.run({ userId: user.id, active: true })}>
              Reactivate
            </DropdownMenuItem>
          )}
        </DropdownMenuContent>
      </DropdownMenu>

      <EditUserDialog user={user} isSelf={isSelf} open={dialog === "edit"} onOpenChange={(open) => setDialog(open ? "edit" : null)} />

      {/* Tenant-wide rights, given or taken: asked first, like deactivation. */}
      <ConfirmDialog
        open={dialog === "admin"}
        onOpenChange={(open) => setDialog(open ? "admin" : null)}
        title={
          user.isAdmin ? (isSelf ? "Remove your own administrator rights?" : `Remove ${user.name} as administrator?`) : `Make ${user.name} an administrator?`
        }
        description={
          !user.isAdmin
            ? "Administrators manage credential stores, users, service accounts and the audit log, and can open every folder."
            : isSelf
              ? "You will no longer be an administrator: you keep your folder roles, but lose the administration of stores, users, service accounts and the audit log, and the access to every folder. Only another administrator can give it back."
              : "They keep their folder roles, but lose the administration of stores, users, service accounts and the audit log, and the access to every folder."
        }
        confirmLabel={user.isAdmin ? "Remove administrator" : "Make administrator"}
        pendingLabel="Saving…"
        destructive={user.isAdmin}
        onConfirm={async () => {
          const result = await settle(() => setUserAdminAction({ userId: user.id, isAdmin: !user.isAdmin }));
          if (isSelf && !result.isAdmin) {
            toast.success("You are no longer an administrator.");
            // This page is for administrators: refreshed, it would now say "Page not found".
            router.replace("/folders");
            router.refresh();
            return;
          }
          toast.success(result.isAdmin ? `${user.name} is now an administrator.` : `${user.name} is no longer an administrator.`);
          router.refresh();
        }}
      />

      <ConfirmDialog
        open={dialog === "deactivate"}
        onOpenChange={(open) => setDialog(open ? "deactivate" : null)}
        title={`Deactivate ${user.name}?`}
        description="They are signed out at their next request and cannot sign in again until reactivated. Their folder roles are kept."
        confirmLabel="Deactivate"
        pendingLabel="Deactivating…"
        destructive
        onConfirm={async () => {
          await settle(() => setUserActiveAction({ userId: user.id, active: false }));
          toast.success(`${user.name} deactivated.`);
          router.refresh();
        }}
      />

      <Dialog
        open={dialog === "reset"}
        onOpenChange={(open) => {
          setDialog(open ? "reset" : null);
          if (!open) {
            setPassword("");
            setRevokeTokens(true);
            reset.reset();
          }
        }}
      >
        <DialogContent>
          <form
            noValidate
            className="grid gap-5"
            onSubmit={async (e) => {
              e.preventDefault();
              if (await reset.run({ userId: user.id, password, revokeTokens })) {
                setDialog(null);
                setPassword("");
                setRevokeTokens(true);
              }
            }}
          >
            <DialogHeader>
              <DialogTitle>Reset password of {user.name}</DialogTitle>
              <DialogDescription>
                {isSelf
                  ? "Your other sessions end immediately; this one stays signed in."
                  : "Their current sessions end immediately. Share the new password with them securely."}
              </DialogDescription>
            </DialogHeader>
            <FormField label="New password" id="reset-password" error={reset.fieldError("password") ?? reset.formError} required>
              <NewPasswordInput value={password} onChange={setPassword} autoFocus />
            </FormField>
            <div className="flex items-start gap-2">
              <Checkbox id="reset-revoke-tokens" checked={revokeTokens} onCheckedChange={(v) => setRevokeTokens(v === true)} />
              <Label htmlFor="reset-revoke-tokens" className="grid gap-0.5 font-normal">
                <span>Also revoke {isSelf ? "your" : "their"} personal access tokens</span>
                <span className="text-xs text-muted-foreground">Tokens outlive sessions. Keep this on if someone else may have used the account.</span>
              </Label>
            </div>
            <DialogFormFooter pending={reset.pending} submitLabel="Reset password" />
          </form>
        </DialogContent>
      </Dialog>
    </>
  );
}

function EditUserDialog({ user, isSelf, open, onOpenChange }: { user: UserSummary; isSelf: boolean; open: boolean; onOpenChange: (open: boolean) => void }) {
  const [form, setForm] = useState({ name: user.name, email: user.email });
  const update = useServerAction(updateUserAction, { success: (u) => `Saved ${u.name} (${u.email}).`, awaitRefresh: true });
  // Each opening starts from the person as they are now, with no errors of the last attempt.
  const [wasOpen, setWasOpen] = useState(open);
  if (open !== wasOpen) {
    setWasOpen(open);
    if (open) setForm({ name: user.name, email: user.email });
    else update.reset();
  }
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent>
        <form
          noValidate
          className="grid gap-5"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await update.run({ userId: user.id, ...form })) onOpenChange(false);
          }}
        >
          <DialogHeader>
            <DialogTitle>Edit {user.name}</DialogTitle>
            <DialogDescription>
              {isSelf ? "You sign in" : "They sign in"} with this e-mail address from the next sign-in on. Current sessions go on, and the password stays the same.
            </DialogDescription>
          </DialogHeader>
          <NameAndEmailFields idPrefix={`edit-user-${user.id}`} value={form} onChange={(v) => setForm({ ...form, ...v })} fieldError={update.fieldError} />
          <DialogFormFooter formError={update.formError} pending={update.pending} submitLabel="Save" />
        </form>
      </DialogContent>
    </Dialog>
  );
}

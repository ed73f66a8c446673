"use client";

import { MoreHorizontalIcon, UserPlusIcon } from "lucide-react";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { toast } from "sonner";
import type { FolderRole } from "@prisma/client";
import { Button } from "@/components/ui/button";
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
  DropdownMenuLabel,
  DropdownMenuSeparator,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { Input } from "@/components/ui/input";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { ConfirmDialog } from "@/components/shared/confirm-dialog";
import { FormField } from "@/components/shared/form-field";
import { DialogFormFooter } from "@/components/shared/dialog-form-footer";
import { useServerAction, useSettleAction } from "@/components/shared/use-server-action";
import { ROLE_LABELS, ROLE_RANK } from "@/lib/authz/permissions";
import { removeFolderMemberAction, setFolderMemberAction } from "@/lib/folders/actions";

const ROLES: { value: FolderRole; label: string; hint: string }[] = [
  { value: "VIEWER", label: ROLE_LABELS.VIEWER, hint: "Sees the folder and what it holds." },
  { value: "EDITOR", label: ROLE_LABELS.EDITOR, hint: "Also creates and changes assets and connections." },
  { value: "FOLDER_ADMIN", label: ROLE_LABELS.FOLDER_ADMIN, hint: "Also manages subfolders, members and the folder’s audit log." },
];

export function AddMemberDialog({ folderId }: { folderId: string }) {
  const [open, setOpen] = useState(false);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<FolderRole>("VIEWER");
  const add = useServerAction(setFolderMemberAction, { success: "Member added." });

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    if (await add.run({ folderId, email, role, mode: "add" })) {
      setOpen(false);
      setEmail("");
      setRole("VIEWER");
    }
  }

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (!next) add.reset();
      }}
    >
      <DialogTrigger asChild>
        <Button size="sm">
          <UserPlusIcon aria-hidden="true" /> Add member
        </Button>
      </DialogTrigger>
      <DialogContent>
        <form onSubmit={submit} noValidate className="grid gap-5">
          <DialogHeader>
            <DialogTitle>Add member</DialogTitle>
            <DialogDescription>The role applies to this folder and every folder below it.</DialogDescription>
          </DialogHeader>
          <FormField label="E-mail" id="member-email" error={add.fieldError("email") ?? add.formError} required>
            <Input type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoFocus autoComplete="off" placeholder="name@example.com" />
          </FormField>
          <FormField label="Role" id="member-role" error={add.fieldError("role")} description={ROLES.find((r) => r.value === role)?.hint}>
            <Select value={role} onValueChange={(v) => setRole(v as FolderRole)}>
              <SelectTrigger aria-label="Role" className="w-full">
                <SelectValue />
              </SelectTrigger>
              <SelectContent>
                {ROLES.map((r) => (
                  <SelectItem key={r.value} value={r.value}>
                    {r.label}
                  </SelectItem>
                ))}
              </SelectContent>
            </Select>
          </FormField>
          <DialogFormFooter pending={add.pending} submitLabel="Add member" />
        </form>
      </DialogContent>
    </Dialog>
  );
}

export function MemberRowActions({
  folderId,
  member,
  isSelf = false,
}: {
  folderId: string;
  member: { userId: string; name: string; email: string; role: FolderRole };
  /** The row is the signed-in person's own: lowering the role asks first, since it can end their right to manage members here. */
  isSelf?: boolean;
}) {
  const router = useRouter();
  const settle = useSettleAction();
  const [confirmRemove, setConfirmRemove] = useState(false);
  const [ownDemotion, setOwnDemotion] = useState<FolderRole | null>(null);
  const change = useServerAction(setFolderMemberAction, { success: isSelf ? "Your role changed." : `Role of ${member.name} changed.` });
  const choose = (role: FolderRole) => {
    if (isSelf && ROLE_RANK[role] < ROLE_RANK[member.role]) return setOwnDemotion(role);
    void change.run({ folderId, email: member.email, role });
  };

  return (
    <>
      <DropdownMenu>
        <DropdownMenuTrigger asChild>
          <Button variant="ghost" size="icon" aria-label={`Actions for ${member.name}`}>
            <MoreHorizontalIcon aria-hidden="true" />
          </Button>
        </DropdownMenuTrigger>
        <DropdownMenuContent align="end">
          <DropdownMenuLabel>Change role</DropdownMenuLabel>
          {ROLES.map((r) => (
            <DropdownMenuItem
              key={r.value}
              disabled={r.value === member.role || change.pending}
              onSelect={() => choose(r.value)}
            >
              {r.label}
            </DropdownMenuItem>
          ))}
          <DropdownMenuSeparator />
          <DropdownMenuItem variant="destructive" onSelect={() => setConfirmRemove(true)}>
            Remove from folder
          </DropdownMenuItem>
        </DropdownMenuContent>
      </DropdownMenu>
      <ConfirmDialog
        open={ownDemotion !== null}
        onOpenChange={(open) => !open && setOwnDemotion(null)}
        title={`Make yourself ${ownDemotion ? ROLE_LABELS[ownDemotion] : ""} here?`}
        description={
          member.role === "FOLDER_ADMIN"
            ? "Unless another role or administrator rights give it to you, you can no longer manage this folder’s members or subfolders, and someone else has to give the role back."
            : "You keep only what the lower role allows in this folder and its subfolders, unless another role gives you more."
        }
        confirmLabel="Change my role"
        pendingLabel="Changing…"
        destructive
        onConfirm={async () => {
          if (!ownDemotion) return;
          await settle(() => setFolderMemberAction({ folderId, email: member.email, role: ownDemotion, mode: "change" }));
          toast.success("Your role changed.");
          router.refresh();
        }}
      />
      <ConfirmDialog
        open={confirmRemove}
        onOpenChange={setConfirmRemove}
        title={`Remove ${member.name}?`}
        description="They lose the role this folder gives them here and in its subfolders. Roles from other folders stay."
        confirmLabel="Remove"
        pendingLabel="Removing…"
        destructive
        onConfirm={async () => {
          await settle(() => removeFolderMemberAction({ folderId, userId: member.userId }));
          toast.success(`${member.name} removed from the folder.`);
          router.refresh();
        }}
      />
    </>
  );
}

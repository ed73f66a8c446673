"use client";

import { MoreHorizontalIcon, UserPlusIcon } from "lucide-react";
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";
import { toast } from "sonner";
import type { FolderRole } from "@/lib/folders/dto";
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
  DropdownMenuRadioGroup,
  DropdownMenuRadioItem,
  DropdownMenuSeparator,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { moveFocusWhenRemoved } from "@/components/ui/focus-return";
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
        if (next) return;
        // Cancelled: the next opening starts blank, not with this person's address.
        add.reset();
        setEmail("");
        setRole("VIEWER");
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
  /** `role` is the role given on this folder; `inheritedFrom` is set when a higher one comes from a parent folder. */
  member: { userId: string; name: string; email: string; role: FolderRole; inheritedFrom?: { id: string | null; name: string } | null };
  /**
   * The row is the signed-in person's own: lowering the role asks first, since it can end their right
   * to manage members here; removing it warns that it can end their access to the folder.
   */
  isSelf?: boolean;
}) {
  const router = useRouter();
  const settle = useSettleAction();
  const actions = useRef<HTMLButtonElement>(null);
  // Removing their own role, a person keeps the folder only through a role from a parent folder or
  // administrator rights. The row tells only of a higher inherited role; otherwise assume the page is lost.
  const keepsInherited = isSelf && member.inheritedFrom ? member.inheritedFrom : null;
  const [confirmRemove, setConfirmRemove] = useState(false);
  const [ownDemotion, setOwnDemotion] = useState<FolderRole | null>(null);
  const change = useServerAction(setFolderMemberAction, { success: isSelf ? "Your role changed." : `Role of ${member.name} changed.` });
  const choose = (role: FolderRole) => {
    if (role === member.role) return;
    if (isSelf && ROLE_RANK[role] < ROLE_RANK[member.role]) return setOwnDemotion(role);
    void change.run({ folderId, email: member.email, role, mode: "update" });
  };

  return (
    <>
      <DropdownMenu>
        <DropdownMenuTrigger asChild>
          <Button ref={actions} variant="ghost" size="icon" aria-label={`Actions for ${member.name}`}>
            <MoreHorizontalIcon aria-hidden="true" />
          </Button>
        </DropdownMenuTrigger>
        <DropdownMenuContent align="end">
          <DropdownMenuLabel>Change role</DropdownMenuLabel>
          {/* The current role is checked: a person sees what they would change from. */}
          <DropdownMenuRadioGroup value={member.role} onValueChange={(value) => choose(value as FolderRole)}>
            {ROLES.map((r) => (
              <DropdownMenuRadioItem key={r.value} value={r.value} disabled={change.pending}>
                {r.label}
              </DropdownMenuRadioItem>
            ))}
          </DropdownMenuRadioGroup>
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
          await settle(() => setFolderMemberAction({ folderId, email: member.email, role: ownDemotion, mode: "update" }));
          toast.success("Your role changed.");
          // Without members.manage here, no row keeps its Actions button: focus moves on from this one.
          moveFocusWhenRemoved(actions.current);
          router.refresh();
        }}
      />
      <ConfirmDialog
        open={confirmRemove}
        onOpenChange={setConfirmRemove}
        title={isSelf ? "Remove yourself from this folder?" : `Remove ${member.name}?`}
        description={
          !isSelf
            ? "They lose the role this folder gives them here and in its subfolders. Roles from other folders stay."
            : keepsInherited
              ? `You lose the ${ROLE_LABELS[member.role]} role given here. You keep the higher role inherited from ${keepsInherited.name}.`
              : "You will lose access to this folder and its subfolders, unless a role on a parent folder or administrator rights keep it for you. Only someone who manages its members can add you again."
        }
        confirmLabel={isSelf ? "Remove me" : "Remove"}
        pendingLabel="Removing…"
        destructive
        onConfirm={async () => {
          await settle(() => removeFolderMemberAction({ folderId, userId: member.userId }));
          if (isSelf && !keepsInherited) {
            toast.success("You were removed from the folder.");
            // Refreshed, this page would now say "Page not found".
            router.replace("/folders");
            router.refresh();
            return;
          }
          toast.success(isSelf ? "You were removed from the folder." : `${member.name} removed from the folder.`);
          // The row goes, or keeps no Actions button (its role here is gone): focus moves on from it.
          moveFocusWhenRemoved(actions.current);
          router.refresh();
        }}
      />
    </>
  );
}

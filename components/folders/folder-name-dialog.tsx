"use client";

import { useState, type ReactElement } from "react";
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogHeader,
  DialogTitle,
  DialogTrigger,
} from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { FormField } from "@/components/shared/form-field";
import { DialogFormFooter } from "@/components/shared/dialog-form-footer";
import { useServerAction } from "@/components/shared/use-server-action";
import { createFolderAction, renameFolderAction } from "@/lib/folders/actions";
import { moveFocusWhenRemoved } from "@/components/ui/focus-return";

type Props =
  | { mode: "create"; parentId: string | null; trigger: ReactElement; open?: never; onOpenChange?: never }
  | { mode: "rename"; folderId: string; currentName: string; open: boolean; onOpenChange: (open: boolean) => void; trigger?: never };

/** One dialog for naming a folder: creating a (sub)folder or renaming one. */
export function FolderNameDialog(props: Props) {
  const [internalOpen, setInternalOpen] = useState(false);
  const open = props.mode === "rename" ? props.open : internalOpen;
  const setOpen = props.mode === "rename" ? props.onOpenChange : setInternalOpen;
  const [name, setName] = useState(props.mode === "rename" ? props.currentName : "");

  const create = useServerAction(createFolderAction, { success: (f) => `Folder “${f.name}” created.` });
  const rename = useServerAction(renameFolderAction, { success: (f) => `Folder renamed to “${f?.name}”.`, awaitRefresh: true });
  const action = props.mode === "create" ? create : rename;
  // Each opening starts from the folder's name as it is now (renaming) or blank (creating: a name
  // typed and cancelled does not wait), with no error of the last attempt. Renaming opens from a
  // menu (the open prop), which Radix does not report through onOpenChange. The dialog cannot close
  // while a request runs (DialogFormFooter), so no late answer lands in the next opening.
  const [wasOpen, setWasOpen] = useState(open);
  if (open !== wasOpen) {
    setWasOpen(open);
    if (open && props.mode === "rename") setName(props.currentName);
    if (!open) {
      action.reset();
      if (props.mode === "create") setName("");
    }
  }

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    const ok =
      props.mode === "create"
        ? await create.run({ name, parentId: props.parentId })
        : await rename.run({ folderId: props.folderId, name });
    if (!ok) return;
    // Opened from an empty list's button, which the refreshed list no longer has: focus moves on from it.
    if (props.mode === "create") moveFocusWhenRemoved(document.querySelector<HTMLElement>('[aria-haspopup="dialog"][data-state="open"]'));
    setOpen(false);
  }

  const title = props.mode === "rename" ? "Rename folder" : props.parentId ? "New subfolder" : "New folder";
  return (
    <Dialog
      open={open}
      onOpenChange={setOpen}
    >
      {props.trigger ? <DialogTrigger asChild>{props.trigger}</DialogTrigger> : null}
      <DialogContent>
        <form onSubmit={submit} noValidate className="grid gap-5">
          <DialogHeader>
            <DialogTitle>{title}</DialogTitle>
            <DialogDescription>
              {props.mode === "rename"
                ? "Names must be unique among the folder’s siblings."
                : props.parentId
                  ? "Members and roles of the parent folder apply to the new folder too."
                  : "A top-level folder starts with no members: administrators see it, and you can add people once it exists."}
            </DialogDescription>
          </DialogHeader>
          <FormField label="Folder name" id="folder-name" error={action.fieldError("name") ?? action.formError} required>
            <Input
              value={name}
              onChange={(e) => setName(e.target.value)}
              autoFocus
              autoComplete="off"
              maxLength={200}
              placeholder="e.g. Finance"
            />
          </FormField>
          <DialogFormFooter pending={action.pending} submitLabel={props.mode === "rename" ? "Rename" : "Create folder"} />
        </form>
      </DialogContent>
    </Dialog>
  );
}

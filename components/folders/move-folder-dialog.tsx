"use client";

import { useState } from "react";
import { Dialog, DialogContent, DialogDescription, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { FormField } from "@/components/shared/form-field";
import { DialogFormFooter } from "@/components/shared/dialog-form-footer";
import { useServerAction } from "@/components/shared/use-server-action";
import { moveFolderAction } from "@/lib/folders/actions";

const TOP_LEVEL = "__top__";

export type MoveDestination = { id: string; label: string };

type Props = {
  folderId: string;
  folderName: string;
  currentParentId: string | null;
  /** Folders the person may manage, labelled with their path; the server re-checks everything. */
  destinations: MoveDestination[];
  allowTopLevel: boolean;
  open: boolean;
  onOpenChange: (open: boolean) => void;
};

export function MoveFolderDialog({ folderId, folderName, currentParentId, destinations, allowTopLevel, open, onOpenChange }: Props) {
  const [target, setTarget] = useState<string>("");
  const move = useServerAction(moveFolderAction, { success: `Folder “${folderName}” moved.`, awaitRefresh: true });
  // Each opening starts with no destination and no error of the last attempt, however the last one
  // ended: it opens from a menu (the open prop), and closes after a move by the parent's onOpenChange.
  const [wasOpen, setWasOpen] = useState(open);
  if (open !== wasOpen) {
    setWasOpen(open);
    setTarget("");
    move.reset();
  }

  const options = [
    ...(allowTopLevel && currentParentId !== null ? [{ value: TOP_LEVEL, label: "Top level" }] : []),
    ...destinations.filter((d) => d.id !== currentParentId).map((d) => ({ value: d.id, label: d.label })),
  ];
  // Only a destination still offered counts: the folder may have moved, or the list changed, since it was chosen.
  const chosen = options.some((o) => o.value === target) ? target : "";

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    if (!chosen) return;
    if (await move.run({ folderId, parentId: chosen === TOP_LEVEL ? null : chosen })) onOpenChange(false);
  }

  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent>
        <form onSubmit={submit} className="grid gap-5">
          <DialogHeader>
            <DialogTitle>Move “{folderName}”</DialogTitle>
            <DialogDescription>Subfolders move with it. Roles inherited from the new parent apply right away.</DialogDescription>
          </DialogHeader>
          <FormField
            label="Destination"
            id="move-destination"
            error={move.fieldError("parentId") ?? move.formError}
            description={
              options.length === 0
                ? allowTopLevel
                  ? "There is nowhere to move it: there is no other folder."
                  : "There is nowhere you may move it: no other folder you manage can take it. An administrator can move it anywhere."
                : undefined
            }
          >
            <Select value={chosen} onValueChange={setTarget} disabled={options.length === 0}>
              <SelectTrigger aria-label="Destination" className="w-full">
                <SelectValue placeholder="Choose a destination" />
              </SelectTrigger>
              <SelectContent>
                {options.map((o) => (
                  <SelectItem key={o.value} value={o.value}>
                    {o.label}
                  </SelectItem>
                ))}
              </SelectContent>
            </Select>
          </FormField>
          <DialogFormFooter pending={move.pending} submitLabel="Move folder" pendingLabel="Moving…" submitDisabled={!chosen} />
        </form>
      </DialogContent>
    </Dialog>
  );
}

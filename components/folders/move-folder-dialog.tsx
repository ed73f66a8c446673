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
  const move = useServerAction(moveFolderAction, { success: `Folder “${folderName}” moved.` });

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    if (!target) return;
    if (await move.run({ folderId, parentId: target === TOP_LEVEL ? null : target })) onOpenChange(false);
  }

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        onOpenChange(next);
        if (!next) {
          move.reset();
          setTarget("");
        }
      }}
    >
      <DialogContent>
        <form onSubmit={submit} className="grid gap-5">
          <DialogHeader>
            <DialogTitle>Move “{folderName}”</DialogTitle>
            <DialogDescription>Subfolders move with it. Roles inherited from the new parent apply right away.</DialogDescription>
          </DialogHeader>
          <FormField label="Destination" id="move-destination" error={move.fieldError("parentId") ?? move.formError}>
            <Select value={target} onValueChange={setTarget}>
              <SelectTrigger aria-label="Destination" className="w-full">
                <SelectValue placeholder="Choose a destination" />
              </SelectTrigger>
              <SelectContent>
                {allowTopLevel && currentParentId !== null ? <SelectItem value={TOP_LEVEL}>Top level</SelectItem> : null}
                {destinations
                  .filter((d) => d.id !== currentParentId)
                  .map((d) => (
                    <SelectItem key={d.id} value={d.id}>
                      {d.label}
                    </SelectItem>
                  ))}
              </SelectContent>
            </Select>
          </FormField>
          <DialogFormFooter pending={move.pending} submitLabel="Move folder" pendingLabel="Moving…" submitDisabled={!target} />
        </form>
      </DialogContent>
    </Dialog>
  );
}

"use client";

import { FolderInputIcon, MoreHorizontalIcon, PencilIcon, Trash2Icon } from "lucide-react";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuSeparator,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { ConfirmDialog } from "@/components/shared/confirm-dialog";
import { toast } from "sonner";
import { useSettleAction } from "@/components/shared/use-server-action";
import { deleteFolderAction } from "@/lib/folders/actions";
import { FolderNameDialog } from "./folder-name-dialog";
import { MoveFolderDialog, type MoveDestination } from "./move-folder-dialog";
import { useLeaveDeleted } from "@/components/shared/use-leave-deleted";

type Props = {
  folder: { id: string; name: string; parentId: string | null };
  destinations: MoveDestination[];
  allowTopLevel: boolean;
  /** Where to go after deleting: the parent folder, or the folder list. */
  afterDeleteHref: string;
  /** What the folder still holds, as of this render: said in the delete dialog, whose button is then disabled. */
  deleteRefusal: string | null;
};

export function FolderActionsMenu({ folder, destinations, allowTopLevel, afterDeleteHref, deleteRefusal }: Props) {
  const leaveDeleted = useLeaveDeleted();
  const settle = useSettleAction();
  const [dialog, setDialog] = useState<"rename" | "move" | "delete" | null>(null);

  return (
    <>
      <DropdownMenu>
        <DropdownMenuTrigger asChild>
          <Button variant="outline" size="sm" aria-label="Folder actions">
            <MoreHorizontalIcon aria-hidden="true" />
            Actions
          </Button>
        </DropdownMenuTrigger>
        <DropdownMenuContent align="end">
          <DropdownMenuItem onSelect={() => setDialog("rename")}>
            <PencilIcon aria-hidden="true" /> Rename
          </DropdownMenuItem>
          <DropdownMenuItem onSelect={() => setDialog("move")}>
            <FolderInputIcon aria-hidden="true" /> Move
          </DropdownMenuItem>
          <DropdownMenuSeparator />
          <DropdownMenuItem variant="destructive" onSelect={() => setDialog("delete")}>
            <Trash2Icon aria-hidden="true" /> Delete
          </DropdownMenuItem>
        </DropdownMenuContent>
      </DropdownMenu>

      <FolderNameDialog
        mode="rename"
        folderId={folder.id}
        currentName={folder.name}
        open={dialog === "rename"}
        onOpenChange={(open) => setDialog(open ? "rename" : null)}
      />
      <MoveFolderDialog
        folderId={folder.id}
        folderName={folder.name}
        currentParentId={folder.parentId}
        destinations={destinations}
        allowTopLevel={allowTopLevel}
        open={dialog === "move"}
        onOpenChange={(open) => setDialog(open ? "move" : null)}
      />
      <ConfirmDialog
        open={dialog === "delete"}
        onOpenChange={(open) => setDialog(open ? "delete" : null)}
        title={`Delete “${folder.name}”?`}
        description={deleteRefusal ?? "The folder and its member list are removed."}
        confirmLabel="Delete folder"
        confirmDisabled={deleteRefusal !== null}
        pendingLabel="Deleting…"
        destructive
        onConfirm={async () => {
          // Something added since the page rendered: the refusal ("still contains …") shows inside the dialog.
          await settle(() => deleteFolderAction({ folderId: folder.id }));
          toast.success(`Folder “${folder.name}” deleted.`);
          leaveDeleted(`/folders/${folder.id}`, afterDeleteHref);
        }}
      />
    </>
  );
}

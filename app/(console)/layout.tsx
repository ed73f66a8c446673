import { ConsoleShell } from "@/components/layout/console-shell";
import { FolderTree } from "@/components/layout/folder-tree";
import { requireUser } from "@/lib/auth/session";
import { listVisibleFolders } from "@/lib/folders/queries";

export default async function ConsoleLayout({ children }: { children: React.ReactNode }) {
  const user = await requireUser();
  const folders = await listVisibleFolders(user);
  return (
    <ConsoleShell
      user={{ name: user.name, email: user.email }}
      isAdmin={user.isAdmin}
      folderTree={<FolderTree folders={folders.map(({ id, name, parentId }) => ({ id, name, parentId }))} />}
    >
      {children}
    </ConsoleShell>
  );
}

import { ConsoleShell } from "@/components/layout/console-shell";
import { FolderTree } from "@/components/layout/folder-tree";
import { canSeeAudit } from "@/lib/audit/queries";
import { requireUser } from "@/lib/auth/session";
import { canTenant } from "@/lib/authz";
import { listVisibleFolders } from "@/lib/folders/queries";

export default async function ConsoleLayout({ children }: { children: React.ReactNode }) {
  const user = await requireUser();
  const [folders, audit] = await Promise.all([listVisibleFolders(user), canSeeAudit(user)]);
  return (
    <ConsoleShell
      user={{ name: user.name, email: user.email }}
      access={{ stores: canTenant(user, "stores.manage"), users: canTenant(user, "users.manage"), tokens: canTenant(user, "tokens.manage"), audit }}
      folderTree={<FolderTree folders={folders.map(({ id, name, parentId }) => ({ id, name, parentId }))} />}
    >
      {children}
    </ConsoleShell>
  );
}

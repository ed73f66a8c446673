import { VaultIcon } from "lucide-react";
import { notFound } from "next/navigation";
import { Breadcrumbs } from "@/components/layout/breadcrumbs";
import { EmptyState } from "@/components/shared/empty-state";
import { PageHeader } from "@/components/shared/page-header";
import { requireUser } from "@/lib/auth/session";
import { canTenant } from "@/lib/authz";

export const metadata = { title: "Credential stores" };

export default async function StoresPage() {
  const user = await requireUser();
  if (!canTenant(user, "stores.manage")) notFound();
  return (
    <div className="grid grid-cols-1 gap-6">
      <Breadcrumbs items={[{ label: "Credential stores" }]} />
      <PageHeader
        title="Credential stores"
        description="The vaults credential assets point into: Latch’s own encrypted store, HashiCorp Vault, Azure Key Vault, AWS Secrets Manager and CyberArk CCP."
      />
      <EmptyState
        icon={VaultIcon}
        title="No credential stores registered"
        description="Registering stores is not available in this version of Latch yet. Folders, members and the audit log are ready to set up in the meantime."
      />
    </div>
  );
}

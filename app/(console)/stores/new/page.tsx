import { canTenant } from "@/lib/authz";
import { notFound } from "next/navigation";
import Link from "next/link";
import { Breadcrumbs } from "@/components/layout/breadcrumbs";
import { PageHeader } from "@/components/shared/page-header";
import { StoreForm } from "@/components/stores/store-form";
import { requireUser } from "@/lib/auth/session";
import { listFolderOptions } from "@/lib/folders/queries";
import { getProviderOrThrow, registrableKinds } from "@/lib/vault/registry";
import { cn } from "@/lib/utils";
import { titleIfAllowed } from "../../page-title";

export const generateMetadata = async () => titleIfAllowed(canTenant(await requireUser(), "stores.manage"), "Add credential store");

export default async function NewStorePage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await requireUser();
  if (!canTenant(user, "stores.manage")) notFound();
  const kinds = registrableKinds();
  const requested = (await searchParams).kind;
  const kind = kinds.find((k) => k === requested);
  const provider = kind ? getProviderOrThrow(kind) : null;
  const folders = await listFolderOptions(user);
  return (
    <div className="grid grid-cols-1 gap-6">
      <Breadcrumbs items={[{ label: "Credential stores", href: "/stores" }, { label: "Add store" }]} />
      <PageHeader title={provider ? `Add ${provider.label} store` : "Add a credential store"} description={provider?.description ?? "Choose the kind of vault to connect."} />
      <nav aria-label="Store kinds" className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
        {kinds.map((k) => {
          const p = getProviderOrThrow(k);
          return (
            <Link
              key={k}
              href={`/stores/new?kind=${k}`}
              aria-current={k === kind ? "page" : undefined}
              className={cn(
                "rounded-lg border bg-card p-4 text-sm shadow-xs transition-colors hover:border-primary/60 focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring",
                k === kind && "border-primary ring-1 ring-primary",
              )}
            >
              <span className="block font-medium">{p.label}</span>
              <span className="mt-1 block text-muted-foreground">{p.supportsWrite ? "Read or read-write" : "Read-only"}</span>
            </Link>
          );
        })}
      </nav>
      {provider && kind ? (
        <StoreForm key={kind} kind={kind} kindLabel={provider.label} fields={provider.fields} supportsWrite={provider.supportsWrite} folders={folders} />
      ) : null}
    </div>
  );
}

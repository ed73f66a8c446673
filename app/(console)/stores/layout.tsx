import { notFound } from "next/navigation";
import { requireUser } from "@/lib/auth/session";
import { canTenant } from "@/lib/authz";

/** Decided here, above loading.tsx, so non-admins get a real 404 status rather than a streamed one. */
export default async function StoresLayout({ children }: { children: React.ReactNode }) {
  if (!canTenant(await requireUser(), "stores.manage")) notFound();
  return children;
}

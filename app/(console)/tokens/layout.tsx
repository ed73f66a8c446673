import { notFound } from "next/navigation";
import { requireUser } from "@/lib/auth/session";
import { canTenant } from "@/lib/authz";

/** Decided here, above loading.tsx, so non-admins get a real 404 status rather than a streamed one. */
export default async function TokensLayout({ children }: { children: React.ReactNode }) {
  if (!canTenant(await requireUser(), "tokens.manage")) notFound();
  return children;
}

import { notFound } from "next/navigation";
import { canSeeAudit } from "@/lib/audit/queries";
import { requireUser } from "@/lib/auth/session";

/** Decided here, above loading.tsx, so people without audit rights get a real 404 status. */
export default async function AuditLayout({ children }: { children: React.ReactNode }) {
  if (!(await canSeeAudit(await requireUser()))) notFound();
  return children;
}

import "server-only";
import { assertTenant, type Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import type { ListQuery } from "@/lib/folders/schemas";
import { likeTerm } from "@/lib/db/names";

export type UserRow = { id: string; email: string; name: string; isAdmin: boolean; active: boolean; createdAt: Date };

export async function listUsers(actor: Actor, query: ListQuery & { status?: "active" | "inactive" | "all" }) {
  assertTenant(actor, "users.manage");
  const where = {
    ...(query.q
      ? { OR: [{ email: { contains: likeTerm(query.q), mode: "insensitive" as const } }, { name: { contains: likeTerm(query.q), mode: "insensitive" as const } }] }
      : {}),
    ...(query.status === "active" ? { active: true } : query.status === "inactive" ? { active: false } : {}),
  };
  const [rows, total] = await Promise.all([
    db().user.findMany({
      where,
      select: { id: true, email: true, name: true, isAdmin: true, active: true, createdAt: true },
      // The id last: people with the same name keep one place, so paging neither repeats nor skips them.
      orderBy: [{ active: "desc" }, { name: "asc" }, { id: "asc" }],
      skip: (query.page - 1) * query.pageSize,
      take: query.pageSize,
    }),
    db().user.count({ where }),
  ]);
  return { rows: rows satisfies UserRow[], total };
}

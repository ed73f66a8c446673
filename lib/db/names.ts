import "server-only";
import { sql, type Db } from "@/lib/db";

/**
 * Where a name must be unique, as each table's unique index says (`lower(name)`, within the scope).
 * Constants only: never built from input.
 */
const SCOPES = {
  folders: `COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) = COALESCE($3::uuid, '00000000-0000-0000-0000-000000000000'::uuid)`,
  credential_assets: `folder_id = $3::uuid`,
  connections: `folder_id = $3::uuid`,
  credential_stores: null,
  service_accounts: null,
} as const;

export type NamedTable = keyof typeof SCOPES;

/**
 * Whether another row already has this name, compared the way the unique index compares names
 * (`lower(name) = lower($1)`). Not Prisma's `equals` with `mode: "insensitive"`: that is an ILIKE,
 * where `_` and `%` are wildcards (so “a_c” clashed with “abc”) and a trailing backslash is an
 * error. `scope` is the folder (or, for folders, the parent; null at the top level).
 */
export async function nameTaken(client: Db, table: NamedTable, name: string, options: { scope?: string | null; exceptId?: string } = {}): Promise<boolean> {
  const scope = SCOPES[table];
  const text = `SELECT 1 AS taken FROM ${table} WHERE lower(name) = lower($1) AND ($2::uuid IS NULL OR id <> $2::uuid)${scope ? ` AND ${scope}` : ""} LIMIT 1`;
  const values: unknown[] = [name, options.exceptId ?? null];
  if (scope) values.push(options.scope ?? null);
  return (await sql<{ taken: number }>(client, text, values)).length > 0;
}

/**
 * A search term for Prisma's `contains` (an ILIKE '%…%' that does not escape its value): `%`, `_`
 * and `\` match themselves, so “a_c” finds “a_c” and not “abc”, and “%” is not “everything”.
 */
export const likeTerm = (term: string) => term.replace(/[\\%_]/g, (c) => `\\${c}`);

import "server-only";
import { Prisma } from "@prisma/client";
import { z } from "zod";
import { listFolderIdsWith, listFolderRoles, type Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { isUuid } from "@/lib/ids";
import { searchTextSchema } from "@/lib/list-query";
import { getProviderOrThrow } from "@/lib/vault/registry";
import type { StoreKind } from "@/lib/vault/types";
import { isSecretType, type AssetType } from "./schemas";
import { fromDecimalText } from "@/lib/whole-number";

/**
 * The "Use credential asset" picker: assets from every folder the person may use (assets.use),
 * searched on the server and paged by keyset (name, id), so it stays fast with 100,000 assets.
 */
export const pickerQuerySchema = z.object({
  q: searchTextSchema(100).default(""),
  folderId: z.string().uuid().toLowerCase().nullable().default(null),
  /** Opaque: the last row of the previous page. */
  cursor: z.string().max(400).nullable().default(null),
  limit: z.preprocess(fromDecimalText, z.number().int().min(1).max(50).default(20)),
});
export type PickerQuery = z.input<typeof pickerQuerySchema>;

export type PickerAsset = {
  id: string;
  name: string;
  type: AssetType;
  folder: { id: string; path: string };
  store: { name: string; kindLabel: string } | null;
  /** Only Credential and Secret assets can back a secret field. */
  selectable: boolean;
};

export type PickerFolder = { id: string; name: string; path: string; depth: number };

type Cursor = { n: string; i: string };
const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString("base64url");
function decodeCursor(raw: string | null): Cursor | null {
  if (!raw) return null;
  try {
    const c = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as Cursor;
    // Text the database can compare: no NUL, and no half of a UTF-16 pair ("\ud800" in the JSON).
    return typeof c.n === "string" && !c.n.includes("\u0000") && c.n.isWellFormed() && isUuid(c.i) ? c : null;
  } catch {
    return null;
  }
}

/** Folders the person may pick assets from, as a flat tree (pre-order) with their paths. */
export async function listPickerFolders(actor: Actor): Promise<PickerFolder[]> {
  // Which folders are visible (for paths) and which allow assets.use, both as lib/authz decides them,
  // asked at once (lib/authz memoises them only within a React render; a server action is not one).
  const [roles, usableIds] = await Promise.all([listFolderRoles(db(), actor), listFolderIdsWith(db(), actor, "assets.use")]);
  if (usableIds.length === 0) return [];
  const usable = new Set(usableIds);
  // The visible folders, as listVisibleFolders reads them, but with the ids as one array parameter:
  // Prisma's `in` binds one parameter per id, which cost ~9 ms of every search at 1,000 folders
  // (bench/asset-picker.bench.ts).
  const visible = await db().$queryRaw<{ id: string; name: string; parentId: string | null }[]>`
    SELECT id::text AS id, name, parent_id::text AS "parentId" FROM folders
    WHERE id = ANY(${[...roles.keys()]}::uuid[])
    ORDER BY name`;
  const byParent = new Map<string | null, typeof visible>();
  const ids = new Set(visible.map((f) => f.id));
  for (const f of visible) {
    const parent = f.parentId && ids.has(f.parentId) ? f.parentId : null;
    const siblings = byParent.get(parent);
    if (siblings) siblings.push(f);
    else byParent.set(parent, [f]);
  }
  const out: PickerFolder[] = [];
  const walk = (parent: string | null, path: string[], depth: number) => {
    for (const f of byParent.get(parent) ?? []) {
      const p = [...path, f.name];
      if (usable.has(f.id)) out.push({ id: f.id, name: f.name, path: p.join(" / "), depth });
      walk(f.id, p, depth + 1);
    }
  };
  walk(null, [], 0);
  return out;
}

export async function searchPickableAssets(actor: Actor, input: PickerQuery) {
  const query = pickerQuerySchema.parse(input);
  const folders = await listPickerFolders(actor);
  const paths = new Map(folders.map((f) => [f.id, f.path]));
  if (query.folderId && !paths.has(query.folderId)) return { rows: [] as PickerAsset[], nextCursor: null };
  if (folders.length === 0) return { rows: [] as PickerAsset[], nextCursor: null };
  const cursor = decodeCursor(query.cursor);
  const scope = query.folderId
    ? Prisma.sql`a.folder_id = ${query.folderId}::uuid`
    : actor.isAdmin
      ? Prisma.sql`TRUE`
      : Prisma.sql`a.folder_id = ANY(${folders.map((f) => f.id)}::uuid[])`;
  // Folded by the database, as lower(a.name) is: JavaScript's case rules (final sigma, dotted İ) differ.
  const like = `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  // The page is chosen first, from columns that credential_assets_picker_cover_idx holds (lower(name),
  // id, folder_id, name), so PostgreSQL can walk that index in order without visiting the table for
  // the names it skips; only the page's rows are then read. Selecting every column in one query
  // made each skipped name a table visit: 45-50 ms for "payroll" at 100,000 assets.
  const rows = await db().$queryRaw<{ id: string; name: string; type: AssetType; folder_id: string; store_name: string | null; store_kind: StoreKind | null; sort_key: string }[]>`
    WITH page AS MATERIALIZED (
      SELECT a.id, lower(a.name) AS sort_key
      FROM credential_assets a
      WHERE ${scope}
        ${query.q ? Prisma.sql`AND lower(a.name) LIKE lower(${like})` : Prisma.empty}
        ${cursor ? Prisma.sql`AND (lower(a.name), a.id) > (${cursor.n}, ${cursor.i}::uuid)` : Prisma.empty}
      ORDER BY lower(a.name), a.id
      LIMIT ${query.limit + 1}
    )
    SELECT a.id::text AS id, a.name, a.type::text AS type, a.folder_id::text AS folder_id, s.name AS store_name, s.kind::text AS store_kind, p.sort_key
    FROM page p JOIN credential_assets a ON a.id = p.id LEFT JOIN credential_stores s ON s.id = a.store_id
    ORDER BY p.sort_key, p.id`;
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    rows: page.map(
      (r): PickerAsset => ({
        id: r.id,
        name: r.name,
        type: r.type,
        folder: { id: r.folder_id, path: paths.get(r.folder_id) ?? "" },
        store: r.store_name && r.store_kind ? { name: r.store_name, kindLabel: getProviderOrThrow(r.store_kind).label } : null,
        selectable: isSecretType(r.type),
      }),
    ),
    nextCursor: rows.length > query.limit && last ? encodeCursor({ n: last.sort_key, i: last.id }) : null,
  };
}

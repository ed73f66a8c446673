import "server-only";
import type { AuditOutcome, Prisma } from "@prisma/client";
import { canTenant, listFolderIdsWith, listFolderRoles, type Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { z } from "zod";
import { likeTerm } from "@/lib/db/names";
import { isUuid } from "@/lib/ids";
import { fromDecimalText } from "@/lib/whole-number";

/** The outcomes an event has, as the console names them (the badges and the filter). */
export const AUDIT_OUTCOMES = [
  { value: "SUCCESS", label: "Success" },
  { value: "FAILURE", label: "Failure" },
  { value: "DENIED", label: "Denied" },
] as const satisfies readonly { value: AuditOutcome; label: string }[];

export const auditQuerySchema = z.object({
  q: z.string().trim().max(200).optional().default(""),
  outcome: z.enum(AUDIT_OUTCOMES.map((o) => o.value)).optional().catch(undefined),
  page: z.preprocess(fromDecimalText, z.number().int().min(1).max(100000).default(1)).catch(1),
  pageSize: z.preprocess(fromDecimalText, z.number().int().min(1).max(100).default(25)).catch(25),
});
export type AuditQuery = z.infer<typeof auditQuerySchema>;

/** The console's outcome filter (`?outcome=`): one of the outcomes, else none. */
export const parseAuditOutcome = (raw: string | string[] | undefined) => auditQuerySchema.shape.outcome.parse(raw);

export type AuditRow = {
  id: string;
  occurredAt: Date;
  actorEmail: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  targetLabel: string | null;
  folderId: string | null;
  outcome: AuditOutcome;
  requestId: string | null;
  details: Prisma.JsonValue;
};

/**
 * The `asOf` a later page of the log is read at (the newest event of the first page, as an ISO
 * time), or null for a missing or malformed one. Offsets into a list that grows at its head would
 * otherwise shift: an event written meanwhile pushes one onto the next page twice.
 */
export function parseAsOf(raw: string | string[] | undefined): Date | null {
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(value)) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at;
}

/**
 * Administrators see every event; folder admins see events of the folders they administer (and
 * their subfolders); anyone else sees nothing. `folderId` narrows to one folder the actor may audit.
 * `asOf`: only events up to then (the log as it was when its first page was read).
 */
export async function listAuditEvents(actor: Actor, query: AuditQuery & { folderId?: string; asOf?: Date | null }) {
  let scope: Prisma.AuditEventWhereInput = {};
  if (!canTenant(actor, "audit.read.all") || query.folderId) {
    const allowed = await listFolderIdsWith(db(), actor, "audit.read");
    const ids = query.folderId ? allowed.filter((id) => id === query.folderId) : allowed;
    if (!canTenant(actor, "audit.read.all") && ids.length === 0) return { rows: [] as AuditRow[], total: 0 };
    scope = { folderId: { in: ids } };
  }
  const q = query.q;
  const where: Prisma.AuditEventWhereInput = {
    AND: [
      scope,
      query.asOf ? { occurredAt: { lte: query.asOf } } : {},
      query.outcome ? { outcome: query.outcome } : {},
      q
        ? {
            OR: [
              { action: { contains: likeTerm(q), mode: "insensitive" } },
              { actorEmail: { contains: likeTerm(q), mode: "insensitive" } },
              { targetLabel: { contains: likeTerm(q), mode: "insensitive" } },
              { requestId: { equals: q } },
              // The console shows a request id's first 8 characters: those find it too.
              ...(/^[0-9a-f-]{8,64}$/i.test(q) ? [{ requestId: { startsWith: q, mode: "insensitive" as const } }] : []),
            ],
          }
        : {},
    ],
  };
  const [rows, total] = await Promise.all([
    db().auditEvent.findMany({
      where,
      // The id last: events of the same millisecond keep one place, so paging neither repeats nor skips them.
      orderBy: [{ occurredAt: "desc" }, { id: "desc" }],
      skip: (query.page - 1) * query.pageSize,
      take: query.pageSize,
    }),
    db().auditEvent.count({ where }),
  ]);
  if (canTenant(actor, "audit.read.all")) return { rows: rows satisfies AuditRow[], total };
  const visible = new Set((await listFolderRoles(db(), actor)).keys());
  const hiddenAssets = await unreadableAssets(actor, rows);
  return { rows: rows.map((r) => hideUnreadableAssets(hideUnseenFolders(r, visible), hiddenAssets)), total };
}

export const HIDDEN_ASSET = "an asset you cannot open";

/** Every id in an event's details, as a value or as a key (the assets an invoke used, keyed by id). */
function idsIn(value: unknown, into: Set<string>): Set<string> {
  if (typeof value === "string" && isUuid(value)) into.add(value.toLowerCase());
  else if (Array.isArray(value)) for (const v of value) idsIn(v, into);
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (isUuid(k)) into.add(k.toLowerCase());
      idsIn(v, into);
    }
  }
  return into;
}

/**
 * The credential assets these events name (a connection's fields, the assets an invoke used) that
 * the reader may not open: a Folder Admin of a connection's folder need not see the folder its
 * assets live in, and the connection's own page does not give their ids either.
 */
async function unreadableAssets(actor: Actor, rows: AuditRow[]): Promise<ReadonlySet<string>> {
  const ids = new Set<string>();
  for (const row of rows) if (row.action.startsWith("connection.")) idsIn(row.details, ids);
  if (ids.size === 0) return new Set();
  const assets = await db().credentialAsset.findMany({ where: { id: { in: [...ids] } }, select: { id: true, folderId: true } });
  if (assets.length === 0) return new Set();
  const readable = new Set(await listFolderIdsWith(db(), actor, "assets.read"));
  return new Set(assets.filter((a) => !readable.has(a.folderId)).map((a) => a.id.toLowerCase()));
}

function hideUnreadableAssets(row: AuditRow, hidden: ReadonlySet<string>): AuditRow {
  if (hidden.size === 0 || !row.action.startsWith("connection.")) return row;
  const isHidden = (id: string) => isUuid(id) && hidden.has(id.toLowerCase());
  const walk = (value: Prisma.JsonValue): Prisma.JsonValue => {
    if (typeof value === "string") return isHidden(value) ? HIDDEN_ASSET : value;
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === "object") {
      const out: Record<string, Prisma.JsonValue> = {};
      for (const [k, v] of Object.entries(value)) {
        // Keyed by id: several hidden assets stay apart ("an asset you cannot open (2)").
        let key = isHidden(k) ? HIDDEN_ASSET : k;
        for (let n = 2; key !== k && key in out; n++) key = `${HIDDEN_ASSET} (${n})`;
        out[key] = walk(v ?? null);
      }
      return out;
    }
    return value;
  };
  return { ...row, details: walk(row.details) };
}

/** The details of folder events that name another folder (`{ id, name }`, see lib/folders/mutations). */
const FOLDER_REFERENCES: Record<string, string[]> = { "folder.create": ["parent"], "folder.move": ["from", "to"] };
export const HIDDEN_FOLDER = "a folder you cannot see";

/**
 * An event about a folder the reader audits can name another one they may not see (the parent a
 * Folder Admin of a subfolder alone has no role on): its name and id give way to HIDDEN_FOLDER.
 */
function hideUnseenFolders(row: AuditRow, visible: ReadonlySet<string>): AuditRow {
  const keys = FOLDER_REFERENCES[row.action];
  const details = row.details;
  if (!keys || !details || typeof details !== "object" || Array.isArray(details)) return row;
  const shown = { ...details };
  for (const key of keys) {
    const ref = shown[key];
    if (ref && typeof ref === "object" && !Array.isArray(ref) && typeof ref.id === "string" && !visible.has(ref.id)) shown[key] = HIDDEN_FOLDER;
  }
  return { ...row, details: shown };
}

/** Whether the audit area should appear at all for this person. */
export async function canSeeAudit(actor: Actor): Promise<boolean> {
  return canTenant(actor, "audit.read.all") || (await listFolderIdsWith(db(), actor, "audit.read")).length > 0;
}

/**
 * PostgreSQL constraint failures as they reach us through Prisma and the pg adapter: Prisma's own code
 * (P2002/P2003), the adapter's original SQLSTATE, or only the message naming the constraint.
 */
type DbError = { code?: unknown; message?: unknown; meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } };

/**
 * `constraint` widens the match (the name in the message also counts, for an error whose code was
 * lost on the way); it does not narrow it: any violation of the kind matches.
 */
function violates(error: unknown, prismaCode: string, sqlState: string, constraint: string | undefined, pattern?: RegExp): boolean {
  const e = error as DbError | null | undefined;
  const code = String(e?.code ?? "");
  const text = String(e?.message ?? "");
  if (constraint && text.includes(constraint)) return true;
  return code === prismaCode || code === sqlState || e?.meta?.driverAdapterError?.cause?.originalCode === sqlState || (pattern?.test(text) ?? false);
}

/** A unique index refused the row (a race that slipped past a pre-check, typically). */
export const isUniqueViolation = (error: unknown, constraint?: string) =>
  violates(error, "P2002", "23505", constraint);

/** A foreign key refused the change (a Restrict reference that appeared after a usage check, typically). */
export const isForeignKeyViolation = (error: unknown, constraint?: string) =>
  violates(error, "P2003", "23503", constraint, /foreign key constraint/i);

/**
 * PostgreSQL refused a text value it cannot store: a NUL character (22021) or, in json, an escape
 * it has no character for (22P05). Only input causes these, so they answer 400, not 500.
 */
export function isUnstorableText(error: unknown): boolean {
  const e = error as (DbError & { cause?: { code?: unknown; originalCode?: unknown } }) | null | undefined;
  const codes = [e?.code, e?.cause?.code, e?.cause?.originalCode, e?.meta?.driverAdapterError?.cause?.originalCode];
  return codes.some((c) => c === "22021" || c === "22P05");
}

/** A value longer than its column (22001; Prisma's P2000): a limit the input checks should have caught. */
export function isTooLong(error: unknown): boolean {
  const e = error as (DbError & { cause?: { code?: unknown; originalCode?: unknown } }) | null | undefined;
  const codes = [e?.code, e?.cause?.code, e?.cause?.originalCode, e?.meta?.driverAdapterError?.cause?.originalCode];
  return codes.some((c) => c === "22001" || c === "P2000");
}

export const TOO_LONG_MESSAGE = "A value is longer than Latch can store. Shorten it and try again.";

export const UNSTORABLE_TEXT_MESSAGE = "The input contains a character that cannot be stored, such as the NUL character (U+0000). Remove it and try again.";

/**
 * What a foreign-key refusal that escaped every check means: the change named a row (a folder, a
 * store, an asset) that another request deleted between the check and the write. Only a race
 * causes it, so it answers 409 and the person can look again, never 500.
 */
export const DELETED_MEANWHILE_MESSAGE = "Something this change refers to was deleted meanwhile. Reload the page and try again.";

/**
 * Prisma's "the record to update or delete does not exist" (P2025): another request deleted it
 * after this one's checks. The caller passed those checks, so saying it is gone reveals nothing.
 */
export const isRecordGone = (error: unknown) => (error as DbError | null | undefined)?.code === "P2025";

export const GONE_MEANWHILE_MESSAGE = "It was deleted meanwhile (by another request). Reload the page to see what is there now.";

/** A unique index refused the row: another request took the same name, or made the same change, meanwhile. */
export const TAKEN_MEANWHILE_MESSAGE = "Another request took the same name or made the same change meanwhile. Reload the page and try again.";

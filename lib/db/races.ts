import "server-only";
import type { AppErrorCode } from "@/lib/errors";
import {
  DELETED_MEANWHILE_MESSAGE,
  GONE_MEANWHILE_MESSAGE,
  isForeignKeyViolation,
  isRecordGone,
  isUniqueViolation,
  isTooLong,
  isUnstorableText,
  TAKEN_MEANWHILE_MESSAGE,
  TOO_LONG_MESSAGE,
  UNSTORABLE_TEXT_MESSAGE,
} from "./errors";

/**
 * The answer for a database refusal that escaped a change's own checks, for both wrappers (server
 * actions and REST handlers); null for anything else, which is unexpected.
 * - Text PostgreSQL cannot store (a NUL character), or longer than its column: only input causes it, a 400.
 * - A lost race (`lostRace`): another request's change between the checks and the write (a row
 *   deleted, a name taken) causes it, a 404 or 409 the person can act on by looking again.
 * Changes that can say more map these themselves first (a folder delete naming what was added,
 * a taken name naming it).
 */
export function dbErrorAnswer(error: unknown): { code: AppErrorCode; message: string; lostRace: boolean } | null {
  if (isUnstorableText(error)) return { code: "BAD_REQUEST", message: UNSTORABLE_TEXT_MESSAGE, lostRace: false };
  if (isTooLong(error)) return { code: "BAD_REQUEST", message: TOO_LONG_MESSAGE, lostRace: false };
  if (isRecordGone(error)) return { code: "NOT_FOUND", message: GONE_MEANWHILE_MESSAGE, lostRace: true };
  if (isForeignKeyViolation(error)) return { code: "CONFLICT", message: DELETED_MEANWHILE_MESSAGE, lostRace: true };
  if (isUniqueViolation(error)) return { code: "CONFLICT", message: TAKEN_MEANWHILE_MESSAGE, lostRace: true };
  return null;
}

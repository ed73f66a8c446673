import "server-only";
import type { AppErrorCode } from "@/lib/errors";
import {
  DELETED_MEANWHILE_MESSAGE,
  GONE_MEANWHILE_MESSAGE,
  isForeignKeyViolation,
  isRecordGone,
  isUniqueViolation,
  TAKEN_MEANWHILE_MESSAGE,
} from "./errors";

/**
 * The answer for a database refusal that escaped a change's own checks: only another request's
 * change made between those checks and the write causes one (a row deleted, a name taken), so it
 * is a 404 or a 409 the person can act on by looking again, never a 500. Changes that can say
 * more map these themselves first (a folder delete naming what was added, a taken name naming it).
 * Used by both wrappers (server actions and REST handlers).
 */
export function raceAnswer(error: unknown): { code: AppErrorCode; message: string } | null {
  if (isRecordGone(error)) return { code: "NOT_FOUND", message: GONE_MEANWHILE_MESSAGE };
  if (isForeignKeyViolation(error)) return { code: "CONFLICT", message: DELETED_MEANWHILE_MESSAGE };
  if (isUniqueViolation(error)) return { code: "CONFLICT", message: TAKEN_MEANWHILE_MESSAGE };
  return null;
}

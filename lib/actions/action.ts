import "server-only";
import { z } from "zod";
import { requireActor } from "@/lib/auth/session";
import { assertTenant, type Actor, type TenantPermission } from "@/lib/authz";
import { dbErrorAnswer } from "@/lib/db/races";
import { AppError, unexpectedMessage, type AppErrorCode, type FieldErrors } from "@/lib/errors";
import { requestLogger, type Logger } from "@/lib/log";
import { startActionRequest } from "@/lib/request-context";

export type ActionContext = { actor: Actor; requestId: string; log: Logger };

export type ActionError = {
  code: AppErrorCode | "UNEXPECTED";
  message: string;
  fieldErrors?: FieldErrors;
  reference: string;
};
export type ActionResult<T> = { ok: true; data: T } | { ok: false; error: ActionError };

export function fieldErrorsOf(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const key = issue.path.length ? issue.path.join(".") : "_form";
    (out[key] ??= []).push(issue.message);
  }
  return out;
}

/**
 * Field errors with each key a strict schema does not know named on its own (`unknown(path)` says
 * why), ahead of the other errors: a misspelt or misplaced key explains the rest.
 */
export function fieldErrorsNamingUnknownKeys(error: z.ZodError, unknown: (path: string) => string): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) if (issue.code === "unrecognized_keys") for (const key of issue.keys) out[[...issue.path, key].join(".")] = [unknown([...issue.path, key].join("."))];
  const known = error.issues.filter((issue) => issue.code !== "unrecognized_keys");
  if (known.length > 0) for (const [key, messages] of Object.entries(fieldErrorsOf(new z.ZodError(known)))) out[key] ??= messages;
  return out;
}

/** Far deeper than any form or API body Latch takes. */
export const MAX_INPUT_DEPTH = 64;

/**
 * Checks input before anyone validates it, without recursion, and stops at the first fault:
 * - Depth. zod walks nested values recursively: a body of 200,000 nested arrays (400 KB) overflows
 *   the stack inside safeParse, an unexpected error (500) instead of a 400. A decoded server-action
 *   argument may share objects or refer to itself: a cycle is simply too deep, and a shared object is
 *   walked again only when reached deeper than before, so no input makes it slow.
 * - Keys. A key "__proto__" would be dropped by the validation's copy of the object: refused instead.
 * - Text. JSON may carry a lone UTF-16 surrogate ("\ud800"), which is no character at all: PostgreSQL
 *   refuses it deep inside a write, and a target would get mangled text. Strings and keys must be
 *   well-formed Unicode.
 */
export function assertInputShape(value: unknown, max = MAX_INPUT_DEPTH): void {
  if (typeof value === "string") return assertWellFormed(value);
  if (value === null || typeof value !== "object") return;
  const deepest = new Map<object, number>();
  // Only objects go on the stack (strings are checked where they are met): half a million numbers
  // are one loop, not half a million entries.
  const pending: [object, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [v, depth] = pending.pop()!;
    if (depth > max) throw new AppError("BAD_REQUEST", `The input is nested more than ${max} levels deep.`);
    if ((deepest.get(v) ?? 0) >= depth) continue;
    deepest.set(v, depth);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const child: unknown = v[i];
        if (typeof child === "string") assertWellFormed(child);
        else if (child !== null && typeof child === "object") pending.push([child, depth + 1]);
      }
      continue;
    }
    for (const key of Object.keys(v)) {
      assertWellFormed(key);
      if (key === "__proto__") throw new AppError("BAD_REQUEST", PROTO_KEY_MESSAGE);
      const child: unknown = (v as Record<string, unknown>)[key];
      if (typeof child === "string") assertWellFormed(child);
      else if (child !== null && typeof child === "object") pending.push([child, depth + 1]);
    }
  }
}

function assertWellFormed(text: string): void {
  if (!text.isWellFormed()) throw new AppError("BAD_REQUEST", BROKEN_TEXT_MESSAGE);
}

// JSON.parse keeps it as an ordinary key, but validation rebuilds objects by assignment, which sets the
// prototype instead: the key and its value would vanish without a word (a jsonb parameter, a header).
const PROTO_KEY_MESSAGE = 'The input has a key named "__proto__", which Latch cannot pass on unchanged. Rename the key.';

const BROKEN_TEXT_MESSAGE = "The input contains text that is not valid Unicode (an unpaired surrogate such as \\ud800). Send well-formed text.";

export function toActionError(error: unknown, requestId: string, log: Logger): ActionError {
  if (error instanceof AppError) {
    return { code: error.code, message: error.userMessage, fieldErrors: error.fieldErrors, reference: requestId };
  }
  const known = dbErrorAnswer(error);
  if (known) {
    if (known.lostRace) log.warn({ err: error }, "a change lost a race with another request");
    return { code: known.code, message: known.message, reference: requestId };
  }
  log.error({ err: error }, "unexpected error in server action");
  return { code: "UNEXPECTED", message: unexpectedMessage(requestId), reference: requestId };
}

export type ActionOptions = {
  /**
   * Checks that need no input (an admin-only action), run before the input is validated: someone
   * who may not use the action gets "not found" whatever they send, never a validation message.
   */
  authorize?: (actor: Actor) => void | Promise<void>;
  /**
   * Errors of checks the schema leaves to `run` (a store's settings against its kind's own schema),
   * for when the schema already refused the input: so that every missing field is named in one
   * submit, not one part per submit. Keys the schema named keep its message.
   */
  alsoInvalid?: (raw: unknown) => FieldErrors;
};

/** For actions of an admin area: anyone without the tenant permission gets "not found". */
export const requireTenant = (permission: TenantPermission, what?: string): ActionOptions => ({
  authorize: (actor) => assertTenant(actor, permission, what),
});

/**
 * Every server action is a public endpoint: authenticate, authorise what can be without input,
 * validate the input, run, and map errors so only expected messages reach the browser.
 * Authorisation on a resource happens inside `run`, on the resource row.
 */
export function defineAction<S extends z.ZodType, T>(
  schema: S,
  run: (input: z.output<S>, ctx: ActionContext) => Promise<T>,
  options: ActionOptions = {},
): (input: z.input<S>) => Promise<ActionResult<T>> {
  return async (raw) => {
    // Next decoded the arguments: a failure from here on is the action's, not the request's (server.mjs).
    const requestId = await startActionRequest();
    const log = requestLogger(requestId);
    try {
      const actor = await requireActor();
      await options.authorize?.(actor);
      assertInputShape(raw);
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        const own = fieldErrorsOf(parsed.error);
        // The schema's own errors first (the form focuses the first), then the others it left unsaid.
        const fieldErrors = { ...own, ...Object.fromEntries(Object.entries(options.alsoInvalid?.(raw) ?? {}).filter(([key]) => !(key in own))) };
        const first = Object.values(fieldErrors)[0]?.[0];
        throw new AppError("VALIDATION", first ?? "Check the highlighted fields.", fieldErrors);
      }
      return { ok: true, data: await run(parsed.data, { actor, requestId, log: log.child({ userId: actor.id }) }) };
    } catch (error) {
      return { ok: false, error: toActionError(error, requestId, log) };
    }
  };
}

import type { ActionError } from "@/lib/actions/action";

/** At most this many messages of unshown fields are shown together. */
const MAX_MESSAGES = 3;

/**
 * What a form shows above its fields when an action fails: the action's message when no field error
 * has a place in the form — one that names no field, or only fields this form does not render (a
 * hidden field, a key the form never shows, "_form") — so an error is never invisible. `shown`: the
 * field names the form asked for (fieldError) when it last rendered. null: every error sits by its field.
 */
export function formLevelMessage(error: Pick<ActionError, "message" | "fieldErrors">, shown: ReadonlySet<string>): string | null {
  const fieldErrors = error.fieldErrors ?? {};
  const keys = Object.keys(fieldErrors).filter((k) => (fieldErrors[k]?.length ?? 0) > 0);
  if (keys.length === 0) return error.message;
  const unshown = keys.filter((k) => !shown.has(k));
  if (unshown.length === 0) return null;
  const messages = [...new Set(unshown.flatMap((k) => fieldErrors[k]!))];
  return messages.slice(0, MAX_MESSAGES).join(" ") + (messages.length > MAX_MESSAGES ? ` (and ${messages.length - MAX_MESSAGES} more)` : "");
}

import { redact, redactString } from "./redact";

/**
 * Next.js prints its own errors ("⨯ Error: …" for a failed render, route or server action) with
 * console.error, not through our logger, so a value in an error's message or stack would reach the
 * process output unmasked. installConsoleRedaction() sends every console method through the same
 * redaction as the logger. Installed once per process at start-up (instrumentation.ts). No node:
 * imports: this module sits beside the logger, which the Edge instrumentation bundle also includes.
 */

const METHODS = ["error", "warn", "log", "info", "debug", "trace"] as const;
const INSTALLED = Symbol.for("latch.consoleRedaction");

/** An Error with its message, stack, cause and own properties redacted, printed as Node prints errors. */
function redactError(error: Error, depth: number): Error {
  const copy = new Error(redactString(error.message));
  copy.name = error.name;
  copy.stack = error.stack ? redactString(error.stack) : copy.stack;
  for (const [key, value] of Object.entries(error)) {
    (copy as unknown as Record<string, unknown>)[key] = redactArg(value, depth + 1);
  }
  if (error.cause !== undefined) copy.cause = redactArg(error.cause, depth + 1);
  return copy;
}

export function redactArg(arg: unknown, depth = 0): unknown {
  if (typeof arg === "string") return redactString(arg);
  if (arg instanceof Error) return depth > 4 ? "[Truncated]" : redactError(arg, depth);
  if (arg !== null && typeof arg === "object") return redact(arg);
  return arg;
}

export function installConsoleRedaction(target: Console = console): void {
  const marked = target as Console & { [INSTALLED]?: true };
  if (marked[INSTALLED]) return;
  for (const method of METHODS) {
    const original = target[method];
    if (typeof original !== "function") continue;
    target[method] = (...args: unknown[]) => original.apply(target, args.map((a) => redactArg(a)));
  }
  marked[INSTALLED] = true;
}

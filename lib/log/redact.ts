import { maskKnownValues } from "./known-values";

/**
 * Last line of defence: whatever reaches the logger passes through here. Keys that name secrets are
 * masked whatever their value; values that look like secrets are masked whatever their key.
 */
const SECRET_KEY =
  /pass(word|wd|phrase)?|secret|token|api[-_]?key|authori[sz]ation|cookie|credential|private[-_]?key|client[-_]?assertion|session[-_]?id|signature|^key$|master[-_]?key|pfx|cert(ificate)?[-_]?key/i;

/** [pattern, replacement]; a `$1` in the replacement keeps the harmless prefix (the key name, the URL user). */
const SECRET_VALUE_PATTERNS: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, "[REDACTED]"],
  [/\b(Bearer|Basic|Token) +[A-Za-z0-9._~+/=-]{8,}/gi, "$1 [REDACTED]"],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, "[REDACTED]"], // JWT
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, "$1[REDACTED]@"], // credentials in a URL
  [/\b(hvs|hvb)\.[A-Za-z0-9_-]{20,}/g, "[REDACTED]"], // Vault tokens
  [/\bAKIA[0-9A-Z]{16}\b/g, "[REDACTED]"],
  [/((?:password|passwd|pwd|secret|token|api[-_]?key)["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&]+)/gi, "$1[REDACTED]"],
];

export const REDACTED = "[REDACTED]";

export function redactString(input: string): string {
  // Values Latch resolved are masked first, whatever their shape (see known-values.ts).
  let out = maskKnownValues(input, REDACTED);
  for (const [pattern, replacement] of SECRET_VALUE_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === "string") return redactString(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > 8 || seen.has(value)) return "[Truncated]";
  seen.add(value);
  if (value instanceof Error) {
    return {
      type: value.name,
      message: redactString(value.message),
      stack: value.stack ? redactString(value.stack) : undefined,
      ...(value.cause ? { cause: redact(value.cause, depth + 1, seen) } : {}),
    };
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1, seen));
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && item !== null && item !== undefined && item !== "" ? REDACTED : redact(item, depth + 1, seen);
  }
  return out;
}

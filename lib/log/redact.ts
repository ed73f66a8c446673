import { maskKnownValues } from "./known-values";

/**
 * A key names a secret when one of its words does ("clientSecret", "db_password", "apiKey",
 * "set-cookie"), unless its last word says it is about the secret rather than the secret itself
 * ("secretName", "tokenId", "tokenCount", "credentialAssetId"). Words, not substrings: "passport",
 * "compass" and "bypassCache" are not passwords.
 */
const SECRET_WORDS = new Set([
  "pass", "password", "passwords", "passwd", "passphrase", "pwd", "secret", "secrets", "token", "tokens", "credential", "credentials",
  "cookie", "cookies", "authorization", "authorisation", "signature", "pfx", "assertion", "apikey", "privatekey", "masterkey",
]);
const ABOUT_A_SECRET = new Set(["id", "ids", "name", "names", "count", "prefix", "kind", "type", "path", "ref", "label", "version", "at", "expires", "length", "hint", "set", "present", "required", "field", "fields", "key", "keys"]);
// Secrets whose last word alone would read as "about a secret": AWS's secretAccessKey, Azure's
// account and shared keys, Vault AppRole's secret_id.
const SECRET_PHRASES = [/^key$/i, /session[-_]?id/i, /(private|master|api|cert(ificate)?|account|shared|signing|encryption)[-_]?key$/i, /secret[-_]?(access[-_]?)?(key|id)$/i, /client[-_]?assertion/i];

/**
 * Keys come from a small set (field names, and ids used as keys): each is judged once. Only keys the
 * value redaction left as they were are kept: a key may be a value Latch resolved, and none is kept.
 */
const judgedKeys = new Map<string, boolean>();
const MAX_JUDGED_KEYS = 2_000;

function isSecretKey(key: string, keepJudgement: boolean): boolean {
  let judged = judgedKeys.get(key);
  if (judged === undefined) {
    judged = judgeKey(key);
    if (keepJudgement && judgedKeys.size < MAX_JUDGED_KEYS) judgedKeys.set(key, judged);
  }
  return judged;
}

function judgeKey(key: string): boolean {
  if (SECRET_PHRASES.some((p) => p.test(key))) return true;
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  if (!words.some((w) => SECRET_WORDS.has(w))) return false;
  return !ABOUT_A_SECRET.has(words.at(-1)!) || SECRET_WORDS.has(words.at(-1)!);
}

/** [pattern, replacement]; a `$1` in the replacement keeps the harmless prefix (the key name, the URL user). */
const SECRET_VALUE_PATTERNS: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, "[REDACTED]"],
  [/\b(Bearer) +[A-Za-z0-9._~+/=-]{8,}/gi, "$1 [REDACTED]"],
  // After Basic or Token, a credential has a digit or symbol, or mixed case: not "Basic authentication
  // is required". (Case-sensitive, so that "mixed case" means something.)
  [/\b([Bb]asic|[Tt]oken|BASIC|TOKEN) +(?=[A-Za-z0-9._~+/=-]*(?:[0-9._~+/=-]|[a-z][A-Za-z0-9._~+/=-]*[A-Z]|[A-Z][A-Za-z0-9._~+/=-]*[a-z]))[A-Za-z0-9._~+/=-]{8,}/g, "$1 [REDACTED]"],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, "[REDACTED]"], // JWT
  // Credentials in a URL: the password after a user name, or a user part alone (often a token).
  [/(\b[a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*):[^\s?#@]*@/gi, "$1$2:[REDACTED]@"],
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/?#@:]+@/gi, "$1[REDACTED]@"],
  // A password with an unescaped #, ? or @ in it (connection strings are often written so): up to the
  // @ that a host name follows. Not a port ("host:8080/path?q=a@b.com" has no credentials).
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:)(?!\d+(?:[/?#\s]|$))\S*?@(?=[A-Za-z0-9.-]+(?::\d+)?(?:[/?#\s"',;)]|$))/gi, "$1[REDACTED]@"],
  [/\b(hvs|hvb)\.[A-Za-z0-9_-]{20,}/g, "[REDACTED]"], // Vault tokens
  [/\bAKIA[0-9A-Z]{16}\b/g, "[REDACTED]"],
  // (Not a value already masked: "x-access-token:[REDACTED]@host" keeps its host.)
  [/((?:password|passwd|pwd|passphrase|secret(?:[-_]?(?:access[-_]?)?(?:key|id))?|token|api[-_]?key)["']?\s*[=:]\s*)(?!\[REDACTED\])("[^"]*"|'[^']*'|[^\s,;&]+)/gi, "$1[REDACTED]"],
];

/**
 * Every pattern above needs one of these (a space, ":" or "=", or a fixed prefix). Most strings that
 * are logged or audited (ids, names, e-mail addresses) have none, and skip the nine patterns: an
 * invoke's audit details alone are about twenty strings, keys included.
 */
const MIGHT_MATCH = /[\s:=]|eyJ|hv[sb]\.|AKIA|-----/;

export const REDACTED = "[REDACTED]";

export function redactString(input: string): string {
  // Values Latch resolved are masked first, whatever their shape (see known-values.ts).
  let out = maskKnownValues(input, REDACTED);
  if (!MIGHT_MATCH.test(out)) return out;
  for (const [pattern, replacement] of SECRET_VALUE_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/**
 * Last line of defence: whatever reaches the logger passes through here. Keys that name secrets are
 * masked whatever their value; values that look like secrets are masked whatever their key.
 */
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
  // Bytes would be written as {"0":104,…}, out of reach of every check here: never their content.
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[Binary ${value.byteLength} bytes]`;
  if (value instanceof URL) return redactString(value.href);
  if (value instanceof Map) return redact(Object.fromEntries([...value].map(([k, v]) => [String(k), v])), depth + 1, seen);
  if (value instanceof Set) return redact([...value], depth + 1, seen);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    // The key too: a value Latch resolved may have been used as one.
    const shownKey = redactString(key);
    out[shownKey] = isSecretKey(key, shownKey === key) && item !== null && item !== undefined && item !== "" ? REDACTED : redact(item, depth + 1, seen);
  }
  return out;
}

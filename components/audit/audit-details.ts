import { isUuid } from "@/lib/ids";
import { SERVICE_ACCOUNT_ACTOR_PREFIX } from "@/lib/tokens/actor";
import { capitalised } from "@/lib/utils";

/**
 * How an audit event's details read in the log: each recorded field on its own, with a label in
 * words, ids shortened (the full id in the tooltip), lists joined, nested records by their name or
 * their fields. Events hold names, ids and settings only (never values), so everything is shown.
 */
export type DetailLine = { label: string; text: string; title?: string; time?: string };

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** "expiresAt" → "expires at", "usernameFromAsset" → "username from asset", "via" → "via". */
export function labelFor(key: string): string {
  const words = key
    .replace(/_/g, " ")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .replace(/\bid\b/g, "ID")
    .replace(/\bids\b/g, "IDs")
    .replace(/\burl\b/g, "URL")
    .replace(/\btls\b/g, "TLS")
    .trim();
  return capitalised(words);
}

/** A label inside running text: "Folder ID" → "folder ID", "TLS" stays. */
function inSentence(label: string): string {
  return /^[A-Z]{2,}\b/.test(label) ? label : label.charAt(0).toLowerCase() + label.slice(1);
}

/**
 * Fields that hold a code Latch records ("READ_WRITE", "wrong_password"), read as words. Only these:
 * elsewhere the same shape is a name someone chose (a secret's key "DB_PASSWORD"), shown as written.
 */
const CODE_FIELDS = new Set(["type", "mode", "reason", "failure", "outcome", "errorKind", "kind", "status", "source"]);
const VALUE_WORDS: Record<string, string> = { READ_WRITE: "read-write", READ_ONLY: "read-only" };

function wordsOf(value: string): string {
  if (VALUE_WORDS[value]) return VALUE_WORDS[value];
  return /^[A-Za-z]+(?:_[A-Za-z]+)*$/.test(value) ? value.toLowerCase().replace(/_/g, " ") : value;
}

function shortId(id: string): string {
  return `${id.slice(0, 8)}…`;
}

/** One value as text; the ids it shortened, in full, for the tooltip. */
function textOf(value: unknown, ids: string[]): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "string") {
    if (isUuid(value)) {
      ids.push(value);
      return shortId(value);
    }
    return value;
  }
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return "none";
    const nested = value.some((v) => v !== null && typeof v === "object");
    return value.map((v) => textOf(v, ids)).join(nested ? "; " : ", ");
  }
  if (typeof value === "object") {
    const record = value as Record<string, unknown>;
    const named = typeof record.name === "string" && record.name ? record.name : null;
    if (named && typeof record.id === "string") ids.push(record.id);
    const fields = Object.entries(record).filter(([k, v]) => v !== null && v !== undefined && v !== "" && !(named && (k === "name" || k === "id")));
    // Keys can be ids too (the assets an invoke used, each with how it was read), or words standing for
    // one the reader may not see ("an asset you cannot open"): both are followed by what they hold.
    const keyText = (k: string) => (isUuid(k) ? (ids.push(k), `${shortId(k)}:`) : /\s/.test(k) ? `${k}:` : inSentence(labelFor(k)));
    const text = fields.map(([k, v]) => `${keyText(k)} ${textOf(v, ids)}`).join(", ");
    if (named) return text ? `${named} (${text})` : named;
    return text || "—";
  }
  return String(value);
}

/** The API token a request came with (lib/audit/record.ts `via`), as the tokens pages show it. */
const TOKEN_KINDS: Record<string, string> = { personal: "Personal access token", service: "Service account token" };

function tokenVia(value: unknown): DetailLine | null {
  if (!value || typeof value !== "object") return null;
  const { kind, id, prefix } = value as Record<string, unknown>;
  if (typeof kind !== "string" || !TOKEN_KINDS[kind] || typeof prefix !== "string") return null;
  return { label: "Via", text: `${TOKEN_KINDS[kind]} ${prefix}_…`, ...(typeof id === "string" ? { title: id } : {}) };
}

export function describeDetails(details: unknown): DetailLine[] {
  if (!details || typeof details !== "object" || Array.isArray(details)) return [];
  const lines: DetailLine[] = [];
  for (const [key, value] of Object.entries(details as Record<string, unknown>)) {
    if (value === null || value === undefined || value === "") continue;
    const via = key === "via" ? tokenVia(value) : null;
    if (via) {
      lines.push(via);
      continue;
    }
    // Durations and timeouts are recorded in milliseconds ("durationMs"): the unit goes with the number.
    if (/[a-z]Ms$/.test(key) && typeof value === "number") {
      lines.push({ label: labelFor(key.slice(0, -2)), text: `${value} ms` });
      continue;
    }
    const label = labelFor(key);
    if (typeof value === "string" && ISO_TIME.test(value) && !Number.isNaN(Date.parse(value))) {
      lines.push({ label, text: value, time: value });
      continue;
    }
    const ids: string[] = [];
    const text = typeof value === "string" && CODE_FIELDS.has(key) ? wordsOf(value) : textOf(value, ids);
    lines.push(ids.length ? { label, text, title: ids.join("\n") } : { label, text });
  }
  return lines;
}

const TARGET_TYPES: Record<string, string> = {
  api_token: "API token",
  service_account: "Service account",
  folder: "Folder",
  store: "Store",
  asset: "Asset",
  connection: "Connection",
  user: "User",
};

/** The kind of thing an event is about, in words ("service_account" → "Service account"). */
export function targetTypeLabel(type: string): string {
  return TARGET_TYPES[type] ?? labelFor(type);
}

/** Who did it: a person by their e-mail, a service account by its name. */
export function describeActor(actorEmail: string | null): { kind: "person" | "service-account" | "system"; name: string } {
  if (!actorEmail) return { kind: "system", name: "System" };
  if (actorEmail.startsWith(SERVICE_ACCOUNT_ACTOR_PREFIX)) return { kind: "service-account", name: actorEmail.slice(SERVICE_ACCOUNT_ACTOR_PREFIX.length) };
  return { kind: "person", name: actorEmail };
}

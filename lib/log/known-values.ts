/**
 * Masks values Latch has resolved, wherever they turn up in a log line, without keeping the values:
 * only two 32-bit polynomial hashes per value, with bases drawn at process start: one rolls across
 * the text to find candidates cheaply, the other confirms them. lib/secrets registers every value it
 * hands out. No node: imports, because the logger is also bundled for the Edge instrumentation.
 * Values shorter than MIN_LENGTH are not registered: masking them would mangle ordinary text.
 */
export const MIN_LENGTH = 6;
const MAX_ENTRIES = 20_000;
/** Longer than the cache lifetime, so a value is still recognised while any caller may hold it. */
const REMEMBER_MS = 2 * 60 * 60 * 1000;
/** Strings longer than this are scanned in their first part only (log lines are short). */
const MAX_SCAN = 64 * 1024;
/**
 * Kept on globalThis: the instrumentation bundle (which serves direct routes, lib/api/direct.ts) and
 * the route bundles each get their own copy of this module, and a value one of them resolves must be
 * masked in what any of them logs.
 */
type KnownValues = {
  bases: [number, number];
  /** length → rolling hash → ids of values with that length and hash. */
  byLength: Map<number, Map<number, Set<string>>>;
  /** id (length:hash:check) → [length, rolling hash, remembered at], in insertion (LRU) order. */
  entries: Map<string, [number, number, number]>;
};
const shared = globalThis as unknown as { latchKnownValues?: KnownValues };
shared.latchKnownValues ??= {
  // Odd random bases, so the hashes cannot be precomputed by anyone outside the process.
  bases: Array.from(globalThis.crypto.getRandomValues(new Uint32Array(2)), (n) => (n | 1) >>> 0) as [number, number],
  byLength: new Map(),
  entries: new Map(),
};
const {
  bases: [BASE, CHECK_BASE],
  byLength,
  entries,
} = shared.latchKnownValues;

function rollingHash(text: string, start: number, length: number, base = BASE!): number {
  let h = 0;
  for (let i = start; i < start + length; i++) h = (Math.imul(h, base) + text.charCodeAt(i)) >>> 0;
  return h;
}

function fingerprint(text: string): string {
  return `${text.length}:${rollingHash(text, 0, text.length)}:${rollingHash(text, 0, text.length, CHECK_BASE)}`;
}

function power(length: number): number {
  let p = 1;
  for (let i = 1; i < length; i++) p = Math.imul(p, BASE!) >>> 0;
  return p;
}

function forget(id: string) {
  const entry = entries.get(id);
  if (!entry) return;
  entries.delete(id);
  const [length, hash] = entry;
  const bucket = byLength.get(length);
  const ids = bucket?.get(hash);
  ids?.delete(id);
  if (ids?.size === 0) bucket!.delete(hash);
  if (bucket?.size === 0) byLength.delete(length);
}

/** Remembers a value so the log redaction masks it. Cheap and idempotent. */
export function rememberValue(value: string, now = Date.now()): void {
  if (typeof value !== "string" || value.length < MIN_LENGTH || value.length > MAX_SCAN) return;
  const id = fingerprint(value);
  const hash = rollingHash(value, 0, value.length);
  entries.delete(id);
  entries.set(id, [value.length, hash, now]);
  let bucket = byLength.get(value.length);
  if (!bucket) byLength.set(value.length, (bucket = new Map()));
  let ids = bucket.get(hash);
  if (!ids) bucket.set(hash, (ids = new Set()));
  ids.add(id);
  while (entries.size > MAX_ENTRIES) forget(entries.keys().next().value as string);
}

function expire(now: number) {
  for (const [id, [, , at]] of entries) {
    if (now - at < REMEMBER_MS) break;
    forget(id);
  }
}

/** Replaces every occurrence of a remembered value in the text. */
export function maskKnownValues(text: string, replacement: string, now = Date.now()): string {
  if (entries.size === 0 || text.length < MIN_LENGTH) return text;
  expire(now);
  const scan = text.length > MAX_SCAN ? text.slice(0, MAX_SCAN) : text;
  const ranges: [number, number][] = [];
  for (const [length, bucket] of byLength) {
    if (length > scan.length) continue;
    const top = power(length);
    let h = rollingHash(scan, 0, length);
    for (let start = 0; ; start++) {
      const ids = bucket.get(h);
      if (ids && ids.has(fingerprint(scan.slice(start, start + length)))) ranges.push([start, start + length]);
      if (start + length >= scan.length) break;
      h = (Math.imul((h - Math.imul(scan.charCodeAt(start), top)) >>> 0, BASE!) + scan.charCodeAt(start + length)) >>> 0;
    }
  }
  // Past what was searched nothing is passed on: it could hold a value nobody looked for.
  const rest = text.length > scan.length ? `…[${text.length - scan.length} more characters not shown]` : "";
  if (ranges.length === 0) return scan + rest;
  ranges.sort((a, b) => a[0] - b[0]);
  let out = "";
  let at = 0;
  for (const [from, to] of ranges) {
    if (to <= at) continue;
    out += scan.slice(at, Math.max(at, from)) + replacement;
    at = to;
  }
  return out + scan.slice(at) + rest;
}

/** For tests. */
export function forgetAllValues(): void {
  entries.clear();
  byLength.clear();
}

/**
 * Refusals recorded at most once a minute per key (a caller, what it tried, on what), on each
 * instance: enough to see who probed what, without letting a caller who repeats a refused call
 * grow the trail without bound. On globalThis, so the bundles that load lib/ share one memory.
 */
const EVERY_MS = 60_000;
const MAX_REMEMBERED = 10_000;
const holder = globalThis as unknown as { latchRefusalsRecorded?: Map<string, number> };

export function firstThisMinute(key: string): boolean {
  const recorded = (holder.latchRefusalsRecorded ??= new Map());
  const now = Date.now();
  const last = recorded.get(key);
  if (last !== undefined && now - last < EVERY_MS) return false;
  recorded.delete(key);
  recorded.set(key, now);
  // Oldest first (insertion order): forget the oldest once the map is full.
  if (recorded.size > MAX_REMEMBERED) recorded.delete(recorded.keys().next().value!);
  return true;
}

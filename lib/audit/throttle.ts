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

/**
 * The key for a refusal: who (the token, else the person), what, and on which target. Unknown ids
 * share one key per caller and action, so made-up ids cannot each add an event.
 */
export function refusalKey(ctx: { actor: { id: string; scope?: { tokenId: string } | null } }, action: string, targetId: string | null): string {
  return `${ctx.actor.scope?.tokenId ?? ctx.actor.id}|${action}|${targetId ?? "unknown"}`;
}

/** Tests: each test starts with no refusal remembered (the memory is per process, and tests share one). */
export function forgetRecordedRefusalsForTests(): void {
  holder.latchRefusalsRecorded = undefined;
}

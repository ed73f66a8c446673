import "server-only";
import { RateLimiter } from "@/lib/api/rate-limit";
import type { Actor } from "@/lib/authz";
import { env } from "@/lib/env";

/**
 * What each caller (an API token, or a signed-in person) may do per second on this instance.
 * On globalThis: the direct route's bundle and the routes' bundles share one count.
 */
const holder = globalThis as unknown as { latchInvokeLimiter?: RateLimiter; latchRefreshLimiter?: RateLimiter };

const callerKey = (actor: Actor) => (actor.scope ? `token:${actor.scope.tokenId}` : `user:${actor.id}`);

/** Invokes: LATCH_INVOKE_RATE_PER_SECOND, bursts up to twice that. */
export function limitInvoke(actor: Actor): void {
  const rate = env().LATCH_INVOKE_RATE_PER_SECOND;
  holder.latchInvokeLimiter ??= new RateLimiter(rate, rate * 2);
  holder.latchInvokeLimiter.take(callerKey(actor));
}

/**
 * Refreshes and connection tests: each refresh makes every instance drop what it keeps for invokes
 * and read the store again, and each test logs in to the target anew, so a caller looping on them
 * would put that cost on everyone. LATCH_REFRESH_RATE_PER_SECOND, bursts up to ten times that.
 */
export function limitRefresh(actor: Actor): void {
  const rate = env().LATCH_REFRESH_RATE_PER_SECOND;
  holder.latchRefreshLimiter ??= new RateLimiter(rate, rate * 10);
  holder.latchRefreshLimiter.take(callerKey(actor));
}

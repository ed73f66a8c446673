import { AppError } from "@/lib/errors";

/**
 * Token buckets per caller, in this instance's memory: `rate` requests a second, bursts up to
 * `burst`. A refused call gets 429 with the seconds until one more is allowed. Per instance by
 * design: a limit shared by all instances would put a database write on every invoke.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    readonly rate: number,
    readonly burst: number,
    readonly now: () => number = Date.now,
    readonly maxKeys = 100_000,
  ) {}

  /** Takes one token for the key, or throws RATE_LIMITED with Retry-After. */
  take(key: string): void {
    const now = this.now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.#buckets.set(key, bucket);
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / this.rate));
      throw new AppError("RATE_LIMITED", `Too many requests; try again in ${retryAfter} s.`, undefined, retryAfter);
    }
    bucket.tokens -= 1;
    // Re-insert so the Map's order is least recently used first, and forget the oldest past the bound.
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value as string);
  }
}

import { StoreError } from "./errors";

/**
 * Bounded retries for vault calls: only throttling and transient unavailability are retried, with
 * exponential backoff and jitter. A store's Retry-After is a floor, never shortened: when it asks for
 * a longer wait than this call may spend, the call ends at once with a throttled error that says so.
 */
export type RetryOptions = {
  /** Attempts in all, the first included. */
  attempts?: number;
  /** Backoff before the second attempt; doubles for each further one. */
  baseDelayMs?: number;
  /** Cap on one backoff wait (not on a Retry-After). */
  maxDelayMs?: number;
  /** Longest Retry-After this call waits out; a longer one ends the call instead. */
  maxRetryAfterMs?: number;
  /** Total time from the first attempt that the call may spend, waits included. */
  budgetMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Returns [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
  now?: () => number;
};

export const DEFAULT_MAX_RETRY_AFTER_MS = 5000;
const RETRYABLE = new Set(["throttled", "unavailable"]);

/** Backoff before attempt `attempt + 1`: "equal jitter", half fixed and half random, so it grows yet spreads callers. */
export function backoffDelay(attempt: number, base: number, max: number, random: () => number): number {
  const ceiling = Math.min(max, base * 2 ** (attempt - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

const seconds = (ms: number) => `${Math.round((ms / 1000) * 10) / 10} s`;

/** The store asked for more patience than the call has: say how long, so the person can act. */
function tooLongToWait(error: StoreError, waitMs: number, allowedMs: number): StoreError {
  const asked = seconds(waitMs);
  const message = `${error.message} The store asked Latch to wait ${asked} before trying again, longer than this request may wait (${seconds(Math.max(0, allowedMs))}); try again after ${asked}.`;
  return new StoreError(error.kind, message, error.retryAfterSeconds);
}

export async function withRetry<T>(call: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 3;
  const base = opts.baseDelayMs ?? 200;
  const max = opts.maxDelayMs ?? 5000;
  const maxRetryAfter = opts.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = opts.random ?? Math.random;
  const now = opts.now ?? Date.now;
  const started = now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof StoreError) || !RETRYABLE.has(error.kind) || attempt >= attempts) throw error;
      const left = opts.budgetMs === undefined ? Number.POSITIVE_INFINITY : opts.budgetMs - (now() - started);
      if (error.retryAfterSeconds !== undefined) {
        const wait = error.retryAfterSeconds * 1000;
        const allowed = Math.min(maxRetryAfter, left);
        if (wait > allowed) throw tooLongToWait(error, wait, allowed);
        await sleep(wait);
        continue;
      }
      const wait = backoffDelay(attempt, base, max, random);
      if (wait > left) throw error;
      await sleep(wait);
    }
  }
}

/** Parses Retry-After (seconds or an HTTP date) into seconds. */
export function parseRetryAfter(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

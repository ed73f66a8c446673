import { StoreError } from "./errors";

/**
 * Bounded retries for vault calls: only throttling and transient unavailability are retried, with
 * exponential backoff and full jitter, honouring the store's Retry-After when it gives one (capped so
 * a caller never waits longer than `maxDelayMs` for one attempt).
 */
export type RetryOptions = { attempts?: number; baseDelayMs?: number; maxDelayMs?: number; sleep?: (ms: number) => Promise<void> };

const RETRYABLE = new Set(["throttled", "unavailable"]);

export async function withRetry<T>(call: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 3;
  const base = opts.baseDelayMs ?? 200;
  const max = opts.maxDelayMs ?? 5000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof StoreError) || !RETRYABLE.has(error.kind) || attempt >= attempts) throw error;
      const backoff = Math.random() * Math.min(max, base * 2 ** (attempt - 1));
      const wait = error.retryAfterSeconds !== undefined ? Math.min(max, error.retryAfterSeconds * 1000) : backoff;
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

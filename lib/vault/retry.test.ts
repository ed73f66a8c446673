import { describe, expect, it } from "vitest";
import { StoreError } from "./errors";
import { backoffDelay, parseRetryAfter, withRetry, type RetryOptions } from "./retry";

/** A clock that only moves when the code under test sleeps: no real waiting. */
function fakeClock(random = () => 0.5) {
  let t = 1_000_000;
  const waits: number[] = [];
  const opts: Required<Pick<RetryOptions, "sleep" | "now" | "random">> = {
    sleep: async (ms) => {
      waits.push(ms);
      t += ms;
    },
    now: () => t,
    random,
  };
  return { waits, opts };
}

/** A call that fails with the given errors in turn, then succeeds. */
function failing(...errors: unknown[]) {
  let calls = 0;
  const call = async () => {
    const error = errors[calls++];
    if (error) throw error;
    return "ok";
  };
  return { call, calls: () => calls };
}

const throttled = (retryAfterSeconds?: number) => new StoreError("throttled", "Vault is rate-limiting Latch.", retryAfterSeconds);
const unavailable = () => new StoreError("unavailable", "Vault reported an internal error (HTTP 502).");

describe("withRetry", () => {
  it("backs off exponentially between attempts, with jitter kept within [half, all] of the step", async () => {
    for (const [random, expected] of [
      [() => 0, [100, 200, 400]],
      [() => 0.999999, [200, 400, 800]],
    ] as const) {
      const clock = fakeClock(random);
      const { call, calls } = failing(unavailable(), unavailable(), unavailable());
      await expect(withRetry(call, { attempts: 4, baseDelayMs: 200, maxDelayMs: 10_000, ...clock.opts })).resolves.toBe("ok");
      expect(calls()).toBe(4);
      expect(clock.waits.map(Math.round)).toEqual(expected);
    }
    // Each step is at least the previous step's ceiling: the wait grows whatever the jitter.
    for (let attempt = 1; attempt < 6; attempt++) {
      expect(backoffDelay(attempt + 1, 200, 60_000, () => 0)).toBeGreaterThanOrEqual(backoffDelay(attempt, 200, 60_000, () => 0.999999));
    }
  });

  it("caps a backoff step at maxDelayMs", async () => {
    const clock = fakeClock(() => 0.999999);
    const { call } = failing(unavailable(), unavailable(), unavailable(), unavailable());
    await withRetry(call, { attempts: 5, baseDelayMs: 1000, maxDelayMs: 2500, ...clock.opts });
    expect(clock.waits.map(Math.round)).toEqual([1000, 2000, 2500, 2500]);
  });

  it("stops after the attempt bound and throws the last error unchanged", async () => {
    const clock = fakeClock();
    const last = unavailable();
    const { call, calls } = failing(unavailable(), unavailable(), last, unavailable());
    await expect(withRetry(call, { attempts: 3, ...clock.opts })).rejects.toBe(last);
    expect(calls()).toBe(3);
    expect(clock.waits).toHaveLength(2);
  });

  it("never retries errors that are not throttling or unavailability", async () => {
    for (const error of [new StoreError("auth", "no"), new StoreError("timeout", "slow"), new StoreError("not_found", "gone"), new Error("bug")]) {
      const clock = fakeClock();
      const { call, calls } = failing(error);
      await expect(withRetry(call, clock.opts)).rejects.toBe(error);
      expect(calls()).toBe(1);
      expect(clock.waits).toEqual([]);
    }
  });

  it("waits exactly the store's Retry-After when it is within the limit, even beyond the backoff cap", async () => {
    const clock = fakeClock();
    const { call, calls } = failing(throttled(4), throttled(0));
    await expect(withRetry(call, { maxDelayMs: 500, maxRetryAfterMs: 5000, ...clock.opts })).resolves.toBe("ok");
    expect(calls()).toBe(3);
    expect(clock.waits).toEqual([4000, 0]);
  });

  it("gives up at once, saying how long the store asked to wait, when Retry-After exceeds the limit", async () => {
    const clock = fakeClock();
    const { call, calls } = failing(throttled(30));
    const error = await withRetry(call, { maxRetryAfterMs: 5000, ...clock.opts }).catch((e: unknown) => e);
    expect(calls()).toBe(1);
    expect(clock.waits).toEqual([]);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ kind: "throttled", retryAfterSeconds: 30 });
    expect((error as StoreError).message).toMatch(/^Vault is rate-limiting Latch\. The store asked Latch to wait 30 s before trying again, longer than this request may wait \(5 s\); try again after 30 s\.$/);
  });

  it("counts the time already spent against the call's budget", async () => {
    const clock = fakeClock(() => 0);
    // 2 s Retry-After fits the 5 s per-wait limit, but not the 3 s left of a 4 s budget after a 1 s first attempt.
    let calls = 0;
    const call = async () => {
      calls++;
      await clock.opts.sleep(1000);
      throw throttled(3.5);
    };
    const error = await withRetry(call, { budgetMs: 4000, ...clock.opts }).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect((error as StoreError).message).toContain("wait 3.5 s before trying again, longer than this request may wait (3 s)");

    // A backoff that would overrun the budget ends the call with the store's own error.
    const late = fakeClock(() => 0);
    const last = unavailable();
    const { call: slow, calls: slowCalls } = failing(last);
    await expect(withRetry(slow, { budgetMs: 50, baseDelayMs: 200, ...late.opts })).rejects.toBe(last);
    expect(slowCalls()).toBe(1);
  });

  it("parses Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("30")).toBe(30);
    expect(parseRetryAfter("0")).toBe(0);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    expect(parseRetryAfter(inAMinute)).toBeGreaterThanOrEqual(59);
    expect(parseRetryAfter(inAMinute)).toBeLessThanOrEqual(61);
  });
});

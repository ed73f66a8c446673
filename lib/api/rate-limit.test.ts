import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { RateLimiter } from "./rate-limit";

describe("RateLimiter", () => {
  it("allows a burst, then refuses with 429 and a Retry-After, and refills over time, per key", () => {
    let now = 0;
    const limiter = new RateLimiter(2, 4, () => now);
    for (let i = 0; i < 4; i++) limiter.take("token-a");
    let refused: unknown;
    try {
      limiter.take("token-a");
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: 1 });
    // Another caller is not affected.
    expect(() => limiter.take("token-b")).not.toThrow();
    now += 500; // half a second refills one token at 2/s
    expect(() => limiter.take("token-a")).not.toThrow();
    expect(() => limiter.take("token-a")).toThrow(AppError);
  });
});

import { describe, expect, it } from "vitest";
import { EnvError, parseEnv } from "./env";

const valid = { DATABASE_URL: "postgresql://localhost/latch", NEXTAUTH_SECRET: "x".repeat(32) };

describe("env", () => {
  it("accepts a valid environment and fills defaults", () => {
    expect(parseEnv(valid)).toMatchObject({ LOG_LEVEL: "info", LATCH_LOGIN_MAX_FAILURES: 5, LATCH_TRUST_PROXY: false });
  });

  it("fails fast naming the variable that is wrong", () => {
    expect(() => parseEnv({ ...valid, DATABASE_URL: undefined })).toThrow(/DATABASE_URL is required/);
    expect(() => parseEnv({ ...valid, DATABASE_URL: "mysql://x" })).toThrow(/DATABASE_URL must be a postgresql:\/\/ URL/);
    expect(() => parseEnv({ ...valid, NEXTAUTH_SECRET: "short" })).toThrow(/NEXTAUTH_SECRET must be at least 32 characters/);
    expect(() => parseEnv({ ...valid, LOG_LEVEL: "loud" })).toThrow(EnvError);
  });
});

import { describe, expect, it } from "vitest";
import { parseEnv } from "@/lib/env";
import { debugOutputWarning } from "./debug-output";

describe("debug output warning", () => {
  it("warns at start-up when a library debug switch is on, naming it, and is quiet otherwise", () => {
    expect(debugOutputWarning({})).toBeNull();
    expect(debugOutputWarning({ DEBUG: "  " })).toBeNull();
    expect(debugOutputWarning({ DEBUG: "ioredis:*" })).toMatch(/^DEBUG is set: .*past Latch's redaction.*Unset it /);
    expect(debugOutputWarning({ NODE_DEBUG: "fetch" })).toMatch(/^NODE_DEBUG is set: /);
    expect(debugOutputWarning({ DEBUG: "*", NODE_DEBUG: "undici" })).toMatch(/^DEBUG and NODE_DEBUG are set: .*Unset them /);
  });

  it("reads both switches through the validated environment", () => {
    const valid = { DATABASE_URL: "postgresql://localhost/latch", NEXTAUTH_SECRET: "k7Qw2Zp9Xr4Lm8Vt3Nc6Hb1Jf5Gd0Sa2" };
    expect(parseEnv({ ...valid, DEBUG: "ioredis:*", NODE_DEBUG: "net" })).toMatchObject({ DEBUG: "ioredis:*", NODE_DEBUG: "net" });
  });
});

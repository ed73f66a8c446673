import { describe, expect, it } from "vitest";
import { EnvError, parseEnv } from "./env";

const valid = { DATABASE_URL: "postgresql://localhost/latch", NEXTAUTH_SECRET: "k7Qw2Zp9Xr4Lm8Vt3Nc6Hb1Jf5Gd0Sa2" };

describe("env", () => {
  it("accepts a valid environment and fills defaults", () => {
    expect(parseEnv(valid)).toMatchObject({ LOG_LEVEL: "info", LATCH_LOGIN_MAX_FAILURES: 5, LATCH_TRUST_PROXY: 0 });
  });

  it("fails fast naming the variable that is wrong", () => {
    expect(() => parseEnv({ ...valid, DATABASE_URL: undefined })).toThrow(/DATABASE_URL is required/);
    expect(() => parseEnv({ ...valid, DATABASE_URL: "mysql://x" })).toThrow(/DATABASE_URL must be a postgresql:\/\/ URL/);
    // Prisma's ?schema= would be ignored (tables in public): refused, except public itself.
    expect(() => parseEnv({ ...valid, DATABASE_URL: "postgresql://localhost/latch?schema=latch" })).toThrow(/DATABASE_URL names a \?schema= other than public/);
    expect(parseEnv({ ...valid, DATABASE_URL: "postgresql://localhost/latch?sslmode=require&schema=public" }).DATABASE_URL).toContain("schema=public");
    expect(() => parseEnv({ ...valid, NEXTAUTH_SECRET: "short" })).toThrow(/NEXTAUTH_SECRET must be at least 32 characters/);
    expect(() => parseEnv({ ...valid, LOG_LEVEL: "loud" })).toThrow(EnvError);
  });

  it("an empty value is an unset one (Compose's VAR=${VAR}), not a reason to refuse to start", () => {
    const empty = { LATCH_METRICS_TOKEN: "", NEXTAUTH_URL: "", LATCH_POOL_MAX_PER_CONNECTION: "", LATCH_MASTER_KEY: " ", NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: "" };
    const parsed = parseEnv({ ...valid, ...empty });
    expect([parsed.LATCH_METRICS_TOKEN, parsed.NEXTAUTH_URL, parsed.LATCH_MASTER_KEY, parsed.NEXT_SERVER_ACTIONS_ENCRYPTION_KEY]).toEqual([undefined, undefined, undefined, undefined]);
    expect(parsed.LATCH_POOL_MAX_PER_CONNECTION).toBe(10);
    // Required ones still say they are required.
    expect(() => parseEnv({ ...valid, DATABASE_URL: "" })).toThrow(/DATABASE_URL is required/);
  });

  it("refuses a session key that only looks long, and an address people cannot open", () => {
    for (const weak of [" ".repeat(40), "x".repeat(32), "abababababababababababababababab"]) {
      expect(() => parseEnv({ ...valid, NEXTAUTH_SECRET: weak })).toThrow(/NEXTAUTH_SECRET (looks like a placeholder|is required)/);
    }
    for (const bad of ["localhost:3000", "javascript:alert(1)", "ftp://latch.example.com"]) {
      expect(() => parseEnv({ ...valid, NEXTAUTH_URL: bad }), bad).toThrow(/NEXTAUTH_URL must/);
    }
    expect(parseEnv({ ...valid, NEXTAUTH_URL: "https://latch.example.com" }).NEXTAUTH_URL).toBe("https://latch.example.com");
    // A key read from a file keeps its line break; it is the same key.
    const key = Buffer.alloc(32, 7).toString("base64");
    expect(parseEnv({ ...valid, NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: `${key}\n` }).NEXT_SERVER_ACTIONS_ENCRYPTION_KEY).toBe(key);
  });

  it("checks NEXT_SERVER_ACTIONS_ENCRYPTION_KEY's form, and demands it for several production instances", () => {
    const key = Buffer.alloc(32, 7).toString("base64");
    expect(parseEnv({ ...valid, NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: key }).NEXT_SERVER_ACTIONS_ENCRYPTION_KEY).toBe(key);
    expect(parseEnv({ ...valid, NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: Buffer.alloc(16).toString("base64") })).toBeTruthy();
    for (const bad of ["not base64!", Buffer.alloc(20).toString("base64"), "short"]) {
      expect(() => parseEnv({ ...valid, NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: bad })).toThrow(/NEXT_SERVER_ACTIONS_ENCRYPTION_KEY must be 16, 24 or 32 bytes/);
    }
    expect(() => parseEnv({ ...valid, NODE_ENV: "production", LATCH_MULTI_INSTANCE: "true" })).toThrow(/NEXT_SERVER_ACTIONS_ENCRYPTION_KEY is required when LATCH_MULTI_INSTANCE/);
    expect(parseEnv({ ...valid, NODE_ENV: "production", LATCH_MULTI_INSTANCE: "true", NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: key })).toBeTruthy();
    // One instance, or development: the build's own key will do.
    expect(parseEnv({ ...valid, NODE_ENV: "production" })).toBeTruthy();
    expect(parseEnv({ ...valid, LATCH_MULTI_INSTANCE: "true" })).toBeTruthy();
  });

  it("sizes connection pools, with defaults", () => {
    expect(parseEnv(valid)).toMatchObject({ LATCH_POOL_MAX_PER_CONNECTION: 10, LATCH_POOL_IDLE_SECONDS: 300 });
    expect(parseEnv({ ...valid, LATCH_POOL_MAX_PER_CONNECTION: "3" }).LATCH_POOL_MAX_PER_CONNECTION).toBe(3);
    expect(() => parseEnv({ ...valid, LATCH_POOL_MAX_PER_CONNECTION: "0" })).toThrow(/LATCH_POOL_MAX_PER_CONNECTION/);
  });

  it("reads LATCH_TRUST_PROXY as the number of proxies in front, with true meaning one", () => {
    for (const [value, proxies] of [["", 0], ["false", 0], ["0", 0], ["true", 1], ["TRUE", 1], ["1", 1], ["2", 2]] as const) {
      expect(parseEnv({ ...valid, LATCH_TRUST_PROXY: value }).LATCH_TRUST_PROXY).toBe(proxies);
    }
    for (const bad of ["yes", "-1", "10", "1.5"]) {
      expect(() => parseEnv({ ...valid, LATCH_TRUST_PROXY: bad })).toThrow(/LATCH_TRUST_PROXY must be "true", "false" or the number of proxies/);
    }
  });

  it("takes only real master keys: strict base64 of 32 bytes, not a placeholder", () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7)).toString("base64");
    expect(parseEnv({ ...valid, LATCH_MASTER_KEY: key }).LATCH_MASTER_KEY).toBe(key);
    // As secrets arrive from files and other tools: a trailing newline, no padding.
    expect(parseEnv({ ...valid, LATCH_MASTER_KEY: `${key}\n` }).LATCH_MASTER_KEY).toBe(key);
    // The same 32 bytes, however it is written.
    expect(Buffer.from(parseEnv({ ...valid, LATCH_MASTER_KEY: key.slice(0, -1) }).LATCH_MASTER_KEY!, "base64").equals(Buffer.from(key, "base64"))).toBe(true);
    for (const bad of ["A".repeat(43) + "=", "correct-horse-battery-staple-and-more-words", `${key.slice(0, 10)}!!!  ###${key.slice(10)}`, key.slice(0, -2), `${key}${key}`]) {
      expect(() => parseEnv({ ...valid, LATCH_MASTER_KEY: bad }), bad).toThrow(/LATCH_MASTER_KEY must be 32 random bytes/);
    }
    // Earlier keys: the same rule each; an empty entry (a trailing comma) is nothing.
    expect(parseEnv({ ...valid, LATCH_PREVIOUS_MASTER_KEYS: `${key}, ` }).LATCH_PREVIOUS_MASTER_KEYS).toBe(`${key}, `);
    expect(() => parseEnv({ ...valid, LATCH_PREVIOUS_MASTER_KEYS: `${key},${"A".repeat(43)}=` })).toThrow(/LATCH_PREVIOUS_MASTER_KEYS/);
  });

  it("checks the egress CIDR lists at start-up: a typo must not become allow-all", () => {
    const list = "10.0.0.0/8, 192.168.1.10,fd00::/8,::ffff:10.0.0.1,2001:db8::1/128";
    expect(parseEnv({ ...valid, LATCH_EGRESS_ALLOW_CIDRS: list }).LATCH_EGRESS_ALLOW_CIDRS).toBe(list);
    for (const bad of ["10.0.0.0/", "10.0.0.0/8;192.168.0.0/16", "10.0.0.0/33", "fd00::/129", "10.0.0.0/8/1", "example.com", "10.0.0.0/ 8", "256.1.1.1", "10.0.0", "fd00:::1", "gggg::1"]) {
      expect(() => parseEnv({ ...valid, LATCH_EGRESS_ALLOW_CIDRS: bad }), bad).toThrow(/LATCH_EGRESS_ALLOW_CIDRS has an entry that is not an address or CIDR/);
      expect(() => parseEnv({ ...valid, LATCH_EGRESS_DENY_CIDRS: bad }), bad).toThrow(/LATCH_EGRESS_DENY_CIDRS/);
    }
  });
});

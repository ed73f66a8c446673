import { describe, expect, it } from "vitest";
import { redact, redactString, REDACTED } from "./redact";

describe("log redaction", () => {
  it("masks values under secret-looking keys at any depth, keeping other fields", () => {
    const out = redact({ user: "ann", password: "hunter2!!", nested: { clientSecret: "abc", apiKey: "k", list: [{ token: "t" }] }, count: 3 });
    expect(out).toEqual({ user: "ann", password: REDACTED, nested: { clientSecret: REDACTED, apiKey: REDACTED, list: [{ token: REDACTED }] }, count: 3 });
  });

  it("masks secret-looking values whatever the key", () => {
    const text = [
      "Authorization: Bearer abcdefghijklmnop",
      "postgres://app:s3cr3t-pass@db.internal:5432/app",
      "password=swordfish&user=bob",
      "-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----",
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
      "vault token hvs.CAESIJ0a1b2c3d4e5f6g7h8i9j0",
    ].join("\n");
    const out = redactString(text);
    for (const secret of ["abcdefghijklmnop", "s3cr3t-pass", "swordfish", "MIIEv", "dozjgNryP4J3", "CAESIJ0a1b2c3"]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain("postgres://app:[REDACTED]@db.internal");
    expect(out).toContain("user=bob");
  });

  it("redacts error messages and stacks", () => {
    const out = redact(new Error("login failed for password=topsecret")) as { message: string };
    expect(out.message).not.toContain("topsecret");
  });
});

describe("masking of values Latch resolved", () => {
  it("masks a remembered value anywhere in a string or object, however it is keyed", async () => {
    const { rememberValue, forgetAllValues } = await import("./known-values");
    forgetAllValues();
    const value = "plain looking words 42";
    rememberValue(value);
    expect(redactString(`connect failed: ${value}!`)).toBe(`connect failed: ${REDACTED}!`);
    expect(redact({ note: value, list: [`x${value}y`] })).toEqual({ note: REDACTED, list: [`x${REDACTED}y`] });
    const error = redact(new Error(`rejected ${value}`)) as { message: string; stack: string };
    expect(error.message).toBe(`rejected ${REDACTED}`);
    expect(error.stack).not.toContain(value);
    // Ordinary text, and text that only shares a prefix, is untouched.
    expect(redactString("plain looking words 43")).toBe("plain looking words 43");
    forgetAllValues();
    expect(redactString(value)).toBe(value);
  });

  it("finds several values of different lengths, overlapping and repeated", async () => {
    const { rememberValue, forgetAllValues } = await import("./known-values");
    forgetAllValues();
    rememberValue("alpha-secret");
    rememberValue("beta-2");
    expect(redactString("alpha-secret beta-2 alpha-secretbeta-2")).toBe(`${REDACTED} ${REDACTED} ${REDACTED}${REDACTED}`);
    // Too short to mask safely: left alone by design.
    rememberValue("abc");
    expect(redactString("abc")).toBe("abc");
    forgetAllValues();
  });
});

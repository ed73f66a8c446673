import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./index";
import { redact, redactString, REDACTED } from "./redact";

/** A logger writing into an array of parsed lines. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger(stream), lines, text: () => JSON.stringify(lines) };
}
const flush = () => new Promise((r) => setImmediate(r));

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

  it("masks each shape of secret when it is the whole string, with nothing around it", () => {
    const alone: [string, string][] = [
      ["Bearer abcdefghijklmnop", "abcdefghijklmnop"],
      ["Token Zx9.abcdefghij", "Zx9.abcdefghij"],
      ["postgres://app:s3cr3t-pass@db", "s3cr3t-pass"],
      ["https://ghp_abcdef123456@github.com", "ghp_abcdef123456"],
      ["password=swordfish", "swordfish"],
      ["api_key:k-1234567", "k-1234567"],
      ["-----BEGIN PRIVATE KEY-----MIIEvgIBADAN-----END PRIVATE KEY-----", "MIIEvgIBADAN"],
      ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "dozjgNryP4J3"],
      ["hvs.CAESIJ0a1b2c3d4e5f6g7h8i9j0", "CAESIJ0a1b2c3"],
      ["AKIAIOSFODNN7EXAMPLE", "IOSFODNN7"],
    ];
    for (const [text, secret] of alone) expect(redactString(text), text).not.toContain(secret);
    // What an audit row or a log line mostly holds stays as it is.
    for (const plain of ["0b6f1c9e-3a52-4d8e-9c1f-2b7d5e4a9f10", "ann@example.com", "postgres", "query", "lt_s_3f9a2b", "Postgres via the proxy"]) {
      expect(redactString(plain)).toBe(plain);
    }
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

  it("does not pass on what lies past the part of a long string it searched", async () => {
    const { rememberValue, forgetAllValues } = await import("./known-values");
    forgetAllValues();
    rememberValue("far-away-value-31");
    const long = `${"x".repeat(70 * 1024)} far-away-value-31 tail`;
    const out = redactString(long);
    expect(out).not.toContain("far-away-value-31");
    expect(out).toMatch(/…\[\d+ more characters not shown\]$/);
    forgetAllValues();
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

describe("what the redaction used to miss", () => {
  it("credentials in URLs of every form: no user name, a token as the user, a slash in the password", () => {
    for (const [url, secret] of [
      ["redis://:s3cretRedisPw@cache:6379", "s3cretRedisPw"],
      ["https://ghp_aBcD1234eFgH5678@github.com/org/repo.git", "ghp_aBcD1234"],
      ["postgresql://latch:pa/ss-word9@db:5432/x", "pa/ss-word9"],
      ["https://x-access-token:ghs_abc123XYZ@github.com", "ghs_abc123XYZ"],
      // Unescaped #, ? and @ in the password, as connection strings are often written.
      ["postgres://app:pa#ss-w0rd@db.internal:5432/x", "ss-w0rd"],
      ["postgres://app:pa?ss-w0rd@db.internal/x", "ss-w0rd"],
      ["mysql://app:p@ss-w0rd@db.internal/x", "ss-w0rd"],
    ]) {
      const out = redactString(`connect to ${url} failed`);
      expect(out, url).not.toContain(secret);
      expect(out, url).toContain("@");
    }
    // A host, port and query with an @ in it are not credentials.
    expect(redactString("GET http://host:8080/path?q=a@b.com")).toBe("GET http://host:8080/path?q=a@b.com");
    expect(redactString("mysql://app:p@ss-w0rd@db.internal/x failed")).toBe("mysql://app:[REDACTED]@db.internal/x failed");
  });

  it("bytes, maps, sets and URLs are written safely, and keys are checked like values", async () => {
    const { rememberValue, forgetAllValues } = await import("./known-values");
    forgetAllValues();
    rememberValue("resolved-value-77");
    expect(redact({ body: Buffer.from("password=hunter2") })).toEqual({ body: "[Binary 16 bytes]" });
    expect(redact({ m: new Map([["password", "x"], ["host", "h"]]), s: new Set(["resolved-value-77"]), u: new URL("https://u:p4ss@h/") })).toEqual({
      m: { password: REDACTED, host: "h" },
      s: [REDACTED],
      u: `https://u:${REDACTED}@h/`,
    });
    expect(JSON.stringify(redact({ "resolved-value-77": 1 }))).not.toContain("resolved-value-77");
    forgetAllValues();
  });

  it("names are judged by their words: what is about a secret is kept, a secret is not", () => {
    const out = redact({
      secretName: "prod/db", tokenId: "t1", tokenCount: 3, credentialAssetId: "a1", passport: "P123", compass: "N", bypassCache: true,
      clientSecret: "s", db_password: "p", accessToken: "a", "set-cookie": "c", apiKey: "k", sessionId: "x", key: "k2", secretValue: "v",
    });
    expect(out).toEqual({
      secretName: "prod/db", tokenId: "t1", tokenCount: 3, credentialAssetId: "a1", passport: "P123", compass: "N", bypassCache: true,
      clientSecret: REDACTED, db_password: REDACTED, accessToken: REDACTED, "set-cookie": REDACTED, apiKey: REDACTED, sessionId: REDACTED, key: REDACTED, secretValue: REDACTED,
    });
    // Secrets whose last word alone reads as "about a secret"; the names of keys that hold one are kept.
    expect(redact({ secretAccessKey: "a", AWS_SECRET_ACCESS_KEY: "b", secret_key: "c", secretId: "d", secret_id: "e", accountKey: "f", sharedKey: "g", valueKey: "password", usernameKey: "user", passwordKey: "pw" })).toEqual({
      secretAccessKey: REDACTED, AWS_SECRET_ACCESS_KEY: REDACTED, secret_key: REDACTED, secretId: REDACTED, secret_id: REDACTED, accountKey: REDACTED, sharedKey: REDACTED, valueKey: "password", usernameKey: "user", passwordKey: "pw",
    });
    expect(redactString('login body {"role_id":"r-1","secret_id":"5f0c2a7e-aa"}')).toBe('login body {"role_id":"r-1","secret_id":[REDACTED]}');
    expect(redactString("aws_secret_access_key = wJalrXUtnFEMI")).toBe("aws_secret_access_key = [REDACTED]");
    expect(redactString("secretName: prod/db")).toBe("secretName: prod/db");
    // Words that only sit next to an auth scheme are not credentials; a credential is.
    expect(redactString("Basic authentication is required; API token presented was revoked")).toBe("Basic authentication is required; API token presented was revoked");
    expect(redactString("Authorization: Basic dXNlcjpwYXNz")).not.toContain("dXNlcjpwYXNz");
  });

  it("the logger redacts an error's message when it is the line's only message, format arguments and child bindings", async () => {
    const { log, text } = capture();
    log.error({ err: new Error("auth failed with password=hunter2xyz") });
    // Not an Error, but with a message (some libraries throw plain objects).
    log.error({ err: { code: "E_AUTH", message: "refused password=hunter6xyz" } });
    log.info("payload %o", { password: "hunter3xyz" });
    log.info({ a: 1 }, "sent %j", { token: "hunter4xyz" });
    log.child({ password: "hunter5xyz" }).info("child");
    await flush();
    const written = text();
    for (const secret of ["hunter2xyz", "hunter3xyz", "hunter4xyz", "hunter5xyz", "hunter6xyz"]) expect(written).not.toContain(secret);
    expect(written).toContain("auth failed with password=[REDACTED]");
  });
});

import { rootCertificates } from "node:tls";
import { describe, expect, it } from "vitest";
import { createTestPki } from "@/test/emulators/tls";
import { caBundle, statementLimitMs, tlsOptions } from "./socket-shared";
import { getConnectorOrThrow } from "./registry";
import { ConnectorError } from "./types";

describe("statementLimitMs", () => {
  it("gives one limit for every call that borrowed its session within the same second, so a kept session is not SET again", () => {
    // 30 s deadline: 0 ms spent borrowing the session (same millisecond), 1 ms, 999 ms.
    const limits = new Set([30_000, 29_999, 29_500, 29_001].map(statementLimitMs));
    expect([...limits]).toEqual([29_000]);
  });

  it("never lets the server run past what is left of the caller's deadline", () => {
    for (const left of [1, 2.5, 999, 1000, 1000.5, 1001, 1999, 2000, 2001, 29_000, 30_000, 120_000]) {
      const limit = statementLimitMs(left);
      expect(limit).toBeGreaterThanOrEqual(1);
      expect(limit).toBeLessThanOrEqual(left);
      // At worst a second early.
      expect(left - limit).toBeLessThanOrEqual(1000);
    }
  });

  it("keeps millisecond precision under a second", () => {
    expect(statementLimitMs(750)).toBe(750);
    expect(statementLimitMs(0.4)).toBe(1);
  });
});

describe("a pasted CA bundle", () => {
  it("adds each of its certificates to the system roots", () => {
    const pki = createTestPki();
    const bundle = caBundle(`${pki.caCert}\n${pki.caCert}`);
    expect(bundle).toHaveLength(rootCertificates.length + 2);
    expect(bundle.slice(0, rootCertificates.length)).toEqual([...rootCertificates]);
    expect(tlsOptions("db.example.com", pki.caCert)).toMatchObject({ rejectUnauthorized: true, servername: "db.example.com", secureContext: expect.anything() });
  });

  it("refuses a paste with an unreadable certificate as a configuration error, naming what to do", () => {
    const pki = createTestPki();
    const broken = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----";
    for (const paste of [broken, `${pki.caCert}\n${broken}`, "not PEM at all"]) {
      for (const use of [() => caBundle(paste), () => tlsOptions("db.example.com", paste)]) {
        expect(use).toThrow(ConnectorError);
        expect(use).toThrow("The CA certificate could not be read. Paste the PEM again, exactly as exported.");
      }
    }
  });
});

describe("host and port settings", () => {
  const config = (over: Record<string, unknown>) => ({ host: "db.example.com", port: 5432, database: "app", user: "u", ...over });
  /** The errors about host and port (each connector has settings of its own besides). */
  const errorsOf = (kind: "postgres" | "mariadb" | "redis" | "rabbitmq", over: Record<string, unknown>) => {
    const parsed = getConnectorOrThrow(kind).configSchema.safeParse(config(over));
    return parsed.success ? [] : parsed.error.issues.filter((i) => ["host", "port"].includes(String(i.path[0]))).map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("says what a port must be, in words, for every socket connector", () => {
    for (const kind of ["postgres", "mariadb", "redis", "rabbitmq"] as const) {
      expect(errorsOf(kind, { port: "6379.5" }), kind).toEqual(["port: A port is a whole number from 1 to 65535."]);
      expect(errorsOf(kind, { port: "99999" }), kind).toEqual(["port: A port from 1 to 65535."]);
      expect(errorsOf(kind, { port: "abc" }), kind).toEqual(["port: A port from 1 to 65535."]);
      expect(errorsOf(kind, { port: "" }), kind).toEqual([]); // blank: the connector's default
    }
  });

  it("tells a host name that is too long from a missing one", () => {
    expect(errorsOf("postgres", { host: "a".repeat(1200) })).toEqual(["host: A host name has at most 253 characters."]);
    expect(errorsOf("postgres", { host: " " })).toEqual(["host: Enter the server's host name or IP address."]);
  });
});

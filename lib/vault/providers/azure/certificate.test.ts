import { execFileSync } from "node:child_process";
import { X509Certificate, createPrivateKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { StoreError } from "../../errors";
import { generateClientCertificate, loadCertificateCredential } from "./certificate";

describe("generateClientCertificate", () => {
  const now = new Date("2026-11-23T12:00:00Z");
  const generated = generateClientCertificate({ commonName: "latch-prod-reader", validDays: 730, now });
  const x509 = new X509Certificate(generated.certificateDer);

  it("makes a self-signed RSA-2048 client certificate whose private key stays separate", () => {
    expect(x509.subject).toBe("CN=latch-prod-reader");
    expect(x509.issuer).toBe("CN=latch-prod-reader");
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.publicKey.asymmetricKeyDetails).toMatchObject({ modulusLength: 2048 });
    expect(x509.ca).toBe(false);
    expect(x509.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(x509.checkPrivateKey(createPrivateKey(generated.privateKeyPem))).toBe(true);
    expect(generated.certificatePem).not.toContain("PRIVATE KEY");
    expect(generated.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(generated.credentialPem).toBe(`${generated.certificatePem}${generated.privateKeyPem}`);
  });

  it("reports the portal's thumbprint and the expiry", () => {
    expect(generated.thumbprintSha1Hex).toBe(x509.fingerprint.replace(/:/g, ""));
    expect(generated.thumbprintSha1Hex).toMatch(/^[0-9A-F]{40}$/);
    expect(generated.notAfter.toISOString()).toBe("2028-11-22T12:00:00.000Z");
    expect(new Date(x509.validTo).getTime()).toBe(generated.notAfter.getTime());
    expect(new Date(x509.validFrom).getTime()).toBeLessThan(now.getTime());
  });

  it("writes a .cer (DER) and PEM that OpenSSL reads as the same certificate", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "latch-cer-"));
    writeFileSync(path.join(dir, "azure-cert.cer"), generated.certificateDer);
    const fromDer = execFileSync("openssl", ["x509", "-inform", "der", "-in", "azure-cert.cer", "-noout", "-fingerprint", "-sha1"], { cwd: dir }).toString();
    expect(fromDer.trim().split("=")[1]!.replace(/:/g, "")).toBe(generated.thumbprintSha1Hex);
    const pemAsDer = execFileSync("openssl", ["x509", "-outform", "der"], { input: generated.certificatePem });
    expect(Buffer.compare(pemAsDer, generated.certificateDer)).toBe(0);
  });

  it("makes a fresh key pair every time", () => {
    const other = generateClientCertificate({ commonName: "latch-prod-reader" });
    expect(other.thumbprintSha1Hex).not.toBe(generated.thumbprintSha1Hex);
    expect(other.privateKeyPem).not.toBe(generated.privateKeyPem);
  });

  it("refuses unusable names and lifetimes", () => {
    expect(() => generateClientCertificate({ commonName: " " })).toThrow(StoreError);
    expect(() => generateClientCertificate({ commonName: "x".repeat(65) })).toThrow(/1–64/);
    expect(() => generateClientCertificate({ commonName: "ok", validDays: 0 })).toThrow(/between 1 and 3650/);
    expect(() => generateClientCertificate({ commonName: "ok", validDays: 1.5 })).toThrow(StoreError);
  });
});

describe("loadCertificateCredential", () => {
  const good = generateClientCertificate({ commonName: "loader" });

  it("accepts certificate + key in either order and normalises the key to PKCS#8", () => {
    const loaded = loadCertificateCredential(`${good.privateKeyPem}\n${good.certificatePem}`, undefined);
    expect(loaded.thumbprintSha1Hex).toBe(good.thumbprintSha1Hex);
    expect(loaded.pem.indexOf("BEGIN CERTIFICATE")).toBeLessThan(loaded.pem.indexOf("BEGIN PRIVATE KEY"));
  });

  it("explains what is wrong with the material, without quoting it", () => {
    const other = generateClientCertificate({ commonName: "other" });
    const encrypted = createPrivateKey(good.privateKeyPem).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw-123456" }) as string;
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const cases: [string | undefined, string | undefined, RegExp, string][] = [
      [undefined, undefined, /No certificate is stored/, "config"],
      [good.certificatePem, undefined, /has no private key/, "config"],
      [good.privateKeyPem, undefined, /no “BEGIN CERTIFICATE”/, "config"],
      [`${good.certificatePem}${other.privateKeyPem}`, undefined, /does not belong/, "config"],
      [`${good.certificatePem}${encrypted}`, undefined, /encrypted/, "config"],
      [`${good.certificatePem}${encrypted}`, "wrong-pw", /check the certificate password/, "config"],
      [`${good.certificatePem}${ec}`, undefined, /must use RSA/, "config"],
    ];
    for (const [pem, password, message, kind] of cases) {
      let error: unknown;
      try {
        loadCertificateCredential(pem, password);
      } catch (e) {
        error = e;
      }
      expect(error, String(message)).toBeInstanceOf(StoreError);
      expect((error as StoreError).kind).toBe(kind);
      expect((error as StoreError).message).toMatch(message);
      expect((error as StoreError).message).not.toMatch(/PRIVATE KEY-----|MII/);
    }
    expect(loadCertificateCredential(`${good.certificatePem}${encrypted}`, "pw-123456").thumbprintSha1Hex).toBe(good.thumbprintSha1Hex);
  });

  it("reports an expired certificate as an authentication problem with its thumbprint", () => {
    const old = generateClientCertificate({ commonName: "old", validDays: 1, now: new Date("2020-01-01T00:00:00Z") });
    expect(() => loadCertificateCredential(old.credentialPem, undefined)).toThrow(new RegExp(`expired on 2020-01-02.*${old.thumbprintSha1Hex}|${old.thumbprintSha1Hex}.*expired on 2020-01-02`));
  });
});

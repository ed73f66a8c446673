import { execFileSync } from "node:child_process";
import { X509Certificate, createPrivateKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "@/test/emulators/tls";
import { StoreError } from "../../errors";
import { CertificateMaterialError, certificateCredentialProblem, generateClientCertificate, loadCertificateCredential, publicCertificateOf } from "./certificate";

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

describe("certificate bundles: the certificate the key belongs to", () => {
  let pki: TestPki;
  let client: ReturnType<TestPki["issueClient"]>;
  let clientThumbprint: string;
  beforeAll(() => {
    pki = createTestPki();
    client = pki.issueClient("latch-azure-app");
    clientThumbprint = new X509Certificate(client.cert).fingerprint.replace(/:/g, "");
  });
  /** The base64 body of a PEM block, lightly damaged: still looks like a certificate, does not parse. */
  const garbled = (pem: string) => pem.replace(/^(-----BEGIN CERTIFICATE-----\n)(.{40})/m, (_m, head: string, body: string) => `${head}${body.split("").reverse().join("")}`);

  it("signs in with the leaf whatever the order: a CA first in the bundle is not taken for Latch's certificate", () => {
    const loaded = loadCertificateCredential(`${pki.caCert}${client.cert}${client.key}`, undefined);
    expect(loaded.thumbprintSha1Hex).toBe(clientThumbprint);
    expect(loaded.subject).toBe("CN=latch-azure-app");
    // Leaf first, then the rest of the chain, then the key.
    const blocks = loaded.pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    expect(blocks.map((b) => new X509Certificate(b).fingerprint.replace(/:/g, ""))).toEqual([clientThumbprint, new X509Certificate(pki.caCert).fingerprint.replace(/:/g, "")]);
  });

  it("offers the leaf for download: matched by the key, or the only non-CA certificate when there is no key", () => {
    expect(publicCertificateOf(`${pki.caCert}${client.cert}${client.key}`, undefined)).toMatchObject({ thumbprintSha1Hex: clientThumbprint, subject: "CN=latch-azure-app" });
    const noKey = publicCertificateOf(`${pki.caCert}${client.cert}`, undefined)!;
    expect(noKey.thumbprintSha1Hex).toBe(clientThumbprint);
    expect(noKey.pem).toBe(`${new X509Certificate(client.cert).toString().trim()}\n`);
    expect(Buffer.compare(noKey.der, new X509Certificate(client.cert).raw)).toBe(0);
    expect(publicCertificateOf(undefined, undefined)).toBeNull();
    expect(publicCertificateOf(client.key, undefined)).toBeNull();
  });

  it("reports unreadable or ambiguous material as a settings problem naming the field, never a crash", () => {
    const cases: [() => unknown, string, RegExp][] = [
      [() => publicCertificateOf(`${garbled(client.cert)}${client.key}`, undefined), "certificatePem", /^The certificate could not be read\./],
      [() => publicCertificateOf(`${client.cert}${garbled(pki.caCert)}`, undefined), "certificatePem", /^Certificate 2 of 2 could not be read\./],
      [() => publicCertificateOf(`${pki.caCert}${pki.otherCaCert}`, undefined), "certificatePem", /holds 2 certificates and no private key/],
      [() => loadCertificateCredential(`${garbled(client.cert)}${client.key}`, undefined), "certificatePem", /could not be read/],
      [() => loadCertificateCredential(`${pki.caCert}${pki.otherCaCert}${client.key}`, undefined), "certificatePem", /belongs to none of the 2 certificates \(CN=latch-test-ca; CN=unrelated-ca\)/],
    ];
    for (const [run, field, message] of cases) {
      let error: unknown;
      try {
        run();
      } catch (e) {
        error = e;
      }
      expect(error, String(message)).toBeInstanceOf(CertificateMaterialError);
      expect(error).toMatchObject({ kind: "config", field });
      expect((error as StoreError).message).toMatch(message);
    }
  });

  it("says at save time which field is wrong, and accepts material that can sign in (expiry is checked at sign-in)", () => {
    const good = generateClientCertificate({ commonName: "saver" });
    const other = generateClientCertificate({ commonName: "other" });
    const encrypted = createPrivateKey(good.privateKeyPem).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw-123456" }) as string;
    const expired = generateClientCertificate({ commonName: "old", validDays: 1, now: new Date("2020-01-01T00:00:00Z") });
    expect(certificateCredentialProblem(good.credentialPem, undefined)).toBeNull();
    expect(certificateCredentialProblem(`${pki.caCert}${client.cert}${client.key}`, undefined)).toBeNull();
    expect(certificateCredentialProblem(expired.credentialPem, undefined)).toBeNull();
    expect(certificateCredentialProblem(`${good.certificatePem}${encrypted}`, "pw-123456")).toBeNull();
    expect(certificateCredentialProblem(`${good.certificatePem}${other.privateKeyPem}`, undefined)).toEqual({ field: "certificatePem", message: expect.stringMatching(/does not belong to the certificate \(CN=saver\)/) });
    expect(certificateCredentialProblem(`${good.certificatePem}${encrypted}`, undefined)).toEqual({ field: "certificatePassword", message: "The private key is encrypted. Enter its password in the store's settings." });
    expect(certificateCredentialProblem(`${good.certificatePem}${encrypted}`, "nope")).toEqual({ field: "certificatePassword", message: expect.stringContaining("check the certificate password") });
    expect(certificateCredentialProblem(`${garbled(good.certificatePem)}${good.privateKeyPem}`, undefined)).toMatchObject({ field: "certificatePem" });
  });
});

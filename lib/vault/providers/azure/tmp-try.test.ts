import { it, expect } from "vitest";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { generateClientCertificate, loadCertificateCredential } from "./certificate";
it("gen", () => {
  const t = Date.now();
  const c = generateClientCertificate({ commonName: "latch-test", validDays: 30 });
  console.log(Date.now() - t, c.thumbprintSha1Hex, c.notAfter);
  writeFileSync("/tmp/gen.cer", c.certificateDer);
  console.log(execFileSync("openssl", ["x509", "-inform", "der", "-in", "/tmp/gen.cer", "-noout", "-text", "-fingerprint", "-sha1"]).toString());
  const l = loadCertificateCredential(c.credentialPem, undefined);
  expect(l.thumbprintSha1Hex).toBe(c.thumbprintSha1Hex);
});

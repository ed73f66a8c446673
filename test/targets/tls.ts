import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { TestPki } from "@/test/emulators/tls";

let serial = 0;

/**
 * A server certificate from the test CA for other names: e.g. one valid for 127.0.0.1 but not for
 * localhost, to prove a connector checks the name that was entered rather than the address dialled.
 */
export function issueServerCert(pki: TestPki, subjectAltNames: string[]): { cert: string; key: string } {
  const base = `target-server-${process.pid}-${++serial}`;
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: pki.dir, stdio: ["ignore", "ignore", "pipe"] });
  writeFileSync(path.join(pki.dir, `${base}.ext`), `subjectAltName=${subjectAltNames.join(",")}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", "/CN=latch-target"]);
  run(["x509", "-req", "-in", `${base}.csr`, "-CA", "latch-test-ca.pem", "-CAkey", "latch-test-ca.key", "-CAcreateserial", "-out", `${base}.pem`, "-days", "2", "-extfile", `${base}.ext`]);
  return { cert: readFileSync(path.join(pki.dir, `${base}.pem`), "utf8"), key: readFileSync(path.join(pki.dir, `${base}.key`), "utf8") };
}

import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { json, startEmulator, type Emulator } from "./harness";

/**
 * A throwaway test CA, made with the system's OpenSSL at test start: a server certificate for
 * localhost/127.0.0.1 and client certificates for mutual TLS. Nothing here is ever committed.
 */
export type TestPki = {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Issues a client certificate (PEM) for mTLS, e.g. one per CyberArk App ID. */
  issueClient(commonName: string): { cert: string; key: string; pfx: Buffer; passphrase: string; fingerprint256: string };
  /** A second, unrelated CA: for "wrong CA refused" tests. */
  otherCaCert: string;
  /** A server certificate from the test CA for these DNS names only: for "certificate for another host" tests. */
  issueServer(dnsNames: string[]): { cert: string; key: string };
};

function openssl(args: string[], cwd: string) {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(dir: string, name: string) {
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", `/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), "latch-pki-"));
  makeCa(dir, "latch-test-ca");
  makeCa(dir, "unrelated-ca");
  writeFileSync(path.join(dir, "server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"], dir);
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "latch-test-ca.pem", "-CAkey", "latch-test-ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"], dir);
  const read = (f: string) => readFileSync(path.join(dir, f), "utf8");
  let n = 0;
  return {
    dir,
    caCert: read("latch-test-ca.pem"),
    serverCert: read("server.pem"),
    serverKey: read("server.key"),
    otherCaCert: read("unrelated-ca.pem"),
    issueServer(dnsNames) {
      const base = `server-${++n}`;
      writeFileSync(path.join(dir, `${base}.ext`), `subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(",")}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
      openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${dnsNames[0] ?? "server"}`], dir);
      openssl(["x509", "-req", "-in", `${base}.csr`, "-CA", "latch-test-ca.pem", "-CAkey", "latch-test-ca.key", "-CAcreateserial", "-out", `${base}.pem`, "-days", "2", "-extfile", `${base}.ext`], dir);
      return { cert: read(`${base}.pem`), key: read(`${base}.key`) };
    },
    issueClient(commonName) {
      const base = `client-${++n}`;
      writeFileSync(path.join(dir, `${base}.ext`), "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n");
      openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${commonName}`], dir);
      openssl(["x509", "-req", "-in", `${base}.csr`, "-CA", "latch-test-ca.pem", "-CAkey", "latch-test-ca.key", "-CAcreateserial", "-out", `${base}.pem`, "-days", "2", "-extfile", `${base}.ext`], dir);
      const passphrase = `pfx-${n}-pass`;
      openssl(["pkcs12", "-export", "-in", `${base}.pem`, "-inkey", `${base}.key`, "-out", `${base}.pfx`, "-passout", `pass:${passphrase}`], dir);
      const cert = read(`${base}.pem`);
      return { cert, key: read(`${base}.key`), pfx: readFileSync(path.join(dir, `${base}.pfx`)), passphrase, fingerprint256: new X509Certificate(cert).fingerprint256 };
    },
  };
}

/**
 * An HTTPS server whose certificate (from the test CA, so trusted) names only `dnsNames`: dialled
 * as 127.0.0.1 it fails the host-name check, for "certificate for another host" tests.
 */
export async function startMisnamedServer(pki: TestPki, dnsNames = ["store.elsewhere.test"]): Promise<Emulator> {
  const { cert, key } = pki.issueServer(dnsNames);
  return startEmulator({ name: "misnamed", tls: { cert, key }, handle: ({ res }) => json(res, 200, {}) });
}

import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import forge from "node-forge";
import { StoreError } from "../../errors";

/**
 * Client certificates for Entra ID app registrations. Deliberately free of "server-only": the test
 * emulators' demo seeding runs under plain Node and uses the generator too. Nothing here keeps state.
 */
export type GeneratedClientCertificate = {
  /** PKCS#8, unencrypted. Stays in Latch (stored encrypted as the store's certificate secret). */
  privateKeyPem: string;
  /** The public certificate, PEM: what the admin may upload to the app registration. */
  certificatePem: string;
  /** The same certificate, DER: the .cer file the Azure portal asks for. */
  certificateDer: Buffer;
  /** SHA-1 of the DER, upper-case hex: the "Thumbprint" column in the portal. */
  thumbprintSha1Hex: string;
  notAfter: Date;
  /** Certificate followed by the private key: the value of the store's certificate field. */
  credentialPem: string;
};

const MAX_VALID_DAYS = 3650;

/**
 * A self-signed RSA-2048 / SHA-256 certificate for client-credential sign-in. The key pair is made by
 * Node's OpenSSL; node-forge only assembles and signs the X.509 structure (Node has no API for that).
 */
export function generateClientCertificate(input: { commonName: string; validDays?: number; now?: Date }): GeneratedClientCertificate {
  const commonName = input.commonName.trim();
  if (!commonName || commonName.length > 64 || /[\u0000-\u001f\u007f]/.test(commonName)) {
    throw new StoreError("config", "The certificate name must be 1–64 printable characters.");
  }
  const validDays = input.validDays ?? 365;
  if (!Number.isInteger(validDays) || validDays < 1 || validDays > MAX_VALID_DAYS) {
    throw new StoreError("config", `The certificate validity must be a whole number of days between 1 and ${MAX_VALID_DAYS}.`);
  }
  const now = input.now ?? new Date();

  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }) as string);
  // Positive 128-bit serial: clear the top bit so DER does not read it as negative.
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString("hex");
  // Back-dated a little so a clock that lags Entra ID's does not see a not-yet-valid certificate.
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60_000);
  const notAfter = new Date(now.getTime() + validDays * 86_400_000);
  notAfter.setUTCMilliseconds(0);
  cert.validity.notAfter = notAfter;
  const name = [{ shortName: "CN", value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, critical: true },
    { name: "extKeyUsage", clientAuth: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs1", format: "pem" }) as string), forge.md.sha256.create());

  const certificateDer = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), "binary");
  const certificatePem = toPem(certificateDer);
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  if (!new X509Certificate(certificateDer).checkPrivateKey(privateKey)) {
    throw new Error("Generated certificate does not match its key");
  }
  return {
    privateKeyPem,
    certificatePem,
    certificateDer,
    thumbprintSha1Hex: createHash("sha1").update(certificateDer).digest("hex").toUpperCase(),
    notAfter,
    credentialPem: `${certificatePem}${privateKeyPem}`,
  };
}

function toPem(der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

export type LoadedCertificate = {
  /** Certificate chain (leaf first) followed by the decrypted PKCS#8 key: what the credential signs with. */
  pem: string;
  thumbprintSha1Hex: string;
  subject: string;
  notAfter: Date;
};

/**
 * Checks the stored "certificate + private key" PEM before it is used, so a bad upload is reported
 * as a settings problem, not as an opaque sign-in failure. Messages describe the material, never
 * include it.
 */
export function loadCertificateCredential(pem: string | undefined, password: string | undefined, now = new Date()): LoadedCertificate {
  if (!pem?.trim()) throw new StoreError("config", "No certificate is stored. Paste the certificate and its private key (PEM), or generate a key pair in Latch.");
  const certs = pem.match(CERT_BLOCK) ?? [];
  const keyPem = KEY_BLOCK.exec(pem)?.[0];
  if (certs.length === 0) throw new StoreError("config", "The certificate PEM has no “BEGIN CERTIFICATE” block. Paste the certificate together with its private key (one .pem file).");
  if (!keyPem) throw new StoreError("config", "The certificate PEM has no private key. Paste the private key (“BEGIN PRIVATE KEY”) together with the certificate; the .cer file alone is the public half.");

  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certs[0]!);
  } catch {
    throw new StoreError("config", "The certificate could not be read. Paste it again, including the BEGIN and END lines.");
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyPem, format: "pem", ...(password ? { passphrase: password } : {}) });
  } catch (error) {
    const code = String((error as { code?: unknown }).code ?? "");
    const encrypted = /ENCRYPTED/.test(keyPem);
    if (!password && (encrypted || code === "ERR_MISSING_PASSPHRASE")) throw new StoreError("config", "The private key is encrypted. Enter its password in the store's settings.");
    if (password && encrypted) throw new StoreError("config", "The private key could not be decrypted: check the certificate password.");
    throw new StoreError("config", "The private key could not be read. Paste it again, including the BEGIN and END lines.");
  }
  const subject = cert.subject.replace(/\n/g, ", ");
  if (key.asymmetricKeyType !== "rsa") throw new StoreError("config", `The certificate (${subject}) has a ${key.asymmetricKeyType ?? "non-RSA"} key; Entra ID client certificates must use RSA.`);
  if (!cert.checkPrivateKey(key)) throw new StoreError("config", `The private key does not belong to the certificate (${subject}). Paste the matching pair.`);
  const thumbprintSha1Hex = cert.fingerprint.replace(/:/g, "").toUpperCase();
  const notAfter = new Date(cert.validTo);
  if (notAfter < now) {
    throw new StoreError("auth", `The client certificate (${subject}, thumbprint ${thumbprintSha1Hex}) expired on ${notAfter.toISOString().slice(0, 10)}. Generate a new one, upload it to the app registration and save it here.`);
  }
  return { pem: `${certs.join("\n")}\n${key.export({ type: "pkcs8", format: "pem" }) as string}`, thumbprintSha1Hex, subject, notAfter };
}

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

/** Which stored field a problem with the material belongs to, for the form. */
export type CertificateField = "certificatePem" | "certificatePassword";

/** A StoreError (kind "config") that also says which field to fix. */
export class CertificateMaterialError extends StoreError {
  static override readonly brand = "latch.CertificateMaterialError";
  constructor(
    readonly field: CertificateField,
    message: string,
  ) {
    super("config", message);
  }
}

const subjectOf = (cert: X509Certificate) => cert.subject.replace(/\n/g, ", ");
const thumbprintOf = (cert: X509Certificate) => cert.fingerprint.replace(/:/g, "").toUpperCase();

/** Every certificate block, parsed; one that does not parse is reported by its position, never quoted. */
function readCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(CERT_BLOCK) ?? [];
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      const which = blocks.length > 1 ? `Certificate ${i + 1} of ${blocks.length}` : "The certificate";
      throw new CertificateMaterialError("certificatePem", `${which} could not be read. Paste it again, including the BEGIN and END lines, exactly as exported.`);
    }
  });
}

function readPrivateKey(keyPem: string, password: string | undefined): KeyObject {
  try {
    return createPrivateKey({ key: keyPem, format: "pem", ...(password ? { passphrase: password } : {}) });
  } catch (error) {
    const code = String((error as { code?: unknown }).code ?? "");
    const encrypted = /ENCRYPTED/.test(keyPem);
    if (!password && (encrypted || code === "ERR_MISSING_PASSPHRASE")) throw new CertificateMaterialError("certificatePassword", "The private key is encrypted. Enter its password in the store's settings.");
    if (password && encrypted) throw new CertificateMaterialError("certificatePassword", "The private key could not be decrypted: check the certificate password.");
    throw new CertificateMaterialError("certificatePem", "The private key could not be read. Paste it again, including the BEGIN and END lines.");
  }
}

/** The certificate the key belongs to (the leaf), then the rest in their order: a CA may come first in a bundle. */
function leafFirst(certs: X509Certificate[], key: KeyObject): X509Certificate[] {
  const leaf = certs.find((cert) => cert.checkPrivateKey(key));
  if (!leaf) {
    const subjects = certs.map(subjectOf).join("; ");
    throw new CertificateMaterialError(
      "certificatePem",
      certs.length === 1 ? `The private key does not belong to the certificate (${subjects}). Paste the matching pair.` : `The private key belongs to none of the ${certs.length} certificates (${subjects}). Paste the client certificate that matches it.`,
    );
  }
  return [leaf, ...certs.filter((cert) => cert !== leaf)];
}

/**
 * Parses the stored "certificate + private key" PEM and checks it can sign in: readable blocks, a
 * key that opens with the password, an RSA key, and a certificate it belongs to. Not the expiry
 * (that is checked when signing in). Messages describe the material, never include it.
 */
function readCredential(pem: string | undefined, password: string | undefined) {
  if (!pem?.trim()) throw new CertificateMaterialError("certificatePem", "No certificate is stored. Paste the certificate and its private key (PEM), or generate a key pair in Latch.");
  const certs = readCertificates(pem);
  const keyPem = KEY_BLOCK.exec(pem)?.[0];
  if (certs.length === 0) throw new CertificateMaterialError("certificatePem", "The certificate PEM has no “BEGIN CERTIFICATE” block. Paste the certificate together with its private key (one .pem file).");
  if (!keyPem) throw new CertificateMaterialError("certificatePem", "The certificate PEM has no private key. Paste the private key (“BEGIN PRIVATE KEY”) together with the certificate; the .cer file alone is the public half.");
  const key = readPrivateKey(keyPem, password);
  if (key.asymmetricKeyType !== "rsa") {
    throw new CertificateMaterialError("certificatePem", `The private key is ${key.asymmetricKeyType ?? "not RSA"}; Entra ID client certificates must use RSA.`);
  }
  const chain = leafFirst(certs, key);
  return { chain, key, leaf: chain[0]! };
}

/**
 * For saving a store: null when the material can sign in (expiry aside), else the field to fix and
 * why. The form shows it next to that field.
 */
export function certificateCredentialProblem(pem: string | undefined, password: string | undefined): { field: CertificateField; message: string } | null {
  try {
    readCredential(pem, password);
    return null;
  } catch (error) {
    if (error instanceof CertificateMaterialError) return { field: error.field, message: error.message };
    throw error;
  }
}

/**
 * Checks the stored "certificate + private key" PEM before it is used, so a bad upload is reported
 * as a settings problem, not as an opaque sign-in failure.
 */
export function loadCertificateCredential(pem: string | undefined, password: string | undefined, now = new Date()): LoadedCertificate {
  const { chain, key, leaf } = readCredential(pem, password);
  const subject = subjectOf(leaf);
  const thumbprintSha1Hex = thumbprintOf(leaf);
  const notAfter = new Date(leaf.validTo);
  if (notAfter < now) {
    throw new StoreError("auth", `The client certificate (${subject}, thumbprint ${thumbprintSha1Hex}) expired on ${notAfter.toISOString().slice(0, 10)}. Generate a new one, upload it to the app registration and save it here.`);
  }
  return { pem: `${chain.map((c) => c.toString().trim()).join("\n")}\n${key.export({ type: "pkcs8", format: "pem" }) as string}`, thumbprintSha1Hex, subject, notAfter };
}

export type PublicCertificate = { pem: string; der: Buffer; thumbprintSha1Hex: string; subject: string; notAfter: Date };

/**
 * The public half to upload to the app registration: the certificate the private key belongs to.
 * Without a usable key, a lone certificate, or the only non-CA one, is taken. null when there is
 * no certificate at all; a CertificateMaterialError when it cannot be told or read.
 */
export function publicCertificateOf(pem: string | undefined, password: string | undefined): PublicCertificate | null {
  const certs = pem ? readCertificates(pem) : [];
  if (certs.length === 0) return null;
  let leaf: X509Certificate | undefined;
  const keyPem = KEY_BLOCK.exec(pem ?? "")?.[0];
  let keyProblem: CertificateMaterialError | undefined;
  if (keyPem) {
    try {
      leaf = leafFirst(certs, readPrivateKey(keyPem, password))[0];
    } catch (error) {
      if (!(error instanceof CertificateMaterialError)) throw error;
      keyProblem = error;
    }
  }
  if (!leaf) {
    const candidates = certs.length === 1 ? certs : certs.filter((c) => !c.ca);
    if (candidates.length !== 1) {
      throw keyProblem ?? new CertificateMaterialError("certificatePem", `The PEM holds ${certs.length} certificates and no private key to tell which is Latch's. Paste the client certificate with its private key.`);
    }
    leaf = candidates[0]!;
  }
  return { pem: `${leaf.toString().trim()}\n`, der: leaf.raw, thumbprintSha1Hex: thumbprintOf(leaf), subject: subjectOf(leaf), notAfter: new Date(leaf.validTo) };
}

import "server-only";
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { createSecureContext } from "node:tls";
import { StoreError } from "../../errors";

export type ClientCertificate = { cert: string; key: string } | { pfx: Buffer; passphrase?: string };

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

/**
 * Turns the stored certificate material into what the TLS stack needs, checking it first so a bad
 * upload is reported as a settings problem rather than an obscure handshake failure. Messages
 * describe the material, never include it.
 */
export function loadClientCertificate(
  format: "pem" | "pfx",
  secrets: { clientCertificatePem?: string; clientCertificatePfx?: string; passphrase?: string },
  now = new Date(),
): ClientCertificate {
  const passphrase = secrets.passphrase || undefined;
  if (format === "pfx") return loadPfx(secrets.clientCertificatePfx, passphrase);
  return loadPem(secrets.clientCertificatePem, passphrase, now);
}

function loadPem(pem: string | undefined, passphrase: string | undefined, now: Date): ClientCertificate {
  if (!pem?.trim()) throw new StoreError("config", "No client certificate is stored. Paste the certificate and its private key (PEM) in the store's settings, or switch the format to PFX.");
  const certs = pem.match(CERT_BLOCK) ?? [];
  const keyPem = KEY_BLOCK.exec(pem)?.[0];
  if (certs.length === 0) throw new StoreError("config", "The client certificate PEM has no “BEGIN CERTIFICATE” block. Paste the certificate together with its private key.");
  if (!keyPem) throw new StoreError("config", "The client certificate PEM has no private key block. Paste the private key (“BEGIN PRIVATE KEY”) below the certificate.");

  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certs[0]!);
  } catch {
    throw new StoreError("config", "The client certificate PEM could not be read. Paste it again, including the BEGIN and END lines.");
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyPem, format: "pem", ...(passphrase ? { passphrase } : {}) });
  } catch (error) {
    const code = String((error as { code?: unknown }).code ?? "");
    const encrypted = /ENCRYPTED/.test(keyPem);
    if (!passphrase && (encrypted || code === "ERR_MISSING_PASSPHRASE" || code === "ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED")) throw new StoreError("config", "The private key is encrypted. Enter its passphrase in the store's settings.");
    if (passphrase && encrypted) throw new StoreError("config", "The private key could not be decrypted: check the passphrase.");
    throw new StoreError("config", "The private key PEM could not be read. Paste it again, including the BEGIN and END lines.");
  }
  if (!cert.checkPrivateKey(key)) throw new StoreError("config", `The private key does not belong to the client certificate (${cert.subject.replace(/\n/g, ", ")}). Paste the matching pair.`);
  const subject = cert.subject.replace(/\n/g, ", ");
  if (new Date(cert.validTo) < now) throw new StoreError("auth", `The client certificate (${subject}) expired on ${new Date(cert.validTo).toISOString().slice(0, 10)}. Issue a new one and register it for the App ID in CyberArk.`);
  if (new Date(cert.validFrom) > now) throw new StoreError("auth", `The client certificate (${subject}) is not valid before ${new Date(cert.validFrom).toISOString()}. Check the clocks, or wait.`);

  // Decrypt once here: the TLS layer then needs no passphrase for PEM.
  return { cert: certs.join("\n"), key: key.export({ type: "pkcs8", format: "pem" }) as string };
}

function loadPfx(base64: string | undefined, passphrase: string | undefined): ClientCertificate {
  if (!base64?.trim()) throw new StoreError("config", "No PFX file is stored. Upload the client certificate (.pfx or .p12) in the store's settings, or switch the format to PEM.");
  const pfx = Buffer.from(base64.replace(/\s+/g, ""), "base64");
  if (pfx.length === 0) throw new StoreError("config", "The stored PFX file is empty. Upload the .pfx or .p12 file again.");
  try {
    createSecureContext({ pfx, ...(passphrase ? { passphrase } : {}) });
  } catch (error) {
    const message = String((error as { message?: unknown }).message ?? "");
    if (/mac verify failure|bad decrypt|wrong password|invalid password/i.test(message)) {
      throw new StoreError("config", passphrase ? "The PFX passphrase is wrong." : "The PFX file is protected by a passphrase. Enter it in the store's settings.");
    }
    if (/unsupported/i.test(message)) {
      throw new StoreError("config", "The PFX file uses legacy encryption (RC2/3DES) that Node's OpenSSL 3 cannot load. Re-export it with AES-256 (e.g. `openssl pkcs12 -export`), or use PEM.");
    }
    throw new StoreError("config", "The PFX file could not be read. Upload a PKCS#12 file (.pfx/.p12) that holds the certificate and its private key.");
  }
  return { pfx, ...(passphrase ? { passphrase } : {}) };
}

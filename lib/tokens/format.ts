import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";

/**
 * API tokens look like `lt_<prefix>_<secret>`: 8 random lower-case letters and digits, looked up in
 * the database and shown in lists, then 32 random bytes in base64url. Only SHA-256 of the secret is
 * stored; a fast hash is enough because the secret has 256 bits of entropy.
 */
const PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const PREFIX_LENGTH = 8;
const SECRET_BYTES = 32;
const TOKEN_PATTERN = /^(lt_[a-z0-9]{8})_([A-Za-z0-9_-]{43})$/;

export type ParsedToken = { prefix: string; secret: string };

export function generateToken(): { token: string; prefix: string; hash: Uint8Array<ArrayBuffer> } {
  let id = "";
  for (let i = 0; i < PREFIX_LENGTH; i++) id += PREFIX_ALPHABET[randomInt(PREFIX_ALPHABET.length)];
  const prefix = `lt_${id}`;
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  return { token: `${prefix}_${secret}`, prefix, hash: new Uint8Array(hashSecret(secret)) };
}

export function parseToken(token: string): ParsedToken | null {
  const match = TOKEN_PATTERN.exec(token);
  return match ? { prefix: match[1]!, secret: match[2]! } : null;
}

export function hashSecret(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

/** Constant-time comparison of the presented secret with a stored hash. */
export function secretMatches(secret: string, stored: Uint8Array): boolean {
  const presented = hashSecret(secret);
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}

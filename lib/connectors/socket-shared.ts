import "server-only";
import { X509Certificate } from "node:crypto";
import { isIP, type Socket } from "node:net";
import { checkServerIdentity, createSecureContext, rootCertificates, type ConnectionOptions } from "node:tls";
import { z } from "zod";
import { ConnectorError } from "./types";
import { fromDecimalText } from "@/lib/whole-number";

/** What the database and broker connectors share: form coercion, host checks, deadlines and TLS. */

export const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

// Forms post booleans as text; z.coerce.boolean would read "false" as true.
export const booleanish = (fallback: boolean) =>
  z.preprocess((v) => (v === "true" || v === "on" ? true : v === "false" || v === "off" ? false : blankToUndefined(v)), z.boolean().default(fallback));

/** Host name or IP address, as typed in a form; `example` shows a host name of the right kind. */
export const hostSchema = (example: string) =>
  z
  .string({ error: "Enter the server's host name or IP address." })
  .trim()
  .min(1, "Enter the server's host name or IP address.")
  .max(253, "A host name has at most 253 characters.")
  .transform((v) => v.replace(/^\[(.*)\]$/, "$1"))
  .refine((v) => isIP(v) !== 0 || /^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/.test(v), `A host name such as ${example} or an IP address, without scheme or port.`);

/** A TCP port, blank for the connector's default. */
export const portSchema = (defaultPort: number) =>
  z.preprocess((v) => fromDecimalText(blankToUndefined(v)), z.number({ error: "A port from 1 to 65535." }).int("A port is a whole number from 1 to 65535.").min(1, "A port from 1 to 65535.").max(65535, "A port from 1 to 65535.").default(defaultPort));

/**
 * Resolves once a session's socket is fully closed (at once if there is none, or it is gone). A polite
 * close (Terminate, COM_QUIT) waits on this, bounded with `within`: a server that stopped answering
 * never closes its side, and the socket must then be cut.
 */
export function socketClosed(stream: Socket | undefined): Promise<void> {
  if (!stream || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => stream.once("close", () => resolve()));
}

/** Settles like `work`, or rejects with onTimeout()'s error after ms; a late result is dropped. */
export function within<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), Math.max(1, ms));
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** TLS with verification always on; a CA bundle adds to the system roots (as lib/net/egress does). */
export function tlsOptions(host: string, ca: string | undefined): ConnectionOptions {
  const options: ConnectionOptions = {
    rejectUnauthorized: true,
    // The socket dials the resolved IP, so the certificate is checked against the name the person entered.
    checkServerIdentity: (_dialled, cert) => checkServerIdentity(host, cert),
    ...(isIP(host) ? {} : { servername: host }),
  };
  if (!ca) return options;
  const bundle = caBundle(ca);
  try {
    return { ...options, secureContext: createSecureContext({ ca: bundle }) };
  } catch {
    throw unreadableCa();
  }
}

const unreadableCa = () => new ConnectorError("config", "The CA certificate could not be read. Paste the PEM again, exactly as exported.");

/** The system roots plus a pasted CA bundle, each of its certificates parsed first. */
export function caBundle(ca: string): string[] {
  // OpenSSL skips unreadable PEM blocks silently; parsing each one makes a bad paste a config error.
  const blocks = ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    if (blocks.length === 0) throw new Error("no certificate");
    for (const block of blocks) new X509Certificate(block);
  } catch {
    throw unreadableCa();
  }
  return [...rootCertificates, ...blocks];
}

/**
 * The server-side statement limit for what is left of a deadline: the whole second strictly below it
 * (under a second, the milliseconds). Sessions keep the limit they were last given, so a stable value
 * spares a SET on almost every call. "Strictly below" matters: a call that borrowed its session
 * within the same millisecond has the whole deadline left, and rounding that down to itself gave
 * 30 s for it and 29 s for a call that took 1 ms, so under load a third of the calls flipped the
 * session's limit with an extra round trip. The server gives up at worst a second early, never
 * after the caller's deadline.
 */
export function statementLimitMs(leftMs: number): number {
  return leftMs > 1000 ? (Math.ceil(leftMs / 1000) - 1) * 1000 : Math.max(1, Math.floor(leftMs));
}

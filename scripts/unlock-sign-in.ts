/**
 * `npm run auth:unlock -- <e-mail or client address>`: lifts a sign-in lock-out. An e-mail: on that
 * e-mail from every address (an administrator locked out by someone else's guesses). A client address
 * (IPv4, or IPv6 counted by its /64): on that address for every e-mail (a shared NAT locked out by one
 * person's guesses). Needs DATABASE_URL only: nothing here signs a session, so NEXTAUTH_SECRET gets a
 * placeholder when unset (lib/env demands one for the server).
 */
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";

process.env.NEXTAUTH_SECRET ||= randomBytes(32).toString("base64url");

const target = process.argv.slice(2).find((arg) => arg !== "--")?.trim();
const isAddress = !!target && isIP(target) !== 0;
if (!target || (!isAddress && !target.includes("@"))) {
  process.stderr.write("Usage: npm run auth:unlock -- <e-mail or client address>\n");
  process.exit(2);
}

// Imported after the placeholder is set: lib/env reads the environment once, on first use.
import("../lib/auth/throttle")
  .then(({ unlockAddress, unlockEmail }) => (isAddress ? unlockAddress(target) : unlockEmail(target)))
  .then((cleared) => {
    const what = isAddress ? `the address ${target}` : target.toLowerCase();
    process.stdout.write(
      cleared > 0
        ? `Sign-in lock-out lifted for ${what} (${cleared} counter(s) cleared).\n`
        : `No sign-in lock-out or failed attempts recorded for ${what}.${isAddress ? "" : " If sign-in is still refused, the client's address may be locked: npm run auth:unlock -- <address>."}\n`,
    );
    process.exit(0);
  })
  .catch((error) => {
    // Prisma's messages open with the call site; the cause is the last line.
    const message = (error instanceof Error ? error.message : String(error)).trim().split("\n").at(-1);
    process.stderr.write(`Could not lift the lock-out: ${message}\n(Is DATABASE_URL the database Latch uses?)\n`);
    process.exit(1);
  });

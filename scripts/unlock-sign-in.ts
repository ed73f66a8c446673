/**
 * `npm run auth:unlock -- <e-mail>`: lifts the sign-in lock-out on an e-mail, from every address (an
 * administrator locked out by someone else's guesses). Needs DATABASE_URL only: nothing here signs a
 * session, so NEXTAUTH_SECRET gets a placeholder when unset (lib/env demands one for the server).
 */
import { randomBytes } from "node:crypto";

process.env.NEXTAUTH_SECRET ||= randomBytes(32).toString("base64url");

const email = process.argv.slice(2).find((arg) => arg !== "--");
if (!email || !email.includes("@")) {
  process.stderr.write("Usage: npm run auth:unlock -- <e-mail>\n");
  process.exit(2);
}

// Imported after the placeholder is set: lib/env reads the environment once, on first use.
import("../lib/auth/throttle")
  .then(({ unlockEmail }) => unlockEmail(email))
  .then((cleared) => {
    process.stdout.write(cleared > 0 ? `Sign-in lock-out lifted for ${email.trim().toLowerCase()} (${cleared} counter(s) cleared).\n` : `No sign-in lock-out or failed attempts recorded for ${email.trim().toLowerCase()}.\n`);
    process.exit(0);
  })
  .catch((error) => {
    // Prisma's messages open with the call site; the cause is the last line.
    const message = (error instanceof Error ? error.message : String(error)).trim().split("\n").at(-1);
    process.stderr.write(`Could not lift the lock-out: ${message}\n(Is DATABASE_URL the database Latch uses?)\n`);
    process.exit(1);
  });

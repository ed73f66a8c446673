/**
 * `npm run keys:rewrap`: re-wraps every data key under the current LATCH_MASTER_KEY (see README).
 * Needs DATABASE_URL and the keys only: nothing here signs a session, so NEXTAUTH_SECRET gets a
 * placeholder when unset (lib/env demands one for the server).
 */
import { randomBytes } from "node:crypto";

process.env.NEXTAUTH_SECRET ||= randomBytes(32).toString("base64url");

// Imported after the placeholder is set: lib/env reads the environment once, on first use.
import("../lib/crypto/envelope")
  .then(({ rewrapDataKeys }) => rewrapDataKeys())
  .then(({ rewrapped }) => {
    process.stdout.write(`Re-wrapped ${rewrapped} data key(s) under the current master key.\n`);
    process.exit(0);
  })
  .catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });

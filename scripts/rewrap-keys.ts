/**
 * `npm run keys:rewrap`: re-wraps every data key under the current LATCH_MASTER_KEY (see README).
 * Needs DATABASE_URL and the keys only: nothing here signs a session, so NEXTAUTH_SECRET gets a
 * placeholder when unset (lib/env demands one for the server).
 */
import { randomBytes } from "node:crypto";

process.env.NEXTAUTH_SECRET ||= randomBytes(32).toString("base64url");

// Imported after the placeholder is set: lib/env reads the environment once, on first use.
import("../lib/crypto/envelope")
  .then(async ({ masterKeyring, rewrapDataKeys }) => {
    const { rewrapped, elsewhere } = await rewrapDataKeys();
    const { current } = masterKeyring();
    process.stdout.write(`Re-wrapped ${rewrapped} data key(s) under the current master key (key id ${current.id}; each server logs the id it runs with).\n`);
    if (elsewhere > 0) {
      // An instance still running with the previous key as its current one made a new data key meanwhile.
      process.stderr.write(
        `${elsewhere} data key(s) appeared under another master key while this ran: an instance still runs with the previous LATCH_MASTER_KEY. ` +
          "Restart every instance with the new key, then run this again before removing the previous key.\n",
      );
      process.exit(1);
    }
    process.exit(0);
  })
  .catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });

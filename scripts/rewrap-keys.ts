/** `npm run keys:rewrap`: re-wraps every data key under the current LATCH_MASTER_KEY (see README). */
import { rewrapDataKeys } from "../lib/crypto/envelope";

rewrapDataKeys()
  .then(({ rewrapped }) => {
    process.stdout.write(`Re-wrapped ${rewrapped} data key(s) under the current master key.\n`);
    process.exit(0);
  })
  .catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });

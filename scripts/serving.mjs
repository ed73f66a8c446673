// Node built-ins only: up.mjs runs it before dependencies may exist.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * The pid of the server `npm run up` runs from the checkout at `root` (it writes .data/serving.pid),
 * or null. A pid left by a server that died, or since taken by another program, is not one.
 */
export function servingPid(root) {
  try {
    const pid = Number(readFileSync(path.join(root, ".data", "serving.pid"), "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    process.kill(pid, 0);
    return commandOf(pid).includes("server.mjs") ? pid : null;
  } catch {
    return null;
  }
}

/** The pid's command line: from /proc where there is one, else from ps (macOS); "" when neither says. */
function commandOf(pid) {
  if (existsSync(`/proc/${pid}/cmdline`)) return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  try {
    return execFileSync("ps", ["-p", String(pid), "-o", "command="], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return "";
  }
}

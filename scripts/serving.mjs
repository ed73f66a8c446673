// Node built-ins only: up.mjs runs it before dependencies may exist.
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
    const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8") : "server.mjs";
    return cmdline.includes("server.mjs") ? pid : null;
  } catch {
    return null;
  }
}

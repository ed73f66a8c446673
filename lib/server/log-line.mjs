/**
 * The few lines server.mjs writes before or without lib/log, in the shape lib/log (pino) writes, so
 * that a log collector parses every line of the process the same way.
 *
 * @param {"info" | "warn" | "error" | "fatal"} level
 * @param {string} msg
 */
export function logLine(level, msg) {
  const line = JSON.stringify({ level, time: new Date().toISOString(), service: "latch", msg });
  (level === "info" ? process.stdout : process.stderr).write(`${line}\n`);
}

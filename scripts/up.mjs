#!/usr/bin/env node
// `npm run up`. Runs before dependencies may exist, so Node built-ins only; the work is in up.ts.
import { spawn, spawnSync } from "node:child_process";
import { statSync, utimesSync } from "node:fs";
import { constants } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { servingPid } from "./serving.mjs";

process.chdir(path.resolve(path.dirname(fileURLToPath(import.meta.url)), ".."));
const isWindows = process.platform === "win32";

const mtime = (file) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
};

// A second run would reinstall node_modules and rebuild .next under the server the first one runs.
const serving = servingPid(process.cwd());
if (serving) {
  console.error(`✖ npm run up is already serving Latch from this checkout (server pid ${serving}). Use that one, or stop it first (Ctrl-C in its terminal); if that server is gone, delete .data/serving.pid. For several instances, see “Running in production” in README.md.`);
  process.exit(1);
}

// npm rewrites node_modules/.package-lock.json on every install, so it dates the installed tree.
const installed = mtime("node_modules/.package-lock.json");
const locked = mtime("package-lock.json");
if (installed === undefined || (locked !== undefined && locked > installed)) {
  console.log(installed === undefined ? "Installing dependencies…" : "package-lock.json changed; updating dependencies…");
  // --no-save, as .ci/run: the tree the lockfile names, without npm rewriting package-lock.json (which
  // would then count as a source change and cost a full rebuild of an unchanged app).
  const res = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--no-save"], { stdio: "inherit", shell: isWindows });
  if (res.status !== 0) process.exit(res.status ?? 1);
  // Mark the installed tree as current, whatever npm did to the hidden lockfile's time.
  const now = new Date();
  try {
    utimesSync("node_modules/.package-lock.json", now, now);
  } catch {
    // Only a hint for the next run: without it, the next `npm run up` installs once more.
  }
}

// `node --import tsx` rather than `npx tsx`: one process, so signals reach up.ts directly.
const child = spawn(process.execPath, ["--import", "tsx", "scripts/up.ts", ...process.argv.slice(2)], {
  stdio: "inherit",
});

let signalled = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  // up.ts shuts down in order (Next, then PostgreSQL); wait for it rather than dying first.
  process.on(signal, () => {
    signalled = true;
    child.kill(signal);
  });
}

// `kill -TERM` on the `npm run up` process reaches npm, which passes it to the shell it runs this in;
// a shell such as dash dies of it without passing it on, and npm exits, leaving this process, the
// server and PostgreSQL running. Once the process that started this one is gone, stop as if signalled.
const parent = process.ppid;
const watch = setInterval(() => {
  try {
    process.kill(parent, 0);
    if (process.ppid === parent) return;
  } catch (error) {
    // EPERM: there, and another user's (a container's init). Only "no such process" means it is gone.
    if (error.code !== "ESRCH" && process.ppid === parent) return;
  }
  clearInterval(watch);
  if (!signalled) {
    signalled = true;
    console.error("\nnpm run up: the process that started it is gone; shutting down…");
    child.kill("SIGTERM");
  }
}, 500);
watch.unref();

child.on("exit", (code, signal) => {
  process.exit(code ?? 128 + (constants.signals[signal] ?? 0));
});

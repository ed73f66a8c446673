#!/usr/bin/env node
// `npm test`: generate → typecheck → unit/integration → build → e2e, stopping at the first failure.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { servingPid } from "./serving.mjs";

process.chdir(path.resolve(path.dirname(fileURLToPath(import.meta.url)), ".."));
const bin = (name) => path.join("node_modules", ".bin", process.platform === "win32" ? `${name}.cmd` : name);
const isCI = Boolean(process.env.CI && process.env.CI !== "false");

// Build-time placeholders: neither `prisma generate` nor `next build` may need a live database or the
// real secret. Port 1 makes any accidental connection fail loudly.
const placeholders = {
  DATABASE_URL: process.env.DATABASE_URL || "postgresql://build:build@127.0.0.1:1/build",
  NEXTAUTH_SECRET: process.env.NEXTAUTH_SECRET || "build-time-placeholder-secret-not-used-at-runtime",
};
const quiet = { NEXT_TELEMETRY_DISABLED: "1", PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1" };

function step(label, command, args, env = {}) {
  console.log(`\n▶ ${label}`);
  const started = Date.now();
  const res = spawnSync(command, args, {
    stdio: "inherit",
    env: { ...process.env, ...quiet, ...env },
    shell: process.platform === "win32",
  });
  if (res.status !== 0) {
    console.error(`\n✖ ${label} failed (${res.signal ? `signal ${res.signal}` : `exit code ${res.status}`}).`);
    process.exit(res.status || 1);
  }
  console.log(`✓ ${label} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
}

function loud(lines) {
  const bar = "!".repeat(72);
  console.log(`\n${bar}\n${lines.map((l) => `!! ${l}`).join("\n")}\n${bar}`);
}

// `npm run up` serving from this checkout: the build below would delete the .next it serves from,
// and its pages would break until restarted. (A pid left by a server that died is no longer running.)
const serving = servingPid(process.cwd());
if (serving) {
  console.error(`\n✖ npm run up is serving Latch from this checkout (server pid ${serving}). npm test rebuilds .next, which that server serves from: stop it first (Ctrl-C), or run the tests in another clone.`);
  process.exit(1);
}

step("prisma generate", bin("prisma"), ["generate", "--no-hints"], {
  DATABASE_URL: placeholders.DATABASE_URL,
  // engineType "client" needs no native engine; the stub stops the CLI downloading one.
  PRISMA_QUERY_ENGINE_LIBRARY: process.env.PRISMA_QUERY_ENGINE_LIBRARY ?? "/bin/true",
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? "/bin/true",
});
// Route types first (.next/types), so that tsc also checks each page's and layout's exports against
// its route, as `next build` would; the build then skips its own check.
step("route types (next typegen)", bin("next"), ["typegen"], placeholders);
step("typecheck (tsc --noEmit)", bin("tsc"), ["--noEmit"]);
step("lint (eslint)", bin("eslint"), ["."]);
// No DATABASE_URL placeholder here: the vitest global setup picks a real server or embedded PostgreSQL.
step("unit and integration tests (vitest)", bin("vitest"), ["run"]);
// The types were checked above, so the build skips its own check; in CI (a fresh clone, built once)
// it also skips writing Turbopack's build cache (next.config.ts).
step("next build", bin("next"), ["build"], { ...placeholders, NODE_ENV: "production", LATCH_TYPES_CHECKED: "1", ...(isCI ? { LATCH_BUILD_CACHE: "0" } : {}) });

// playwright.config.ts prefers the headless shell and takes full Chromium without it.
const skip = !["/usr/bin/chromium-headless-shell", "/usr/bin/chromium"].some((f) => existsSync(f))
  ? "Debian's Chromium is missing (apt-get install chromium chromium-headless-shell)"
  : !["playwright.config.ts", "playwright.config.mts", "playwright.config.js"].some((f) => existsSync(f))
    ? "there is no playwright.config.ts"
    : undefined;
if (skip) {
  if (isCI) {
    console.error(`\n✖ End-to-end tests cannot run in CI: ${skip}.`);
    process.exit(1);
  }
  loud([`SKIPPING the Playwright end-to-end tests: ${skip}.`, "The run is NOT complete; CI fails in this state."]);
  console.log("\n✓ All other test steps passed (end-to-end tests skipped).");
} else {
  step("end-to-end tests (playwright)", bin("playwright"), ["test"]);
  console.log("\n✓ All test steps passed.");
}

import { defineConfig, devices } from "@playwright/test";
import { existsSync } from "node:fs";

const PORT = Number(process.env.E2E_PORT ?? 3100);
/** Where the console under test answers (also its NEXTAUTH_URL, so OAuth redirects come back here). */
export const E2E_ORIGIN = `http://127.0.0.1:${PORT}`;
export const E2E_ADMIN = { email: "admin@e2e.latch.test", password: "e2e-admin-password-0001" };

/**
 * Debian's Chromium (browser downloads are impossible on this network). Headless runs use its old
 * headless shell (package chromium-headless-shell), as Playwright itself does by default: on 2 cores
 * the suite runs about a third faster than in full Chromium's headless mode. Without the shell, or
 * with E2E_CHROMIUM set (`--headed` needs /usr/bin/chromium), that one.
 */
const HEADLESS_SHELL = "/usr/bin/chromium-headless-shell";
const CHROMIUM = process.env.E2E_CHROMIUM || (existsSync(HEADLESS_SHELL) ? HEADLESS_SHELL : "/usr/bin/chromium");

/**
 * Runs against the production build (`next build` first) served by scripts/e2e-server.ts on a
 * throwaway database.
 */
export default defineConfig({
  testDir: "e2e",
  fullyParallel: true,
  workers: process.env.CI ? 2 : undefined,
  retries: 0,
  // Multi-step flows through a production build take 30–60 s each with two workers on a loaded
  // 2-core machine; 60 s timed some out mid-progress. Each step's own wait (expect, 10 s) still
  // fails a stuck step quickly.
  timeout: 120_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  forbidOnly: !!process.env.CI,
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    // DOM snapshots and the network log, without the screencast, whose frames Chromium encodes all
    // test long (on 2 cores: e2e/auth+shell 3.1 min with it, 2.4 without; the whole suite 22.3 → 21.3).
    trace: { mode: "retain-on-failure", screenshots: false },
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: CHROMIUM,
      args: ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    },
  },
  projects: [
    { name: "setup", testMatch: /global\.setup\.ts/ },
    {
      name: "chromium",
      dependencies: ["setup"],
      testIgnore: /leak\.spec\.ts/,
      use: {
        ...devices["Desktop Chrome"],
        channel: undefined,
        viewport: { width: 1280, height: 860 },
        // The console honours reduced motion (app/globals.css): dialogs and menus open and close without
        // their fade and zoom, so steps do not wait for them to settle and Chromium does not draw their
        // frames, on two cores shared with the server. What the specs check does not depend on motion.
        reducedMotion: "reduce",
        storageState: "e2e/.auth/admin.json",
      },
    },
    { name: "leak-check", dependencies: ["chromium"], testMatch: /leak\.spec\.ts/ },
  ],
  webServer: {
    command: "npx tsx scripts/e2e-server.ts",
    url: `http://127.0.0.1:${PORT}/api/ready`,
    timeout: 180_000,
    reuseExistingServer: false,
    gracefulShutdown: { signal: "SIGTERM", timeout: 15_000 },
    stdout: "pipe",
    stderr: "pipe",
    env: {
      E2E_PORT: String(PORT),
      LATCH_ADMIN_EMAIL: E2E_ADMIN.email,
      LATCH_ADMIN_PASSWORD: E2E_ADMIN.password,
    },
  },
});

import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      "@": root,
      "server-only": path.join(root, "test", "server-only-stub.ts"),
    },
  },
  test: {
    environment: "node",
    include: ["**/*.test.ts"],
    exclude: ["**/node_modules/**", ".next/**", ".data/**", "e2e/**"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/worker-database.ts"],
    pool: "forks",
    // Files run two (or more) at a time, most of their time being spent waiting on servers. Each
    // worker has a database of its own (test/global-setup.ts), so files that check the whole database
    // ("nothing changed", audit counts, NOTIFY) never see another file's writes: within a worker they
    // run one after another, as before.
    maxWorkers: Math.max(2, Math.min(4, os.availableParallelism())),
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});

import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * A runtime dependency nothing imports is still installed, audited and shipped: each one in
 * package.json must be imported by the code (or be one of the few used another way, named here).
 */
const root = process.cwd();
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { dependencies: Record<string, string>; scripts: Record<string, string> };

/** Used without an import: why each may stay. */
const USED_OTHERWISE: Record<string, (scripts: string) => boolean> = {
  // Next renders with it; it is next's peer dependency.
  "react-dom": () => true,
  // Runs the TypeScript scripts named in package.json.
  tsx: (scripts) => /\btsx\b/.test(scripts),
};

const SOURCE = /\.(ts|tsx|mts|cts|mjs|cjs|js)$/;
const SKIP = new Set(["node_modules", ".next", ".git", ".data", "test-results", "playwright-report"]);

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name) || name.startsWith(".")) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) sources(full, out);
    else if (SOURCE.test(name)) out.push(full);
  }
  return out;
}

/** Package names named by import/export-from, dynamic import() and require(). */
export function importedPackages(source: string): Set<string> {
  const found = new Set<string>();
  for (const m of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)["']([^"'.][^"']*)["']/gm)) {
    const spec = m[1]!;
    if (spec.startsWith("node:") || spec.startsWith("@/")) continue;
    const parts = spec.split("/");
    found.add(spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
  }
  return found;
}

describe("dependencies", () => {
  it("reads package names from every kind of import", () => {
    expect(importedPackages(`import a from "pg";\nimport { b } from '@aws-sdk/client-secrets-manager';\nimport "server-only";\nconst c = require("node-forge/lib/x");\nawait import("zod");\nimport d from "./local";\nimport e from "@/lib/db";\nimport f from "node:fs";`)).toEqual(
      new Set(["pg", "@aws-sdk/client-secrets-manager", "server-only", "node-forge", "zod"]),
    );
  });

  it("every runtime dependency is imported by the code, or is used in a way named in this test", () => {
    const imported = new Set<string>();
    for (const file of sources(root)) for (const name of importedPackages(readFileSync(file, "utf8"))) imported.add(name);
    const scripts = Object.values(pkg.scripts).join("\n");
    const unused = Object.keys(pkg.dependencies).filter((name) => !imported.has(name) && !USED_OTHERWISE[name]?.(scripts));
    expect(unused, "remove these from package.json (npm uninstall), or say here how they are used").toEqual([]);
  });
});

import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/** npm audit cannot reach its service here, so the patched floors are checked against what is installed. */
const FLOORS: Record<string, string> = { next: "16.4.6", react: "19.3.1", "react-dom": "19.3.1", "next-auth": "4.24.15" };

function installedVersion(name: string): string {
  const file = path.join(process.cwd(), "node_modules", name, "package.json");
  return JSON.parse(readFileSync(file, "utf8")).version;
}

export function atLeast(version: string, floor: string): boolean {
  const parse = (v: string) => v.split("-")[0]!.split(".").map(Number);
  const [a, b] = [parse(version), parse(floor)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  // A pre-release of the floor version is older than the floor itself.
  return !version.includes("-");
}

describe("security floors of installed packages", () => {
  it("compares versions correctly", () => {
    expect(atLeast("16.4.6", "16.4.6")).toBe(true);
    expect(atLeast("16.10.0", "16.4.6")).toBe(true);
    expect(atLeast("16.4.5", "16.4.6")).toBe(false);
    expect(atLeast("16.4.6-canary.1", "16.4.6")).toBe(false);
    expect(atLeast("17.0.0", "16.4.6")).toBe(true);
  });

  for (const [name, floor] of Object.entries(FLOORS)) {
    it(`${name} >= ${floor}`, () => {
      expect(atLeast(installedVersion(name), floor), `${name} ${installedVersion(name)} is below the patched floor ${floor}`).toBe(true);
    });
  }
});

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

/**
 * `npm run up` with .data on a read-only mount (a container's secret volume, a backup restored
 * read-only): the secrets file reads fine, only tightening its mode fails. That must not stop Latch
 * with "Cannot read … Repair it by hand", which would send someone to edit a file that is intact.
 */
const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("npm run up, reading .data/local-secrets.json", () => {
  it("goes on with a warning when the file reads but its mode cannot be changed (EROFS)", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "latch-up-"));
    await mkdir(path.join(dir, ".data"));
    const secrets = { NEXTAUTH_SECRET: randomBytes(48).toString("base64url"), LATCH_MASTER_KEY: randomBytes(32).toString("base64") };
    await writeFile(path.join(dir, ".data", "local-secrets.json"), JSON.stringify(secrets), { mode: 0o644 });
    // What a read-only mount answers to chmod; reads are unaffected.
    const readOnly = path.join(dir, "read-only-mount.mjs");
    await writeFile(
      readOnly,
      `import fs from "node:fs";\nfs.chmodSync = (file) => { throw Object.assign(new Error(\`EROFS: read-only file system, chmod '\${file}'\`), { code: "EROFS" }); };\n`,
    );

    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: "postgresql://latch@127.0.0.1:3990/latch", PORT: "3991" };
    delete env.NEXTAUTH_SECRET;
    delete env.LATCH_MASTER_KEY;
    const tsx = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
    // In an empty directory up.ts gets past the secrets and the database, then stops at `prisma
    // generate`, which is not installed there: far enough, and nothing is started.
    const child = spawn(process.execPath, ["--import", tsx, "--import", pathToFileURL(readOnly).href, path.join(ROOT, "scripts", "up.ts")], {
      cwd: dir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    await new Promise((resolve) => child.once("exit", resolve));

    expect(output).not.toContain("Cannot read");
    expect(output).toContain("Warning: could not restrict .data/local-secrets.json to its owner (mode 0600): EROFS");
    expect(output).toContain("Using DATABASE_URL postgresql://latch@127.0.0.1:3990/latch");
    // The file's secrets were used, not replaced.
    expect(output).toContain("Using NEXTAUTH_SECRET, LATCH_MASTER_KEY from .data/local-secrets.json.");
    expect(output).not.toContain("Generated");
  });
});

describe("npm run up, while it already serves from this checkout", () => {
  it("refuses before it installs or builds anything, naming the running server", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "latch-up-"));
    await mkdir(path.join(dir, "scripts"));
    await mkdir(path.join(dir, ".data"));
    for (const file of ["up.mjs", "serving.mjs"]) await writeFile(path.join(dir, "scripts", file), await readFile(path.join(ROOT, "scripts", file)));
    // A live process that looks like the first run's server: its command line names server.mjs.
    const server = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "server.mjs"], { stdio: "ignore" });
    try {
      await writeFile(path.join(dir, ".data", "serving.pid"), `${server.pid}\n`);
      // No node_modules here: a run that went on would start `npm install` first.
      const run = () =>
        new Promise<{ code: number | null; output: string }>((resolve) => {
          const child = spawn(process.execPath, [path.join(dir!, "scripts", "up.mjs")], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
          let output = "";
          child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
          child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
          child.once("exit", (code) => resolve({ code, output }));
        });
      const refused = await run();
      expect(refused.code).toBe(1);
      expect(refused.output).toContain(`npm run up is already serving Latch from this checkout (server pid ${server.pid})`);
      expect(refused.output).not.toContain("Installing dependencies");
      // Once that server has gone, its pid file is stale and no longer stops a run.
      server.kill();
      await new Promise((resolve) => server.once("exit", resolve));
      // (An installed tree, so it goes straight on to up.ts, which cannot start here without tsx.)
      await mkdir(path.join(dir, "node_modules"));
      await writeFile(path.join(dir, "node_modules", ".package-lock.json"), "{}");
      const after = await run();
      expect(after.output).not.toContain("already serving");
      expect(after.output).toMatch(/tsx/);
    } finally {
      server.kill();
    }
  });
});

describe("npm run up, when whatever started it goes away", () => {
  it("stops up.ts as if signalled once its parent is gone (npm's shell dies of a SIGTERM without passing it on)", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "latch-up-"));
    await mkdir(path.join(dir, "scripts"));
    for (const file of ["up.mjs", "serving.mjs"]) await writeFile(path.join(dir, "scripts", file), await readFile(path.join(ROOT, "scripts", file)));
    // An installed tree, and a `tsx` that only lets Node load this up.ts as JavaScript.
    await mkdir(path.join(dir, "node_modules", "tsx"), { recursive: true });
    // No package-lock.json: with one written after the installed tree's marker (in the same millisecond or
    // later), up.mjs would take the lockfile as changed and run npm install here.
    await writeFile(path.join(dir, "node_modules", ".package-lock.json"), "{}");
    await writeFile(path.join(dir, "node_modules", "tsx", "package.json"), JSON.stringify({ name: "tsx", type: "module", exports: "./index.mjs" }));
    await writeFile(
      path.join(dir, "node_modules", "tsx", "index.mjs"),
      `import { register } from "node:module";\nregister("data:text/javascript," + encodeURIComponent('export async function load(url, context, next) { return url.endsWith(".ts") ? { format: "module", source: (await next(url, { ...context, format: "module" })).source, shortCircuit: true } : next(url, context); }'));\n`,
    );
    const marker = path.join(dir, "signalled");
    // Stands in for up.ts: says it is running, and notes the signal that stops it.
    await writeFile(
      path.join(dir, "scripts", "up.ts"),
      `import { writeFileSync } from "node:fs";\nconsole.log("up.ts running");\nfor (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => { writeFileSync(${JSON.stringify(marker)}, s); process.exit(0); });\nsetInterval(() => {}, 1000);\n`,
    );
    // A shell that does not exec its last command, as npm runs a script under dash.
    const shell = spawn("/bin/sh", ["-c", `${JSON.stringify(process.execPath)} scripts/up.mjs; true`], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    shell.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    shell.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    await expect.poll(() => output, { timeout: 15_000 }).toContain("up.ts running");
    shell.kill("SIGTERM");
    await expect.poll(async () => readFile(marker, "utf8").catch(() => null), { timeout: 5_000 }).toBe("SIGTERM");
  });
});

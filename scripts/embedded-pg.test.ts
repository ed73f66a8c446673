import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "./embedded-pg";

/**
 * After an unclean stop: the runner that started the embedded PostgreSQL was killed, and its
 * postgres lives on, adopted not by pid 1 but by a supervisor (systemd --user, tini -s), as on a
 * desktop. The next start must stop that orphan and go on, not refuse because its parent lives.
 */
const root = fs.mkdtempSync(path.join(os.tmpdir(), "latch-embedded-pg-"));
// Run as root, postgres runs as a user of its own, which must reach the cluster inside.
fs.chmodSync(root, 0o755);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

// A process that adopts orphans (PR_SET_CHILD_SUBREAPER) and reaps them, running the given command.
// It reaps two seconds late, as a busy supervisor may: the killed runner is a zombie meanwhile.
const SUPERVISOR = `
import ctypes, os, signal, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
child = None
def reap(*_):
    time.sleep(2)
    try:
        while True:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0: break
            if child is not None and pid == child.pid: print(f"runner exited {status}", flush=True)
    except ChildProcessError: pass
signal.signal(signal.SIGCHLD, reap)
child = subprocess.Popen(sys.argv[1:])
print(f"runner {child.pid}", flush=True)
while True: signal.pause()
`;

describe("embedded PostgreSQL after an unclean stop", () => {
  it("stops a postgres whose runner was killed, though a live supervisor adopted it, and starts again", async () => {
    const dataDir = path.join(root, "cluster");
    const port = await freePort();
    const supervisor = spawn("python3", ["-c", SUPERVISOR, process.execPath, "--import", "tsx", "test/embedded-pg-runner.ts", dataDir, String(port)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let postmaster = 0;
    try {
      let output = "";
      const runnerPid = await new Promise<number>((resolve, reject) => {
        supervisor.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          const pid = /runner (\d+)/.exec(output)?.[1];
          if (pid && output.includes("ready")) resolve(Number(pid));
          if (output.includes("runner exited")) reject(new Error(`the runner stopped before postgres was ready: ${output}`));
        });
        supervisor.once("exit", () => reject(new Error(`the supervisor stopped: ${output}`)));
      });
      process.kill(runnerPid, "SIGKILL");
      postmaster = Number(fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
      // Adopted by the supervisor, which lives on.
      await expect.poll(() => {
        const stat = fs.readFileSync(`/proc/${postmaster}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      }).toBe(supervisor.pid);

      const started = await startEmbeddedPostgres({ dataDir, port, database: "t" });
      try {
        const client = new pg.Client({ connectionString: started.url });
        await client.connect();
        expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
        await client.end();
        // Stopped: gone, or a zombie the supervisor has yet to reap.
        const state = () => (fs.existsSync(`/proc/${postmaster}/stat`) ? fs.readFileSync(`/proc/${postmaster}/stat`, "utf8").split(") ")[1]?.[0] : "gone");
        expect(["gone", "Z"]).toContain(state());
      } finally {
        await started.stop();
      }
    } finally {
      supervisor.kill("SIGKILL");
      // Whatever happened above, no postgres of this test outlives it.
      if (postmaster) {
        try {
          process.kill(postmaster, "SIGINT");
        } catch {
          /* already stopped */
        }
      }
    }
  }, 120_000);
});

describe("embedded PostgreSQL's password", () => {
  it("a cluster made with the old fixed password takes the configured one at its next start, and refuses the old", async () => {
    const dataDir = path.join(root, "password-cluster");
    const port = await freePort();
    const login = async (password: string) => {
      const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password, database: "t" });
      client.on("error", () => {});
      try {
        await client.connect();
        return "accepted";
      } catch (err) {
        return (err as { code?: string }).code === "28P01" ? "refused" : `failed: ${(err as Error).message}`;
      } finally {
        await client.end().catch(() => {});
      }
    };
    // Made as before: the fixed password.
    const first = await startEmbeddedPostgres({ dataDir, port, database: "t" });
    expect(await login("postgres")).toBe("accepted");
    await first.stop();
    const password = `pw-${randomBytes(12).toString("hex")}`;
    const second = await startEmbeddedPostgres({ dataDir, port, database: "t", password });
    try {
      expect(second.url).toContain(encodeURIComponent(password));
      expect(await login(password)).toBe("accepted");
      expect(await login("postgres")).toBe("refused");
    } finally {
      await second.stop();
    }
    // And the next start with it needs no change.
    const third = await startEmbeddedPostgres({ dataDir, port, database: "t", password });
    await third.stop();
  }, 120_000);
});

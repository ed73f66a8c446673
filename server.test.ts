import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { parseEnv } from "@/lib/env";
import { DEFAULT_GRACE_SECONDS, DEFAULT_KEEP_ALIVE_SECONDS } from "@/lib/server/defaults.mjs";
import { killAfterMs } from "@/lib/server/lifecycle.mjs";
import { isActionRequest } from "@/lib/server/action-requests.mjs";

/**
 * server.mjs itself, started with test/server-stub/next.mjs in place of Next (no build needed): how
 * it stops. A stop must not cut a request handler short (the target may have run the request, and the
 * invoke's audit row is written after that), must not be held open by kept-alive connections, and
 * must close the instance's sessions before it exits 0.
 */
const ROOT = path.dirname(fileURLToPath(import.meta.url));
const REGISTER = pathToFileURL(path.join(ROOT, "test", "server-stub", "register.mjs")).href;

type Running = {
  child: ChildProcess;
  port: number;
  /** Lines of stdout so far (the stub's "started /x", "finished /x", "closed sessions"…). */
  out: string[];
  err: () => string;
  waitFor: (line: string) => Promise<void>;
  /** Exit code and when, once it has exited. */
  exited: Promise<{ code: number | null; at: number }>;
};

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

function messageOf(line: string): string {
  try {
    const parsed = JSON.parse(line) as { msg?: unknown };
    return typeof parsed.msg === "string" ? parsed.msg : line;
  } catch {
    return line;
  }
}

async function start(port: number, opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<Running> {
  const child = spawn(process.execPath, ["--import", REGISTER, path.join(ROOT, "server.mjs"), "-p", String(port), "-H", "127.0.0.1"], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const out: string[] = [];
  let err = "";
  const waiters: { line: string; resolve: () => void }[] = [];
  let partial = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const raw of lines) {
      // server.mjs's own lines are JSON (lib/server/log-line.mjs); the stub app's are plain.
      const line = messageOf(raw);
      out.push(line);
      for (const w of waiters.filter((w) => w.line === line)) w.resolve();
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once("exit", (code) => resolve({ code, at: Date.now() })));
  const waitFor = (line: string) =>
    out.some((l) => l.startsWith(line))
      ? Promise.resolve()
      : Promise.race([
          new Promise<void>((resolve) => waiters.push({ line, resolve })),
          exited.then(() => Promise.reject(new Error(`server.mjs exited before printing "${line}":\n${out.join("\n")}\n${err}`))),
        ]);
  await waitFor(`Latch listening on http://127.0.0.1:${port}`);
  return { child, port, out, err: () => err, waitFor, exited };
}

/** Connects and closes at once: "connected", or the error code (ECONNREFUSED once it stopped accepting). */
function connect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
  });
}

/** Sends a request and hangs up without waiting for the answer, as a runner whose own timeout fired. */
async function sendAndHangUp(port: number, target: string, server: Running): Promise<void> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  socket.write(`POST ${target} HTTP/1.1\r\nhost: latch.test\r\nauthorization: Bearer lt_x\r\ncontent-length: 0\r\n\r\n`);
  await server.waitFor(`started ${target.split("?")[0]}`);
  socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
}

describe("server.mjs stopping", () => {
  for (const [route, port] of [
    ["/slow", 3971],
    ["/direct", 3972],
  ] as const) {
    it(`lets a request whose client hung up finish before it closes sessions and exits 0 (${route === "/direct" ? "direct route" : "Next's handler"})`, async () => {
      const server = await start(port);
      await sendAndHangUp(port, `${route}?ms=1500`, server);

      const signalled = Date.now();
      server.child.kill("SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Stopped accepting, but still running the request.
      expect(await connect(port)).toBe("ECONNREFUSED");
      expect(server.child.exitCode).toBeNull();

      const { code, at } = await server.exited;
      expect(code).toBe(0);
      expect(at - signalled).toBeGreaterThanOrEqual(1_000);
      // The handler finished (the audit row), then Next closed, then lib's sessions.
      const order = server.out.filter((l) => /^(finished|next closed|closed sessions)/.test(l));
      expect(order).toEqual([`finished ${route}`, "next closed", "closed sessions"]);
    });
  }

  it("stops as gracefully on SIGHUP, which a dropped terminal sends to a foreground `npm run up`", async () => {
    const server = await start(3979);
    await sendAndHangUp(3979, "/slow?ms=800", server);
    // Twice, as a hang-up comes: the second is not the signal that stops at once.
    server.child.kill("SIGHUP");
    await new Promise((resolve) => setTimeout(resolve, 100));
    server.child.kill("SIGHUP");
    const { code } = await server.exited;
    expect(code).toBe(0);
    expect(server.out.filter((l) => /^(finished|next closed|closed sessions)/.test(l))).toEqual(["finished /slow", "next closed", "closed sessions"]);
  });

  for (const [first, second, port] of [
    ["SIGTERM", "SIGINT", 3980],
    ["SIGINT", "SIGTERM", 3981],
    ["SIGTERM", "SIGTERM", 3982],
  ] as const) {
    it(`stops at once on a second stop signal of either kind (${first}, then ${second}) a second later, without waiting for what runs`, async () => {
      const server = await start(port);
      await sendAndHangUp(port, "/slow?ms=20000", server);
      server.child.kill(first);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(server.child.exitCode).toBeNull();
      const signalled = Date.now();
      server.child.kill(second);
      const { at } = await server.exited;
      expect(server.child.signalCode).toBe(second);
      expect(at - signalled).toBeLessThan(3_000);
      expect(server.out).not.toContain("finished /slow");
    });
  }

  it("takes a second signal within a second for the same stop delivered twice (Ctrl-C under npm, npm run up passing it on): still graceful", async () => {
    const server = await start(3986);
    await sendAndHangUp(3986, "/slow?ms=1500", server);
    server.child.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 50));
    server.child.kill("SIGTERM");
    const { code } = await server.exited;
    expect(code).toBe(0);
    expect(server.out).toContain("finished /slow");
  });

  /**
   * `npm start` with the stub (through NODE_OPTIONS: npm starts the node process itself), a request
   * running, and a stop signal sent as `signal` says: the request still gets its answer, and the server exits.
   */
  async function stopNpmStartWhileServing(port: number, signal: (npm: ChildProcess) => void, opts: { ownGroup?: boolean } = {}) {
    const npm = spawn("npm", ["run", "-s", "start", "--", "-p", String(port), "-H", "127.0.0.1"], {
      cwd: ROOT,
      detached: opts.ownGroup ?? false,
      env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${REGISTER}`.trim() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(npm);
    let out = "";
    npm.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    await expect.poll(() => out, { timeout: 20_000 }).toContain(`Latch listening on http://127.0.0.1:${port}`);
    const answer = new Promise<string>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port });
      let received = "";
      socket.on("data", (chunk) => (received += chunk.toString()));
      socket.on("close", () => resolve(received));
      socket.on("error", () => resolve(received));
      socket.write("GET /slow?ms=1500 HTTP/1.1\r\nhost: latch.test\r\nconnection: close\r\n\r\n");
    });
    await expect.poll(() => out).toContain("started /slow");
    signal(npm);
    expect(await answer).toMatch(/^HTTP\/1\.1 200/);
    await expect.poll(() => out).toContain("closed sessions");
    await expect.poll(() => connect(port)).toBe("ECONNREFUSED");
  }

  it("Ctrl-C in the terminal of `npm start` (SIGINT to npm and the server alike) lets the running request finish", async () => {
    // Its own process group, as a terminal's foreground job: the signal goes to every process in it.
    await stopNpmStartWhileServing(3987, (npm) => process.kill(-npm.pid!, "SIGINT"), { ownGroup: true });
  });

  it("stops gracefully when the signal goes to `npm start` (npm's shell passes it on to nobody unless the script execs)", async () => {
    await stopNpmStartWhileServing(3985, (npm) => npm.kill("SIGTERM"));
  });

  it("says what is wrong with HOST or PORT when it cannot listen there, and exits 1", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const child = spawn(process.execPath, ["--import", REGISTER, path.join(ROOT, "server.mjs"), ...args], { cwd: ROOT, env: process.env, stdio: ["ignore", "ignore", "pipe"] });
        children.push(child);
        let err = "";
        child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
        child.once("exit", (code) => resolve({ code, err }));
      });
    const unresolvable = await run(["-p", "3983", "-H", "latch-no-such-host.invalid"]);
    expect(unresolvable.code).toBe(1);
    expect(unresolvable.err).toContain("server.mjs: the host name latch-no-such-host.invalid does not resolve: set HOST (or -H)");
    // TEST-NET-1: an address no machine here has.
    const foreign = await run(["-p", "3983", "-H", "192.0.2.7"]);
    expect(foreign.code).toBe(1);
    expect(foreign.err).toContain("server.mjs: 192.0.2.7 is not an address of this machine");
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(3984, "127.0.0.1", resolve));
    try {
      const taken = await run(["-p", "3984", "-H", "127.0.0.1"]);
      expect(taken.code).toBe(1);
      expect(taken.err).toContain("server.mjs: port 3984 on 127.0.0.1 is already in use.");
      // One JSON line, as lib/log writes them, for whatever collects the logs.
      const line = taken.err.split("\n").find((l) => l.includes("already in use"))!;
      expect(JSON.parse(line)).toMatchObject({ level: "fatal", service: "latch", msg: "server.mjs: port 3984 on 127.0.0.1 is already in use." });
    } finally {
      blocker.close();
    }
  });

  it("gives up after LATCH_SHUTDOWN_GRACE_SECONDS with exit 1, saying what it abandoned", async () => {
    const server = await start(3973, { env: { STUB_GRACE_MS: "1000" } });
    const socket = net.connect({ host: "127.0.0.1", port: 3973 });
    socket.on("error", () => {});
    socket.write("GET /slow?ms=20000 HTTP/1.1\r\nhost: latch.test\r\n\r\n");
    await server.waitFor("started /slow");

    const signalled = Date.now();
    server.child.kill("SIGTERM");
    const { code, at } = await server.exited;
    socket.destroy();
    expect(code).toBe(1);
    expect(at - signalled).toBeGreaterThanOrEqual(900);
    expect(at - signalled).toBeLessThan(4_000);
    expect(server.err()).toContain("1 request(s) were still running 1 s after SIGTERM");
    expect(server.out).not.toContain("closed sessions");
  });

  it("ends kept-alive connections whose request was already running at the signal, and exits as soon as they are answered", async () => {
    const server = await start(3974);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const get = (target: string) =>
      new Promise<{ connection: string | undefined; body: string; at: number }>((resolve, reject) => {
        http
          .get(`http://127.0.0.1:3974${target}`, { agent }, (res) => {
            let body = "";
            res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
            res.on("end", () => resolve({ connection: res.headers.connection, body, at: Date.now() }));
          })
          .on("error", reject);
      });
    // One whose headers are not sent yet at the signal, one already streaming its answer.
    const plain = get("/slow?ms=1000");
    const streaming = get("/stream?ms=1000");
    await server.waitFor("started /slow");
    await server.waitFor("started /stream");

    server.child.kill("SIGTERM");
    const [a, b] = await Promise.all([plain, streaming]);
    expect(a).toMatchObject({ connection: "close", body: "done /slow" });
    expect(b.body).toBe("first done /stream");
    const { code, at } = await server.exited;
    agent.destroy();
    expect(code).toBe(0);
    // Not after Node's 5 s keep-alive timeout: the connections were closed with their answers.
    expect(at - Math.max(a.at, b.at)).toBeLessThan(1_500);
  });
});

/**
 * One kept-alive connection, as a proxy keeps one to its upstream: sends a request on it whenever
 * asked, and notes when the server closes it.
 */
function keptAlive(port: number) {
  const socket = net.connect({ host: "127.0.0.1", port });
  let received = "";
  let answered = 0;
  let waiting: (() => void) | null = null;
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
  socket.setEncoding("utf8").on("data", (chunk: string) => {
    received += chunk;
    const count = received.split("HTTP/1.1 200 OK").length - 1;
    if (count > answered) {
      answered = count;
      waiting?.();
    }
  });
  socket.on("error", () => {});
  return {
    closed,
    isOpen: () => !socket.destroyed && socket.readyState === "open",
    /** Resolves at the answer; rejects if the server closed the connection first. */
    get: (target: string) =>
      new Promise<number>((resolve, reject) => {
        waiting = () => resolve(Date.now());
        void closed.then(() => reject(new Error(`the server closed the connection before answering ${target}`)));
        socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`);
      }),
    end: () => socket.destroy(),
  };
}

describe("server.mjs keep-alive", () => {
  it("keeps an idle connection open longer than Node's 5 s by default, so a proxy's reused connection still works", async () => {
    expect(DEFAULT_KEEP_ALIVE_SECONDS).toBeGreaterThan(60); // AWS ALB's and nginx's 60 s idle timeouts
    const server = await start(3976);
    const connection = keptAlive(3976);
    await connection.get("/first");
    // Node's default closes it after 6 s (its 5 s, and the second its timer allows).
    await new Promise((resolve) => setTimeout(resolve, 7_000));
    expect(connection.isOpen()).toBe(true);
    await connection.get("/second");
    connection.end();
    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  });

  it("closes an idle connection after the time instrumentation registers from LATCH_KEEP_ALIVE_SECONDS", async () => {
    const server = await start(3977, { env: { STUB_KEEP_ALIVE_MS: "1500" } });
    const connection = keptAlive(3977);
    await connection.get("/first");
    await new Promise((resolve) => setTimeout(resolve, 700));
    const answeredAt = await connection.get("/second");
    const closedAt = await connection.closed;
    expect(closedAt - answeredAt).toBeGreaterThanOrEqual(1_400);
    expect(closedAt - answeredAt).toBeLessThan(4_500);
    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  });

  it("is a whole number of seconds from 1 to 7200", () => {
    const base = { DATABASE_URL: "postgresql://localhost/latch", NEXTAUTH_SECRET: "k2Jd9sLq0PzX7vB3nM5cR8tY1wE4uI6oA" };
    expect(parseEnv(base).LATCH_KEEP_ALIVE_SECONDS).toBe(DEFAULT_KEEP_ALIVE_SECONDS);
    expect(parseEnv({ ...base, LATCH_KEEP_ALIVE_SECONDS: "620" }).LATCH_KEEP_ALIVE_SECONDS).toBe(620);
    for (const bad of ["0", "-5", "1.5", "forever", "7201"]) {
      expect(() => parseEnv({ ...base, LATCH_KEEP_ALIVE_SECONDS: bad }), bad).toThrow(/LATCH_KEEP_ALIVE_SECONDS/);
    }
  });
});

/** Sends a raw request (a request target fetch would rewrite) and reads the answer until the server ends it or 3 s pass. */
function raw(port: number, head: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let received = "";
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    };
    const timer = setTimeout(done, 3_000);
    socket.setEncoding("utf8").on("data", (chunk: string) => {
      received += chunk;
      // One whole answer (the status line, headers and a body of content-length) is enough.
      const [headers, body = ""] = received.split("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(headers ?? "")?.[1];
      if (length !== undefined && Buffer.byteLength(body) >= Number(length)) done();
    });
    socket.on("end", done).on("error", done);
    socket.write(`${head}\r\nhost: latch.test\r\nauthorization: Bearer lt_x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
  });
}

describe("server.mjs requests no handler can take", () => {
  it("answers a request target no URL parser takes with 400, and still stops at once", async () => {
    const server = await start(3978);
    for (const target of ["//a:99999/x", "http://[/x", "//[/api/v1/connections/x/invoke"]) {
      const answer = await raw(3978, `POST ${target} HTTP/1.1`);
      expect(answer, target).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer, target).toContain("The address is not valid");
    }
    // Methods Next cannot take (its web Request refuses TRACE with a bare 500): 405, in the API's shape under /api/.
    for (const method of ["TRACE", "PROPFIND", "PURGE"]) {
      const api = await raw(3978, `${method} /api/v1/folders HTTP/1.1`);
      expect(api, method).toMatch(/^HTTP\/1\.1 405 /);
      expect(api, method).toMatch(/\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/i);
      expect(JSON.parse(api.split("\r\n\r\n")[1]!)).toMatchObject({ error: { code: "METHOD_NOT_ALLOWED", message: expect.stringContaining(`${method} is not a method Latch serves`) } });
    }
    expect(await raw(3978, "TRACE /login HTTP/1.1")).toMatch(/^HTTP\/1\.1 405 [^]*text\/plain[^]*TRACE is not a method Latch serves/);
    // Two Authorization headers (raw() sends one): Node would keep the first, a proxy might go by the last.
    const twice = await raw(3978, "POST /api/v1/connections/x/invoke HTTP/1.1\r\nAuthorization: Bearer lt_other");
    expect(twice).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(twice.split("\r\n\r\n")[1]!)).toMatchObject({ error: { code: "BAD_REQUEST", message: "Send one Authorization header: this request has 2, and which one counts would be a guess." } });
    // A handler that throws before its first await is answered too, and holds nothing open.
    expect(await raw(3978, "GET /throws HTTP/1.1")).toMatch(/^HTTP\/1\.1 500 /);
    // One that throws after answering keeps its answer, and the server goes on.
    expect(await raw(3978, "GET /answers-then-throws HTTP/1.1")).toMatch(/^HTTP\/1\.1 200 [^]*done$/);
    expect(await raw(3978, "GET /throws HTTP/1.1")).toMatch(/^HTTP\/1\.1 500 /);
    const signalled = Date.now();
    server.child.kill("SIGTERM");
    const { code, at } = await server.exited;
    expect(code).toBe(0);
    expect(at - signalled).toBeLessThan(4_000);
    expect(server.err()).toContain("thrown before any await");
  });
});

describe("server.mjs server action requests", () => {
  /** A POST with a Next-Action header (or without, `action: false`) to the stub's /action: status, content type and body. */
  const post = (port: number, query: string, action = true, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, method: "POST", path: `/action?${query}`, headers: { ...(action ? { "next-action": "7f00" } : {}), ...headers } }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }));
      });
      req.on("error", reject);
      req.end("not json");
    });

  it("answers 400 where Next fails an action request before any action ran (its arguments could not be decoded)", async () => {
    const server = await start(3988);
    for (const query of ["ran=0", "ran=0&via=writeHead", "ran=0&status=503"]) {
      const refused = await post(server.port, query);
      expect(refused, query).toMatchObject({ status: 400, type: "text/plain; charset=utf-8", body: expect.stringContaining("The server action request was refused before any action ran") });
      // Nothing of Next's answer follows it.
      expect(refused.body, query).not.toContain("0:E");
    }
    // A body larger than Next takes, by its Content-Length, before any of it is read.
    const tooLarge = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: server.port, method: "POST", path: "/action?ran=1&status=200", headers: { "next-action": "7f00", "content-type": "text/plain", "content-length": String(3 * 1024 * 1024) } }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      req.on("error", reject);
      req.write("[");
    });
    expect(tooLarge).toEqual({ status: 413, body: "The request body is larger than 2 MB, the most a server action takes.\n" });
    // The mark is server.mjs's to give: a sender naming an id of its own is not believed.
    expect(await post(server.port, "ran=0", true, { "x-latch-action-request": "made-up" })).toMatchObject({ status: 400 });
    // A form posted to a page is an action request to Next too (its id is a $ACTION_ID_ field in the
    // body): one Next fails before any action, as its origin check does from another site, is a 400.
    for (const type of ["multipart/form-data; boundary=latch", "application/x-www-form-urlencoded"]) {
      expect(await post(server.port, "ran=0", false, { "content-type": type, origin: "http://evil.example" }), type).toMatchObject({ status: 400, body: expect.stringContaining("refused before any action ran") });
    }
  });

  it("counts as action requests what Next does: Next-Action, or a form posted to a page; never an /api/ route's POST", () => {
    const req = (url: string, headers: Record<string, string>, method = "POST") => ({ method, url, headers }) as unknown as http.IncomingMessage;
    expect(isActionRequest(req("/users", { "next-action": "7f00" }))).toBe(true);
    expect(isActionRequest(req("/users", { "content-type": "multipart/form-data; boundary=x" }))).toBe(true);
    expect(isActionRequest(req("/users?x=1", { "content-type": "Application/X-WWW-Form-Urlencoded;charset=UTF-8" }))).toBe(true);
    // The sign-in form posts to next-auth's route handler, and the API takes JSON.
    expect(isActionRequest(req("/api/auth/callback/credentials", { "content-type": "application/x-www-form-urlencoded" }))).toBe(false);
    expect(isActionRequest(req("/api/v1/folders", { "content-type": "application/json" }))).toBe(false);
    expect(isActionRequest(req("/users", { "content-type": "text/plain" }))).toBe(false);
    expect(isActionRequest(req("/users", { "content-type": "multipart/form-data; boundary=x" }, "GET"))).toBe(false);
  });

  it("leaves every other answer as Next gave it: a failure after the action ran, a success, and requests that are not actions", async () => {
    const server = await start(3989);
    expect(await post(server.port, "ran=1")).toEqual({ status: 500, type: "text/x-component", body: "0:E{}\n" });
    expect(await post(server.port, "ran=1&via=writeHead")).toEqual({ status: 500, type: "text/x-component", body: "0:E{}\n" });
    expect(await post(server.port, "ran=1&status=200")).toEqual({ status: 200, type: "text/x-component", body: "0:E{}\n" });
    // An action Next forwarded to the page that has it: the first request answers 200 with the second's answer.
    expect(await post(server.port, "ran=0&status=200")).toEqual({ status: 200, type: "text/x-component", body: "0:E{}\n" });
    // Next's own answers before an action: 404 for an unknown action, the sign-in redirect.
    expect(await post(server.port, "ran=0&status=404")).toMatchObject({ status: 404 });
    expect(await post(server.port, "ran=0&status=307")).toMatchObject({ status: 307 });
    expect(await post(server.port, "ran=0", false)).toMatchObject({ status: 500, body: "0:E{}\n" });
  });
});

describe("server.mjs working directory", () => {
  it("reads its own files (prisma/migrations, for /api/ready) whatever directory it was started from", async () => {
    const server = await start(3975, { cwd: tmpdir() });
    const answer = await fetch("http://127.0.0.1:3975/migrations").then((r) => r.text());
    server.child.kill("SIGTERM");
    expect(answer).toBe("true");
    expect((await server.exited).code).toBe(0);
  });
});

describe("the grace period", () => {
  it("defaults to 45 s, above an invoke's 30 s default limit, and refuses values it cannot use", () => {
    const base = { DATABASE_URL: "postgresql://localhost/latch", NEXTAUTH_SECRET: "k2Jd9sLq0PzX7vB3nM5cR8tY1wE4uI6oA" };
    expect(parseEnv(base).LATCH_SHUTDOWN_GRACE_SECONDS).toBe(DEFAULT_GRACE_SECONDS);
    expect(DEFAULT_GRACE_SECONDS).toBeGreaterThan(30);
    expect(parseEnv({ ...base, LATCH_SHUTDOWN_GRACE_SECONDS: "150" }).LATCH_SHUTDOWN_GRACE_SECONDS).toBe(150);
    for (const bad of ["0", "-5", "1.5", "soon", "3601"]) {
      expect(() => parseEnv({ ...base, LATCH_SHUTDOWN_GRACE_SECONDS: bad }), bad).toThrow(/LATCH_SHUTDOWN_GRACE_SECONDS/);
    }
  });

  it("is shorter than `npm run up`'s wait before it kills the server, so the server's own deadline comes first", () => {
    expect(killAfterMs(undefined)).toBeGreaterThan(DEFAULT_GRACE_SECONDS * 1000);
    expect(killAfterMs("150")).toBeGreaterThan(150_000);
    expect(killAfterMs("not a number")).toBeGreaterThan(DEFAULT_GRACE_SECONDS * 1000);
    // Whatever the server reads as 120 s (Number(), as lib/env.ts does), the supervisor waits past too.
    for (const same of ["120.0", "+120", "0x78", "1.2e2"]) expect(killAfterMs(same), same).toBe((120 + 15) * 1000);
  });
});

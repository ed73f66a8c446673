import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { startAnotherInstance } from "./fixtures";

/** A port apart from every other run's (each has its own E2E_PORT) and from instances.spec's. */
const port = () => Number(process.env.E2E_PORT ?? 3100) + 1100 + (test.info().workerIndex % 7);

/** Opens a TCP connection and closes it at once: "connected", or the error code (ECONNREFUSED). */
function connect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve("timeout");
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
  });
}

/** One GET on a kept-alive connection: its status, or null once refused. */
function get(agent: http.Agent, url: string): Promise<{ status: number } | null> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on("error", () => resolve(null));
  });
}

test("npm start listens where HOST says (not the container's HOSTNAME), and a stop ends kept-alive clients promptly", async () => {
  test.setTimeout(120_000);
  // Not 127.0.0.1, server.mjs's default: an instance that ignored HOST would still answer there. All
  // of 127.0.0.0/8 is loopback on Linux.
  const host = "127.0.0.2";
  const instance = await startAnotherInstance(port(), {
    args: [],
    host,
    env: { PORT: String(port()), HOST: host, HOSTNAME: "latch-7f9c2d-container-name.invalid" },
  });
  expect(instance.origin).toBe(`http://${host}:${port()}`);
  // Bound to that address only: the default one refuses the connection.
  expect(await connect(host, port())).toBe("connected");
  expect(await connect("127.0.0.1", port())).toBe("ECONNREFUSED");
  // A runner sending request after request on one kept-alive connection, as HTTP clients do: the
  // connection is almost never idle, so closing idle connections once would not end it.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const answers: NonNullable<Awaited<ReturnType<typeof get>>>[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const answer = await get(agent, `${instance.origin}/api/health`);
      if (!answer) break;
      answers.push(answer);
    }
  })();
  await expect.poll(() => answers.length).toBeGreaterThan(3);
  expect(answers.every((a) => a.status === 200)).toBe(true);

  const stopped = Date.now();
  const code = await instance.stop();
  running = false;
  await loop;
  agent.destroy();
  // A client sending request after request on one kept-alive connection does not hold the stop open.
  expect(Date.now() - stopped).toBeLessThan(8_000);
  expect(code).toBe(0);
  // Its own words, from the output startAnotherInstance keeps.
  expect(readFileSync(instance.log, "utf8")).toContain(`Latch listening on http://${host}:${port()}`);
});

test("npm start with a variable missing or out of range exits 1 naming it, instead of serving 500s", async () => {
  test.setTimeout(60_000);
  const { spawn } = await import("node:child_process");
  const shared = JSON.parse(readFileSync(`${process.cwd()}/e2e/.output/instance-env.json`, "utf8")) as Record<string, string>;
  const cases: [Record<string, string>, RegExp][] = [
    [{ NEXTAUTH_SECRET: "" }, /NEXTAUTH_SECRET is required/],
    [{ LATCH_SHUTDOWN_GRACE_SECONDS: "0" }, /LATCH_SHUTDOWN_GRACE_SECONDS/],
  ];
  for (const [env, named] of cases) {
    const child = spawn(process.execPath, [`${process.cwd()}/server.mjs`, "-p", String(port())], { env: { ...process.env, ...shared, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    for (const stream of [child.stdout, child.stderr]) stream.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve(null);
      }, 30_000);
      child.once("exit", (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect(code, output).toBe(1);
    expect(output).toMatch(/Latch cannot start: Invalid environment:/);
    expect(output).toMatch(named);
  }
});

test("a server action request whose arguments cannot be decoded is a 400 saying so, not a 500", async ({ request }) => {
  // An action of the Users page (Next decodes the arguments before it runs the action).
  const manifest = JSON.parse(readFileSync(`${process.cwd()}/.next/server/server-reference-manifest.json`, "utf8")) as { node: Record<string, { workers: Record<string, unknown> }> };
  const actionId = Object.entries(manifest.node).find(([, entry]) => Object.keys(entry.workers).join() === "app/(console)/users/page")?.[0];
  expect(actionId, "an action only the Users page has").toBeTruthy();
  const bodies = [
    { type: "text/plain;charset=UTF-8", data: "not json" },
    // JSON, but a reference to a part the body does not have.
    { type: "text/plain;charset=UTF-8", data: '["$Q1"]' },
    { type: "multipart/form-data; boundary=latch", data: "--latch\r\nnot a part" },
  ];
  for (const body of bodies) {
    const answer = await request.post("/users", { headers: { "next-action": actionId!, "content-type": body.type }, data: body.data, maxRedirects: 0 });
    expect(answer.status(), body.data).toBe(400);
    expect(await answer.text()).toContain("The server action request was refused before any action ran");
    // Posted to a page that does not have the action, Next forwards it to one that does, where it is
    // refused; the first request answers without an error either way.
    const forwarded = await request.post("/settings", { headers: { "next-action": actionId!, "content-type": body.type }, data: body.data, maxRedirects: 0 });
    expect(forwarded.status(), `forwarded: ${body.data}`).toBeLessThan(500);
    expect(await forwarded.text()).not.toMatch(/digest/);
  }
  // A form naming the action in a $ACTION_ID_ field, posted from another site: Next's origin check
  // refuses it before the action (a 500 of Next's own, before), so it is a 400 like the bodies above.
  const fromElsewhere = await request.post("/users", { headers: { origin: "http://evil.example" }, multipart: { [`$ACTION_ID_${actionId}`]: "", name: "x" }, maxRedirects: 0 });
  expect(fromElsewhere.status()).toBe(400);
  expect(await fromElsewhere.text()).toContain("refused before any action ran");
  // A body over the 2 MB Next takes is a 413 before any of it is read.
  const large = await request.post("/users", { headers: { "next-action": actionId!, "content-type": "text/plain;charset=UTF-8" }, data: `["${"x".repeat(2 * 1024 * 1024)}"]`, maxRedirects: 0 });
  expect(large.status()).toBe(413);
});

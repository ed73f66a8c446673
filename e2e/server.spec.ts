import { expect, test } from "@playwright/test";
import http from "node:http";
import { startAnotherInstance } from "./fixtures";

/** A port apart from every other run's (each has its own E2E_PORT) and from instances.spec's. */
const port = () => Number(process.env.E2E_PORT ?? 3100) + 1100 + (test.info().workerIndex % 7);

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
  const instance = await startAnotherInstance(port(), {
    args: [],
    env: { PORT: String(port()), HOST: "127.0.0.1", HOSTNAME: "latch-7f9c2d-container-name.invalid" },
  });
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
  // Well within the 10 s after which the server gives up on requests still running.
  expect(Date.now() - stopped).toBeLessThan(8_000);
  expect(code).toBe(0);
});

import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { env } from "@/lib/env";
import { checkReadiness } from "./index";

const original = env().DATABASE_URL;
afterEach(() => {
  Object.assign(env(), { DATABASE_URL: original });
});

describe("readiness", () => {
  it("is ready when the database answers and every migration is applied, and names none of them", async () => {
    expect(await checkReadiness()).toEqual({ ready: true, checks: { database: "ok", migrations: "ok" }, pending: 0 });
  });

  it("callers arriving together share one check: a public probe cannot use up the database's connections", async () => {
    const target = new URL(original);
    let opened = 0;
    const pipes: net.Socket[] = [];
    const proxy = net.createServer((inbound) => {
      opened++;
      const outbound = net.connect(Number(target.port || 5432), target.hostname);
      pipes.push(inbound, outbound);
      inbound.pipe(outbound).pipe(inbound);
      for (const s of [inbound, outbound]) s.on("error", () => {});
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const through = new URL(original);
      through.hostname = "127.0.0.1";
      through.port = String((proxy.address() as net.AddressInfo).port);
      Object.assign(env(), { DATABASE_URL: through.toString() });
      const answers = await Promise.all(Array.from({ length: 40 }, () => checkReadiness()));
      expect(new Set(answers.map((a) => JSON.stringify(a)))).toEqual(new Set([JSON.stringify({ ready: true, checks: { database: "ok", migrations: "ok" }, pending: 0 })]));
      expect(opened).toBe(1);
      // A second later the database is asked again.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await checkReadiness();
      expect(opened).toBe(2);
    } finally {
      for (const s of pipes) s.destroy();
      proxy.close();
    }
  });

  it("answers within its limit when the database accepts the connection and then says nothing", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      Object.assign(env(), { DATABASE_URL: `postgresql://latch@127.0.0.1:${(silent.address() as net.AddressInfo).port}/latch` });
      const started = Date.now();
      expect(await checkReadiness()).toEqual({ ready: false, checks: { database: "unreachable", migrations: "unknown" }, pending: 0 });
      expect(Date.now() - started).toBeLessThan(8_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

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

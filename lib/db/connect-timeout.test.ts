import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seed } from "@/prisma/seed";
import { applyMigrations, CONNECT_TIMEOUT_MS } from "./migrate";

/**
 * A database that accepts TCP and never answers (a hung server, a proxy whose backend is gone): the
 * console's requests and `npm run up`/`db:migrate`/`db:seed` must fail with an error, not wait for ever.
 */
const PORT = 3961;
const silentUrl = `postgresql://latch:not-shown@127.0.0.1:${PORT}/latch`;
let silent: net.Server;
const open = new Set<net.Socket>();

beforeAll(async () => {
  silent = net.createServer((socket) => {
    open.add(socket);
    socket.resume(); // reads the startup message, never replies
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => silent.listen(PORT, "127.0.0.1", resolve));
  // lib/db reads DATABASE_URL once, on first use: point this file's app pool at the silent server.
  process.env.DATABASE_URL = silentUrl;
});

afterAll(async () => {
  for (const socket of open) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

/** How the promise settled, and after how long. */
async function settle(work: Promise<unknown>): Promise<{ error: string | undefined; ms: number }> {
  const started = Date.now();
  const error = await work.then(
    () => undefined,
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );
  return { error, ms: Date.now() - started };
}

describe("a database that accepts TCP and never answers", () => {
  it("fails migrations, the seed and the app's queries within the connect timeout, naming the server but not the password", async () => {
    const { db, sql } = await import("@/lib/db");
    const [migrate, seeded, query] = await Promise.all([
      settle(applyMigrations(silentUrl)),
      settle(seed(silentUrl)),
      settle(sql(db(), "SELECT 1", [])),
    ]);
    for (const script of [migrate, seeded]) {
      expect(script.error).toMatch(`The database at 127.0.0.1:${PORT}/latch did not accept a session within 10 s`);
      expect(script.error).not.toContain("not-shown");
    }
    expect(query.error).toMatch(/timeout/i);
    for (const outcome of [migrate, seeded, query]) {
      expect(outcome.ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 500);
      expect(outcome.ms).toBeLessThan(CONNECT_TIMEOUT_MS + 3_000);
    }
    // Nothing is left connected to the silent server.
    await expect.poll(() => open.size).toBe(0);
  });
});

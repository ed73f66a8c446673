import net from "node:net";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { logger } from "@/lib/log";
import { checkReadiness, reportAtStart } from "./index";

const original = env().DATABASE_URL;
afterEach(() => {
  Object.assign(env(), { DATABASE_URL: original });
});
// Each test asks afresh, not within the second an earlier answer is kept.
beforeEach(() => {
  (globalThis as { latchReadiness?: unknown }).latchReadiness = undefined;
});

/**
 * Runs `fn` with DATABASE_URL pointed at a relay in front of the database, which counts connections
 * and passes the database's answers on through `deliver` (at once, unless told otherwise).
 */
async function throughRelay(fn: (relay: { opened: () => number }) => Promise<void>, deliver: (chunk: Buffer, to: net.Socket) => void = (chunk, to) => void to.write(chunk)) {
  const target = new URL(original);
  let opened = 0;
  const pipes: net.Socket[] = [];
  const relay = net.createServer((inbound) => {
    opened++;
    const outbound = net.connect(Number(target.port || 5432), target.hostname);
    pipes.push(inbound, outbound);
    inbound.pipe(outbound);
    outbound.on("data", (chunk: Buffer) => deliver(chunk, inbound));
    for (const s of [inbound, outbound]) s.on("error", () => {});
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  try {
    const through = new URL(original);
    through.hostname = "127.0.0.1";
    through.port = String((relay.address() as net.AddressInfo).port);
    Object.assign(env(), { DATABASE_URL: through.toString() });
    await fn({ opened: () => opened });
  } finally {
    for (const s of pipes) s.destroy();
    relay.close();
  }
}

describe("readiness", () => {
  it("is ready when the database answers and every migration is applied, and names none of them", async () => {
    expect(await checkReadiness()).toEqual({ ready: true, checks: { database: "ok", migrations: "ok", encryption: "ok" }, pending: 0 });
  });

  it("is not ready while the database holds data keys under a master key this instance is not given", async () => {
    // As after a lost .data/local-secrets.json, a mistyped key, or a previous key dropped before the rewrap.
    const orphan = await db().dataKey.create({ data: { wrappedKey: new Uint8Array(61), masterKeyId: "0000000000000000" } });
    try {
      expect(await checkReadiness()).toEqual({ ready: false, checks: { database: "ok", migrations: "ok", encryption: "missing_master_key" }, pending: 0 });
    } finally {
      await db().dataKey.delete({ where: { id: orphan.id } });
    }
    (globalThis as { latchReadiness?: unknown }).latchReadiness = undefined;
    expect(await checkReadiness()).toMatchObject({ ready: true, checks: { encryption: "ok" } });
  });

  it("is not ready without any master key: nothing could be sealed or opened", async () => {
    const key = env().LATCH_MASTER_KEY;
    Object.assign(env(), { LATCH_MASTER_KEY: undefined });
    try {
      expect(await checkReadiness()).toEqual({ ready: false, checks: { database: "ok", migrations: "ok", encryption: "no_master_key" }, pending: 0 });
    } finally {
      Object.assign(env(), { LATCH_MASTER_KEY: key });
    }
  });

  it("the time limit is for the whole check, not for each step of it", async () => {
    // Every answer of the database arrives 2 s late: each step is within 5 s, all of them are not.
    await throughRelay(
      async () => {
        const started = Date.now();
        expect(await checkReadiness()).toMatchObject({ ready: false, checks: { database: "unreachable" } });
        expect(Date.now() - started).toBeLessThan(7_000);
      },
      (chunk, to) => void setTimeout(() => to.writable && to.write(chunk), 2_000),
    );
  });

  it("callers arriving together share one check: a public probe cannot use up the database's connections", async () => {
    await throughRelay(async ({ opened }) => {
      const answers = await Promise.all(Array.from({ length: 40 }, () => checkReadiness()));
      expect(new Set(answers.map((a) => JSON.stringify(a)))).toEqual(new Set([JSON.stringify({ ready: true, checks: { database: "ok", migrations: "ok", encryption: "ok" }, pending: 0 })]));
      expect(opened()).toBe(1);
      // A second later the database is asked again.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await checkReadiness();
      expect(opened()).toBe(2);
    });
  });

  it("answers within its limit when the database accepts the connection and then says nothing", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      Object.assign(env(), { DATABASE_URL: `postgresql://latch@127.0.0.1:${(silent.address() as net.AddressInfo).port}/latch` });
      const started = Date.now();
      expect(await checkReadiness()).toEqual({ ready: false, checks: { database: "unreachable", migrations: "unknown", encryption: "unknown" }, pending: 0 });
      expect(Date.now() - started).toBeLessThan(8_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe("start-up report", () => {
  it("names pending migrations and the command that applies them, on a database `npm start` found empty", async () => {
    const name = `latch_test_empty_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: original });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const error = vi.spyOn(logger(), "error").mockImplementation(() => undefined);
    try {
      const empty = new URL(original);
      empty.pathname = `/${name}`;
      Object.assign(env(), { DATABASE_URL: empty.toString() });
      await reportAtStart();
      expect(error).toHaveBeenCalledTimes(1);
      const [fields, message] = error.mock.calls[0] as unknown as [{ pending: number; first: string }, string];
      expect(fields.pending).toBeGreaterThan(10);
      expect(fields.first).toMatch(/_foundation$/);
      expect(message).toContain("run `npm run db:migrate`");
    } finally {
      error.mockRestore();
      Object.assign(env(), { DATABASE_URL: original });
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
    }
  });

  it("says nothing is wrong on a migrated database with its key", async () => {
    const error = vi.spyOn(logger(), "error").mockImplementation(() => undefined);
    const info = vi.spyOn(logger(), "info").mockImplementation(() => undefined);
    try {
      await reportAtStart();
      expect(error).not.toHaveBeenCalled();
      expect(info).toHaveBeenCalledWith(expect.objectContaining({ keyId: expect.any(String) }), "encryption: running with this master key");
    } finally {
      error.mockRestore();
      info.mockRestore();
    }
  });
});

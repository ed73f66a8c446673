import { randomBytes } from "node:crypto";
import Redis from "ioredis";

/**
 * A throwaway ACL user on the machine's Redis (127.0.0.1:6379, whose default user needs no
 * password), with full rights on keys prefixed by `keyPrefix` only. Call cleanup() to delete the
 * user and its keys.
 */
export type RedisUser = {
  host: string;
  port: number;
  username: string;
  password: string;
  /** The user may only touch keys and channels starting with this. */
  keyPrefix: string;
  /** A client as the default (admin) user, for checks and fixtures. */
  admin(): Redis;
  cleanup(): Promise<void>;
};

const ADMIN = { host: "127.0.0.1", port: 6379 };

export async function createRedisUser(opts: { rules?: string[] } = {}): Promise<RedisUser> {
  const suffix = randomBytes(4).toString("hex");
  const username = `latch_t_${suffix}`;
  const password = `pw-${randomBytes(12).toString("base64url")}`;
  const keyPrefix = `latch_t_${suffix}:`;
  const admins: Redis[] = [];
  const admin = () => {
    const r = new Redis({ ...ADMIN, maxRetriesPerRequest: 1 });
    r.on("error", () => {});
    admins.push(r);
    return r;
  };
  const setup = admin();
  // Keys and channels limited to the prefix, so a test cannot touch anything else on a shared server.
  await setup.call("ACL", "SETUSER", username, "reset", "on", `>${password}`, `~${keyPrefix}*`, `&${keyPrefix}*`, ...(opts.rules ?? ["+@all"]));
  return {
    ...ADMIN,
    username,
    password,
    keyPrefix,
    admin,
    async cleanup() {
      const r = admin();
      await r.call("ACL", "DELUSER", username);
      let cursor = "0";
      do {
        const [next, keys] = (await r.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 500)) as [string, string[]];
        if (keys.length) await r.del(...keys);
        cursor = next;
      } while (cursor !== "0");
      await Promise.all(admins.map((a) => a.quit().catch(() => a.disconnect())));
    },
  };
}

/**
 * A Redis server of the test's own, whose default user needs `password` (requirepass): the machine's
 * asks for none. Nothing is kept on disk; close() stops it.
 */
export async function startPasswordRedis(password: string): Promise<{ host: string; port: number; close(): Promise<void> }> {
  const { spawn } = await import("node:child_process");
  const { freePort } = await import("./net");
  const port = await freePort();
  const server = spawn("redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--requirepass", password, "--save", "", "--appendonly", "no", "--dir", "/tmp"], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  for (let attempt = 0; ; attempt++) {
    const probe = new Redis({ host: "127.0.0.1", port, password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on("error", () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch (error) {
      probe.disconnect();
      if (attempt >= 100 || server.exitCode !== null) {
        server.kill("SIGKILL");
        throw new Error(`redis-server on port ${port} did not start: ${String(error)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    host: "127.0.0.1",
    port,
    async close() {
      server.kill("SIGTERM");
      await exited;
    },
  };
}

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

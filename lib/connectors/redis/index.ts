import "server-only";
import Redis from "ioredis";
import { z } from "zod";
import { resolveTargetAddress } from "@/lib/net/egress";
import { blankToUndefined, booleanish, hostSchema, within, tlsOptions } from "../socket-shared";
import { ConnectorError, OperationInputError, type Connector, type Operation } from "../types";
import { classifyRedisError, redisTimeout, toRedisError, type RedisTarget } from "./classify";

export const redisConfigSchema = z.object({
  host: hostSchema("cache.example.com"),
  port: z.preprocess(blankToUndefined, z.coerce.number().int().min(1, "A port from 1 to 65535.").max(65535, "A port from 1 to 65535.").default(6379)),
  username: z.preprocess(blankToUndefined, z.string().trim().max(256).optional()),
  db: z.preprocess(blankToUndefined, z.coerce.number().int().min(0, "A database number from 0 up.").max(100_000).default(0)),
  tls: booleanish(false),
  caCertificate: z.preprocess(
    blankToUndefined,
    z.string().trim().max(200_000).refine((v) => v.includes("-----BEGIN CERTIFICATE-----"), "Paste the CA certificate in PEM form (-----BEGIN CERTIFICATE----- …).").optional(),
  ),
});

type Config = z.output<typeof redisConfigSchema>;

const targets = new WeakMap<Redis, RedisTarget>();
// Clients that let a command time out: they get no new work, and close once their callers are done.
const suspect = new WeakSet<Redis>();



/**
 * Commands the `command` operation runs: reads and writes on keys, plus PUBLISH. Nothing that
 * administers the server, runs scripts, blocks, or walks the whole keyspace at once (KEYS: use SCAN).
 */
export const ALLOWED_COMMANDS = new Set([
  "GET", "SET", "DEL", "UNLINK", "EXISTS", "EXPIRE", "PEXPIRE", "PERSIST", "TTL", "PTTL", "TYPE", "STRLEN",
  "INCR", "INCRBY", "DECR", "DECRBY", "MGET", "MSET",
  "HGET", "HMGET", "HSET", "HGETALL", "HDEL", "HEXISTS", "HLEN",
  "LPUSH", "RPUSH", "LPOP", "RPOP", "LRANGE", "LLEN",
  "SADD", "SREM", "SMEMBERS", "SISMEMBER", "SCARD",
  "ZADD", "ZREM", "ZRANGE", "ZSCORE", "ZCARD",
  "PUBLISH", "SCAN",
]);

const commandInput = z.object({
  command: z
    .string()
    .trim()
    .regex(/^[A-Za-z]{1,32}$/, "A Redis command name such as GET or HSET.")
    .refine((c) => ALLOWED_COMMANDS.has(c.toUpperCase()), { error: (issue) => `The command ${String(issue.input).toUpperCase()} is not allowed. Allowed: ${[...ALLOWED_COMMANDS].join(", ")}.` })
    .meta({ description: `Case-insensitive; one of ${[...ALLOWED_COMMANDS].join(", ")}.` }),
  args: z.array(z.string().max(1024 * 1024)).max(1000).default([]),
});

/** JSON-ready replies: RESP3 maps as objects, sets as arrays, binary-safe strings as text. */
function jsonReply(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), jsonReply(x)]));
  if (v instanceof Set) return [...v].map(jsonReply);
  if (Array.isArray(v)) return v.map(jsonReply);
  if (typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonReply(x)]));
  return v;
}

const command: Operation<Redis, typeof commandInput, { result: unknown }> = {
  label: "Run a Redis command",
  description: `Runs one command from an allow-list (${[...ALLOWED_COMMANDS].join(" ")}) with string arguments, e.g. { "command": "HSET", "args": ["user:1", "name", "Ada"] }. Replies come back as JSON (hashes as objects).`,
  input: commandInput,
  async run(client, input, { timeoutMs }) {
    const target = targets.get(client) ?? { host: "?", port: 0 };
    const name = input.command.toUpperCase();
    // The schema refuses these already; kept so a direct caller cannot get round the allow-list.
    if (!ALLOWED_COMMANDS.has(name)) throw new OperationInputError("command", `The command ${name} is not allowed. Allowed: ${[...ALLOWED_COMMANDS].join(", ")}.`);
    try {
      // One connection serves concurrent invokes: a timeout answers this caller only, and the client is
      // marked so new work goes to a fresh one while the others' replies still arrive here.
      const reply = await within(client.call(name, ...input.args), timeoutMs, () => {
        suspect.add(client);
        return redisTimeout(target, timeoutMs);
      });
      return { result: jsonReply(reply) };
    } catch (error) {
      throw toRedisError(error, target);
    }
  },
};

export const redisConnector: Connector<typeof redisConfigSchema, Redis> = {
  kind: "redis",
  label: "Redis",
  description: "A standalone Redis (or Valkey, KeyDB, Amazon ElastiCache, Azure Cache…), reached with a password or an ACL user name and password.",
  fields: [
    { name: "host", label: "Host", type: "text", required: true, placeholder: "cache.example.com", help: "Host name or IP address of the server, without scheme or port." },
    { name: "port", label: "Port", type: "number", default: 6379 },
    { name: "username", label: "ACL user", type: "text", placeholder: "latch", help: "Redis 6+ ACL user. Leave empty to log in as the default user with a password only (requirepass)." },
    { name: "password", label: "Password", type: "secret", required: true, usernameField: "username", help: "Resolved from its store each time Latch connects; never kept." },
    { name: "db", label: "Database number", type: "number", default: 0 },
    { name: "tls", label: "Use TLS", type: "boolean", default: false, help: "The server's certificate must be valid for the host name; there is no unverified mode. Managed services usually require TLS, often on another port." },
    {
      name: "caCertificate",
      label: "CA certificate (PEM)",
      type: "text",
      showWhen: { field: "tls", equals: ["true"] },
      placeholder: "-----BEGIN CERTIFICATE-----",
      help: "Only if a private CA issued the server's certificate. Added to the system's trusted roots.",
    },
  ],
  configSchema: redisConfigSchema,

  async open({ config, secrets, timeoutMs }) {
    const deadline = Date.now() + timeoutMs;
    const tls = config.tls ? tlsOptions(config.host, config.caCertificate) : undefined;
    const target: RedisTarget = { host: config.host, port: config.port, username: config.username, db: config.db };
    let address: string;
    try {
      address = await within(resolveTargetAddress(config.host), timeoutMs, () => redisTimeout(target, timeoutMs));
    } catch (error) {
      throw toRedisError(error, target);
    }
    const client = new Redis({
      host: address,
      port: config.port,
      username: config.username,
      password: secrets.password,
      tls,
      lazyConnect: true,
      connectTimeout: Math.max(1, deadline - Date.now()),
      // One attempt, no reconnects, no queueing: a failure surfaces at once and is reported as it is.
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
      reconnectOnError: null,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      // INFO and CLIENT SETINFO need ACL rights a narrowly scoped user may lack.
      enableReadyCheck: false,
      disableClientInfo: true,
    });
    // ioredis rejects connect() with "Connection is closed."; the cause arrives as an 'error' event.
    let cause: unknown;
    client.on("error", (error: unknown) => {
      cause ??= error;
    });
    try {
      await within(client.connect(), deadline - Date.now(), () => {
        client.disconnect();
        return redisTimeout(target, timeoutMs, config.tls);
      });
      // Selected here rather than through ioredis, which reports a failed SELECT as an event and stays on db 0.
      if (config.db !== 0) {
        await within(client.call("SELECT", String(config.db)), deadline - Date.now(), () => {
          client.disconnect();
          return redisTimeout(target, timeoutMs);
        });
      }
    } catch (error) {
      client.disconnect();
      const failure = toRedisError(error instanceof ConnectorError ? error : (cause ?? error), target);
      // Whichever timer fired first (ioredis' connectTimeout or ours), say the same thing.
      throw failure.kind === "timeout" ? redisTimeout(target, timeoutMs, config.tls) : failure;
    }
    targets.set(client, target);
    return client;
  },

  async check(client, { config, timeoutMs }) {
    const target = targets.get(client) ?? config;
    const timedOut = () => {
      client.disconnect();
      return redisTimeout(target, timeoutMs);
    };
    try {
      await within(client.call("PING"), timeoutMs, timedOut);
      let product = "Redis";
      try {
        const info = String(jsonReply(await within(client.call("INFO", "server"), timeoutMs, timedOut)));
        const field = (name: string) => new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1];
        const valkey = field("server_name") === "valkey" ? field("valkey_version") : undefined;
        product = valkey ? `Valkey ${valkey}` : `Redis ${field("redis_version") ?? "(version unknown)"}`;
      } catch (error) {
        // A user without +info still proves the login with PING.
        if (classifyRedisError(error, target)?.kind !== "permission") throw error;
      }
      return { message: `${product} · db ${config.db}` };
    } catch (error) {
      throw toRedisError(error, target);
    }
  },

  async close(client) {
    try {
      await within(client.quit(), 2000, () => new Error("quit timed out"));
    } catch {
      // Fall through to disconnect.
    }
    try {
      client.disconnect();
    } catch {
      // Already gone.
    }
  },

  classify(error, config: Config) {
    return classifyRedisError(error, config);
  },

  healthy(client) {
    return client.status === "ready" && !suspect.has(client);
  },

  operations: { command },
};

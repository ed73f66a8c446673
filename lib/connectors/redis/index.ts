import "server-only";
import Redis, { Command } from "ioredis";
import { z } from "zod";
import { resolveTargetAddress } from "@/lib/net/egress";
import { megabytes } from "@/lib/utils";
import { blankToUndefined, booleanish, hostSchema, within, tlsOptions, portSchema } from "../socket-shared";
import { refusedRequest, socketDestination, ConnectorError, OperationInputError, USER_FROM_ASSET, type Connector, type Operation, type UserSource } from "../types";
import { classifyRedisError, hostPort, redisTimeout, toRedisError, type RedisTarget } from "./classify";
import { fromDecimalText } from "@/lib/whole-number";

export const redisConfigSchema = z.object({
  host: hostSchema("cache.example.com"),
  port: portSchema(6379),
  username: z.preprocess(blankToUndefined, z.string().trim().max(256).optional()),
  db: z.preprocess((v) => fromDecimalText(blankToUndefined(v)), z.number({ error: "A database number from 0 up." }).int("A database number is a whole number.").min(0, "A database number from 0 up.").max(100_000, "A database number up to 100000.").default(0)),
  tls: booleanish(false),
  caCertificate: z.preprocess(
    blankToUndefined,
    z.string().trim().max(200_000).refine((v) => v.includes("-----BEGIN CERTIFICATE-----"), "Paste the CA certificate in PEM form (-----BEGIN CERTIFICATE----- …).").optional(),
  ),
});

type Config = z.output<typeof redisConfigSchema>;

const targets = new WeakMap<Redis, RedisTarget>();
// Clients given a password by a server that asks for none (ioredis only warns on the console): the test says so.
const passwordUnused = new WeakSet<Redis>();
const NO_PASSWORD_CONFIGURED = /without any password configured|no password is set/i;
// Clients that let a command time out: they get no new work, and close once their callers are done.
const suspect = new WeakSet<Redis>();

/**
 * The most one reply may take on the wire, as for the HTTP connectors' answers. ioredis keeps a reply
 * whole until its last byte, so a larger one (GET of a big value, LRANGE 0 -1 of a long list) is not
 * read to the end: the connection is closed once the reply passes this size.
 */
export const MAX_REPLY_BYTES = 1024 * 1024;
/** SCAN-family COUNT: how much of the keyspace the server walks in one call, blocking its other clients. */
export const MAX_SCAN_COUNT = 1000;

/**
 * Per client: the bytes of the reply now arriving, which command it answers, the head of the queue
 * before the parser read the last chunk, whether a reply passed the limit while arriving (the
 * connection is then closed), and the replies found over it only once whole (already read).
 */
type ReplyWatch = { bytes: number; answering: unknown; before: unknown; closedForOversize: unknown; overLimit: WeakSet<object> };
const watches = new WeakMap<Redis, ReplyWatch>();

function watchReplies(client: Redis): void {
  const watch: ReplyWatch = { bytes: 0, answering: undefined, before: undefined, closedForOversize: null, overLimit: new WeakSet() };
  watches.set(client, watch);
  // ioredis' parser takes a command off the queue as its reply completes. The head just before it
  // reads a chunk is the command the chunk continues or begins; the same head after it means the
  // whole chunk was that reply's, so a reply's first chunk counts as much as its others.
  client.stream.prependListener("data", () => {
    watch.before = client.commandQueue.peekFront()?.command;
  });
  client.stream.on("data", (chunk: Buffer) => {
    if (watch.closedForOversize) return;
    const head = client.commandQueue.peekFront()?.command;
    const before = watch.before;
    if (before !== head) {
      // A reply ended in this chunk. With nothing queued behind it the whole chunk was its own, so its
      // size is known (its caller is refused it); behind others, the next one's count starts afresh.
      const sofar = before === watch.answering ? watch.bytes : 0;
      if (head === undefined && before && sofar + chunk.length > MAX_REPLY_BYTES) watch.overLimit.add(before);
      watch.answering = head;
      watch.bytes = 0;
      return;
    }
    if (head !== watch.answering) {
      watch.answering = head;
      watch.bytes = 0;
    }
    watch.bytes += chunk.length;
    if (watch.bytes <= MAX_REPLY_BYTES || !head) return;
    watch.closedForOversize = head;
    suspect.add(client);
    // disconnect() only ends the writing side; the rest of the reply would still be read. Destroying
    // the socket stops the reading, and ioredis fails every command still waiting on it.
    client.disconnect();
    client.stream.destroy();
  });
}

/** client.call, with the Command kept so the reply watch can tell which reply passed the limit. */
function send(client: Redis, name: string, args: string[]): { reply: Promise<unknown>; command: Command } {
  const command = new Command(name, args, { replyEncoding: "utf8" });
  void client.sendCommand(command);
  return { reply: command.promise, command };
}

/** Why a command whose reply was cut short failed: its own reply was too large, or another's on the same connection was. */
function oversizeError(client: Redis, command: Command, target: RedisTarget, name: string): ConnectorError | null {
  const watch = watches.get(client);
  const closedFor = watch?.closedForOversize;
  const own = closedFor === command || !!watch?.overLimit.has(command);
  if (!closedFor && !own) return null;
  const limit = megabytes(MAX_REPLY_BYTES);
  if (own) {
    // A write's reply comes after Redis has done the write (SET … GET, LPOP with a count).
    if (!READ_ONLY_COMMANDS.has(name)) return new OperationInputError("command", `The reply to ${name} is larger than ${limit}, which Latch does not return. Redis did run the command: its change took effect.`);
    const instead = name === "GET" ? " Read a big value in parts with GETRANGE." : name.endsWith("SCAN") ? " Ask for fewer entries with COUNT." : " Read a big collection in parts: LRANGE or ZRANGE with a narrower range, or HSCAN, SSCAN, ZSCAN.";
    return new OperationInputError("command", `The reply to ${name} is larger than ${limit}, which Latch does not return.${instead}`);
  }
  // Redis runs commands as it reads them: this one may well have run, and only its reply was lost.
  const again = READ_ONLY_COMMANDS.has(name) ? "Run it again." : `Redis may have run it before the connection closed: check before you send the ${name} again.`;
  return new ConnectorError("unreachable", `The connection to Redis at ${hostPort(target.host, target.port)} was closed because another command's reply on it passed ${limit}, before the reply to ${name} arrived. ${again}`);
}

/**
 * The largest COUNT option of a SCAN (cursor first) or HSCAN/SSCAN/ZSCAN (key, cursor) call, if any.
 * Options come in name/value pairs, except the flags NOVALUES and NOSCORES; a pattern may itself read "COUNT".
 */
function scanCount(name: string, args: string[]): number | undefined {
  if (!name.endsWith("SCAN")) return undefined;
  let count: number | undefined;
  for (let i = name === "SCAN" ? 1 : 2; i < args.length; ) {
    const option = args[i]!.toUpperCase();
    // Flags without a value: HSCAN's NOVALUES, Valkey's ZSCAN NOSCORES.
    if (option === "NOVALUES" || option === "NOSCORES") {
      i += 1;
      continue;
    }
    if (option === "COUNT") {
      const n = Number(args[i + 1]);
      count = Number.isNaN(n) || count === undefined ? n : Math.max(count, n);
    }
    i += 2;
  }
  return count;
}

/** Allowed commands that change nothing: after a lost reply, safe to send again. */
const READ_ONLY_COMMANDS = new Set([
  "GET", "EXISTS", "TTL", "PTTL", "TYPE", "STRLEN", "MGET", "GETRANGE",
  "HGET", "HMGET", "HGETALL", "HEXISTS", "HLEN",
  "LRANGE", "LLEN",
  "SMEMBERS", "SISMEMBER", "SCARD",
  "ZRANGE", "ZSCORE", "ZCARD",
  "SCAN", "HSCAN", "SSCAN", "ZSCAN",
]);
/** Allowed commands that change data (or, PUBLISH, deliver it): a lost reply does not mean they did not run. */
const WRITE_COMMANDS = new Set([
  "SET", "DEL", "UNLINK", "EXPIRE", "PEXPIRE", "PERSIST", "INCR", "INCRBY", "DECR", "DECRBY", "MSET",
  "HSET", "HDEL", "LPUSH", "RPUSH", "LPOP", "RPOP", "SADD", "SREM", "ZADD", "ZREM", "PUBLISH",
]);

/**
 * Commands the `command` operation runs: reads and writes on keys, plus PUBLISH. Nothing that
 * administers the server, runs scripts, blocks, or walks the whole keyspace at once (KEYS: use SCAN).
 */
export const ALLOWED_COMMANDS = new Set([...READ_ONLY_COMMANDS, ...WRITE_COMMANDS]);

const commandInputSchema = z.strictObject({
  command: z
    .string()
    .trim()
    .regex(/^[A-Za-z]{1,32}$/, "A Redis command name such as GET or HSET.")
    .refine((c) => ALLOWED_COMMANDS.has(c.toUpperCase()), { error: (issue) => `The command ${String(issue.input).toUpperCase()} is not allowed. Allowed: ${[...ALLOWED_COMMANDS].join(", ")}.` })
    .meta({ description: `Case-insensitive; one of ${[...ALLOWED_COMMANDS].join(", ")}.` }),
  args: z.array(z.string().max(1024 * 1024)).max(1000).default([]),
}).superRefine((input, ctx) => {
  const count = scanCount(input.command.toUpperCase(), input.args);
  if (count !== undefined && !(count <= MAX_SCAN_COUNT)) {
    ctx.addIssue({ code: "custom", path: ["args"], message: `COUNT may be at most ${MAX_SCAN_COUNT}: the server walks that many entries in one call while its other clients wait. Page with the cursor instead.` });
  }
});

/** HGETALL as the object the operation promises: RESP2 answers a flat field, value, field, value list (RESP3 a map). */
function hashReply(v: unknown): unknown {
  if (!Array.isArray(v)) return jsonReply(v);
  const hash: Record<string, unknown> = {};
  for (let i = 0; i + 1 < v.length; i += 2) Object.defineProperty(hash, String(v[i]), { value: jsonReply(v[i + 1]), enumerable: true, writable: true, configurable: true });
  return hash;
}

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

const commandOutputSchema = z.strictObject({
  result: z
    .unknown()
    .meta({ description: "The command's reply as JSON: text, a number (a 64-bit integer beyond 2^53 as text), null, an array, or an object (HGETALL and other hashes)." }),
});

const command: Operation<Redis, typeof commandInputSchema, z.output<typeof commandOutputSchema>> = {
  label: "Run a Redis command",
  description: `Runs one command from an allow-list (${[...ALLOWED_COMMANDS].join(" ")}) with string arguments, e.g. { "command": "HSET", "args": ["user:1", "name", "Ada"] }. Replies come back as JSON (hashes as objects). A reply larger than ${megabytes(MAX_REPLY_BYTES)} is refused: read big values and collections in parts (GETRANGE, LRANGE, HSCAN, SSCAN, ZSCAN with COUNT up to ${MAX_SCAN_COUNT}).`,
  input: commandInputSchema,
  output: commandOutputSchema,
  async run(client, input, { timeoutMs }) {
    const target = targets.get(client) ?? { host: "?", port: 0 };
    const name = input.command.toUpperCase();
    // The schema refuses these already; kept so a direct caller cannot get round the allow-list.
    if (!ALLOWED_COMMANDS.has(name)) throw new OperationInputError("command", `The command ${name} is not allowed. Allowed: ${[...ALLOWED_COMMANDS].join(", ")}.`);
    const { reply, command: sent } = send(client, name, input.args);
    try {
      // One connection serves concurrent invokes: a timeout answers this caller only, and the client is
      // marked so new work goes to a fresh one while the others' replies still arrive here.
      const value = await within(reply, timeoutMs, () => {
        suspect.add(client);
        return redisTimeout(target, timeoutMs);
      });
      // Its last chunk took it over the limit: read whole, but not returned.
      if (watches.get(client)?.overLimit.has(sent)) throw oversizeError(client, sent, target, name);
      return { result: name === "HGETALL" ? hashReply(value) : jsonReply(value) };
    } catch (error) {
      throw oversizeError(client, sent, target, name) ?? refusedRequest(toRedisError(error, target));
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
    {
      name: "password",
      label: "Password",
      type: "secret",
      usernameField: "username",
      help: "Leave it empty only for a server that asks for none. From a credential asset: read from its store when Latch connects, never kept. Typed: stored encrypted.",
    },
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
    const target: RedisTarget = { host: config.host, port: config.port, username: config.username, db: config.db, noPassword: !secrets.password, [USER_FROM_ASSET]: (config as UserSource)[USER_FROM_ASSET] };
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
    // ioredis goes on when the server answers that it has no password, so a mistyped one would pass
    // unnoticed: asked again here, once per new client, so that the test can say it was not checked.
    if (secrets.password && !config.username) {
      try {
        await within(client.call("AUTH", secrets.password), deadline - Date.now(), () => {
          client.disconnect();
          return redisTimeout(target, timeoutMs);
        });
      } catch (error) {
        if (!(error instanceof Error && NO_PASSWORD_CONFIGURED.test(error.message))) {
          client.disconnect();
          throw toRedisError(error, target);
        }
        passwordUnused.add(client);
      }
    }
    targets.set(client, target);
    watchReplies(client);
    return client;
  },

  async check(client, { config, timeoutMs }) {
    const target = targets.get(client) ?? config;
    const timedOut = () => {
      client.disconnect();
      return redisTimeout(target, timeoutMs);
    };
    try {
      await within(send(client, "PING", []).reply, timeoutMs, timedOut);
      let product = "Redis";
      try {
        const info = String(jsonReply(await within(send(client, "INFO", ["server"]).reply, timeoutMs, timedOut)));
        const field = (name: string) => new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1];
        const valkey = field("server_name") === "valkey" ? field("valkey_version") : undefined;
        product = valkey ? `Valkey ${valkey}` : `Redis ${field("redis_version") ?? "(version unknown)"}`;
      } catch (error) {
        // A user without +info still proves the login with PING.
        if (classifyRedisError(error, target)?.kind !== "permission") throw error;
      }
      const unused = passwordUnused.has(client) ? " · this server asks for no password, so the one given was not checked" : "";
      return { message: `${product} · db ${config.db}${unused}` };
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

  destination: (config) => socketDestination(config, 6379, config.tls === true),

  classify(error, config: Config) {
    return classifyRedisError(error, config);
  },

  healthy(client) {
    return client.status === "ready" && !suspect.has(client);
  },

  operations: { command },
};

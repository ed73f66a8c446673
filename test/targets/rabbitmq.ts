import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import amqp from "amqplib";

const run = promisify(execFile);

/**
 * A throwaway user on the machine's RabbitMQ (127.0.0.1:5672) with full permissions on the "/"
 * vhost, made with rabbitmqctl (needs root or the rabbitmq user; each call takes about a second).
 * Call cleanup() to delete the user and any queues made through declareQueue().
 */
export type RabbitUser = {
  host: string;
  port: number;
  vhost: string;
  username: string;
  password: string;
  /** Declares a uniquely named queue on "/" as this user; cleanup() deletes it. */
  declareQueue(): Promise<string>;
  /** Reads one message from a queue with a separate connection, waiting up to timeoutMs. */
  receive(queue: string, timeoutMs?: number): Promise<amqp.Message | null>;
  cleanup(): Promise<void>;
};

const HOST = "127.0.0.1";
const PORT = 5672;

async function rabbitmqctl(...args: string[]) {
  await run("rabbitmqctl", ["--quiet", ...args], { timeout: 60_000 });
}

/** `permissions`: configure, write and read patterns on "/" (default all), or false for none at all. */
export async function createRabbitUser(opts: { permissions?: false | [string, string, string] } = {}): Promise<RabbitUser> {
  const suffix = randomBytes(4).toString("hex");
  const username = `latch_t_${suffix}`;
  const password = `pw-${randomBytes(12).toString("base64url")}`;
  await rabbitmqctl("add_user", username, password);
  if (opts.permissions !== false) await rabbitmqctl("set_permissions", "-p", "/", username, ...(opts.permissions ?? [".*", ".*", ".*"]));
  const url = { protocol: "amqp", hostname: HOST, port: PORT, username, password, vhost: "/" };
  const queues: string[] = [];

  const withChannel = async <T>(fn: (ch: amqp.Channel) => Promise<T>): Promise<T> => {
    const conn = await amqp.connect(url);
    conn.on("error", () => {});
    try {
      const ch = await conn.createChannel();
      ch.on("error", () => {});
      return await fn(ch);
    } finally {
      await conn.close().catch(() => {});
    }
  };

  return {
    host: HOST,
    port: PORT,
    vhost: "/",
    username,
    password,
    async declareQueue() {
      const name = `latch_t_${suffix}_${randomBytes(3).toString("hex")}`;
      await withChannel((ch) => ch.assertQueue(name, { durable: false }));
      queues.push(name);
      return name;
    },
    receive(queue, timeoutMs = 5000) {
      return withChannel(async (ch) => {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
          const message = await ch.get(queue, { noAck: true });
          if (message) return message;
          await new Promise((r) => setTimeout(r, 50));
        }
        return null;
      });
    },
    async cleanup() {
      if (queues.length > 0) await withChannel(async (ch) => {
        for (const q of queues) await ch.deleteQueue(q).catch(() => {});
      }).catch(() => {});
      await rabbitmqctl("delete_user", username);
    },
  };
}

import "server-only";
import type { Socket } from "node:net";
import amqp, { type ChannelModel } from "amqplib";
import { z } from "zod";
import { MAX_REQUEST_BYTES } from "@/lib/api/limits";
import { resolveTargetAddress } from "@/lib/net/egress";
import { blankToUndefined, booleanish, within, tlsOptions, hostSchema, portSchema } from "../socket-shared";
import { refusedRequest, socketDestination, withTargetCode, ConnectorError, OperationInputError, USER_FROM_ASSET, type Connector, type Operation, type UserSource } from "../types";
import { classifyRabbitError, rabbitTimeout, toRabbitError, type RabbitTarget } from "./classify";


export const rabbitmqConfigSchema = z.object({
  host: hostSchema("mq.example.com"),
  port: portSchema(5672),
  vhost: z.preprocess(blankToUndefined, z.string().trim().max(255).default("/")),
  username: z.string({ error: "Enter the user name." }).trim().min(1, "Enter the user name.").max(256),
  tls: booleanish(false),
  caCertificate: z.preprocess(
    blankToUndefined,
    z.string().trim().max(200_000).refine((v) => v.includes("-----BEGIN CERTIFICATE-----"), "Paste the CA certificate in PEM form (-----BEGIN CERTIFICATE----- …).").optional(),
  ),
});

type Config = z.output<typeof rabbitmqConfigSchema>;

const targets = new WeakMap<ChannelModel, RabbitTarget>();
/** Where messages say the broker is, and whom it refused (by where the user came from, if from an asset). */
const targetOf = (config: Config): RabbitTarget => ({ host: config.host, port: config.port, vhost: config.vhost, username: config.username, [USER_FROM_ASSET]: (config as UserSource)[USER_FROM_ASSET] });
// The broker's flow control: while blocked (memory or disk alarm) it accepts no publishes.
const blocked = new WeakMap<ChannelModel, boolean>();
// Connections that closed, or let a publish time out: they get no new work.
const unusable = new WeakSet<ChannelModel>();



/** Ends the socket at once: amqplib has no public way to, and a blocked broker never answers a close. */
function destroy(model: ChannelModel) {
  try {
    // With an error: amqplib closes the connection (its heartbeat timers too) on the socket's
    // 'error' or 'end', not on a bare 'close'. Every model here has an 'error' listener first.
    (model.connection as unknown as { stream?: Socket }).stream?.destroy(new Error("closed by Latch"));
  } catch {
    // Already gone.
  }
}

/** AMQP short strings (exchange, routing key, content type) hold at most 255 bytes, not characters; `trim` first when asked (so the limit is documented as maxLength). */
const shortString = (trim = false) =>
  (trim ? z.string().trim() : z.string()).max(255).refine((v) => Buffer.byteLength(v, "utf8") <= 255, "At most 255 bytes (UTF-8): shorten it, or use fewer non-ASCII characters.");

/** A message property: a short string, without control characters (a NUL or a line break in a content type reaches consumers as is). */
const property = (description: string) =>
  shortString(true)
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), "Control characters are not allowed here.")
    // Left blank is left out, not sent as an empty property.
    .transform((v) => v || undefined)
    .optional()
    .meta({ description: `${description}; at most 255 bytes.` });

const publishInputSchema = z.strictObject({
  exchange: shortString().default(""),
  routingKey: shortString(),
  body: z.string().max(MAX_REQUEST_BYTES).meta({ description: "The message body as text. The whole invoke request is limited to 1 MiB." }),
  contentType: property("The message's content type (e.g. application/json)"),
  contentEncoding: property("Its content encoding (e.g. gzip), for consumers; the body is sent as given"),
  persistent: z.boolean().optional().meta({ description: "True: the broker writes the message to disk in a durable queue (delivery mode 2)." }),
  messageId: property("An id for the message, for consumers that drop duplicates"),
  correlationId: property("The id of the request this message answers"),
  replyTo: property("The queue a reply should go to"),
  type: property("The message's type name, for consumers"),
  appId: property("The sending application's name"),
  expiration: z
    .number()
    .int("A whole number of milliseconds.")
    .min(0)
    .max(2_147_483_647)
    .optional()
    .meta({ description: "Milliseconds the message may wait in a queue before the broker drops it (per-message TTL)." }),
  priority: z.number().int("A whole number.").min(0).max(255).optional().meta({ description: "0–255; used by queues declared with x-max-priority." }),
  headers: z
    .record(
      z.string().min(1).max(255).refine((v) => Buffer.byteLength(v, "utf8") <= 255, "A header name is at most 255 bytes (UTF-8)."),
      z.union([z.string().max(4096), z.number().refine(Number.isFinite), z.boolean()]),
    )
    .refine((h) => Object.keys(h).length <= 64, "At most 64 headers.")
    .optional()
    .meta({ description: "Application headers (text, numbers, booleans), up to 64; consumers and headers exchanges read them." }),
});

const publishOutputSchema = z.strictObject({
  published: z.literal(true).meta({ description: "The broker confirmed the message." }),
  routed: z.boolean().meta({ description: "False when no queue was bound to receive it (the broker returned it as unroutable)." }),
});
export type PublishOutput = z.output<typeof publishOutputSchema>;

const publish: Operation<ChannelModel, typeof publishInputSchema, PublishOutput> = {
  label: "Publish a message",
  description:
    'Publishes one message (UTF-8 text body) to an exchange with a routing key, with the message properties given (content type, message and correlation ids, reply-to, TTL, priority, headers…), and waits for the broker to confirm it. The default exchange ("") routes to the queue named by the routing key. `routed` is false when no queue received it.',
  input: publishInputSchema,
  output: publishOutputSchema,
  async run(model, input, { timeoutMs }) {
    const target = targets.get(model) ?? { host: "?", port: 0, vhost: "?" };
    let channelError: unknown;
    let returned = false;
    let open: { close(): Promise<void> } | null = null;
    let givenUp = false;
    const work = async () => {
      // A confirm channel per publish: concurrent publishes share the connection, not a channel.
      const channel = await model.createConfirmChannel();
      open = channel;
      // The caller was told "timed out" while the channel opened: publishing now would send a
      // message they believe was not sent, and will send again.
      if (givenUp) {
        await channel.close().catch(() => {});
        throw rabbitTimeout(target, timeoutMs);
      }
      // The reason a channel closes arrives as an event; the pending calls only see "channel closed".
      channel.on("error", (error: unknown) => {
        channelError ??= error;
      });
      channel.on("return", () => {
        returned = true;
      });
      try {
        // mandatory: an unroutable message comes back (before its confirm), so `routed` can say so.
        // The properties as given: amqplib takes the ones it knows, skips those left out, and sends the TTL as text.
        const { exchange, routingKey, body, ...properties } = input;
        channel.publish(exchange, routingKey, Buffer.from(body, "utf8"), { ...properties, mandatory: true });
        await channel.waitForConfirms();
      } finally {
        // Not waited for: once the broker has confirmed, the answer is known. A broker under a memory or
        // disk alarm may not read the close for a long while, and the caller must not be told that a
        // message it holds timed out (a runner would publish it again).
        void channel.close().catch(() => {});
      }
      return { published: true as const, routed: !returned };
    };
    try {
      return await within(work(), timeoutMs, () => {
        givenUp = true;
        // Only this publish's channel is given up; other publishes on the connection carry on.
        const channel = open as { close(): Promise<void> } | null;
        void channel?.close().catch(() => {});
        unusable.add(model);
        if (blocked.get(model)) return new ConnectorError("target_error", `RabbitMQ at ${target.host}:${target.port} is refusing publishes for now (a memory or disk alarm is raised).`);
        return rabbitTimeout(target, timeoutMs);
      });
    } catch (error) {
      const cause = channelError ?? error;
      // The broker refused this publish (its exchange, its permissions), not the connection.
      if ((cause as { code?: unknown } | undefined)?.code === 404 && input.exchange) {
        throw withTargetCode(new OperationInputError("exchange", `The exchange “${input.exchange}” does not exist in the virtual host “${target.vhost}” (RabbitMQ 404 NOT_FOUND).`), 404)!;
      }
      throw channelError ? refusedRequest(toRabbitError(cause, target)) : toRabbitError(cause, target);
    }
  },
};

export const rabbitmqConnector: Connector<typeof rabbitmqConfigSchema, ChannelModel> = {
  kind: "rabbitmq",
  label: "RabbitMQ (AMQP 0-9-1)",
  description: "A RabbitMQ broker (or another AMQP 0-9-1 broker such as LavinMQ or Amazon MQ for RabbitMQ), reached with a user name and password.",
  fields: [
    { name: "host", label: "Host", type: "text", required: true, placeholder: "mq.example.com", help: "Host name or IP address of the broker, without scheme or port." },
    { name: "port", label: "Port", type: "number", default: 5672, help: "5672 for plain AMQP; usually 5671 with TLS." },
    { name: "vhost", label: "Virtual host", type: "text", default: "/", placeholder: "/" },
    { name: "username", label: "User", type: "text", required: true, placeholder: "latch" },
    { name: "password", label: "Password", type: "secret", required: true, usernameField: "username", help: "From a credential asset: read from its store when Latch connects, never kept. Typed: stored encrypted." },
    { name: "tls", label: "Use TLS (amqps)", type: "boolean", default: false, help: "The broker's certificate must be valid for the host name; there is no unverified mode." },
    {
      name: "caCertificate",
      label: "CA certificate (PEM)",
      type: "text",
      showWhen: { field: "tls", equals: ["true"] },
      placeholder: "-----BEGIN CERTIFICATE-----",
      help: "Only if a private CA issued the broker's certificate. Added to the system's trusted roots.",
    },
  ],
  configSchema: rabbitmqConfigSchema,

  async open({ config, secrets, timeoutMs }) {
    const deadline = Date.now() + timeoutMs;
    const tls = config.tls ? tlsOptions(config.host, config.caCertificate) : {};
    const target = targetOf(config);
    let address: string;
    try {
      address = await within(resolveTargetAddress(config.host), timeoutMs, () => rabbitTimeout(target, timeoutMs));
    } catch (error) {
      throw toRabbitError(error, target);
    }
    const pending = amqp.connect(
      {
        protocol: config.tls ? "amqps" : "amqp",
        hostname: address,
        port: config.port,
        username: config.username,
        password: secrets.password ?? "",
        vhost: config.vhost,
        heartbeat: 30,
      },
      { ...tls, timeout: Math.max(1, deadline - Date.now()), noDelay: true, clientProperties: { connection_name: "Latch" } },
    );
    let model: ChannelModel;
    try {
      model = await within(pending, deadline - Date.now(), () => {
        // amqplib gives no handle to abort a pending connect: if it completes after all, end it at
        // once. It needs its own error listener: a missed heartbeat or a reset would otherwise be
        // thrown from the connection's emitter, and skip the closing that frees its socket and timers.
        pending.then((late) => {
          late.on("error", () => {});
          destroy(late);
        }, () => {});
        return rabbitTimeout(target, timeoutMs);
      });
    } catch (error) {
      throw toRabbitError(error, target);
    }
    // Without a listener, a connection error (e.g. a missed heartbeat) would crash the process.
    model.on("error", () => {});
    model.on("close", () => unusable.add(model));
    model.on("blocked", () => blocked.set(model, true));
    model.on("unblocked", () => blocked.set(model, false));
    targets.set(model, target);
    return model;
  },

  async check(model, { config, timeoutMs }) {
    const target = targets.get(model) ?? targetOf(config);
    try {
      // Opening a channel is the first thing the vhost permissions and resource limits can refuse.
      const channel = await within(model.createChannel(), timeoutMs, () => {
        destroy(model);
        return rabbitTimeout(target, timeoutMs);
      });
      channel.on("error", () => {});
      await within(channel.close(), timeoutMs, () => rabbitTimeout(target, timeoutMs));
    } catch (error) {
      throw toRabbitError(error, target);
    }
    const props = model.connection.serverProperties as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : "");
    const product = text(props.product) || "AMQP broker";
    const version = text(props.version);
    return { message: `${product}${version ? ` ${version}` : ""} · vhost ${config.vhost}` };
  },

  async close(model) {
    try {
      await within(model.close(), 2000, () => new Error("close timed out"));
    } catch {
      destroy(model);
    }
  },

  destination: (config) => socketDestination(config, 5672, config.tls === true),

  classify(error, config: Config) {
    return classifyRabbitError(error, config);
  },

  healthy(model) {
    return !unusable.has(model);
  },

  operations: { publish },
};

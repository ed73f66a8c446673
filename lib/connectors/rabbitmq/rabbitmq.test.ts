import { rmSync } from "node:fs";
import net from "node:net";
import type { ChannelModel } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "@/test/emulators/tls";
import { expectConnectorError } from "@/test/targets/expect";
import { freePort, startSilentServer, startTlsProxy, type TestServer } from "@/test/targets/net";
import { createRabbitUser, type RabbitUser } from "@/test/targets/rabbitmq";
import { issueServerCert } from "@/test/targets/tls";
import { ConnectorError, OperationInputError, type Connector } from "../types";
import { classifyRabbitError } from "./classify";
import { rabbitmqConfigSchema, rabbitmqConnector, type PublishOutput } from "./index";

let target: RabbitUser;
const clients: ChannelModel[] = [];

beforeAll(async () => {
  target = await createRabbitUser();
}, 120_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => rabbitmqConnector.close(c)));
});

afterAll(async () => {
  await target?.cleanup();
}, 120_000);

function input(overrides: Record<string, unknown> = {}, password = target.password, timeoutMs = 5000, user: RabbitUser = target) {
  const config = rabbitmqConfigSchema.parse({ host: user.host, port: user.port, vhost: user.vhost, username: user.username, tls: false, ...overrides });
  return { config, secrets: { password }, timeoutMs };
}

async function open(overrides: Record<string, unknown> = {}, user: RabbitUser = target) {
  const i = input(overrides, user.password, 5000, user);
  const client = await rabbitmqConnector.open(i);
  clients.push(client);
  return { client, i };
}

function publish(client: ChannelModel, message: Record<string, unknown>, timeoutMs = 5000) {
  const op = rabbitmqConnector.operations.publish!;
  // Every result in these tests also matches the shape GET /connectors and the OpenAPI document promise.
  return op.run(client, op.input.parse(message), { timeoutMs }).then((result) => op.output.parse(result)) as Promise<PublishOutput>;
}

describe("rabbitmq connector against the machine's RabbitMQ", () => {
  it("is assignable to the registry's Connector type", () => {
    const c: Connector = rabbitmqConnector;
    expect(c.kind).toBe("rabbitmq");
  });

  it("connects and says what it reached", async () => {
    const { client, i } = await open();
    expect((await rabbitmqConnector.check(client, i)).message).toMatch(/^RabbitMQ \d+\.\d+\.\d+ · vhost \/$/);
  });

  it("reports a wrong password as credentials_rejected, without the password", async () => {
    const wrong = "definitely-Wrong-pw-123";
    const error = await expectConnectorError(rabbitmqConnector.open(input({}, wrong)), "credentials_rejected", [wrong, target.password]);
    expect(error.message).toContain("403");
  });

  it("reports nothing listening as unreachable", async () => {
    const port = await freePort();
    const error = await expectConnectorError(rabbitmqConnector.open(input({ port })), "unreachable", [target.password]);
    expect(error.message).toContain(`127.0.0.1:${port}`);
  });

  it("honours timeoutMs when the server never answers", async () => {
    const silent = await startSilentServer();
    try {
      const started = Date.now();
      await expectConnectorError(rabbitmqConnector.open(input({ port: silent.port }, target.password, 400)), "timeout");
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await silent.close();
    }
  });

  it("ends a connection that opens only after the time limit, even when the broker then goes silent", async () => {
    // Each of the broker's answers arrives 300 ms late: within amqplib's idle timeout, but the three
    // of the handshake take longer than the 500 ms the open has. Once the broker has said
    // Connection.Open-Ok, nothing passes either way and nothing is closed (a broker that hangs).
    const OPEN_OK = Buffer.from([0x00, 0x0a, 0x00, 0x29]);
    let opened = false;
    let clientClosed!: () => void;
    const closed = new Promise<void>((resolve) => (clientClosed = resolve));
    const sockets: net.Socket[] = [];
    const proxy = net.createServer((client) => {
      const upstream = net.connect(5672, "127.0.0.1");
      sockets.push(client, upstream);
      client.on("data", (chunk: Buffer) => void (opened || upstream.write(chunk)));
      upstream.on("data", (chunk: Buffer) =>
        setTimeout(() => {
          if (opened) return;
          client.write(chunk);
          if (chunk.includes(OPEN_OK)) opened = true;
        }, 300),
      );
      for (const socket of [client, upstream]) socket.on("error", () => {});
      client.on("close", () => {
        upstream.destroy();
        clientClosed();
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const port = (proxy.address() as net.AddressInfo).port;
      await expectConnectorError(rabbitmqConnector.open(input({ port }, target.password, 500)), "timeout");
      await expect.poll(() => opened, { timeout: 10_000 }).toBe(true);
      // Latch ends it at once: a polite close would wait for an answer that never comes.
      const ended = await Promise.race([closed.then(() => true), new Promise((r) => setTimeout(() => r(false), 3000))]);
      expect(ended).toBe(true);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it("refuses cloud metadata addresses under the egress policy", async () => {
    await expectConnectorError(rabbitmqConnector.open(input({ host: "169.254.169.254" })), "egress_denied");
  });

  it("reports a vhost the user may not use, or that does not exist, as permission", async () => {
    const error = await expectConnectorError(rabbitmqConnector.open(input({ vhost: "latch-no-such-vhost" })), "permission", [target.password]);
    expect(error.message).toContain("latch-no-such-vhost");
    const outsider = await createRabbitUser({ permissions: false });
    try {
      await expectConnectorError(rabbitmqConnector.open(input({}, outsider.password, 5000, outsider)), "permission", [outsider.password]);
    } finally {
      await outsider.cleanup();
    }
  }, 60_000);

  it("publishes with confirms, and a separate connection receives the message", async () => {
    const queue = await target.declareQueue();
    const { client } = await open();
    const body = JSON.stringify({ order: 42, note: "héllo" });
    expect(await publish(client, { routingKey: queue, body, contentType: "application/json", persistent: true })).toEqual({ published: true, routed: true });
    const received = await target.receive(queue);
    expect(received?.content.toString("utf8")).toBe(body);
    expect(received?.properties.contentType).toBe("application/json");
    expect(received?.properties.deliveryMode).toBe(2);
  });

  it("does not publish a message after telling the caller it timed out", async () => {
    const queue = await target.declareQueue();
    const { client } = await open();
    // A broker slow to open the publish's channel: it opens only after the caller's time is up.
    const openChannel = client.createConfirmChannel.bind(client);
    client.createConfirmChannel = async () => {
      await new Promise((resolve) => setTimeout(resolve, 600));
      return openChannel();
    };
    await expect(publish(client, { routingKey: queue, body: "late" }, 200)).rejects.toMatchObject({ kind: "timeout" });
    expect(await target.receive(queue, 1500)).toBeNull();
  });

  it("answers a confirmed publish as published, however long closing its channel takes", async () => {
    const queue = await target.declareQueue();
    const { client } = await open();
    // A broker that confirmed, then reads the channel's close late (under a memory or disk alarm it
    // stops reading the connection): the message is in, and a caller told otherwise would send it again.
    const openChannel = client.createConfirmChannel.bind(client);
    client.createConfirmChannel = async () => {
      const channel = await openChannel();
      const close = channel.close.bind(channel);
      channel.close = () => new Promise<void>((resolve) => setTimeout(() => void close().then(resolve, () => resolve()), 1500));
      return channel;
    };
    expect(await publish(client, { routingKey: queue, body: "confirmed" }, 700)).toEqual({ published: true, routed: true });
    expect((await target.receive(queue))?.content.toString("utf8")).toBe("confirmed");
    // Nor was the connection given up as broken: the next publish uses it.
    client.createConfirmChannel = openChannel;
    expect(await publish(client, { routingKey: queue, body: "next" })).toEqual({ published: true, routed: true });
    expect(rabbitmqConnector.healthy!(client)).toBe(true);
  });

  it("says when a confirmed message reached no queue", async () => {
    const { client } = await open();
    expect(await publish(client, { routingKey: "latch-no-such-queue", body: "x" })).toEqual({ published: true, routed: false });
    // The connection stays usable.
    const queue = await target.declareQueue();
    expect(await publish(client, { routingKey: queue, body: "y" })).toEqual({ published: true, routed: true });
  });

  it("sends the message properties given: ids, reply-to, TTL, priority, headers; and refuses a control character in one", async () => {
    const queue = await target.declareQueue();
    const { client } = await open();
    const properties = { messageId: "msg-1", correlationId: "req-9", replyTo: "replies", type: "order.created", appId: "billing", contentEncoding: "identity", expiration: 60_000, priority: 5, headers: { tenant: "acme", attempt: 2, urgent: true } };
    expect(await publish(client, { routingKey: queue, body: "{}", ...properties })).toEqual({ published: true, routed: true });
    const received = await target.receive(queue);
    expect(received?.properties).toMatchObject({ ...properties, expiration: "60000", headers: expect.objectContaining(properties.headers) });
    const input = rabbitmqConnector.operations.publish!.input;
    for (const bad of [{ contentType: "text/plain\u0000x" }, { messageId: "a\nb" }, { priority: 256 }, { expiration: 1.5 }, { headers: { x: { nested: 1 } } }]) {
      expect(input.safeParse({ routingKey: "k", body: "x", ...bad }).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it("measures names in bytes, as AMQP does: 255 characters of non-ASCII text are refused with the field named", () => {
    const input = rabbitmqConnector.operations.publish!.input;
    const wide = "é".repeat(200); // 400 bytes
    for (const field of ["exchange", "routingKey", "contentType"]) {
      const result = input.safeParse({ routingKey: "k", body: "x", [field]: wide });
      expect(result.success, field).toBe(false);
      expect(result.error?.issues[0]?.path, field).toEqual([field]);
    }
    expect(input.safeParse({ routingKey: "é".repeat(127), body: "x" }).success).toBe(true);
  });

  it("names a missing exchange as the input's problem, with the broker's code", async () => {
    const { client } = await open();
    const error = await expectConnectorError(publish(client, { exchange: "latch-no-such-exchange", routingKey: "k", body: "x" }), "config");
    expect(error).toBeInstanceOf(OperationInputError);
    expect((error as OperationInputError).field).toBe("exchange");
    expect(error.message).toContain("latch-no-such-exchange");
    expect(error.targetCode).toBe("404");
  });

  it("maps a publish refused for a missing write permission to target_error: the request's, not the sign-in's", async () => {
    // May configure and read anything, write nothing.
    const reader = await createRabbitUser({ permissions: [".*", "^$", ".*"] });
    try {
      const { client } = await open({}, reader);
      const error = await expectConnectorError(publish(client, { routingKey: "anything", body: "x" }), "target_error");
      expect(error.message).toContain("lacks the configure, write or read permission");
      expect(error.targetCode).toBe("403");
    } finally {
      await reader.cleanup();
    }
  }, 60_000);

  it("closes cleanly, twice", async () => {
    const { client } = await open();
    await expect(rabbitmqConnector.close(client)).resolves.toBeUndefined();
    await expect(rabbitmqConnector.close(client)).resolves.toBeUndefined();
  });

  describe("TLS (through a TLS-terminating proxy in front of the same broker)", () => {
    let pki: TestPki;
    let proxy: TestServer;
    let ipOnlyProxy: TestServer;

    beforeAll(async () => {
      pki = createTestPki();
      proxy = await startTlsProxy({ cert: pki.serverCert, key: pki.serverKey, targetPort: target.port });
      ipOnlyProxy = await startTlsProxy({ ...issueServerCert(pki, ["IP:127.0.0.1", "DNS:other.test"]), targetPort: target.port });
    });

    afterAll(async () => {
      await proxy?.close();
      await ipOnlyProxy?.close();
      if (pki) rmSync(pki.dir, { recursive: true, force: true });
    });

    it("connects with a verified certificate and publishes", async () => {
      const { client, i } = await open({ host: "localhost", port: proxy.port, tls: true, caCertificate: pki.caCert });
      expect((await rabbitmqConnector.check(client, i)).message).toContain("RabbitMQ");
      const queue = await target.declareQueue();
      await publish(client, { routingKey: queue, body: "over tls" });
      expect((await target.receive(queue))?.content.toString()).toBe("over tls");
    });

    it("refuses an untrusted certificate", async () => {
      await expectConnectorError(rabbitmqConnector.open(input({ host: "localhost", port: proxy.port, tls: true })), "tls");
      await expectConnectorError(rabbitmqConnector.open(input({ host: "localhost", port: proxy.port, tls: true, caCertificate: pki.otherCaCert })), "tls");
    });

    it("checks the certificate against the host name entered, not the address dialled", async () => {
      const error = await expectConnectorError(rabbitmqConnector.open(input({ host: "localhost", port: ipOnlyProxy.port, tls: true, caCertificate: pki.caCert })), "tls");
      expect(error.message).toMatch(/is for a different host name .*Use the address the certificate was issued for, or have the certificate reissued to include localhost\.$/);
    });

    it("fails clearly when TLS meets a plain AMQP port", async () => {
      const error = await expectConnectorError(rabbitmqConnector.open(input({ tls: true }, target.password, 2000)), "tls");
      expect(error.message).toContain("TLS");
    });
  });
});

describe("rabbitmq config schema", () => {
  it("fills defaults and reads form text", () => {
    expect(rabbitmqConfigSchema.parse({ host: "mq.example.com", username: "app" })).toEqual({ host: "mq.example.com", port: 5672, vhost: "/", username: "app", tls: false });
    expect(rabbitmqConfigSchema.parse({ host: "mq", port: "5671", vhost: "", username: "app", tls: "true" })).toMatchObject({ port: 5671, vhost: "/", tls: true });
  });
});

describe("rabbitmq classify", () => {
  const config = { host: "mq.example.com", port: 5672, vhost: "/", username: "app" };
  const channelError = (code: number) => Object.assign(new Error(`Channel closed by server: ${code} with message "s3cret-value"`), { code });
  const cases: [unknown, ConnectorError["kind"]][] = [
    [new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. s3cret-value"'), "credentials_rejected"],
    [new Error("Expected ConnectionOpenOk; got <ConnectionClose channel:0>"), "permission"],
    [channelError(403), "permission"],
    [channelError(530), "permission"],
    [channelError(404), "config"],
    [channelError(406), "target_error"],
    [channelError(320), "unreachable"],
    [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5672"), { code: "ECONNREFUSED" }), "unreachable"],
    [Object.assign(new Error("getaddrinfo ENOTFOUND mq.example.com"), { code: "ENOTFOUND" }), "dns"],
    [new Error("connect ETIMEDOUT"), "timeout"],
    [Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" }), "tls"],
    [Object.assign(new Error("denied"), { code: "LATCH_EGRESS_DENIED" }), "egress_denied"],
  ];

  it.each(cases)("maps %o", (error, kind) => {
    const result = classifyRabbitError(error, config);
    expect(result?.kind).toBe(kind);
    expect(result?.message).not.toContain("s3cret-value");
  });

  it("carries the broker's reply code on its own, and none for errors without one", () => {
    expect(classifyRabbitError(channelError(406), config)?.targetCode).toBe("406");
    expect(classifyRabbitError(new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED"'), config)?.targetCode).toBe("403");
    expect(classifyRabbitError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5672"), { code: "ECONNREFUSED" }), config)?.targetCode).toBeUndefined();
  });

  it("leaves unknown errors alone", () => {
    expect(classifyRabbitError(new Error("something else"), config)).toBeNull();
  });
});

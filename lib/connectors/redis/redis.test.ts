import { rmSync } from "node:fs";
import type Redis from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "@/test/emulators/tls";
import { expectConnectorError } from "@/test/targets/expect";
import { freePort, startSilentServer, startTlsProxy, type TestServer } from "@/test/targets/net";
import { createRedisUser, startPasswordRedis, type RedisUser } from "@/test/targets/redis";
import { issueServerCert } from "@/test/targets/tls";
import { ConnectorError, OperationInputError, type Connector } from "../types";
import { classifyRedisError } from "./classify";
import { MAX_REPLY_BYTES, MAX_SCAN_COUNT, redisConfigSchema, redisConnector } from "./index";

let target: RedisUser;
const clients: Redis[] = [];

beforeAll(async () => {
  target = await createRedisUser();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => redisConnector.close(c)));
});

afterAll(async () => {
  await target?.cleanup();
});

function input(overrides: Record<string, unknown> = {}, password = target.password, timeoutMs = 5000, user = target) {
  const config = redisConfigSchema.parse({ host: user.host, port: user.port, username: user.username, tls: false, ...overrides });
  return { config, secrets: { password }, timeoutMs };
}

async function open(overrides: Record<string, unknown> = {}, user = target) {
  const i = input(overrides, user.password, 5000, user);
  const client = await redisConnector.open(i);
  clients.push(client);
  return { client, i };
}

function run(client: Redis, command: string, args: string[] = [], timeoutMs = 5000) {
  const op = redisConnector.operations.command!;
  // Every result in these tests also matches the shape GET /connectors and the OpenAPI document promise.
  return op.run(client, op.input.parse({ command, args }), { timeoutMs }).then((result) => op.output.parse(result)) as Promise<{ result: unknown }>;
}

describe("redis connector against the machine's Redis", () => {
  it("is assignable to the registry's Connector type", () => {
    const c: Connector = redisConnector;
    expect(c.kind).toBe("redis");
  });

  it("connects with an ACL user and says what it reached", async () => {
    const { client, i } = await open();
    expect((await redisConnector.check(client, i)).message).toMatch(/^(Redis|Valkey) \d+\.\d+\.\d+ · db 0$/);
  });

  it("reports a wrong password as credentials_rejected, without the password", async () => {
    const wrong = "definitely-Wrong-pw-123";
    const error = await expectConnectorError(redisConnector.open(input({}, wrong)), "credentials_rejected", [wrong, target.password]);
    expect(error.message).toContain("WRONGPASS");
  });

  describe("the default user, with and without a password", () => {
    const connect = async (host: string, port: number, password: string | undefined) => {
      const i = { config: redisConfigSchema.parse({ host, port, tls: false }), secrets: (password === undefined ? {} : { password }) as Record<string, string>, timeoutMs: 5000 };
      const client = await redisConnector.open(i);
      clients.push(client);
      return (await redisConnector.check(client, i)).message;
    };

    it("a server that asks for no password (the machine's) connects without one, and says when a given one was not checked", async () => {
      expect(await connect("127.0.0.1", 6379, undefined)).toMatch(/^(Redis|Valkey) [\d.]+ · db 0$/);
      // ioredis only warns on the console here: a mistyped password would otherwise pass as checked.
      expect(await connect("127.0.0.1", 6379, "made-up-password-1")).toMatch(/ · db 0 · this server asks for no password, so the one given was not checked$/);
    });

    it("a server with requirepass: no password asks for one, a wrong one is rejected, the right one connects with nothing to add", async () => {
      const password = `pw-${Date.now().toString(36)}-requirepass`;
      const server = await startPasswordRedis(password);
      try {
        const none = await expectConnectorError(connect(server.host, server.port, undefined), "credentials_rejected", [password]);
        expect(none.message).toBe(`127.0.0.1:${server.port} asks for a password (Redis NOAUTH): enter the password of the default user, or use a credential asset.`);
        const wrong = "definitely-Wrong-pw-456";
        await expectConnectorError(connect(server.host, server.port, wrong), "credentials_rejected", [wrong, password]);
        expect(await connect(server.host, server.port, password)).toMatch(/^(Redis|Valkey) [\d.]+ · db 0$/);
      } finally {
        await server.close();
      }
    });
  });

  it("reports nothing listening as unreachable", async () => {
    const port = await freePort();
    const error = await expectConnectorError(redisConnector.open(input({ port })), "unreachable", [target.password]);
    expect(error.message).toContain(`127.0.0.1:${port}`);
  });

  it("honours timeoutMs when the server never answers", async () => {
    const silent = await startSilentServer();
    try {
      const started = Date.now();
      await expectConnectorError(redisConnector.open(input({ port: silent.port }, target.password, 400)), "timeout");
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await silent.close();
    }
  });

  it("refuses cloud metadata addresses under the egress policy", async () => {
    await expectConnectorError(redisConnector.open(input({ host: "169.254.169.254" })), "egress_denied");
  });

  it("reports a database number the server does not have as config, instead of falling back to db 0", async () => {
    await expectConnectorError(redisConnector.open(input({ db: 99_999 })), "config");
    const { client, i } = await open({ db: 1 });
    expect((await redisConnector.check(client, i)).message).toMatch(/ · db 1$/);
  });

  it("runs allowed commands, case-insensitively, and returns JSON", async () => {
    const { client } = await open();
    const key = `${target.keyPrefix}greeting`;
    expect(await run(client, "set", [key, "hello", "EX", "60"])).toEqual({ result: "OK" });
    expect(await run(client, "GET", [key])).toEqual({ result: "hello" });
    expect(await target.admin().get(key)).toBe("hello");

    const hash = `${target.keyPrefix}user:1`;
    expect(await run(client, "HSET", [hash, "name", "Ada", "born", "1815", "__proto__", "a field like any other"])).toEqual({ result: 3 });
    // A hash comes back as an object, as the operation says (RESP2 sends a flat list), every field its own.
    const all = (await run(client, "HGETALL", [hash])).result;
    expect(Array.isArray(all)).toBe(false);
    expect(JSON.stringify(all)).toBe('{"name":"Ada","born":"1815","__proto__":"a field like any other"}');
    expect(await run(client, "DEL", [key, hash])).toEqual({ result: 2 });
    expect(await run(client, "GET", [key])).toEqual({ result: null });
  });

  it("refuses commands outside the allow-list", async () => {
    const { client } = await open();
    const op = redisConnector.operations.command!;
    for (const name of ["FLUSHALL", "keys", "CONFIG", "EVAL", "SELECT"]) {
      // Refused by the input schema (a 422 naming the field at the API)…
      const parsed = op.input.safeParse({ command: name, args: ["*"] });
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues.map((i) => i.path.join("."))).toEqual(["command"]);
      // …and by the operation itself, for a caller that skipped the schema.
      const error = await expectConnectorError(op.run(client, { command: name, args: ["*"] }, { timeoutMs: 5000 }), "config");
      expect(error.message).toContain("not allowed");
    }
    expect(await target.admin().ping()).toBe("PONG");
  });

  it("maps a command the ACL refuses, and wrong types, to target_error: the request's, not the sign-in's", async () => {
    const { client } = await open();
    const refused = await expectConnectorError(run(client, "GET", ["outside-the-prefix"]), "target_error");
    expect(refused.message).toContain("does not allow this command");
    expect(refused.targetCode).toBe("NOPERM");
    const list = `${target.keyPrefix}list`;
    await run(client, "RPUSH", [list, "a"]);
    const error = await expectConnectorError(run(client, "GET", [list]), "target_error");
    expect(error.message).toContain("WRONGTYPE");
    expect(error.targetCode).toBe("WRONGTYPE");
    const arity = await expectConnectorError(run(client, "GET", []), "target_error");
    expect(arity.message).toContain("wrong number of arguments");
  });

  it("still checks a user that may not run INFO", async () => {
    const narrow = await createRedisUser({ rules: ["+@all", "-info"] });
    try {
      const { client, i } = await open({}, narrow);
      expect((await redisConnector.check(client, i)).message).toBe("Redis · db 0");
    } finally {
      await narrow.cleanup();
    }
  });

  describe("reply size", () => {
    const MB = 1024 * 1024;

    it("returns replies up to the limit, one after another and several at once on one connection", async () => {
      const { client } = await open();
      const key = `${target.keyPrefix}big`;
      const value = "v".repeat(MAX_REPLY_BYTES - 100);
      await target.admin().set(key, value);
      for (let i = 0; i < 3; i++) expect(((await run(client, "GET", [key])).result as string).length).toBe(value.length);
      // Pipelined on one connection: the replies arrive back to back, each under the limit, 3 MB in all.
      const replies = await Promise.all([1, 2, 3].map(() => run(client, "GET", [key])));
      expect(replies.map((r) => (r.result as string).length)).toEqual([value.length, value.length, value.length]);
      expect(redisConnector.healthy!(client)).toBe(true);
    });

    it("refuses a value larger than the limit without reading it whole, and names GETRANGE", async () => {
      const { client } = await open();
      const key = `${target.keyPrefix}huge`;
      await target.admin().set(key, "x".repeat(8 * MB));
      const error = await expectConnectorError(run(client, "GET", [key]), "config");
      expect(error).toBeInstanceOf(OperationInputError);
      expect((error as OperationInputError).field).toBe("command");
      expect(error.message).toBe("The reply to GET is larger than 1 MB, which Latch does not return. Read a big value in parts with GETRANGE.");
      // Reading stopped soon after the limit: the 8 MB were never held.
      expect(client.stream.bytesRead).toBeLessThan(2 * MB);
      // The connection it was read on is closed and never handed out again; a new one reads the value in parts.
      expect(redisConnector.healthy!(client)).toBe(false);
      const { client: next } = await open();
      expect(await run(next, "GETRANGE", [key, "0", "4"])).toEqual({ result: "xxxxx" });
      // Barely over counts as over: the reply's first chunk, however large, is counted too.
      const justOver = `${target.keyPrefix}just-over`;
      await target.admin().set(justOver, "y".repeat(MAX_REPLY_BYTES + 1));
      const { client: third } = await open();
      await expectConnectorError(run(third, "GET", [justOver]), "config");
    });

    it("refuses a long collection read whole, and names the paged reads", async () => {
      const { client } = await open();
      const list = `${target.keyPrefix}long`;
      const admin = target.admin();
      for (let i = 0; i < 10; i++) await admin.rpush(list, ...Array.from({ length: 10_000 }, (_, j) => `item-${i}-${j}-padding`));
      const error = await expectConnectorError(run(client, "LRANGE", [list, "0", "-1"]), "config");
      expect(error.message).toMatch(/^The reply to LRANGE is larger than 1 MB, .* LRANGE or ZRANGE with a narrower range, or HSCAN, SSCAN, ZSCAN\.$/);
      const { client: next } = await open();
      expect(((await run(next, "LRANGE", [list, "0", "99"])).result as string[]).length).toBe(100);
    });

    it("tells the other commands on that connection to run again, instead of blaming their replies", async () => {
      const { client } = await open();
      const big = `${target.keyPrefix}huge2`;
      const small = `${target.keyPrefix}small`;
      await target.admin().set(big, "x".repeat(4 * MB));
      await target.admin().set(small, "hello");
      const counter = `${target.keyPrefix}counter`;
      const [own, other, write] = await Promise.allSettled([run(client, "GET", [big]), run(client, "GET", [small]), run(client, "INCR", [counter])]);
      expect(own.status === "rejected" && own.reason).toBeInstanceOf(OperationInputError);
      expect(other.status === "rejected" && other.reason).toMatchObject({ kind: "unreachable", message: expect.stringMatching(/another command's reply on it passed 1 MB, before the reply to GET arrived\. Run it again\.$/) });
      // Redis ran the write as it read it; only the reply was lost, so "run it again" would count twice.
      expect(write.status === "rejected" && write.reason).toMatchObject({ kind: "unreachable", message: expect.stringMatching(/Redis may have run it before the connection closed: check before you send the INCR again\.$/) });
      expect(await target.admin().get(counter)).toBe("1");
    });

    it("says that a write whose own reply was too large did take effect", async () => {
      const { client } = await open();
      const key = `${target.keyPrefix}huge3`;
      await target.admin().set(key, "x".repeat(4 * MB));
      const error = await expectConnectorError(run(client, "SET", [key, "small", "GET"]), "config");
      expect(error.message).toBe("The reply to SET is larger than 1 MB, which Latch does not return. Redis did run the command: its change took effect.");
      expect(await target.admin().get(key)).toBe("small");
    });

    it("caps COUNT on the SCAN family and pages a hash with HSCAN", async () => {
      const op = redisConnector.operations.command!;
      const refused = (command: string, args: string[]) => {
        const parsed = op.input.safeParse({ command, args });
        return parsed.success ? null : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
      };
      expect(refused("SCAN", ["0", "COUNT", "100000000"])).toEqual([`args: COUNT may be at most ${MAX_SCAN_COUNT}: the server walks that many entries in one call while its other clients wait. Page with the cursor instead.`]);
      expect(refused("scan", ["0", "count", "10", "COUNT", "5000"])).toHaveLength(1);
      expect(refused("HSCAN", ["h", "0", "NOVALUES", "COUNT", "1001"])).toHaveLength(1);
      expect(refused("ZSCAN", ["z", "0", "COUNT", "lots"])).toHaveLength(1);
      expect(refused("ZSCAN", ["z", "0", "NOSCORES", "COUNT", "100000000"])).toHaveLength(1);
      // A pattern that reads "COUNT" is a pattern; a key named COUNT is a key.
      expect(refused("SCAN", ["0", "MATCH", "COUNT", "COUNT", "10"])).toBeNull();
      expect(refused("SSCAN", ["COUNT", "0", "COUNT", String(MAX_SCAN_COUNT)])).toBeNull();

      const { client } = await open();
      const hash = `${target.keyPrefix}fields`;
      await target.admin().hset(hash, Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i}`, String(i)])));
      const fields = new Set<string>();
      let cursor = "0";
      do {
        const [next, page] = (await run(client, "HSCAN", [hash, cursor, "COUNT", "10"])).result as [string, string[]];
        for (let i = 0; i < page.length; i += 2) fields.add(page[i]!);
        cursor = next;
      } while (cursor !== "0");
      expect(fields.size).toBe(50);
    });
  });

  it("closes cleanly, twice, even after a failed command", async () => {
    const { client } = await open();
    await expectConnectorError(run(client, "GET", ["outside-the-prefix"]), "target_error");
    await expect(redisConnector.close(client)).resolves.toBeUndefined();
    await expect(redisConnector.close(client)).resolves.toBeUndefined();
  });

  describe("TLS (through a TLS-terminating proxy in front of the same Redis)", () => {
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

    it("connects with a verified certificate", async () => {
      const { client, i } = await open({ host: "localhost", port: proxy.port, tls: true, caCertificate: pki.caCert });
      expect((await redisConnector.check(client, i)).message).toContain("Redis");
    });

    it("refuses an untrusted certificate", async () => {
      await expectConnectorError(redisConnector.open(input({ host: "localhost", port: proxy.port, tls: true })), "tls");
      await expectConnectorError(redisConnector.open(input({ host: "localhost", port: proxy.port, tls: true, caCertificate: pki.otherCaCert })), "tls");
    });

    it("checks the certificate against the host name entered, not the address dialled", async () => {
      const error = await expectConnectorError(redisConnector.open(input({ host: "localhost", port: ipOnlyProxy.port, tls: true, caCertificate: pki.caCert })), "tls");
      expect(error.message).toMatch(/is for a different host name .*Use the address the certificate was issued for, or have the certificate reissued to include localhost\.$/);
    });

    it("hints at TLS when a plain port does not answer the handshake", async () => {
      const error = await expectConnectorError(redisConnector.open(input({ tls: true }, target.password, 500)), "timeout");
      expect(error.message).toContain("expects TLS");
    });
  });
});

describe("redis config schema", () => {
  it("fills defaults and reads form text", () => {
    expect(redisConfigSchema.parse({ host: "cache.example.com" })).toEqual({ host: "cache.example.com", port: 6379, db: 0, tls: false });
    expect(redisConfigSchema.parse({ host: "cache", port: "6380", db: "2", tls: "true", username: "" })).toEqual({ host: "cache", port: 6380, db: 2, tls: true });
  });

  it("rejects URLs and negative databases", () => {
    expect(redisConfigSchema.safeParse({ host: "redis://cache" }).success).toBe(false);
    expect(redisConfigSchema.safeParse({ host: "cache", db: -1 }).success).toBe(false);
  });
});

describe("redis classify", () => {
  const config = { host: "cache.example.com", port: 6379, username: "app", db: 3 };
  const reply = (message: string) => Object.assign(new Error(message), { name: "ReplyError" });
  const cases: [unknown, ConnectorError["kind"]][] = [
    [reply("WRONGPASS invalid username-password pair or user is disabled."), "credentials_rejected"],
    [reply("NOAUTH Authentication required."), "credentials_rejected"],
    [reply("ERR invalid password"), "credentials_rejected"],
    [reply("NOPERM User app has no permissions to access the 's3cret-value' key"), "permission"],
    [reply("ERR DB index is out of range"), "config"],
    [reply("MOVED 3999 127.0.0.1:6381"), "config"],
    [reply("WRONGTYPE Operation against a key holding the wrong kind of value"), "target_error"],
    [reply("ERR unknown command 's3cret-value', with args beginning with:"), "target_error"],
    [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" }), "unreachable"],
    [Object.assign(new Error("getaddrinfo ENOTFOUND cache.example.com"), { code: "ENOTFOUND" }), "dns"],
    [Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" }), "timeout"],
    [Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" }), "tls"],
    [Object.assign(new Error("denied"), { code: "LATCH_EGRESS_DENIED" }), "egress_denied"],
    [new Error("Connection is closed."), "unreachable"],
  ];

  it.each(cases)("maps %o", (error, kind) => {
    const result = classifyRedisError(error, config);
    expect(result?.kind).toBe(kind);
    expect(result?.message).not.toContain("s3cret-value");
  });

  it("leaves unknown errors alone", () => {
    expect(classifyRedisError(new Error("something else"), config)).toBeNull();
  });
});

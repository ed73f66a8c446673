import { gzipSync } from "node:zlib";
import { randomUUID } from "node:crypto";
import { createServer, request as httpRequest, type Server, type ServerResponse } from "node:http";
import { NextRequest } from "next/server";
import net, { type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { db } from "@/lib/db";
import { grant, makeFolder, makeUser } from "@/test/fixtures";
import { startHttpTarget, type HttpTarget } from "@/test/targets/http-target";
import { bearer, personalToken, routeContext } from "@/test/tokens";
import * as invokeRoute from "@/app/api/v1/connections/[connectionId]/invoke/route";
import { serveDirect } from "./direct";
import { acceptsGzip } from "./handler";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * The invoke route served without Next's router (lib/api/direct.ts), over a real node:http server as
 * server.mjs runs it: which requests it takes, and that it answers them as the wrapper does
 * (authentication, validation, error mapping, headers, the audit event). Anything it does not take
 * reaches the next handler (Next, in server.mjs; a marker here).
 */
let server: Server;
let origin: string;
let token: string;
let connectionId: string;
let httpTarget: HttpTarget;
let openConnectionId: string;
/** Every answer the direct route started, as server.mjs tracks them to wait for at a stop, with its response. */
const answers: { done: Promise<void>; response: ServerResponse }[] = [];

beforeAll(async () => {
  const owner = await makeUser();
  const folder = await makeFolder();
  await grant(folder.id, owner, "EDITOR");
  token = (await personalToken(owner, [{ folderId: folder.id, permissions: ["connections.read", "connections.use"] }])).token;
  // An HTTP API connection with no base URL: the invoke runs, fails to open its client, and is audited.
  connectionId = (await db().connection.create({ data: { folderId: folder.id, name: "direct", connectorKind: "http", status: "CONNECTED", ownerId: owner.id } })).id;
  // A working HTTP API connection with no credentials (the target's /open/ paths need none).
  httpTarget = await startHttpTarget();
  openConnectionId = (
    await db().connection.create({
      data: { folderId: folder.id, name: "open", connectorKind: "http", status: "CONNECTED", ownerId: owner.id, config: { baseUrl: httpTarget.url, authScheme: "none", caBundle: httpTarget.caCert } },
    })
  ).id;
  server = createServer((req, res) => {
    const answer = serveDirect(req, res);
    if (answer) return void answers.push({ done: answer, response: res });
    res.writeHead(299, { "content-type": "text/plain" }).end("left to Next");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await httpTarget?.close();
});

async function send(path: string, init: { method?: string; headers?: Record<string, string>; body?: BodyInit } = {}) {
  const res = await fetch(`${origin}${path}`, { method: init.method ?? "POST", headers: init.headers, body: init.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as { error?: { code: string; message: string; requestId: string } } };
}

const invokePath = (id: string) => `/api/v1/connections/${id}/invoke`;
const auth = () => ({ authorization: bearer(token), "content-type": "application/json" });

describe("what the direct route takes", () => {
  it("leaves to Next: no Authorization header (a browser session), other methods, other paths", async () => {
    const body = JSON.stringify({ operation: "request", input: {} });
    expect((await send(invokePath(connectionId), { headers: { "content-type": "application/json" }, body })).text).toBe("left to Next");
    expect((await send(invokePath(connectionId), { method: "GET", headers: { authorization: bearer(token) } })).status).toBe(299);
    expect((await send(`${invokePath(connectionId)}/`, { headers: auth(), body })).status).toBe(299);
    expect((await send(`/api/v1/connections/${connectionId}/test`, { headers: auth(), body })).status).toBe(299);
    expect((await send(`/api/v1/connections/${connectionId}/invoke/extra`, { headers: auth(), body })).status).toBe(299);
  });

  it("leaves to Next a request target no URL parser takes, rather than throwing", async () => {
    for (const target of ["//a:99999/x", "http://[/x", "//[/api/v1/connections/x/invoke"]) {
      const answer = await new Promise<string>((resolve) => {
        const socket = net.connect(Number(new URL(origin).port), "127.0.0.1");
        let text = "";
        socket.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
        socket.on("end", () => resolve(text)).on("error", () => resolve(text));
        socket.write(`POST ${target} HTTP/1.1\r\nhost: latch.test\r\nauthorization: ${bearer(token)}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      });
      expect(answer, target).toMatch(/^HTTP\/1\.1 299 /);
    }
  });

  it("answers a token's invoke with the wrapper's status, body, headers and audit event", async () => {
    const requestId = `direct-${randomUUID()}`;
    const res = await send(invokePath(connectionId), { headers: { ...auth(), "x-request-id": requestId }, body: JSON.stringify({ operation: "request", input: { method: "GET", path: "/" } }) });
    expect(res.status, res.text).toBe(409);
    expect(res.json().error).toMatchObject({ code: "CONFLICT", requestId, message: expect.stringContaining("Configuration problem") });
    expect(res.headers.get("x-request-id")).toBe(requestId);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(Number(res.headers.get("content-length"))).toBe(Buffer.byteLength(res.text));
    // Stored before the answer was sent.
    const events = await db().auditEvent.findMany({ where: { requestId } });
    expect(events.map((e) => [e.action, e.outcome, e.targetId])).toEqual([["connection.invoke", "FAILURE", connectionId]]);
  });
});

describe("bad requests get the wrapper's answers", () => {
  const body = JSON.stringify({ operation: "request", input: {} });

  it("401 for a refused token, with the challenge", async () => {
    const res = await send(invokePath(connectionId), { headers: { authorization: "Bearer lt_not-a-token", "content-type": "application/json" }, body });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="latch", error="invalid_token"');
  });

  it("404 for an unknown or malformed id, whatever the body", async () => {
    expect((await send(invokePath(randomUUID()), { headers: auth(), body })).json().error?.code).toBe("NOT_FOUND");
    expect((await send(invokePath("not-an-id"), { headers: auth(), body })).status).toBe(404);
    expect((await send(invokePath("%E0%A4%A"), { headers: auth(), body })).status).toBe(299);
  });

  it("400 for a body that is not JSON, or not sent as JSON; 422 for a body of the wrong shape", async () => {
    const notJson = await send(invokePath(connectionId), { headers: auth(), body: "{operation:" });
    expect(notJson.status).toBe(400);
    expect(notJson.json().error?.message).toBe("The request body is not valid JSON.");
    // Latin-1 "é" (0xE9) is not UTF-8: refused, rather than reaching the target as U+FFFD.
    const latin1 = Buffer.concat([Buffer.from('{"operation":"request","input":{"method":"POST","path":"/caf'), Buffer.from([0xe9]), Buffer.from('"}}')]);
    const badText = await send(invokePath(connectionId), { headers: auth(), body: latin1 });
    expect(badText.status).toBe(400);
    expect(badText.json().error?.message).toBe("The request body is not valid UTF-8. Send JSON encoded as UTF-8.");
    // A gzipped body is named for what it is, not as bad text.
    const gzipped = await send(invokePath(connectionId), { headers: { ...auth(), "content-encoding": "gzip" }, body: gzipSync(Buffer.from(body)) });
    expect(gzipped.status).toBe(400);
    expect(gzipped.json().error?.message).toBe("Latch does not take compressed request bodies (Content-Encoding: gzip): send the JSON uncompressed. Answers may still come compressed.");
    // A value some clients send that names no compression is read as before.
    expect((await send(invokePath(connectionId), { headers: { ...auth(), "content-encoding": "utf-8" }, body: JSON.stringify({ operation: 42 }) })).status).toBe(422);
    expect((await send(invokePath(connectionId), { headers: { authorization: bearer(token), "content-type": "text/plain" }, body })).status).toBe(400);
    const shape = await send(invokePath(connectionId), { headers: auth(), body: JSON.stringify({ operation: 42 }) });
    expect(shape.status).toBe(422);
    expect(shape.json().error?.code).toBe("VALIDATION");
  });

  it("400 for a body nested too deeply to validate, however small, instead of a stack overflow's 500", async () => {
    const depth = 200_000;
    const params = `${"[".repeat(depth)}${"]".repeat(depth)}`;
    const deep = await send(invokePath(openConnectionId), { headers: auth(), body: `{"operation":"request","input":{"method":"POST","path":"/open/echo","body":[${params}]}}` });
    expect(deep.status).toBe(400);
    expect(deep.json().error).toMatchObject({ code: "BAD_REQUEST", message: "The input is nested more than 64 levels deep." });
    // Ordinary nesting reaches the operation's own validation (a request body must be text), and the server goes on answering.
    const nested = JSON.parse(`${'{"a":'.repeat(20)}1${"}".repeat(20)}`);
    const shaped = await send(invokePath(openConnectionId), { headers: auth(), body: JSON.stringify({ operation: "request", input: { method: "POST", path: "/open/echo", body: nested } }) });
    expect(shaped.status).toBe(422);
    expect(shaped.json().error).toMatchObject({ code: "VALIDATION", fieldErrors: { "input.body": [expect.any(String)] } });
    const ok = await send(invokePath(openConnectionId), { headers: auth(), body: JSON.stringify({ operation: "request", input: { method: "GET", path: "/open/after" } }) });
    expect(ok.status, ok.text).toBe(200);
  });

  it("413 for a body over 1 MiB, declared or streamed in chunks, and the server goes on answering", async () => {
    const big = JSON.stringify({ operation: "request", input: { pad: "x".repeat(1024 * 1024 + 10) } });
    expect((await send(invokePath(connectionId), { headers: auth(), body: big })).status).toBe(413);
    // Chunked, with no Content-Length: refused once past the limit, not buffered whole.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${origin}${invokePath(connectionId)}`, { method: "POST", headers: auth() }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      for (let i = 0; i < 20; i++) req.write("x".repeat(128 * 1024));
      req.end();
    });
    expect(chunked).toBe(413);
    expect((await send(invokePath(randomUUID()), { headers: auth(), body })).status).toBe(404);
  });
});

describe("compression", () => {
  it("gzips an answer of 1 KiB or more when the client accepts it, as Next's server did", async () => {
    const input = { method: "GET", path: `/open/${"a".repeat(1500)}` };
    const body = JSON.stringify({ operation: "request", input });
    const plain = await send(invokePath(openConnectionId), { headers: { ...auth(), "accept-encoding": "identity" }, body });
    expect(plain.status, plain.text).toBe(200);
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(plain.text.length).toBeGreaterThan(1500);
    // fetch() decompresses; the header says what came over the wire.
    const zipped = await send(invokePath(openConnectionId), { headers: { ...auth(), "accept-encoding": "gzip, deflate, br" }, body });
    expect(zipped.status).toBe(200);
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    expect(zipped.headers.get("vary")).toBe("Accept-Encoding");
    expect(Number(zipped.headers.get("content-length"))).toBeLessThan(plain.text.length / 2);
    const result = (JSON.parse(zipped.text) as { result: { status: number; body: unknown } }).result;
    expect(result.status).toBe(200);
    expect(JSON.stringify(result.body)).toContain("a".repeat(1500));
    // Small answers go as they are.
    const small = await send(invokePath(randomUUID()), { headers: { ...auth(), "accept-encoding": "gzip" }, body });
    expect(small.headers.get("content-encoding")).toBeNull();
  });

  it("reads Accept-Encoding as HTTP defines it", () => {
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip("")).toBe(false);
    expect(acceptsGzip("gzip")).toBe(true);
    expect(acceptsGzip("br, GZIP;q=0.5")).toBe(true);
    expect(acceptsGzip("gzip;q=0")).toBe(false);
    expect(acceptsGzip("identity")).toBe(false);
    expect(acceptsGzip("*")).toBe(true);
    expect(acceptsGzip("*;q=0, br")).toBe(false);
    expect(acceptsGzip("gzip;q=0, *")).toBe(false);
  });
});

describe("a client that hangs up before its body has arrived", () => {
  /** A raw connection to the test server, and the request head of a token's invoke announcing `length` bytes of body. */
  async function rawInvoke(length: number) {
    const { port } = server.address() as AddressInfo;
    const socket = net.connect(port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    const head = `POST ${invokePath(openConnectionId)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: ${bearer(token)}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
    return { socket, head };
  }

  /** The answer the route started for the request sent after `before` answers, once it settles (server.mjs waits for it at a stop), or "pending" after 5 s. */
  async function settledAnswer(before: number) {
    await vi.waitFor(() => expect(answers.length).toBe(before + 1));
    const { done, response } = answers[before]!;
    const outcome = await Promise.race([done.then(() => "settled"), new Promise((resolve) => setTimeout(() => resolve("pending"), 5_000))]);
    return { outcome, status: response.statusCode };
  }

  it("does not leave its answer pending for ever when it closes the connection before the body is read", async () => {
    const body = JSON.stringify({ operation: "request", input: { method: "GET", path: "/open/hung-up" } });
    const before = answers.length;
    const { socket, head } = await rawInvoke(Buffer.byteLength(body));
    // The whole request, then a reset (as a client's timeout or a killed runner leaves it): the route
    // is still authenticating the token when the reset arrives, and Node drops the unread body.
    socket.write(head + body);
    socket.resetAndDestroy();
    expect(await settledAnswer(before)).toEqual({ outcome: "settled", status: 400 });
  });

  it("is a 400, not a server error, when the reset comes while the body is still arriving", async () => {
    const before = answers.length;
    // A body announced at 1,000 bytes, of which only the first arrive: the route is reading it when the reset comes.
    const { socket, head } = await rawInvoke(1000);
    socket.write(`${head}{"operation":"request",`);
    await vi.waitFor(() => expect(answers.length).toBe(before + 1));
    await new Promise((resolve) => setTimeout(resolve, 300)); // past the token check: the body is being read
    socket.resetAndDestroy();
    expect(await settledAnswer(before)).toEqual({ outcome: "settled", status: 400 });
  });

  it("is answered 400 through Next's router too, not logged as a server error (500)", async () => {
    const half = new TextEncoder().encode('{"operation":"Half a bo');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(half);
        // What Next's body stream does when Node aborts the request.
        setTimeout(() => controller.error(Object.assign(new Error("aborted"), { code: "ECONNRESET" })), 10);
      },
    });
    // The body is read before the connection is looked up: any id will do.
    const connectionId = randomUUID();
    const request = new NextRequest(`http://localhost/api/v1/connections/${connectionId}/invoke`, {
      method: "POST",
      headers: { authorization: bearer(token), "content-type": "application/json" },
      body,
      duplex: "half",
    } as ConstructorParameters<typeof NextRequest>[1]);
    const answer = await invokeRoute.POST(request, routeContext({ connectionId }));
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("connection closed") });
  });
});

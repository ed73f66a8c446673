import net from "node:net";
import tls from "node:tls";

/** A TCP port on 127.0.0.1 that nothing listens on (free when checked). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export type TestServer = { port: number; close(): Promise<void> };

async function listen(server: net.Server): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("secureConnection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Accepts connections and never answers: for "open honours timeoutMs" tests. */
export function startSilentServer(): Promise<TestServer> {
  return listen(net.createServer(() => {}));
}

/**
 * Terminates TLS with the given certificate and pipes the plain bytes to a local target port: puts
 * TLS in front of Redis or RabbitMQ (whose protocols start TLS before speaking) without reconfiguring them.
 */
export function startTlsProxy(opts: { cert: string; key: string; targetPort: number; targetHost?: string }): Promise<TestServer> {
  const server = tls.createServer({ cert: opts.cert, key: opts.key }, (client) => {
    const upstream = net.connect(opts.targetPort, opts.targetHost ?? "127.0.0.1");
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
  });
  // Failed handshakes (a client refusing our certificate) are expected in tests.
  server.on("tlsClientError", () => {});
  return listen(server);
}

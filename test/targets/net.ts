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

/** Passes a client's bytes to a local target port and back; either side closing or failing ends both. */
function pipeTo(client: net.Socket, targetPort: number, targetHost = "127.0.0.1") {
  const upstream = net.connect(targetPort, targetHost);
  client.pipe(upstream).pipe(client);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", end);
  upstream.on("error", end);
  client.on("close", end);
  upstream.on("close", end);
}

/**
 * Terminates TLS with the given certificate and pipes the plain bytes to a local target port: puts
 * TLS in front of Redis or RabbitMQ (whose protocols start TLS before speaking) without reconfiguring them.
 */
export function startTlsProxy(opts: { cert: string; key: string; targetPort: number; targetHost?: string }): Promise<TestServer> {
  const server = tls.createServer({ cert: opts.cert, key: opts.key }, (client) => pipeTo(client, opts.targetPort, opts.targetHost));
  // Failed handshakes (a client refusing our certificate) are expected in tests.
  server.on("tlsClientError", () => {});
  return listen(server);
}

export type PartitionProxy = TestServer & {
  /** From now on nothing passes either way and nothing is closed: a network partition, a dead NAT entry. */
  partition(): void;
};

/**
 * Passes bytes to a local target port and back until partition(). After it, a client's FIN is not
 * passed on or answered (the proxy keeps its side open), so only the client itself can close the socket.
 */
export async function startPartitionProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<PartitionProxy> {
  let partitioned = false;
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ port: targetPort, host: targetHost, allowHalfOpen: true });
    client.on("data", (chunk: Buffer) => void (partitioned || upstream.write(chunk)));
    upstream.on("data", (chunk: Buffer) => void (partitioned || client.write(chunk)));
    client.on("close", () => upstream.destroy());
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      from.on("error", () => {});
      from.on("end", () => void (partitioned || to.end()));
    }
  });
  const listening = await listen(server);
  return { ...listening, partition: () => void (partitioned = true) };
}

export type HeldProxy = TestServer & {
  /** From now on, new connections wait (accepted, nothing passed on) until cut. */
  hold(): void;
  /** Resolves once a connection is waiting. */
  waiting(): Promise<void>;
  /** Drops every waiting connection, as a target that went away would. */
  cut(): void;
};

/**
 * A plain TCP pipe to a local target port that can be told to hold new connections: a test can let a
 * connect start, change something while it waits, and then make it fail.
 */
export async function startHeldProxy(opts: { targetPort: number; targetHost?: string }): Promise<HeldProxy> {
  let held = false;
  const waiting: net.Socket[] = [];
  let onWaiting: (() => void) | null = null;
  const server = net.createServer((client) => {
    client.on("error", () => {});
    if (held) {
      waiting.push(client);
      onWaiting?.();
      return;
    }
    pipeTo(client, opts.targetPort, opts.targetHost);
  });
  const listening = await listen(server);
  return {
    ...listening,
    hold: () => {
      held = true;
    },
    waiting: () => (waiting.length > 0 ? Promise.resolve() : new Promise<void>((resolve) => (onWaiting = resolve))),
    cut: () => {
      for (const s of waiting.splice(0)) s.destroy();
    },
  };
}

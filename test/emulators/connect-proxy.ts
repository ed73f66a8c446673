import { createServer } from "node:http";
import net, { type AddressInfo, type Socket } from "node:net";

/**
 * A tiny HTTPS egress proxy (HTTP CONNECT) for tests: records every tunnel asked for and every
 * connection made to it, optionally demands credentials, and pipes bytes to the target.
 */
export type ConnectProxy = {
  /** http://user:pass@127.0.0.1:port (or without credentials). */
  url: string;
  port: number;
  /** Each CONNECT request: its target (host:port) and Proxy-Authorization header. */
  connects: { target: string; authorization?: string }[];
  /** TCP connections accepted, CONNECT sent or not. */
  connections(): number;
  close(): Promise<void>;
};

export async function startConnectProxy(opts: { username?: string; password?: string } = {}): Promise<ConnectProxy> {
  const connects: ConnectProxy["connects"] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const expected = opts.username ? `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ""}`).toString("base64")}` : undefined;
  const server = createServer((_req, res) => res.writeHead(405).end());
  server.on("connection", (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("connect", (req, socket: Socket, head) => {
    const authorization = req.headers["proxy-authorization"];
    connects.push({ target: req.url ?? "", ...(authorization ? { authorization } : {}) });
    if (expected && authorization !== expected) {
      socket.end("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\n\r\n");
      return;
    }
    const target = new URL(`http://${req.url}`);
    const upstream = net.connect(Number(target.port), target.hostname.replace(/^\[|\]$/g, ""), () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on("error", () => socket.end("HTTP/1.1 502 Bad Gateway\r\n\r\n"));
    socket.on("error", () => upstream.destroy());
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const credentials = opts.username ? `${encodeURIComponent(opts.username)}:${encodeURIComponent(opts.password ?? "")}@` : "";
  return {
    url: `http://${credentials}127.0.0.1:${port}`,
    port,
    connects,
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

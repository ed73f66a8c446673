import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type ServerOptions } from "node:https";
import type { AddressInfo, Socket } from "node:net";

/**
 * Shared emulator plumbing: an HTTPS server on 127.0.0.1 (ephemeral port), a request log, and fault
 * injection, plus a plain-HTTP control API on its own port (seed/rotate/delete, counts, faults).
 * Each emulator supplies `handle` (the vendor protocol) and `control` (its own control routes).
 */
export type LoggedRequest = {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  at: number;
  /** The client's port: requests with the same one came over the same connection. */
  remotePort?: number;
};

export type Fault =
  | { type: "latency"; ms: number }
  | { type: "hang" }
  /** body is sent as JSON; with `text`, as that text instead (a load balancer's HTML page). */
  | { type: "status"; status: number; body: unknown; headers?: Record<string, string>; text?: string }
  | { type: "reset" }
  | { type: "malformed" }
  /** Answers 200 at once, then sends its JSON body one space every everyMs, never finishing (a tarpit). */
  | { type: "trickle"; everyMs: number };

export type FaultRule = { fault: Fault; /** Substring of the path to match; empty = every request. */ pathIncludes?: string; /** How many requests it applies to; undefined = until cleared. */ times?: number };

export type EmulatorRequest = { req: IncomingMessage; res: ServerResponse; url: URL; body: string; log: LoggedRequest };

export type Emulator = {
  url: string;
  port: number;
  controlUrl: string;
  requests: LoggedRequest[];
  /** Requests whose path contains the substring (e.g. to count vault reads). */
  count(pathIncludes: string, method?: string): number;
  inject(rule: FaultRule): void;
  clearFaults(): void;
  close(): Promise<void>;
};

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  // With its length, as real services answer (a HEAD's body-less answer keeps the header too).
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), date: new Date().toUTCString(), ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const FAULT_TYPES = new Set(["latency", "hang", "status", "reset", "malformed", "trickle"]);

/** Why a fault rule sent to /_control/faults cannot be used, or null. */
function faultRuleProblem(input: unknown): string | null {
  const rule = input as Partial<FaultRule> | undefined;
  const fault = rule?.fault as Partial<Fault> | undefined;
  if (!rule || typeof rule !== "object" || !fault || typeof fault !== "object") return 'expected {"fault": {"type": …}, "pathIncludes"?: string, "times"?: number}';
  if (!FAULT_TYPES.has(String(fault.type))) return `unknown fault type ${JSON.stringify(fault.type)}; use one of ${[...FAULT_TYPES].join(", ")}`;
  if (fault.type === "latency" && !(typeof (fault as { ms?: unknown }).ms === "number" && (fault as { ms: number }).ms >= 0)) return "a latency fault needs ms (a number)";
  if (fault.type === "trickle" && !(typeof (fault as { everyMs?: unknown }).everyMs === "number" && (fault as { everyMs: number }).everyMs >= 1)) return "a trickle fault needs everyMs (a number, at least 1)";
  if (fault.type === "status" && typeof (fault as { status?: unknown }).status !== "number") return "a status fault needs status (a number)";
  if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times > 0)) return "times must be a positive whole number";
  if (rule.pathIncludes !== undefined && typeof rule.pathIncludes !== "string") return "pathIncludes must be a string";
  return null;
}

export async function startEmulator(opts: {
  name: string;
  tls?: ServerOptions;
  handle: (r: EmulatorRequest) => Promise<void> | void;
  control?: (r: EmulatorRequest) => Promise<boolean> | boolean;
}): Promise<Emulator> {
  const requests: LoggedRequest[] = [];
  let rules: FaultRule[] = [];
  const sockets = new Set<Socket>();

  async function onRequest(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const log: LoggedRequest = { method: req.method ?? "GET", path: url.pathname + url.search, headers: req.headers, body, at: Date.now(), remotePort: req.socket.remotePort };
    requests.push(log);
    const rule = rules.find((r) => !r.pathIncludes || log.path.includes(r.pathIncludes));
    if (rule) {
      if (rule.times !== undefined && --rule.times <= 0) rules = rules.filter((r) => r !== rule);
      const { fault } = rule;
      if (fault.type === "hang") return; // never answer
      if (fault.type === "reset") return req.socket.destroy();
      if (fault.type === "malformed") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end("{not json");
      }
      if (fault.type === "status" && fault.text !== undefined) {
        res.writeHead(fault.status, { "content-type": "text/html", ...fault.headers });
        return res.end(fault.text);
      }
      if (fault.type === "status") return json(res, fault.status, fault.body, fault.headers);
      if (fault.type === "trickle") {
        res.writeHead(200, { "content-type": "application/json" });
        const drip = setInterval(() => res.write(" "), fault.everyMs);
        res.on("close", () => clearInterval(drip));
        return;
      }
      if (fault.type === "latency") await new Promise((r) => setTimeout(r, fault.ms));
    }
    try {
      await opts.handle({ req, res, url, body, log });
    } catch (error) {
      if (!res.headersSent) json(res, 500, { error: `emulator ${opts.name} failed: ${(error as Error).message}` });
    }
  }

  // onRequest answers its own failures (500 above).
  const listener = (req: IncomingMessage, res: ServerResponse) => void onRequest(req, res);
  const server = opts.tls ? createHttpsServer(opts.tls, listener) : createHttpServer(listener);
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("secureConnection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  async function onControl(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const log: LoggedRequest = { method: req.method ?? "GET", path: url.pathname, headers: req.headers, body, at: Date.now() };
    // Every control route takes JSON: refuse anything else here, before a route handler parses it.
    let input: unknown;
    try {
      input = body.trim() ? JSON.parse(body) : undefined;
    } catch {
      return json(res, 400, { error: "the request body is not valid JSON" });
    }
    if (url.pathname === "/_control/requests") return json(res, 200, requests);
    if (url.pathname === "/_control/faults" && req.method === "POST") {
      const problem = faultRuleProblem(input);
      if (problem) return json(res, 400, { error: problem });
      rules.push({ ...(input as FaultRule) });
      return json(res, 204, {});
    }
    if (url.pathname === "/_control/faults" && req.method === "DELETE") {
      rules = [];
      return json(res, 204, {});
    }
    if (opts.control && (await opts.control({ req, res, url, body, log }))) return;
    json(res, 404, { error: "unknown control route" });
  }

  const control = createHttpServer((req, res) => {
    onControl(req, res).catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: `emulator ${opts.name} control failed: ${(error as Error).message}` });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  const controlPort = (control.address() as AddressInfo).port;

  return {
    url: `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    controlUrl: `http://127.0.0.1:${controlPort}`,
    requests,
    count: (sub, method) => requests.filter((r) => r.path.includes(sub) && (!method || r.method === method)).length,
    inject: (rule) => rules.push({ ...rule }),
    clearFaults: () => {
      rules = [];
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => control.close(r))]);
    },
  };
}

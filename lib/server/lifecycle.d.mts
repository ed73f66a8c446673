import type { IncomingMessage, Server, ServerResponse } from "node:http";

export interface Lifecycle {
  listener(serve: (request: IncomingMessage, response: ServerResponse) => unknown): (request: IncomingMessage, response: ServerResponse) => void;
  stop(signal: string): Promise<void>;
  readonly inFlight: number;
  readonly stopping: boolean;
}

export function createLifecycle(
  server: Server,
  options: { graceMs: () => number; close?: () => Promise<void>; exit?: (code: number) => void; log?: (line: string, level: "info" | "warn" | "error") => void },
): Lifecycle;

export function killAfterMs(graceSeconds: string | undefined): number;

import pino, { type Logger } from "pino";
import { env } from "@/lib/env";
import { redact, redactString } from "./redact";

export type { Logger };

function createLogger(): Logger {
  return pino({
    level: env().LOG_LEVEL,
    base: { service: "latch" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      // Every merged object and error goes through the redaction layer before it is serialised.
      log: (object) => redact(object) as Record<string, unknown>,
    },
    serializers: { err: (err: unknown) => redact(err) },
    hooks: {
      logMethod(args, method) {
        const cleaned = args.map((arg) => (typeof arg === "string" ? redactString(arg) : arg));
        return method.apply(this, cleaned as Parameters<typeof method>);
      },
    },
  });
}

const globalForLog = globalThis as unknown as { latchLogger?: Logger };

export function logger(): Logger {
  globalForLog.latchLogger ??= createLogger();
  return globalForLog.latchLogger;
}

export function requestLogger(requestId: string): Logger {
  return logger().child({ requestId });
}

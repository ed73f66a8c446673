import pino, { type Logger } from "pino";
import { env } from "@/lib/env";
import { redact, redactString } from "./redact";

export type { Logger };

/** The process's logger; a destination other than stdout only in tests, with the same settings. */
export function createLogger(destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
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
        // A bare Error would become the line's message unredacted (pino copies err.message to msg):
        // log it as { err } with its message as a string, which is then redacted like any other.
        const [first, ...rest] = args as unknown[];
        let spread: unknown[] = first instanceof Error ? [{ err: first }, ...(rest.length > 0 ? rest : [first.message])] : [...args];
        // { err } with no message: pino would copy err.message into msg as it is.
        const err = first && typeof first === "object" && !(first instanceof Error) ? (first as { err?: unknown }).err : undefined;
        // The same for an err that is not an Error but has a message (a library's plain object).
        const errMessage = err instanceof Error ? err.message : err && typeof err === "object" && typeof (err as { message?: unknown }).message === "string" ? (err as { message: string }).message : undefined;
        if (errMessage !== undefined && typeof spread[1] !== "string") spread = [first, errMessage, ...spread.slice(1)];
        // Strings, and the arguments a format string takes ("%o", "%j"), which no formatter sees.
        const cleaned = spread.map((arg, i) => (typeof arg === "string" ? redactString(arg) : i > 0 ? redact(arg) : arg));
        return method.apply(this, cleaned as Parameters<typeof method>);
      },
    },
  };
  const created = destination ? pino(options, destination) : pino(options);
  // A child's bindings are written as given (formatters.bindings sees only the base ones): redacted
  // here. Children are made from their parent with Object.create, so theirs go through this too.
  const makeChild = Object.getPrototypeOf(created).child as Logger["child"];
  created.child = function (this: Logger, bindings, childOptions) {
    return makeChild.call(this, redact(bindings) as pino.Bindings, childOptions);
  } as Logger["child"];
  return created;
}

const globalForLog = globalThis as unknown as { latchLogger?: Logger };

export function logger(): Logger {
  globalForLog.latchLogger ??= createLogger();
  return globalForLog.latchLogger;
}

export function requestLogger(requestId: string): Logger {
  return logger().child({ requestId });
}

const LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal"]);
const noop = () => {};

/**
 * A child logger made on first use: most requests log nothing, and a pino child per request (two
 * per API call) was a visible share of a warm invoke's CPU. Behaves as `make()` would.
 */
export function lazyLogger(make: () => Logger, parent: Logger = logger()): Logger {
  let real: Logger | undefined;
  const target = () => (real ??= make());
  return new Proxy({} as Logger, {
    get(_, property) {
      // A line below the level is dropped without making the child (a child keeps its parent's level).
      if (real === undefined && typeof property === "string" && LEVELS.has(property) && !parent.isLevelEnabled(property)) return noop;
      const logger = target();
      const value = Reflect.get(logger, property, logger);
      return typeof value === "function" ? value.bind(logger) : value;
    },
    set(_, property, value) {
      return Reflect.set(target(), property, value);
    },
    has(_, property) {
      return Reflect.has(target(), property);
    },
  });
}

import { z } from "zod";
import { DEFAULT_GRACE_SECONDS, DEFAULT_KEEP_ALIVE_SECONDS } from "@/lib/server/defaults.mjs";

/**
 * The only reader of process.env. Parsed once, lazily, so `next build` does not need runtime secrets;
 * instrumentation.ts calls `env()` at server start so a bad value fails fast, naming the variable.
 */

/**
 * Base64 of exactly 32 bytes and nothing else (Node's decoder skips junk characters, so "a key" with stray
 * text in it would otherwise pass), and not one byte repeated (a placeholder such as 43 A's).
 */
function isMasterKey(value: string): boolean {
  // The standard alphabet, padded or not (words joined by hyphens would pass as the URL-safe one).
  if (!/^[A-Za-z0-9+/]{43}=?$/.test(value)) return false;
  const key = Buffer.from(value, "base64");
  return key.length === 32 && key.some((b) => b !== key[0]);
}

/** 4, 6 or 0 (not an address). Without node:net: this module also loads in the edge runtime (proxy.ts). */
function ipFamily(address: string): 4 | 6 | 0 {
  if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(address)) return 4;
  if (!address.includes(":") || !/^[0-9A-Fa-f:.]+$/.test(address)) return 0;
  try {
    new URL(`http://[${address}]/`);
    return 6;
  } catch {
    return 0;
  }
}

/** Comma-separated addresses or CIDRs; a prefix must be a whole number the address family allows. */
const cidrList = z
  .string()
  .optional()
  .superRefine((raw, ctx) => {
    for (const entry of (raw ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
      const [address, bits, extra] = entry.split("/");
      const family = ipFamily(address ?? "");
      const max = family === 6 ? 128 : 32;
      const prefixOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
      if (!family || !prefixOk || extra !== undefined) {
        ctx.addIssue({ code: "custom", message: `has an entry that is not an address or CIDR: “${entry}” (use e.g. 10.0.0.0/8,fd00::/8, comma-separated)` });
      }
    }
  });

const booleanFlag = z
  .enum(["true", "false", "1", "0", ""])
  .optional()
  .transform((v) => v === "true" || v === "1");

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z
    .string({ error: "is required (a postgresql:// URL; `npm run up` sets one for the embedded database)" })
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL")
    // Prisma's ?schema= is common in copied URLs; the pg driver Latch runs on ignores it, and the tables
    // would go to public without a word.
    .refine((v) => {
      const schemaParam = /[?&]schema=([^&]*)/.exec(v)?.[1];
      return schemaParam === undefined || schemaParam === "" || schemaParam === "public";
    }, "names a ?schema= other than public, which Latch does not use: its tables live in the database's public schema. Remove the parameter, or give Latch a database of its own"),
  NEXTAUTH_SECRET: z
    .string({ error: "is required (at least 32 characters; `npm run up` generates one into .data/)" })
    .trim()
    .min(32, "must be at least 32 characters")
    // 32 spaces or "xxxx…" pass a length check and sign sessions anyone can forge.
    .refine((v) => new Set(v).size >= 10, "looks like a placeholder (too few different characters): use a random value, e.g. `openssl rand -base64 48`"),
  NEXTAUTH_URL: z
    .url("must be an absolute URL such as http://localhost:3000")
    .refine((v) => /^https?:\/\//i.test(v), "must start with http:// or https:// (the address people open Latch at)")
    .optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Failed sign-ins allowed per e-mail (and per client address) within the window before a lock-out. */
  LATCH_LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  LATCH_LOGIN_WINDOW_SECONDS: z.coerce.number().int().min(10).max(86400).default(900),
  /**
   * How many reverse proxies you run in front of Latch, each appending to X-Forwarded-For: the
   * client address is read that many hops from the right. "true" means one; unset or "false", none.
   */
  LATCH_TRUST_PROXY: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = (v ?? "").trim().toLowerCase();
      if (value === "" || value === "false") return 0;
      if (value === "true") return 1;
      if (/^[0-9]$/.test(value)) return Number(value);
      ctx.addIssue({ code: "custom", message: 'must be "true", "false" or the number of proxies in front of Latch (0 to 9)' });
      return z.NEVER;
    }),
  /**
   * 32 random bytes, base64: wraps the data keys that encrypt the Latch store and store credentials.
   * Optional at parse time so the console can start without stores; anything that encrypts demands it.
   */
  LATCH_MASTER_KEY: z
    .string()
    .trim()
    .refine(isMasterKey, "must be 32 random bytes, base64-encoded: 43 characters and an optional = (e.g. `openssl rand -base64 32`)")
    .optional(),
  /** Earlier master keys, comma-separated, still accepted for unwrapping until everything is re-wrapped. */
  LATCH_PREVIOUS_MASTER_KEYS: z
    .string()
    .optional()
    .refine(
      (v) => !v || v.split(",").map((k) => k.trim()).filter(Boolean).every(isMasterKey),
      "must be a comma-separated list of master keys, each 32 random bytes base64-encoded",
    ),
  /** Outbound calls to stores and targets: extra CIDRs to refuse, and (if set) the only CIDRs allowed. */
  LATCH_EGRESS_DENY_CIDRS: cidrList,
  LATCH_EGRESS_ALLOW_CIDRS: cidrList,
  /** Development only: lets external stores use plain http://. Never set this in production. */
  LATCH_DEV_ALLOW_HTTP_STORES: booleanFlag,
  /**
   * Next.js encrypts server actions' bound arguments with this key (base64 of 16, 24 or 32 bytes).
   * Every instance behind one address must share it when they do not share one build; unset, each
   * build makes its own. `openssl rand -base64 32`.
   */
  NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: z
    .string()
    .trim()
    .refine((v) => /^[A-Za-z0-9+/]+={0,2}$/.test(v) && [16, 24, 32].includes(Buffer.from(v, "base64").length), "must be 16, 24 or 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)")
    .optional(),
  /**
   * Libraries' own debug switches (the debug package's namespaces, Node's NODE_DEBUG). Read only to warn:
   * what they print goes straight to stderr, past Latch's redaction, and can hold credentials.
   */
  DEBUG: z.string().optional(),
  NODE_DEBUG: z.string().optional(),
  /** Set when several instances serve one address: refuses to start in production without NEXT_SERVER_ACTIONS_ENCRYPTION_KEY. */
  LATCH_MULTI_INSTANCE: booleanFlag,
  /** Bound of the in-memory cache of resolved values (least recently used entries go first). The one-hour lifetime is fixed. */
  LATCH_SECRET_CACHE_MAX_ENTRIES: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
  /** Bearer token Prometheus presents to scrape /api/metrics (at least 32 characters). Unset: administrators' sessions only. */
  LATCH_METRICS_TOKEN: z.string().min(32, "must be at least 32 characters").optional(),
  /** Sessions each connection's pool may hold to its target at once, per instance and credential version. */
  LATCH_POOL_MAX_PER_CONNECTION: z.coerce.number().int().min(1).max(200).default(10),
  /** An idle pooled client (and the credentials its driver holds) is closed after this many seconds unused. */
  LATCH_POOL_IDLE_SECONDS: z.coerce.number().int().min(5).max(86_400).default(300),
  /** Invokes per second each API token (or signed-in person) may make on one instance; bursts up to twice that. */
  LATCH_INVOKE_RATE_PER_SECOND: z.coerce.number().min(1).max(100_000).default(50),
  /** Refreshes and connection tests per second each API token (or person) may make on one instance; bursts up to ten times that. */
  LATCH_REFRESH_RATE_PER_SECOND: z.coerce.number().min(0.1).max(100_000).default(2),
  /**
   * On SIGTERM/SIGINT, how long server.mjs waits for requests in flight (and then for closing its
   * sessions) before it exits with 1 without them. 45 s: an invoke's default limit of 30 s, plus the
   * 10 s its audit row may wait for a database session, plus closing. Invokes given a longer timeoutMs
   * need more; whatever stops the process (systemd TimeoutStopSec, Kubernetes' grace period) must allow it.
   */
  LATCH_SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(1).max(3600).default(DEFAULT_GRACE_SECONDS),
  /**
   * How long server.mjs keeps an idle kept-alive connection open. Behind a proxy or load balancer that
   * reuses its connections to Latch, this must be longer than the proxy's idle timeout, or the proxy
   * may send a request on a connection just as Latch closes it and answer 502 (lib/server/defaults.mjs).
   */
  LATCH_KEEP_ALIVE_SECONDS: z.coerce.number().int().min(1).max(7200).default(DEFAULT_KEEP_ALIVE_SECONDS),
});

export type Env = z.infer<typeof envSchema>;

let cached: Env | undefined;

export class EnvError extends Error {
  override name = "EnvError";
}

/**
 * An empty value counts as unset: `VAR=${VAR}` in a Compose file, or an empty line in a secrets
 * manager, passes "" for a variable nobody set, and that must not stop Latch from starting.
 */
function withoutEmpty(source: Record<string, string | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(source).filter(([, value]) => value === undefined || value.trim() !== ""));
}

export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = envSchema
    .superRefine((e, ctx) => {
      if (e.NODE_ENV === "production" && e.LATCH_MULTI_INSTANCE && !e.NEXT_SERVER_ACTIONS_ENCRYPTION_KEY) {
        ctx.addIssue({ code: "custom", path: ["NEXT_SERVER_ACTIONS_ENCRYPTION_KEY"], message: "is required when LATCH_MULTI_INSTANCE is set: every instance must share one key" });
      }
    })
    .safeParse(withoutEmpty(source));
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join(".") || "(env)"} ${issue.message}`);
    throw new EnvError(`Invalid environment:\n${lines.join("\n")}`);
  }
  return result.data;
}

export function env(): Env {
  cached ??= parseEnv(process.env);
  return cached;
}

export const isProduction = () => env().NODE_ENV === "production";
export const isDevelopment = () => env().NODE_ENV === "development";

/** Which Next.js runtime is loading the module ("nodejs" | "edge"); set by Next, not by operators. */
export const nextRuntime = () => process.env.NEXT_RUNTIME;

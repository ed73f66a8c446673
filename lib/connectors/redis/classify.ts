import { isIP } from "node:net";
import { ConnectorError, namedUser, withTargetCode, type UserSource } from "../types";
import { hostnameMismatch } from "@/lib/net/certificate-names";

/**
 * Redis and socket failures as ConnectorErrors. A Redis error reply starts with an upper-case code
 * (WRONGPASS, NOPERM, …); only that code, and fixed wording for a few common ERR replies, is shown:
 * the rest of a reply can quote keys and arguments.
 */
export type RedisTarget = { host: string; port: number; username?: string; db?: number; /** Connected with no password at all. */ noPassword?: boolean } & UserSource;

export const hostPort = (host: string, port: number) => (isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`);
const where = (t: RedisTarget) => `Redis at ${hostPort(t.host, t.port)}`;

const TLS_UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);

/** Fixed wording for ERR replies people trigger with a wrong command; the reply itself may quote arguments. */
const ERR_PHRASES: [RegExp, string][] = [
  [/^ERR wrong number of arguments/i, "wrong number of arguments for the command"],
  [/^ERR syntax error/i, "syntax error in the command's arguments"],
  [/^ERR value is not an integer/i, "a value is not an integer or is out of range"],
  [/^ERR value is not a valid float/i, "a value is not a valid number"],
  [/^ERR invalid expire time/i, "invalid expire time"],
  [/^ERR increment or decrement would overflow/i, "the increment would overflow"],
  [/^ERR invalid cursor/i, "invalid SCAN cursor"],
  [/^ERR unknown command/i, "the server does not know this command"],
];

const prop = (e: unknown, key: string): unknown => (e && typeof e === "object" ? (e as Record<string, unknown>)[key] : undefined);
const str = (e: unknown, key: string) => {
  const v = prop(e, key);
  return typeof v === "string" ? v : "";
};

export const safeCode = (e: unknown) => {
  const code = str(e, "code");
  return /^[A-Z0-9_]{2,48}$/i.test(code) ? code : "";
};

function classifyNetwork(error: unknown, target: RedisTarget): ConnectorError | null {
  const code = safeCode(error);
  const message = str(error, "message");
  const at = hostPort(target.host, target.port);
  // lib/net/egress builds this message from the host name and address only.
  if (code === "LATCH_EGRESS_DENIED") return new ConnectorError("egress_denied", message);
  if (["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME", "EAI_NODATA"].includes(code)) return new ConnectorError("dns", `The host name ${target.host} could not be resolved. Check the host.`);
  if (code === "ECONNREFUSED") return new ConnectorError("unreachable", `Nothing is listening at ${at}. Check the host and port, and that Redis is running.`);
  if (["EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN"].includes(code)) return new ConnectorError("unreachable", `${at} is unreachable from Latch's network.`);
  if (code === "ECONNRESET" || code === "EPIPE") return new ConnectorError("unreachable", `The connection to ${at} was reset. If the server expects TLS, turn TLS on; otherwise check firewalls and proxies.`);
  if (code === "ETIMEDOUT") return new ConnectorError("timeout", `${where(target)} did not answer in time.`);
  if (TLS_UNTRUSTED.has(code)) return new ConnectorError("tls", `The TLS certificate of ${at} is not signed by a trusted CA (${code}). If a private CA issued it, add that CA certificate to the connection.`);
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return new ConnectorError("tls", `The TLS certificate of ${at} is not valid now (${code}).`);
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH") return new ConnectorError("tls", hostnameMismatch(at, error as object));
  if (/^ERR_(SSL|TLS)_/.test(code) || code === "EPROTO") return new ConnectorError("tls", `The TLS handshake with ${at} failed (${code}). Check that the server expects TLS on this port.`);
  // ioredis' own wording once the connection is gone (no retries, no offline queue).
  if (/^Connection is closed|^Stream isn't writeable|Reached the max retries per request/.test(message)) {
    return new ConnectorError("unreachable", `The connection to ${where(target)} is closed.`);
  }
  return null;
}

/** The code an error reply starts with ("WRONGTYPE"). */
const replyCode = (error: unknown) => /^([A-Z][A-Z_]{1,31})\b/.exec(str(error, "message"))?.[1];

/** Error replies: ioredis' ReplyError, whose message starts with the reply's code. */
function classifyReply(error: unknown, target: RedisTarget): ConnectorError | null {
  const message = str(error, "message");
  const name = str(error, "name");
  if (name !== "ReplyError" && !/^(WRONGPASS|NOAUTH|NOPERM) /.test(message)) return null;
  const code = replyCode(error);
  if (!code) return null;
  const at = hostPort(target.host, target.port);
  const user = namedUser(target, target.username) ?? "the default user";
  switch (code) {
    case "NOAUTH":
      if (target.noPassword) return new ConnectorError("credentials_rejected", `${at} asks for a password (Redis NOAUTH): enter the password of ${user}, or use a credential asset.`);
    // falls through
    case "WRONGPASS":
      return new ConnectorError("credentials_rejected", `The target rejected the credentials (Redis ${code}) for ${user} at ${at}.`);
    case "NOPERM":
      return new ConnectorError("permission", `The ACL of ${user} on ${at} does not allow this command, key or channel (Redis NOPERM).`);
    case "MOVED":
    case "ASK":
    case "CLUSTERDOWN":
      return new ConnectorError("config", `${where(target)} is a Redis Cluster node (${code}); this connector talks to a standalone Redis.`);
    case "LOADING":
    case "MASTERDOWN":
    case "BUSY":
    case "TRYAGAIN":
      return new ConnectorError("unreachable", `${where(target)} cannot serve requests right now (${code}).`);
    case "ERR": {
      // Redis before 6 answers a wrong AUTH password this way.
      if (/^ERR invalid (username-)?password/i.test(message)) return new ConnectorError("credentials_rejected", `The target rejected the credentials (Redis ERR invalid password) at ${at}.`);
      if (/^ERR DB index is out of range/i.test(message)) return new ConnectorError("config", `${where(target)} has no database number ${target.db ?? "?"}.`);
      const phrase = ERR_PHRASES.find(([re]) => re.test(message))?.[1];
      return new ConnectorError("target_error", `${where(target)} returned an error: ${phrase ?? "ERR"}.`);
    }
  }
  return new ConnectorError("target_error", `${where(target)} returned an error: ${code}.`);
}

export function classifyRedisError(error: unknown, target: RedisTarget): ConnectorError | null {
  if (error instanceof ConnectorError) return error;
  return withTargetCode(classifyReply(error, target), replyCode(error)) ?? classifyNetwork(error, target);
}

export function toRedisError(error: unknown, target: RedisTarget): ConnectorError {
  const known = classifyRedisError(error, target);
  if (known) return known;
  const code = safeCode(error);
  return new ConnectorError("target_error", `${where(target)} failed unexpectedly${code ? ` (${code})` : ""}.`);
}

/** `tls`: the hint matters because a plain Redis port sits silent on a TLS handshake instead of refusing it. */
export const redisTimeout = (target: RedisTarget, ms: number, tls = false) =>
  new ConnectorError("timeout", `${where(target)} did not answer within ${Math.round(ms / 100) / 10} s.${tls ? " Check that this port expects TLS." : ""}`);

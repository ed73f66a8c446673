import { isIP } from "node:net";
import { ConnectorError, namedUser, withTargetCode, type UserSource } from "../types";
import { hostnameMismatch } from "@/lib/net/certificate-names";

/**
 * AMQP and socket failures as ConnectorErrors. amqplib words a broker's refusal as text holding the
 * AMQP reply code (403, 530, …); only that code is read, and messages are built from it and the
 * connection's host, port, vhost and user.
 */
export type RabbitTarget = { host: string; port: number; vhost: string; username?: string } & UserSource;

export const hostPort = (host: string, port: number) => (isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`);
const where = (t: RabbitTarget) => `RabbitMQ at ${hostPort(t.host, t.port)}`;

const TLS_UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);

/** AMQP 0-9-1 reply codes and their names. */
const REPLY_NAMES: Record<number, string> = {
  311: "CONTENT_TOO_LARGE",
  312: "NO_ROUTE",
  313: "NO_CONSUMERS",
  320: "CONNECTION_FORCED",
  402: "INVALID_PATH",
  403: "ACCESS_REFUSED",
  404: "NOT_FOUND",
  405: "RESOURCE_LOCKED",
  406: "PRECONDITION_FAILED",
  501: "FRAME_ERROR",
  502: "SYNTAX_ERROR",
  503: "COMMAND_INVALID",
  504: "CHANNEL_ERROR",
  505: "UNEXPECTED_FRAME",
  506: "RESOURCE_ERROR",
  530: "NOT_ALLOWED",
  540: "NOT_IMPLEMENTED",
  541: "INTERNAL_ERROR",
};

const prop = (e: unknown, key: string): unknown => (e && typeof e === "object" ? (e as Record<string, unknown>)[key] : undefined);
const str = (e: unknown, key: string) => {
  const v = prop(e, key);
  return typeof v === "string" ? v : "";
};

export const safeCode = (e: unknown) => {
  const code = prop(e, "code");
  if (typeof code === "number" && Number.isInteger(code)) return String(code);
  return typeof code === "string" && /^[A-Z0-9_]{2,48}$/i.test(code) ? code : "";
};

function classifyNetwork(error: unknown, target: RabbitTarget): ConnectorError | null {
  const code = safeCode(error);
  const message = str(error, "message");
  const at = hostPort(target.host, target.port);
  // lib/net/egress builds this message from the host name and address only.
  if (code === "LATCH_EGRESS_DENIED") return new ConnectorError("egress_denied", message);
  if (["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME", "EAI_NODATA"].includes(code)) return new ConnectorError("dns", `The host name ${target.host} could not be resolved. Check the host.`);
  if (code === "ECONNREFUSED") return new ConnectorError("unreachable", `Nothing is listening at ${at}. Check the host and port, and that RabbitMQ is running.`);
  if (["EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN"].includes(code)) return new ConnectorError("unreachable", `${at} is unreachable from Latch's network.`);
  if (code === "ECONNRESET" || code === "EPIPE") return new ConnectorError("unreachable", `The connection to ${at} was reset. Check that the TLS setting matches the port, and firewalls and proxies in between.`);
  // amqplib's handshake timeout is a plain Error("connect ETIMEDOUT").
  if (code === "ETIMEDOUT" || /^connect ETIMEDOUT$/.test(message)) return new ConnectorError("timeout", `${where(target)} did not answer in time.`);
  if (TLS_UNTRUSTED.has(code)) return new ConnectorError("tls", `The TLS certificate of ${at} is not signed by a trusted CA (${code}). If a private CA issued it, add that CA certificate to the connection.`);
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return new ConnectorError("tls", `The TLS certificate of ${at} is not valid now (${code}).`);
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH") return new ConnectorError("tls", hostnameMismatch(at, error as object));
  if (/^ERR_(SSL|TLS)_/.test(code) || code === "EPROTO") return new ConnectorError("tls", `The TLS handshake with ${at} failed (${code}). Check that this port expects TLS (usually 5671).`);
  if (/^Socket closed abruptly during opening handshake/.test(message)) {
    return new ConnectorError("unreachable", `${where(target)} closed the connection during the AMQP handshake. Check that the port speaks AMQP 0-9-1 and that the TLS setting matches it.`);
  }
  if (/^(channel closed|Channel closed|Connection closed \(by client\)|Channel ended)/.test(message)) return new ConnectorError("unreachable", `The connection to ${where(target)} is closed.`);
  return null;
}

/** The broker's own refusals: during the handshake (text only) and on a channel (numeric `code`). */
function classifyBroker(error: unknown, target: RabbitTarget): ConnectorError | null {
  const message = str(error, "message");
  const at = hostPort(target.host, target.port);
  const user = namedUser(target, target.username) ?? "the user";
  const handshake = /^Handshake terminated by server: (\d{3})/.exec(message);
  if (handshake?.[1] === "403" || /^Handshake terminated by server: .*ACCESS[-_]REFUSED/.test(message)) {
    return new ConnectorError("credentials_rejected", `The target rejected the credentials (RabbitMQ 403 ACCESS_REFUSED) for ${user} at ${at}.`);
  }
  // The broker closes instead of opening the vhost: it does not exist, or the user has no permissions on it.
  if (/^Expected ConnectionOpenOk; got <ConnectionClose/.test(message) || handshake?.[1] === "530") {
    return new ConnectorError("permission", `${where(target)} refused ${user} access to the virtual host “${target.vhost}”: it does not exist, or the user has no permissions on it (RabbitMQ 530 NOT_ALLOWED).`);
  }
  if (handshake) return new ConnectorError("target_error", `${where(target)} ended the handshake (RabbitMQ ${handshake[1]} ${REPLY_NAMES[Number(handshake[1])] ?? ""}).`.replace(" )", ")"));

  const code = prop(error, "code");
  if (typeof code !== "number" || !REPLY_NAMES[code]) return null;
  const tag = `RabbitMQ ${code} ${REPLY_NAMES[code]}`;
  switch (code) {
    case 403:
      return new ConnectorError("permission", `${Capital(user)} lacks the configure, write or read permission this needs in the virtual host “${target.vhost}” (${tag}).`);
    case 530:
      return new ConnectorError("permission", `${where(target)} does not allow this (${tag}).`);
    case 404:
      return new ConnectorError("config", `The exchange or queue does not exist in the virtual host “${target.vhost}” (${tag}).`);
    case 320:
      return new ConnectorError("unreachable", `${where(target)} closed the connection (${tag}), e.g. for a restart or by an operator.`);
  }
  return new ConnectorError("target_error", `${where(target)} returned an error (${tag}).`);
}

/** The AMQP reply code the broker sent: on a closed channel or connection, or in a handshake it ended. */
function brokerCode(error: unknown): string | undefined {
  const code = prop(error, "code");
  if (typeof code === "number" && REPLY_NAMES[code]) return String(code);
  return /^Handshake terminated by server: (\d{3})/.exec(str(error, "message"))?.[1];
}

const Capital = (s: string) => `${s[0]?.toUpperCase() ?? ""}${s.slice(1)}`;

export function classifyRabbitError(error: unknown, target: RabbitTarget): ConnectorError | null {
  if (error instanceof ConnectorError) return error;
  return withTargetCode(classifyBroker(error, target), brokerCode(error)) ?? classifyNetwork(error, target);
}

export function toRabbitError(error: unknown, target: RabbitTarget): ConnectorError {
  const known = classifyRabbitError(error, target);
  if (known) return known;
  const code = safeCode(error);
  return new ConnectorError("target_error", `${where(target)} failed unexpectedly${code ? ` (${code})` : ""}.`);
}

export const rabbitTimeout = (target: RabbitTarget, ms: number) => new ConnectorError("timeout", `${where(target)} did not answer within ${Math.round(ms / 100) / 10} s.`);

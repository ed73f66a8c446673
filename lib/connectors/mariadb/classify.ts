import { isIP } from "node:net";
import { capitalised } from "@/lib/utils";
import { ConnectorError, namedUser, raisedByStatement, withTargetCode, type UserSource } from "../types";
import { hostnameMismatch } from "@/lib/net/certificate-names";

/**
 * MariaDB/MySQL and socket failures as ConnectorErrors. Messages are built from error codes and
 * the connection's host, port, database and user only: the server's own text is never passed on.
 */
export type MariadbTarget = { host: string; port: number; database?: string; user?: string } & UserSource;

export const hostPort = (host: string, port: number) => (isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`);
export const where = (t: MariadbTarget) => `MariaDB/MySQL at ${hostPort(t.host, t.port)}`;

const TLS_UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);

export const prop = (e: unknown, key: string): unknown => (e && typeof e === "object" ? (e as Record<string, unknown>)[key] : undefined);
const str = (e: unknown, key: string) => {
  const v = prop(e, key);
  return typeof v === "string" ? v : "";
};

/** Error codes (ER_…, Node and OpenSSL codes) are short tokens, never values. */
export const safeCode = (e: unknown) => {
  const code = str(e, "code");
  return /^[A-Z0-9_]{2,64}$/i.test(code) ? code : "";
};

function classifyNetwork(error: unknown, target: MariadbTarget): ConnectorError | null {
  const code = safeCode(error);
  const message = str(error, "message");
  const at = hostPort(target.host, target.port);
  // lib/net/egress builds this message from the host name and address only.
  if (code === "LATCH_EGRESS_DENIED") return new ConnectorError("egress_denied", message);
  if (["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME", "EAI_NODATA"].includes(code)) return new ConnectorError("dns", `The host name ${target.host} could not be resolved. Check the host.`);
  if (code === "ECONNREFUSED") return new ConnectorError("unreachable", `Nothing is listening at ${at}. Check the host and port, and that the server is running.`);
  if (["EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN"].includes(code)) return new ConnectorError("unreachable", `${at} is unreachable from Latch's network.`);
  if (code === "ECONNRESET" || code === "EPIPE") return new ConnectorError("unreachable", `The connection to ${at} was reset. Check firewalls and proxies between Latch and the server.`);
  if (code === "PROTOCOL_CONNECTION_LOST") return new ConnectorError("unreachable", `${where(target)} closed the connection unexpectedly.`);
  if (code === "ETIMEDOUT" || code === "PROTOCOL_SEQUENCE_TIMEOUT") return new ConnectorError("timeout", `${where(target)} did not answer in time.`);
  if (code === "HANDSHAKE_NO_SSL_SUPPORT") {
    return new ConnectorError("tls", `${where(target)} does not offer TLS. Enable TLS on the server, or turn TLS off only if the network in between is trusted.`);
  }
  if (TLS_UNTRUSTED.has(code)) return new ConnectorError("tls", `The TLS certificate of ${at} is not signed by a trusted CA (${code}). If a private CA issued it, add that CA certificate to the connection.`);
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return new ConnectorError("tls", `The TLS certificate of ${at} is not valid now (${code}).`);
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH") return new ConnectorError("tls", hostnameMismatch(at, error as object));
  if (/^ERR_(SSL|TLS)_/.test(code) || code === "EPROTO") return new ConnectorError("tls", `The TLS handshake with ${at} failed (${code}).`);
  return null;
}

/** Errors the server sent: a positive errno and a SQLSTATE (mysql2 has no ER_ name for MariaDB-only ones). */
function classifyServer(error: unknown, target: MariadbTarget): ConnectorError | null {
  const errno = prop(error, "errno");
  const code = safeCode(error);
  if (typeof errno !== "number" || errno <= 0 || !(code.startsWith("ER_") || /^[0-9A-Z]{5}$/.test(str(error, "sqlState")))) return null;
  const tag = code.startsWith("ER_") ? `${code} ${errno}` : `error ${errno}`;
  const at = hostPort(target.host, target.port);
  const who = namedUser(target, target.user) ?? "the user";
  const Who = capitalised(who);
  // On a logged-in session, "access denied" comes from a statement (a GRANT beyond the user's own
  // rights, a SIGNAL): a missing privilege, not rejected credentials, and no reason to refetch them.
  const login = !raisedByStatement(error);
  switch (errno) {
    case 1045: // ER_ACCESS_DENIED_ERROR
    case 1698: // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
      if (!login) return new ConnectorError("target_error", `${Who} lacks a privilege the statement needs on ${at} (${tag}).`);
      return new ConnectorError("credentials_rejected", `The target rejected the credentials (${tag}) for ${who} at ${at}.`);
    case 1820: // ER_MUST_CHANGE_PASSWORD
    case 1862: // ER_MUST_CHANGE_PASSWORD_LOGIN
      if (!login) return new ConnectorError("target_error", `A statement on ${at} failed with ${tag} (password expired).`);
      return new ConnectorError("credentials_rejected", `The password of ${who} has expired on ${at} (${tag}); set a new one.`);
    case 1044: // ER_DBACCESS_DENIED_ERROR
      // At login it is the connection's database; later, one the statement named (USE other_db).
      if (!login) return new ConnectorError("target_error", `${Who} may not use a database the statement names, on ${at} (${tag}).`);
      return new ConnectorError("permission", `${Who} may not use the database${target.database ? ` “${target.database}”` : ""} on ${at} (${tag}).`);
    case 1142: // ER_TABLEACCESS_DENIED_ERROR
    case 1143: // ER_COLUMNACCESS_DENIED_ERROR
    case 1227: // ER_SPECIFIC_ACCESS_DENIED_ERROR
    case 1370: // ER_PROCACCESS_DENIED_ERROR
      // From a statement, the statement is what was refused: the caller's request.
      return new ConnectorError(login ? "permission" : "target_error", `${Who} lacks a privilege ${login ? "this" : "the statement"} needs on ${at} (${tag}).`);
    case 1205: // ER_LOCK_WAIT_TIMEOUT
    case 1213: // ER_LOCK_DEADLOCK
      return new ConnectorError("busy", `${where(target)} rolled the statement back (${tag}): another transaction held what it needed. Run it again.`);
    case 1130: // ER_HOST_NOT_PRIVILEGED
      return new ConnectorError("permission", `${where(target)} does not accept connections from Latch's address (${tag}).`);
    case 1049: // ER_BAD_DB_ERROR
      if (!login) return new ConnectorError("target_error", `A database the statement names does not exist on ${at} (${tag}).`);
      return new ConnectorError("config", `The database${target.database ? ` “${target.database}”` : ""} does not exist on ${at} (${tag}).`);
    case 1040: // ER_CON_COUNT_ERROR
    case 1053: // ER_SERVER_SHUTDOWN
      return new ConnectorError("unreachable", `${where(target)} is not accepting connections right now (${tag}).`);
    case 1317: // ER_QUERY_INTERRUPTED
    case 1969: // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
    case 3024: // ER_QUERY_TIMEOUT (MySQL max_execution_time)
      return new ConnectorError("timeout", `${where(target)} stopped the statement (${tag}), usually because it ran longer than the time allowed.`);
  }
  return new ConnectorError("target_error", `${where(target)} returned an error: ${tag}.`);
}

export function classifyMariadbError(error: unknown, target: MariadbTarget): ConnectorError | null {
  if (error instanceof ConnectorError) return error;
  return withTargetCode(classifyServer(error, target), String(prop(error, "errno"))) ?? classifyNetwork(error, target);
}

/** For paths that must end in a ConnectorError: unknown failures keep only their code. */
export function toMariadbError(error: unknown, target: MariadbTarget): ConnectorError {
  const known = classifyMariadbError(error, target);
  if (known) return known;
  const code = safeCode(error);
  return new ConnectorError("target_error", `${where(target)} failed unexpectedly${code ? ` (${code})` : ""}.`);
}

export const mariadbTimeout = (target: MariadbTarget, ms: number) =>
  new ConnectorError("timeout", `${where(target)} did not answer within ${Math.round(ms / 100) / 10} s.`);

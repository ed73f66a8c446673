import { isIP } from "node:net";
import { capitalised } from "@/lib/utils";
import { ConnectorError, namedUser, raisedByStatement, sessionWaitOf, withTargetCode, type UserSource } from "../types";
import { hostnameMismatch } from "@/lib/net/certificate-names";

/**
 * PostgreSQL and socket failures as ConnectorErrors. Messages are built from codes and the
 * connection's host, port, database and user only: pg's own messages are never passed on.
 */
export type PostgresTarget = { host: string; port: number; database: string; user?: string } & UserSource;

export const hostPort = (host: string, port: number) => (isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`);
export const where = (t: PostgresTarget) => `PostgreSQL at ${hostPort(t.host, t.port)}`;

/** Condition names of the SQLSTATEs people meet most; the code alone is shown for the rest. */
const CONDITIONS: Record<string, string> = {
  "0A000": "feature_not_supported",
  "08P01": "protocol_violation",
  "21000": "cardinality_violation",
  "22004": "null_value_not_allowed",
  "22008": "datetime_field_overflow",
  "2201B": "invalid_regular_expression",
  "22021": "character_not_in_repertoire",
  "22023": "invalid_parameter_value",
  "22P05": "untranslatable_character",
  "25001": "active_sql_transaction",
  "2BP01": "dependent_objects_still_exist",
  "3F000": "invalid_schema_name",
  "42701": "duplicate_column",
  "42702": "ambiguous_column",
  "42704": "undefined_object",
  "42710": "duplicate_object",
  "42725": "ambiguous_function",
  "42846": "cannot_coerce",
  "42P18": "indeterminate_datatype",
  "53100": "disk_full",
  "53200": "out_of_memory",
  "54000": "program_limit_exceeded",
  "54001": "statement_too_complex",
  "P0001": "raise_exception",
  "P0002": "no_data_found",
  "P0003": "too_many_rows",
  "XX000": "internal_error",
  "22001": "string_data_right_truncation",
  "22003": "numeric_value_out_of_range",
  "22007": "invalid_datetime_format",
  "22012": "division_by_zero",
  "22P02": "invalid_text_representation",
  "23502": "not_null_violation",
  "23503": "foreign_key_violation",
  "23505": "unique_violation",
  "23514": "check_violation",
  "25006": "read_only_sql_transaction",
  "25P02": "in_failed_sql_transaction",
  "40001": "serialization_failure",
  "40P01": "deadlock_detected",
  "42601": "syntax_error",
  "42703": "undefined_column",
  "42883": "undefined_function",
  "42P01": "undefined_table",
  "42P02": "undefined_parameter",
  "42P07": "duplicate_table",
  "42804": "datatype_mismatch",
  "53300": "too_many_connections",
  "55P03": "lock_not_available",
  "57P01": "admin_shutdown",
  "57P03": "cannot_connect_now",
};

const TLS_UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);

const prop = (e: unknown, key: string): unknown => (e && typeof e === "object" ? (e as Record<string, unknown>)[key] : undefined);
const str = (e: unknown, key: string) => {
  const v = prop(e, key);
  return typeof v === "string" ? v : "";
};

/** A code that is safe to show: SQLSTATEs and Node/OpenSSL error codes are short tokens, never values. */
export const safeCode = (e: unknown) => {
  const code = str(e, "code");
  return /^[A-Z0-9_]{2,48}$/i.test(code) ? code : "";
};

/** Socket, DNS, TLS and egress-policy failures; shared by open, check and the operations. */
function classifyNetwork(error: unknown, target: PostgresTarget): ConnectorError | null {
  const code = safeCode(error);
  const message = str(error, "message");
  const at = hostPort(target.host, target.port);
  // lib/net/egress builds this message from the host name and address only.
  if (code === "LATCH_EGRESS_DENIED") return new ConnectorError("egress_denied", message);
  if (["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME", "EAI_NODATA"].includes(code)) return new ConnectorError("dns", `The host name ${target.host} could not be resolved. Check the host.`);
  if (code === "ECONNREFUSED") return new ConnectorError("unreachable", `Nothing is listening at ${at}. Check the host and port, and that PostgreSQL is running.`);
  if (["EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN"].includes(code)) return new ConnectorError("unreachable", `${at} is unreachable from Latch's network.`);
  if (code === "ECONNRESET" || code === "EPIPE") return new ConnectorError("unreachable", `The connection to ${at} was reset. Check firewalls and proxies between Latch and the server.`);
  if (code === "ETIMEDOUT" || /^timeout expired$|connection timeout/i.test(message)) return new ConnectorError("timeout", `${where(target)} did not answer in time.`);
  if (TLS_UNTRUSTED.has(code)) return new ConnectorError("tls", `The TLS certificate of ${at} is not signed by a trusted CA (${code}). If a private CA issued it, add that CA certificate to the connection.`);
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return new ConnectorError("tls", `The TLS certificate of ${at} is not valid now (${code}).`);
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH") return new ConnectorError("tls", hostnameMismatch(at, error as object));
  if (/^ERR_(SSL|TLS)_/.test(code) || code === "EPROTO") return new ConnectorError("tls", `The TLS handshake with ${at} failed (${code}).`);
  if (message === "The server does not support SSL connections") {
    return new ConnectorError("tls", `${where(target)} does not accept TLS connections. Enable TLS on the server, or turn TLS off only if the network in between is trusted.`);
  }
  if (message === "There was an error establishing an SSL connection") return new ConnectorError("tls", `${where(target)} refused to start TLS.`);
  if (/^Connection terminated/.test(message)) return new ConnectorError("unreachable", `${where(target)} closed the connection unexpectedly.`);
  return null;
}

/** SQLSTATE errors sent by the server (pg's DatabaseError carries a severity; Node errors do not). */
function classifyServer(error: unknown, target: PostgresTarget): ConnectorError | null {
  const code = safeCode(error);
  if (!str(error, "severity") || !/^[0-9A-Z]{5}$/.test(code)) return null;
  const named = namedUser(target, target.user);
  const user = named ? ` for ${named}` : "";
  const who = capitalised(named ?? "the user");
  // A statement can raise any SQLSTATE (RAISE … USING ERRCODE): on a logged-in session, 28P01 and
  // 28000 say nothing about the credentials, and must not set off a refetch and a rotation.
  const login = !raisedByStatement(error);
  switch (code) {
    case "28P01":
      if (!login) break;
      return new ConnectorError("credentials_rejected", `The target rejected the credentials (PostgreSQL 28P01)${user} at ${hostPort(target.host, target.port)}.`);
    case "28000":
      if (!login) break;
      return new ConnectorError(
        "credentials_rejected",
        `The target rejected the credentials (PostgreSQL 28000)${user} at ${hostPort(target.host, target.port)}: its access rules (pg_hba.conf) may not allow this user, database or address, or may require TLS.`,
      );
    case "3D000":
      return new ConnectorError("config", `The database “${target.database}” does not exist on ${hostPort(target.host, target.port)}.`);
    case "42501":
      // From a statement, the statement is what was refused (pg_authid, another schema): the caller's request.
      if (!login) return new ConnectorError("target_error", `${who} lacks a privilege the statement needs on ${hostPort(target.host, target.port)} (PostgreSQL 42501 insufficient_privilege).`);
      return new ConnectorError("permission", `${who} lacks a privilege this needs on ${hostPort(target.host, target.port)} (PostgreSQL 42501 insufficient_privilege).`);
    case "40001":
    case "40P01":
    case "55P03":
      return new ConnectorError("busy", `${where(target)} rolled the statement back (PostgreSQL ${code} ${CONDITIONS[code]}): another transaction held what it needed. Run it again.`);
    case "57014": {
      const waited = sessionWaitOf(error);
      const why =
        waited === undefined
          ? "usually because it ran longer than the time allowed"
          : `when the invoke's time ran out: it had first waited ${(waited / 1000).toFixed(1)} s for a free session, while other invokes of this connection held them all`;
      return new ConnectorError("timeout", `${where(target)} cancelled the statement (PostgreSQL 57014 query_canceled), ${why}.`);
    }
    case "53300":
    case "57P01":
    case "57P03":
      return new ConnectorError("unreachable", `${where(target)} is not accepting connections right now (PostgreSQL ${code} ${CONDITIONS[code]}).`);
  }
  // The one syntax error worth its own words (PostgreSQL's own, in English; in another lc_messages the generic line below).
  if (code === "42601" && str(error, "message") === "cannot insert multiple commands into a prepared statement") {
    return new ConnectorError("target_error", `${where(target)} runs one statement per invoke, and this SQL has several (PostgreSQL 42601). Send them one at a time, or put them in a DO block or a function.`);
  }
  const name = CONDITIONS[code] ? ` ${CONDITIONS[code]}` : "";
  const position = /^\d{1,9}$/.test(str(error, "position")) ? ` at character ${str(error, "position")}` : "";
  // Table, column and constraint names are schema identifiers, never row values: they say where it failed.
  const identifier = (key: string) => (/^[\w$.-]{1,128}$/.test(str(error, key)) ? `${key} ${str(error, key)}` : null);
  const names = ["table", "column", "constraint"].map(identifier).filter((n) => n !== null);
  const located = names.length > 0 ? ` (${names.join(", ")})` : "";
  return new ConnectorError("target_error", `${where(target)} returned an error: PostgreSQL ${code}${name}${position}${located}.`);
}

export function classifyPostgresError(error: unknown, target: PostgresTarget): ConnectorError | null {
  if (error instanceof ConnectorError) return error;
  const message = str(error, "message");
  if (/password must be a string/.test(message)) return new ConnectorError("config", `${where(target)} asks for a password, but none was supplied.`);
  return withTargetCode(classifyServer(error, target), safeCode(error)) ?? classifyNetwork(error, target);
}

/** For paths that must end in a ConnectorError: unknown failures keep only their code. */
export function toPostgresError(error: unknown, target: PostgresTarget): ConnectorError {
  const known = classifyPostgresError(error, target);
  if (known) return known;
  const code = safeCode(error);
  return new ConnectorError("target_error", `${where(target)} failed unexpectedly${code ? ` (${code})` : ""}.`);
}

export const postgresTimeout = (target: PostgresTarget, ms: number) =>
  new ConnectorError("timeout", `${where(target)} did not answer within ${Math.round(ms / 100) / 10} s.`);

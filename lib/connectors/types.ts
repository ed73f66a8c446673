import { hasBrand, stampBrands } from "@/lib/error-brand";
import type { z } from "zod";

/**
 * One folder per connector under lib/connectors/<kind>/, listed in lib/connectors/registry.ts.
 * A connector declares its fields, how to open an authenticated client to the target (which the
 * connection test and the run-time operations share), its operations, and which of the target's
 * errors mean "credentials rejected".
 */
export type ConnectorKind = "postgres" | "mariadb" | "redis" | "rabbitmq" | "http" | "oauth2";

export type ConnectorField = {
  /** Key in the connection's config (non-secret fields) or secrets (secret fields). */
  name: string;
  label: string;
  type: "text" | "number" | "select" | "boolean" | "secret";
  required?: boolean;
  help?: string;
  placeholder?: string;
  /** Default for new connections (non-secret fields). */
  default?: string | number | boolean;
  options?: { value: string; label: string }[];
  /** Shown (and validated as required) only when another field has one of these values. */
  showWhen?: { field: string; equals: string[] };
  /** Secret fields: the text field a Credential asset's username can fill (by reference). */
  usernameField?: string;
};

/**
 * Set by Latch on the config a connector opens its client with when the username in it came from a
 * credential asset: resolved from the store with the password, it is the store's, and messages name
 * where it came from instead of quoting it (a connection's last message is read by everyone who may
 * read the connection). A symbol, so that no setting can carry it and no schema strips or shows it.
 */
export const USER_FROM_ASSET: unique symbol = Symbol.for("latch.userFromAsset");
export type UserSource = { [USER_FROM_ASSET]?: boolean };

/** How a message names the user a target refused: "the user “app”", "the user from its credential asset", or null when none was given. */
export function namedUser(target: UserSource, user: string | undefined): string | null {
  if (target[USER_FROM_ASSET]) return "the user from its credential asset";
  return user ? `the user “${user}”` : null;
}

/**
 * What went wrong reaching the target, in words a person can act on. Never holds a value. The REST
 * API reports it as an error's `reason`, and a connection's `lastErrorKind` records it.
 * - `target_error`: the target refused what the caller asked (bad SQL, a refused command): the caller's input.
 * - `upstream_error`: the target, or a service it relies on (an OAuth token endpoint), answered in a way Latch cannot use.
 * - `busy`: the target rolled the request back for now and asks for it again (a deadlock, a serialization failure, a lock it could not get).
 */
export const CONNECTOR_ERROR_KINDS = [
  "credentials_rejected",
  "permission",
  "unreachable",
  "dns",
  "tls",
  "timeout",
  "egress_denied",
  "config",
  "target_error",
  "upstream_error",
  "busy",
] as const;
export type ConnectorErrorKind = (typeof CONNECTOR_ERROR_KINDS)[number];

export class ConnectorError extends Error {
  static readonly brand: string = "latch.ConnectorError";
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(this, value);
  }
  override name = "ConnectorError";
  constructor(
    readonly kind: ConnectorErrorKind,
    message: string,
    /** credentials_rejected only: false when fetching the secret again cannot help (e.g. an OAuth token the API refuses after renewal). */
    readonly refetch = true,
    /** How long the target (or its token endpoint) asked callers to wait, when it said (Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    stampBrands(this, new.target);
  }
  /**
   * The target's own code for an error it sent, when it sent one: PostgreSQL's SQLSTATE ("23505"),
   * MariaDB's error number ("1062"), a Redis reply's prefix ("WRONGTYPE"), an AMQP reply code ("404").
   * Set by the connector's classifier; never holds anything but the code.
   */
  targetCode?: string;
}

/** Marks a classified error with the target's code for it (see ConnectorError.targetCode). */
export function withTargetCode(error: ConnectorError | null, code: string | number | undefined): ConnectorError | null {
  if (error && code !== undefined && code !== "") error.targetCode = String(code);
  return error;
}

/**
 * A permission refusal raised by one operation (a Redis command the ACL forbids, a publish to an
 * exchange the user may not write to): that request was refused, not the connection's sign-in, so
 * it is the caller's to change (422, as a SQL statement refused for a privilege is), not an outage (502).
 */
export function refusedRequest(error: ConnectorError): ConnectorError {
  if (error.kind !== "permission") return error;
  return withTargetCode(new ConnectorError("target_error", error.message), error.targetCode)!;
}

/**
 * The caller's input to an operation is wrong in a way only the connection can tell (a header the
 * credential uses, an exchange that does not exist): a 422 naming the field, not a state conflict.
 */
export class OperationInputError extends ConnectorError {
  static override readonly brand: string = "latch.OperationInputError";
  override name = "OperationInputError";
  constructor(
    /** Path within the operation's input, e.g. "headers.X-API-Key" or "exchange". */
    readonly field: string,
    message: string,
  ) {
    super("config", message);
  }
}

/**
 * Inputs to open a client. `secrets` holds resolved values, keyed by secret field name; they exist
 * only on the caller's stack and must never be logged, put in an error message, or kept.
 * Usernames that come from Credential assets are merged into `config` under their username field.
 */
export type ConnectInput<C> = {
  config: C;
  secrets: Record<string, string>;
  timeoutMs: number;
  /** Connector-kept state (OAuth tokens), decrypted by the caller; absent when there is none. */
  state?: Record<string, string> | null;
  /**
   * Run time: how many sessions the client may hold to the target at once, and how long an idle one
   * is kept. Absent (connect and test): one session, for the short life of the check.
   */
  pool?: { max: number; idleMs: number };
  /**
   * The saved connection's kept state as every instance sees it, for a connector that changes it
   * while open. Absent before the connection is saved: the connector then reports changes through
   * stateOf for its caller to save.
   */
  sharedState?: SharedState;
};

/**
 * Kept state shared by every client of one connection, on every instance. An OAuth app that rotates
 * refresh tokens accepts each one once, so a client must renew with the newest stored token, or take
 * the tokens another client stored meanwhile, and store its own before anyone else reads.
 */
export type SharedState = {
  /**
   * Runs `change` with the newest stored state while no other client of the connection (on any
   * instance) can, and stores what it returns before letting them in; null stores nothing. Waiting
   * for the others and the change share `timeoutMs`: the change is given what is left, and must
   * finish within it. `config` is the connection's saved config as it is now, so a client opened
   * before an edit can tell that the state is no longer its to use.
   */
  exclusive(change: (latest: Record<string, string> | null, timeLeftMs: number, config: Record<string, unknown>) => Promise<Record<string, string> | null>, timeoutMs: number): Promise<void>;
};

export type ConnectResult = {
  /** A short, value-free summary shown to the person, e.g. "PostgreSQL 15.19, database payroll". */
  message: string;
};

export type Operation<Client, I extends z.ZodType = z.ZodType, O = unknown> = {
  label: string;
  description: string;
  input: I;
  /** The shape of what run() returns, as GET /connectors and the OpenAPI document describe the invoke's `result`. */
  output: z.ZodType<O>;
  run(client: Client, input: z.output<I>, opts: { timeoutMs: number }): Promise<O>;
};

export type Connector<C extends z.ZodType = z.ZodType, Client = unknown> = {
  kind: ConnectorKind;
  label: string;
  description: string;
  /** Every field in display order, secret ones included. */
  fields: ConnectorField[];
  /** The non-secret fields, as stored in the connection's config (also the server-side validation). */
  configSchema: C;
  /** Opens an authenticated client; throws ConnectorError (classified) on failure. */
  open(input: ConnectInput<z.output<C>>): Promise<Client>;
  /** Proves the client works (a round trip) and says what it reached, without any value. */
  check(client: Client, input: ConnectInput<z.output<C>>): Promise<ConnectResult>;
  close(client: Client): Promise<void>;
  /** Maps a target/driver error to a ConnectorError, or null if it is not one of the target's. */
  classify(error: unknown, config: z.output<C>): ConnectorError | null;
  /**
   * Where and how the connection sends its typed secrets, from a saved or parsed config. An edit
   * that moves them, drops TLS or trusts a new CA must not send a kept typed secret unasked.
   */
  destination(config: Record<string, unknown>): Destination;
  /**
   * Whether a pooled client should still get new work (a connection the target closed, or one that
   * stopped answering). Absent: always; pooled drivers that heal themselves need none.
   */
  healthy?(client: Client): boolean;
  /** State to keep (encrypted) after open/check, e.g. refreshed OAuth tokens; null when unchanged, none, or already stored through sharedState. */
  stateOf?(client: Client): Record<string, string> | null;
  /** Run-time operations (the REST invoke endpoint). */
  operations: Record<string, Operation<Client>>;
};

/**
 * Errors a statement raised on a session that had already logged in (as opposed to by the login):
 * a SQL connector marks them, and its classifier never takes them for rejected credentials (a
 * statement can raise any SQLSTATE or errno, e.g. RAISE … USING ERRCODE, SIGNAL, a GRANT).
 */
const fromStatement = new WeakSet<object>();
export function markRaisedByStatement(error: unknown): void {
  if (error && typeof error === "object") fromStatement.add(error);
}
export const raisedByStatement = (error: unknown): boolean => !!error && typeof error === "object" && fromStatement.has(error);

/**
 * How long a failed statement first waited for a pooled session, when that was long enough to
 * matter: a statement cancelled for running out of the invoke's time then ran out of it mostly
 * waiting, and its message says so rather than blaming the statement.
 */
const sessionWaits = new WeakMap<object, number>();
export function markSessionWait(error: unknown, waitedMs: number): void {
  if (error && typeof error === "object") sessionWaits.set(error, waitedMs);
}
export const sessionWaitOf = (error: unknown): number | undefined => (error && typeof error === "object" ? sessionWaits.get(error) : undefined);

/** Where typed secrets go: the address (host:port, or a URL without its fragment), whether over TLS, and the extra CA trusted there. */
export type Destination = { address: string; encrypted: boolean; ca: string | null };

const text = (value: unknown) => (typeof value === "string" ? value.trim() : "");

/** A socket connector's destination: host:port, its TLS switch, its CA certificate. */
export function socketDestination(config: Record<string, unknown>, defaultPort: number, encrypted: boolean): Destination {
  return { address: `${text(config.host).toLowerCase()}:${Number(config.port ?? defaultPort)}`, encrypted, ca: text(config.caCertificate) || null };
}

/**
 * A URL connector's destination: the URL its secret goes to, https or not, its CA bundle. The path and
 * query count, not only the origin (as with a store's address): on shared hosts the path names whose
 * endpoint it is (an identity provider's tenant in a token URL, a customer's webhook). One URL written
 * two ways (host case, a default port, trailing slashes) is one address.
 */
export function urlDestination(config: Record<string, unknown>, key: string): Destination {
  const raw = text(config[key]);
  let url: URL | null = null;
  try {
    url = raw ? new URL(raw) : null;
  } catch {
    url = null;
  }
  const address = url ? `${url.origin}${url.pathname.replace(/\/+$/, "")}${url.search}` : raw;
  return { address, encrypted: url?.protocol === "https:", ca: text(config.caBundle) || null };
}

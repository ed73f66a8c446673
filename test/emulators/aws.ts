import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { json, startEmulator, type Emulator, type EmulatorRequest } from "./harness";
import type { TestPki } from "./tls";

/**
 * AWS Secrets Manager + STS emulator, faithful enough for the unmodified AWS SDK v3: JSON 1.1 with
 * X-Amz-Target dispatch, strict SigV4 checked against the known secret keys, staging labels,
 * ClientRequestToken idempotency, and STS AssumeRole (XML, query protocol) on its own origin
 * issuing session credentials that Secrets Manager honours until they expire.
 */

export type AwsEmulatorOptions = {
  pki: TestPki;
  region?: string;
  accountId?: string;
  /** Long-term keys accepted at start. */
  accessKeys?: { accessKeyId: string; secretAccessKey: string }[];
  roles?: RoleSpec[];
  /** Shifts the emulator's clock (and its Date header), to exercise SigV4 skew handling. */
  clockOffsetSeconds?: number;
};

export type RoleSpec = {
  roleArn: string;
  /** When set, AssumeRole must present exactly this ExternalId. */
  externalId?: string;
  /** Overrides the session lifetime STS grants (real STS: DurationSeconds, 900–43200). */
  sessionTtlSeconds?: number;
};

export type SeedInput = {
  name: string;
  /** A string secret; an object is stored as its JSON text (the console's "key/value" form). */
  value?: string | Record<string, unknown>;
  /** Base64 of a binary secret. */
  binary?: string;
  versionId?: string;
  stages?: string[];
};

type Version = { id: string; string?: string; binary?: string; created: number; stages: Set<string> };
type Secret = { name: string; arn: string; description?: string; created: number; changed: number; accessed?: number; deletionDate?: number; versions: Map<string, Version> };
type Principal = { accessKeyId: string; secretAccessKey: string; arn: string; kind: "user" | "session"; roleArn?: string; sessionToken?: string; expiresAt?: number };
type Role = Required<Pick<RoleSpec, "roleArn">> & RoleSpec & { denied: boolean; deniedSecrets?: string[] };

export type AwsEmulator = Emulator & {
  region: string;
  accountId: string;
  /** The STS origin (a separate HTTPS server, as in AWS), with its own request log and faults. */
  sts: Emulator;
  stsUrl: string;
  seedSecret(input: SeedInput): { arn: string; versionId: string };
  /** Adds a version that takes AWSCURRENT; the previous current becomes AWSPREVIOUS. */
  rotateSecret(name: string, value: string | Record<string, unknown>): { versionId: string };
  /** Schedules deletion (reads then fail with InvalidRequestException) or, with force, removes it. */
  deleteSecret(name: string, opts?: { force?: boolean; recoveryWindowInDays?: number }): void;
  restoreSecret(name: string): void;
  describeSecret(name: string): { arn: string; versions: Record<string, string[]>; deletionDate?: Date } | undefined;
  addAccessKey(accessKeyId: string, secretAccessKey: string): void;
  revokeAccessKey(accessKeyId: string): void;
  addRole(role: RoleSpec): void;
  /** Explicit deny for a key or a role's sessions, on every secret or only the named ones. */
  denyAccess(who: { accessKeyId?: string; roleArn?: string }, secrets?: string[]): void;
  allowAccess(who: { accessKeyId?: string; roleArn?: string }): void;
  /** Ends every issued session (or those of one role) now: later calls get ExpiredTokenException. */
  expireSessions(roleArn?: string): number;
  /** Session tokens and keys issued so far (for "never leaks" assertions). */
  issuedSessions(): { accessKeyId: string; secretAccessKey: string; sessionToken: string; roleArn: string; expiresAt: Date }[];
  setClockOffset(seconds: number): void;
  /** ThrottlingException: 400 as AWS sends it, or 429; optionally with Retry-After. */
  throttle(opts?: { times?: number; status?: 400 | 429; retryAfterSeconds?: number }): void;
  /** InternalServiceError 500. */
  failInternal(opts?: { times?: number }): void;
  hang(opts?: { times?: number }): void;
};

const AMZ_JSON = "application/x-amz-json-1.1";
const STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/";
const SKEW_MS = 15 * 60 * 1000;
const NAME_RE = /^[A-Za-z0-9/_+=.@!-]{1,512}$/;

class AwsFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly type: "Sender" | "Receiver" = "Sender",
  ) {
    super(message);
  }
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();
const randomId = (prefix: string, n = 16) => prefix + Array.from(randomBytes(n), (b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[b % 32]).join("");
const suffix = () => Array.from(randomBytes(6), (b) => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[b % 62]).join("");
const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c]!);

/** RFC 3986 encoding as SigV4 wants it. */
const uriEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function amzDate(ms: number) {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : Number.NaN;
}

function canonicalQuery(search: string) {
  if (!search || search === "?") return "";
  const pairs = search
    .replace(/^\?/, "")
    .split("&")
    .filter(Boolean)
    .map((p) => {
      const [k = "", v = ""] = p.split("=");
      const dec = (x: string) => decodeURIComponent(x.replace(/\+/g, " "));
      return [uriEncode(dec(k)), uriEncode(dec(v))] as const;
    });
  pairs.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

export async function startAwsEmulator(opts: AwsEmulatorOptions): Promise<AwsEmulator> {
  const region = opts.region ?? "eu-west-1";
  const accountId = opts.accountId ?? "123456789012";
  let clockOffsetMs = (opts.clockOffsetSeconds ?? 0) * 1000;
  const now = () => Date.now() + clockOffsetMs;

  const principals = new Map<string, Principal>();
  const deniedKeys = new Map<string, string[] | undefined>();
  const roles = new Map<string, Role>();
  const secrets = new Map<string, Secret>();
  const issued: Principal[] = [];

  const addAccessKey = (accessKeyId: string, secretAccessKey: string) =>
    principals.set(accessKeyId, { accessKeyId, secretAccessKey, kind: "user", arn: `arn:aws:iam::${accountId}:user/${accessKeyId.toLowerCase()}` });
  for (const k of opts.accessKeys ?? []) addAccessKey(k.accessKeyId, k.secretAccessKey);
  const addRole = (r: RoleSpec) => roles.set(r.roleArn, { ...r, denied: false });
  for (const r of opts.roles ?? []) addRole(r);

  // ---- SigV4 -------------------------------------------------------------------------------

  type AuthFaults = { missing: AwsFault; unknownKey: AwsFault; badSignature: (m?: string) => AwsFault; expired: AwsFault; incomplete: AwsFault };
  const smAuthFaults: AuthFaults = {
    missing: new AwsFault("MissingAuthenticationTokenException", "Missing Authentication Token"),
    unknownKey: new AwsFault("UnrecognizedClientException", "The security token included in the request is invalid."),
    badSignature: (m) =>
      new AwsFault("InvalidSignatureException", m ?? "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."),
    expired: new AwsFault("ExpiredTokenException", "The security token included in the request is expired"),
    incomplete: new AwsFault("IncompleteSignatureException", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."),
  };
  const stsAuthFaults: AuthFaults = {
    missing: new AwsFault("MissingAuthenticationToken", "Request is missing Authentication Token", 403),
    unknownKey: new AwsFault("InvalidClientTokenId", "The security token included in the request is invalid.", 403),
    badSignature: (m) =>
      new AwsFault("SignatureDoesNotMatch", m ?? "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.", 403),
    expired: new AwsFault("ExpiredToken", "The security token included in the request is expired", 400),
    incomplete: new AwsFault("IncompleteSignature", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.", 400),
  };

  function verifySigV4(req: IncomingMessage, url: URL, body: string, service: string, faults: AuthFaults): Principal {
    const auth = req.headers.authorization;
    if (!auth) throw faults.missing;
    const m = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(auth.trim());
    if (!m) throw faults.incomplete;
    const [, credential, signedHeaders, signature] = m as unknown as [string, string, string, string];
    const [akid, date, scopeRegion, scopeService, terminator] = credential.split("/");
    if (!akid || !date || !scopeRegion || !scopeService || terminator !== "aws4_request") throw faults.incomplete;
    const principal = principals.get(akid);
    if (!principal) throw faults.unknownKey;
    if (principal.kind === "session" && req.headers["x-amz-security-token"] !== principal.sessionToken) throw faults.unknownKey;
    if (principal.kind === "user" && req.headers["x-amz-security-token"]) throw faults.unknownKey;

    const xAmzDate = String(req.headers["x-amz-date"] ?? "");
    const signedAt = parseAmzDate(xAmzDate);
    if (Number.isNaN(signedAt)) throw faults.badSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    if (xAmzDate.slice(0, 8) !== date) throw faults.badSignature(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${xAmzDate.slice(0, 8)}'`);
    if (scopeService !== service) throw faults.badSignature(`Credential should be scoped to correct service: '${service}'.`);
    if (scopeRegion !== region) throw faults.badSignature(`Credential should be scoped to a valid region, not '${scopeRegion}'.`);
    if (Math.abs(signedAt - now()) > SKEW_MS) {
      throw faults.badSignature(`Signature expired: ${xAmzDate} is now earlier than ${amzDate(now() - SKEW_MS)} (${amzDate(now())} - 15 min.)`);
    }
    const names = signedHeaders.split(";");
    if (!names.includes("host")) throw faults.badSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.");

    const bodyHash = sha256(body);
    const claimed = req.headers["x-amz-content-sha256"];
    if (claimed !== undefined && claimed !== bodyHash && claimed !== "UNSIGNED-PAYLOAD") throw faults.badSignature("The provided 'x-amz-content-sha256' header does not match what was computed.");

    const rawPath = (req.url ?? "/").split("?")[0] || "/";
    const canonicalUri = rawPath.split("/").map((seg) => uriEncode(seg)).join("/");
    const canonicalHeaders = names
      .map((n) => {
        const v = req.headers[n];
        const value = Array.isArray(v) ? v.join(",") : (v ?? "");
        return `${n}:${String(value).trim().replace(/\s+/g, " ")}\n`;
      })
      .join("");
    const canonicalRequest = [req.method, canonicalUri, canonicalQuery(url.search), canonicalHeaders, signedHeaders, claimed ?? bodyHash].join("\n");
    const scope = `${date}/${scopeRegion}/${scopeService}/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256", xAmzDate, scope, sha256(canonicalRequest)].join("\n");
    const key = hmac(hmac(hmac(hmac(`AWS4${principal.secretAccessKey}`, date), scopeRegion), scopeService), "aws4_request");
    const expected = Buffer.from(hmac(key, stringToSign).toString("hex"));
    if (!timingSafeEqual(expected, Buffer.from(signature))) throw faults.badSignature();
    // Expiry is checked after the signature, as AWS does: a forged request learns nothing.
    if (principal.kind === "session" && principal.expiresAt! <= now()) throw faults.expired;
    return principal;
  }

  // ---- Secrets Manager --------------------------------------------------------------------

  function findSecret(id: unknown): Secret | undefined {
    if (typeof id !== "string" || !id) throw new AwsFault("InvalidParameterException", "You must provide a SecretId.");
    if (id.startsWith("arn:")) {
      for (const s of secrets.values()) if (s.arn === id || s.arn.replace(/-[A-Za-z0-9]{6}$/, "") === id) return s;
      return undefined;
    }
    return secrets.get(id);
  }
  const notFound = () => new AwsFault("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
  const pendingDeletion = () => new AwsFault("InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.");

  function requireLive(id: unknown): Secret {
    const s = findSecret(id);
    if (!s) throw notFound();
    if (s.deletionDate !== undefined) throw pendingDeletion();
    return s;
  }

  function authorize(principal: Principal, action: string, secretId: unknown) {
    const name = typeof secretId === "string" ? (findSecret(secretId)?.name ?? secretId) : "";
    const check = (deniedSecrets: string[] | undefined) => !deniedSecrets || deniedSecrets.includes(name);
    const role = principal.roleArn ? roles.get(principal.roleArn) : undefined;
    const denied = (deniedKeys.has(principal.accessKeyId) && check(deniedKeys.get(principal.accessKeyId))) || (role?.denied && check(role.deniedSecrets));
    if (denied) {
      const resource = typeof secretId === "string" ? secretId : "*";
      throw new AwsFault("AccessDeniedException", `User: ${principal.arn} is not authorized to perform: secretsmanager:${action} on resource: ${resource} with an explicit deny in an identity-based policy`);
    }
  }

  /** Attaches stages to a version, moving them from wherever they were; AWSCURRENT leaves AWSPREVIOUS behind. */
  function attachStages(secret: Secret, target: Version, stages: string[]) {
    for (const stage of stages) {
      const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));
      if (holder === target) continue;
      holder?.stages.delete(stage);
      if (stage === "AWSCURRENT" && holder) {
        for (const v of secret.versions.values()) v.stages.delete("AWSPREVIOUS");
        holder.stages.add("AWSPREVIOUS");
      }
      target.stages.add(stage);
    }
    // Real AWS keeps at most ~100 versions; unlabelled ones beyond that are dropped.
    const unlabelled = [...secret.versions.values()].filter((v) => v.stages.size === 0);
    for (const v of unlabelled.slice(0, Math.max(0, secret.versions.size - 100))) secret.versions.delete(v.id);
  }

  function payloadOf(input: Record<string, unknown>) {
    const hasString = typeof input.SecretString === "string";
    const hasBinary = typeof input.SecretBinary === "string";
    if (hasString && hasBinary) throw new AwsFault("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.");
    return { string: hasString ? (input.SecretString as string) : undefined, binary: hasBinary ? (input.SecretBinary as string) : undefined };
  }

  function createSecret(name: string, payload: { string?: string; binary?: string }, token?: string, description?: string) {
    if (!NAME_RE.test(name)) throw new AwsFault("InvalidParameterException", "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!");
    const existing = secrets.get(name);
    if (existing) {
      if (existing.deletionDate !== undefined) throw new AwsFault("InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.");
      const same = token && existing.versions.get(token);
      if (same && same.string === payload.string && same.binary === payload.binary) return { secret: existing, version: same };
      throw new AwsFault("ResourceExistsException", `The operation failed because the secret ${name} already exists.`);
    }
    const t = now();
    const secret: Secret = { name, arn: `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-${suffix()}`, description, created: t, changed: t, versions: new Map() };
    secrets.set(name, secret);
    if (payload.string === undefined && payload.binary === undefined) return { secret, version: undefined };
    const version: Version = { id: token ?? randomUUID(), ...payload, created: t, stages: new Set() };
    secret.versions.set(version.id, version);
    attachStages(secret, version, ["AWSCURRENT"]);
    return { secret, version };
  }

  function putValue(secret: Secret, payload: { string?: string; binary?: string }, token?: string, stages?: string[]) {
    if (payload.string === undefined && payload.binary === undefined) throw new AwsFault("InvalidParameterException", "You must provide either SecretString or SecretBinary.");
    const id = token ?? randomUUID();
    if (id.length < 32 || id.length > 64) throw new AwsFault("InvalidParameterException", "ClientRequestToken must be 32-64 characters long.");
    const existing = secret.versions.get(id);
    if (existing) {
      if (existing.string === payload.string && existing.binary === payload.binary) return existing;
      throw new AwsFault("ResourceExistsException", "You can't modify an existing version, you can only create a new version.");
    }
    const version: Version = { id, ...payload, created: now(), stages: new Set() };
    secret.versions.set(id, version);
    secret.changed = version.created;
    attachStages(secret, version, stages?.length ? stages : ["AWSCURRENT"]);
    return version;
  }

  const stagesOf = (v: Version) => [...v.stages];
  const epoch = (ms: number) => ms / 1000;

  const operations: Record<string, (input: Record<string, unknown>, principal: Principal) => unknown> = {
    GetSecretValue(input, principal) {
      authorize(principal, "GetSecretValue", input.SecretId);
      const secret = requireLive(input.SecretId);
      const { VersionId, VersionStage } = input as { VersionId?: string; VersionStage?: string };
      let version: Version | undefined;
      if (VersionId) {
        // The API checks the form before it looks anything up (VersionId: 32 to 64 characters).
        if (VersionId.length < 32 || VersionId.length > 64) {
          throw new AwsFault("ValidationException", `1 validation error detected: Value '${VersionId}' at 'versionId' failed to satisfy constraint: Member must have length ${VersionId.length < 32 ? "greater than or equal to 32" : "less than or equal to 64"}`);
        }
        version = secret.versions.get(VersionId);
        if (!version) throw new AwsFault("ResourceNotFoundException", `Secrets Manager can't find the specified secret value for VersionId: ${VersionId}`);
        if (VersionStage && !version.stages.has(VersionStage)) throw new AwsFault("InvalidParameterException", "You provided a VersionStage that is not associated to the provided VersionId.");
      } else {
        const stage = VersionStage ?? "AWSCURRENT";
        version = [...secret.versions.values()].find((v) => v.stages.has(stage));
        if (!version) throw new AwsFault("ResourceNotFoundException", `Secrets Manager can't find the specified secret value for staging label: ${stage}`);
      }
      secret.accessed = now();
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.id,
        ...(version.string !== undefined ? { SecretString: version.string } : { SecretBinary: version.binary }),
        VersionStages: stagesOf(version),
        CreatedDate: epoch(version.created),
      };
    },
    PutSecretValue(input, principal) {
      authorize(principal, "PutSecretValue", input.SecretId);
      const secret = requireLive(input.SecretId);
      const version = putValue(secret, payloadOf(input), input.ClientRequestToken as string | undefined, input.VersionStages as string[] | undefined);
      return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: stagesOf(version) };
    },
    CreateSecret(input, principal) {
      authorize(principal, "CreateSecret", input.Name);
      if (typeof input.Name !== "string") throw new AwsFault("InvalidParameterException", "You must provide a Name.");
      const { secret, version } = createSecret(input.Name, payloadOf(input), input.ClientRequestToken as string | undefined, input.Description as string | undefined);
      return { ARN: secret.arn, Name: secret.name, ...(version ? { VersionId: version.id } : {}) };
    },
    DeleteSecret(input, principal) {
      authorize(principal, "DeleteSecret", input.SecretId);
      const secret = findSecret(input.SecretId);
      if (!secret) throw notFound();
      const force = input.ForceDeleteWithoutRecovery === true;
      if (force && input.RecoveryWindowInDays !== undefined) throw new AwsFault("InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
      if (force) {
        secrets.delete(secret.name);
        return { ARN: secret.arn, Name: secret.name, DeletionDate: epoch(now()) };
      }
      if (secret.deletionDate !== undefined) throw new AwsFault("InvalidRequestException", "You can't perform this operation on the secret because it was already scheduled for deletion.");
      const days = (input.RecoveryWindowInDays as number | undefined) ?? 30;
      if (days < 7 || days > 30) throw new AwsFault("InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
      secret.deletionDate = now() + days * 86_400_000;
      return { ARN: secret.arn, Name: secret.name, DeletionDate: epoch(secret.deletionDate) };
    },
    RestoreSecret(input, principal) {
      authorize(principal, "RestoreSecret", input.SecretId);
      const secret = findSecret(input.SecretId);
      if (!secret) throw notFound();
      delete secret.deletionDate;
      return { ARN: secret.arn, Name: secret.name };
    },
    DescribeSecret(input, principal) {
      authorize(principal, "DescribeSecret", input.SecretId);
      const secret = findSecret(input.SecretId);
      if (!secret) throw notFound();
      return {
        ARN: secret.arn,
        Name: secret.name,
        ...(secret.description ? { Description: secret.description } : {}),
        CreatedDate: epoch(secret.created),
        LastChangedDate: epoch(secret.changed),
        ...(secret.accessed ? { LastAccessedDate: epoch(Math.floor(secret.accessed / 86_400_000) * 86_400_000) } : {}),
        ...(secret.deletionDate !== undefined ? { DeletedDate: epoch(secret.deletionDate) } : {}),
        VersionIdsToStages: Object.fromEntries([...secret.versions.values()].filter((v) => v.stages.size).map((v) => [v.id, stagesOf(v)])),
      };
    },
    UpdateSecretVersionStage(input, principal) {
      authorize(principal, "UpdateSecretVersionStage", input.SecretId);
      const secret = requireLive(input.SecretId);
      const { VersionStage: stage, MoveToVersionId: moveTo, RemoveFromVersionId: removeFrom } = input as Record<string, string | undefined>;
      if (!stage) throw new AwsFault("InvalidParameterException", "You must provide a VersionStage.");
      const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));
      if (removeFrom !== undefined && holder?.id !== removeFrom) throw new AwsFault("InvalidParameterException", `The staging label ${stage} is not attached to version ${removeFrom}.`);
      if (moveTo !== undefined) {
        const target = secret.versions.get(moveTo);
        if (!target) throw new AwsFault("ResourceNotFoundException", `Secrets Manager can't find the specified secret value for VersionId: ${moveTo}`);
        if (holder && holder !== target && removeFrom === undefined) {
          throw new AwsFault("InvalidParameterException", `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`);
        }
        attachStages(secret, target, [stage]);
      } else {
        if (stage === "AWSCURRENT") throw new AwsFault("InvalidParameterException", "You can only move staging label AWSCURRENT to a different secret version. It can’t be completely removed.");
        holder?.stages.delete(stage);
      }
      secret.changed = now();
      return { ARN: secret.arn, Name: secret.name };
    },
  };

  function sendAwsJson(res: ServerResponse, status: number, body: unknown) {
    json(res, status, body, { "content-type": AMZ_JSON, "x-amzn-requestid": randomUUID(), date: new Date(now()).toUTCString() });
  }
  function sendJsonFault(res: ServerResponse, f: AwsFault) {
    sendAwsJson(res, f.status, { __type: f.code, message: f.message });
  }

  async function handleSecretsManager({ req, res, url, body }: EmulatorRequest) {
    if (req.method !== "POST" || url.pathname !== "/") return sendJsonFault(res, new AwsFault("UnknownOperationException", "", 400));
    const target = String(req.headers["x-amz-target"] ?? "");
    try {
      const principal = verifySigV4(req, url, body, "secretsmanager", smAuthFaults);
      const op = /^secretsmanager\.(\w+)$/.exec(target)?.[1];
      const handler = op ? operations[op] : undefined;
      if (!handler) throw new AwsFault("UnknownOperationException", "");
      if (!String(req.headers["content-type"] ?? "").startsWith(AMZ_JSON)) throw new AwsFault("SerializationException", "Unsupported content type.");
      let input: Record<string, unknown>;
      try {
        input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      } catch {
        throw new AwsFault("SerializationException", "Start of structure or map found where not expected.");
      }
      sendAwsJson(res, 200, handler(input, principal));
    } catch (error) {
      if (!(error instanceof AwsFault)) throw error;
      sendJsonFault(res, error);
    }
  }

  // ---- STS --------------------------------------------------------------------------------

  function sendXml(res: ServerResponse, status: number, xml: string) {
    res.writeHead(status, { "content-type": "text/xml", "x-amzn-requestid": randomUUID(), date: new Date(now()).toUTCString() });
    res.end(xml);
  }
  function sendXmlFault(res: ServerResponse, f: AwsFault) {
    sendXml(
      res,
      f.status,
      `<ErrorResponse xmlns="${STS_NS}"><Error><Type>${f.type}</Type><Code>${f.code}</Code><Message>${xmlEscape(f.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    );
  }

  function assumeRole(caller: Principal, form: URLSearchParams): Principal {
    const roleArn = form.get("RoleArn") ?? "";
    const sessionName = form.get("RoleSessionName") ?? "";
    if (!/^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn)) throw new AwsFault("ValidationError", "1 validation error detected: Value at 'roleArn' failed to satisfy constraint");
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) throw new AwsFault("ValidationError", "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*");
    const role = roles.get(roleArn);
    const externalId = form.get("ExternalId") ?? undefined;
    const denied = !role || deniedKeys.has(caller.accessKeyId) || (role.externalId !== undefined && role.externalId !== externalId);
    if (denied) throw new AwsFault("AccessDenied", `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, 403);
    const requested = Number(form.get("DurationSeconds") ?? 3600);
    if (!Number.isInteger(requested) || requested < 900 || requested > 43_200) throw new AwsFault("ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900");
    const ttl = role.sessionTtlSeconds ?? requested;
    const roleName = roleArn.split("/").pop()!;
    const session: Principal = {
      kind: "session",
      accessKeyId: randomId("ASIA"),
      secretAccessKey: randomBytes(30).toString("base64"),
      sessionToken: `IQoJ${randomBytes(120).toString("base64")}`,
      expiresAt: Math.floor(now() / 1000) * 1000 + ttl * 1000,
      roleArn,
      arn: `arn:aws:sts::${accountId}:assumed-role/${roleName}/${sessionName}`,
    };
    principals.set(session.accessKeyId, session);
    issued.push(session);
    return session;
  }

  async function handleSts({ req, res, url, body }: EmulatorRequest) {
    try {
      if (req.method !== "POST") throw new AwsFault("InvalidAction", "Only POST is supported by this emulator.");
      const caller = verifySigV4(req, url, body, "sts", stsAuthFaults);
      const form = new URLSearchParams(body);
      if (form.get("Action") !== "AssumeRole") throw new AwsFault("InvalidAction", `Could not find operation ${form.get("Action") ?? ""} for version ${form.get("Version") ?? ""}`);
      if (form.get("Version") !== "2011-06-15") throw new AwsFault("InvalidAction", "Unsupported API version.");
      const s = assumeRole(caller, form);
      sendXml(
        res,
        200,
        `<AssumeRoleResponse xmlns="${STS_NS}"><AssumeRoleResult>` +
          `<SourceIdentity></SourceIdentity>` +
          `<AssumedRoleUser><AssumedRoleId>AROA${randomId("", 16)}:${xmlEscape(s.arn.split("/").pop()!)}</AssumedRoleId><Arn>${xmlEscape(s.arn)}</Arn></AssumedRoleUser>` +
          `<Credentials><AccessKeyId>${s.accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(s.secretAccessKey)}</SecretAccessKey><SessionToken>${xmlEscape(s.sessionToken!)}</SessionToken><Expiration>${new Date(s.expiresAt!).toISOString()}</Expiration></Credentials>` +
          `<PackedPolicySize>0</PackedPolicySize></AssumeRoleResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      );
    } catch (error) {
      if (!(error instanceof AwsFault)) throw error;
      sendXmlFault(res, error);
    }
  }

  // ---- control -----------------------------------------------------------------------------

  const toStored = (value: string | Record<string, unknown>) => (typeof value === "string" ? value : JSON.stringify(value));

  const api = {
    seedSecret(input: SeedInput) {
      const payload = input.binary !== undefined ? { binary: input.binary } : { string: toStored(input.value ?? "") };
      const existing = secrets.get(input.name);
      if (!existing) {
        const { secret, version } = createSecret(input.name, payload, input.versionId ?? randomUUID());
        if (input.stages?.length && version) {
          version.stages.clear();
          attachStages(secret, version, input.stages);
        }
        return { arn: secret.arn, versionId: version!.id };
      }
      const version = putValue(existing, payload, input.versionId, input.stages);
      return { arn: existing.arn, versionId: version.id };
    },
    rotateSecret(name: string, value: string | Record<string, unknown>) {
      const secret = secrets.get(name);
      if (!secret) throw new Error(`no secret ${name}`);
      return { versionId: putValue(secret, { string: toStored(value) }).id };
    },
    deleteSecret(name: string, o: { force?: boolean; recoveryWindowInDays?: number } = {}) {
      const secret = secrets.get(name);
      if (!secret) throw new Error(`no secret ${name}`);
      if (o.force) secrets.delete(name);
      else secret.deletionDate = now() + (o.recoveryWindowInDays ?? 30) * 86_400_000;
    },
    restoreSecret(name: string) {
      const secret = secrets.get(name);
      if (secret) delete secret.deletionDate;
    },
    describeSecret(name: string) {
      const s = secrets.get(name);
      if (!s) return undefined;
      return {
        arn: s.arn,
        versions: Object.fromEntries([...s.versions.values()].map((v) => [v.id, stagesOf(v)])),
        ...(s.deletionDate !== undefined ? { deletionDate: new Date(s.deletionDate) } : {}),
      };
    },
    addAccessKey,
    revokeAccessKey(accessKeyId: string) {
      principals.delete(accessKeyId);
    },
    addRole,
    denyAccess(who: { accessKeyId?: string; roleArn?: string }, onlySecrets?: string[]) {
      if (who.accessKeyId) deniedKeys.set(who.accessKeyId, onlySecrets);
      const role = who.roleArn ? roles.get(who.roleArn) : undefined;
      if (role) Object.assign(role, { denied: true, deniedSecrets: onlySecrets });
    },
    allowAccess(who: { accessKeyId?: string; roleArn?: string }) {
      if (who.accessKeyId) deniedKeys.delete(who.accessKeyId);
      const role = who.roleArn ? roles.get(who.roleArn) : undefined;
      if (role) Object.assign(role, { denied: false, deniedSecrets: undefined });
    },
    expireSessions(roleArn?: string) {
      let n = 0;
      for (const p of issued) {
        if ((!roleArn || p.roleArn === roleArn) && p.expiresAt! > now()) {
          p.expiresAt = now();
          n++;
        }
      }
      return n;
    },
    issuedSessions() {
      return issued.map((p) => ({ accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey, sessionToken: p.sessionToken!, roleArn: p.roleArn!, expiresAt: new Date(p.expiresAt!) }));
    },
    setClockOffset(seconds: number) {
      clockOffsetMs = seconds * 1000;
    },
  };

  async function control({ req, res, url, body }: EmulatorRequest): Promise<boolean> {
    const route = `${req.method} ${url.pathname}`;
    const input = (body ? JSON.parse(body) : {}) as Record<string, unknown>;
    const ok = (data: unknown = { ok: true }) => (json(res, 200, data), true);
    try {
      switch (route) {
        case "GET /_control/secrets":
          return ok([...secrets.values()].map((s) => ({ name: s.name, ...api.describeSecret(s.name) })));
        case "POST /_control/secrets":
          return ok(api.seedSecret(input as SeedInput));
        case "POST /_control/secrets/rotate":
          return ok(api.rotateSecret(input.name as string, input.value as string | Record<string, unknown>));
        case "POST /_control/secrets/delete":
          api.deleteSecret(input.name as string, { force: input.force === true, recoveryWindowInDays: input.recoveryWindowInDays as number | undefined });
          return ok();
        case "POST /_control/secrets/restore":
          api.restoreSecret(input.name as string);
          return ok();
        case "POST /_control/access-keys":
          api.addAccessKey(input.accessKeyId as string, input.secretAccessKey as string);
          return ok();
        case "POST /_control/access-keys/revoke":
          api.revokeAccessKey(input.accessKeyId as string);
          return ok();
        case "POST /_control/roles":
          api.addRole(input as unknown as RoleSpec);
          return ok();
        case "POST /_control/deny":
          api.denyAccess(input as { accessKeyId?: string; roleArn?: string }, input.secrets as string[] | undefined);
          return ok();
        case "POST /_control/allow":
          api.allowAccess(input as { accessKeyId?: string; roleArn?: string });
          return ok();
        case "POST /_control/sessions/expire":
          return ok({ expired: api.expireSessions(input.roleArn as string | undefined) });
        case "POST /_control/clock":
          api.setClockOffset(Number(input.offsetSeconds ?? 0));
          return ok();
        default:
          return false;
      }
    } catch (error) {
      json(res, 400, { error: (error as Error).message });
      return true;
    }
  }

  const tls = { cert: opts.pki.serverCert, key: opts.pki.serverKey };
  const sm = await startEmulator({ name: "aws-secretsmanager", tls, handle: handleSecretsManager, control });
  const sts = await startEmulator({ name: "aws-sts", tls, handle: handleSts, control });

  const inject = (target: Emulator, times: number | undefined, fault: Parameters<Emulator["inject"]>[0]["fault"]) => target.inject({ fault, ...(times !== undefined ? { times } : {}) });

  return {
    ...sm,
    close: async () => {
      await Promise.all([sm.close(), sts.close()]);
    },
    region,
    accountId,
    sts,
    stsUrl: sts.url,
    ...api,
    throttle: ({ times = 1, status = 400, retryAfterSeconds } = {}) =>
      inject(sm, times, {
        type: "status",
        status,
        body: { __type: "ThrottlingException", message: "Rate exceeded" },
        headers: { "content-type": AMZ_JSON, ...(retryAfterSeconds !== undefined ? { "retry-after": String(retryAfterSeconds) } : {}) },
      }),
    failInternal: ({ times = 1 } = {}) =>
      inject(sm, times, { type: "status", status: 500, body: { __type: "InternalServiceError", message: "An error occurred on the server side." }, headers: { "content-type": AMZ_JSON } }),
    hang: ({ times } = {}) => inject(sm, times, { type: "hang" }),
  };
}

/** Demo data for `npm run emulators`: two secrets and a key, plus how to register the store. */
export function seedDemoAws(emulator: AwsEmulator, pki?: TestPki) {
  const accessKeyId = "AKIALATCHDEMO0000001";
  const secretAccessKey = "latch-demo-secret-access-key-0000000000";
  emulator.addAccessKey(accessKeyId, secretAccessKey);
  emulator.addRole({ roleArn: `arn:aws:iam::${emulator.accountId}:role/latch-reader`, externalId: "latch-demo" });
  emulator.seedSecret({ name: "prod/payroll-db", value: { username: "payroll_app", password: "demo-Payr0ll-pass", host: "db.internal", port: 5432 } });
  emulator.rotateSecret("prod/payroll-db", { username: "payroll_app", password: "demo-Payr0ll-pass-2", host: "db.internal", port: 5432 });
  emulator.seedSecret({ name: "prod/crm-api-key", value: "demo-crm-api-key-123" });
  const storeConfig = { region: emulator.region, endpoint: emulator.url, stsEndpoint: emulator.stsUrl, auth: "access_key", accessKeyId, roleSessionName: "latch" };
  const caPath = pki ? `${pki.dir}/latch-test-ca.pem` : "the emulator's test CA (latch-test-ca.pem)";
  const instructions = [
    `AWS Secrets Manager emulator at ${emulator.url} (STS at ${emulator.stsUrl}), region ${emulator.region}.`,
    `Register a store of kind "AWS Secrets Manager": region ${emulator.region}, endpoint ${emulator.url}, authentication "Access key",`,
    `access key ID ${accessKeyId}, secret access key ${secretAccessKey}; upload ${caPath} as the CA bundle.`,
    `For assume-role instead: STS endpoint ${emulator.stsUrl}, role ARN arn:aws:iam::${emulator.accountId}:role/latch-reader, external ID latch-demo.`,
    `Secrets: prod/payroll-db (JSON: username, password, host, port; AWSCURRENT and AWSPREVIOUS) and prod/crm-api-key (plain string).`,
    `Control API: ${emulator.controlUrl}/_control/… (secrets, secrets/rotate, secrets/delete, access-keys, roles, deny, sessions/expire, faults).`,
  ].join("\n");
  return { instructions, storeConfig, storeSecrets: { secretAccessKey } };
}

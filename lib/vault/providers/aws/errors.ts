import "server-only";
import { classifyNetworkError, StoreError } from "../../errors";
import { parseRetryAfter } from "../../retry";

/**
 * AWS SDK errors → StoreError. Messages are written here from the error code and non-secret
 * context (host, region, key id, role ARN, secret name); AWS's own message text is only inspected,
 * never echoed, so nothing the server (or a proxy) sends can smuggle a value into the UI or logs.
 */
type SdkError = {
  name?: string;
  message?: string;
  $fault?: "client" | "server";
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
};

export type AwsErrorContext = {
  host: string;
  region: string;
  accessKeyId: string;
  roleArn?: string;
  /** The secret and what Latch was doing with it, for the message. */
  secretName?: string;
  version?: string;
  action: "read" | "write" | "delete" | "check";
};

const VERBS: Record<AwsErrorContext["action"], { verb: string; permission: string }> = {
  read: { verb: "read", permission: "secretsmanager:GetSecretValue" },
  write: { verb: "write", permission: "secretsmanager:PutSecretValue (and CreateSecret for new secrets)" },
  delete: { verb: "delete", permission: "secretsmanager:DeleteSecret" },
  check: { verb: "check", permission: "secretsmanager:GetSecretValue" },
};

const asSdk = (error: unknown): SdkError => (error && typeof error === "object" ? (error as SdkError) : {});
const statusOf = (e: SdkError) => e.$metadata?.httpStatusCode ?? e.$response?.statusCode;

function retryAfterOf(e: SdkError): number | undefined {
  const headers = e.$response?.headers ?? {};
  const seconds = parseRetryAfter(headers["retry-after"] ?? headers["Retry-After"]);
  if (seconds !== undefined) return seconds;
  const ms = Number(headers["x-amz-retry-after"]);
  return Number.isFinite(ms) && ms > 0 ? ms / 1000 : undefined;
}

/** Only a plain code name is safe to show; anything else might be server-controlled junk. */
const safeCode = (name: string | undefined) => (name && /^[A-Za-z][A-Za-z0-9.#]{0,63}$/.test(name) ? name : "an unknown error");

function secretLabel(ctx: AwsErrorContext) {
  return ctx.secretName ? `“${ctx.secretName}”` : "the secret";
}

function fromCommon(e: SdkError, name: string, ctx: AwsErrorContext, service: string): StoreError | null {
  const status = statusOf(e);
  if (["ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"].includes(name) || status === 429) {
    return new StoreError("throttled", `${service} in ${ctx.region} is throttling Latch's requests. They are retried automatically; if this persists, lower the request rate or raise the quota.`, retryAfterOf(e));
  }
  if (["InternalServiceError", "InternalFailure", "InternalError", "ServiceUnavailable", "ServiceUnavailableException"].includes(name) || (status !== undefined && status >= 500)) {
    return new StoreError("unavailable", `${service} at ${ctx.host} reported an internal error (HTTP ${status ?? 500}). Try again shortly.`, retryAfterOf(e));
  }
  return null;
}

function fromNonService(error: unknown, e: SdkError, host: string, service: string): StoreError {
  const network = classifyNetworkError(error, host);
  if (network) return network;
  const name = e.name ?? "";
  if (name === "SyntaxError" || /Deserialization error|Unexpected token|not valid JSON|Expected closing tag|Unable to parse/i.test(e.message ?? "")) {
    return new StoreError("bad_response", `${host} did not answer like ${service}. Check that the endpoint address points at ${service}.`);
  }
  const status = statusOf(e);
  if (status !== undefined) return new StoreError("bad_response", `${service} at ${host} answered HTTP ${status} with ${safeCode(name)}.`);
  return new StoreError("bad_response", `Talking to ${service} at ${host} failed unexpectedly (${safeCode(name)}).`);
}

/** Errors from Secrets Manager calls (and anything the SDK threw around them). */
export function mapSecretsManagerError(error: unknown, ctx: AwsErrorContext): StoreError {
  if (error instanceof StoreError) return error;
  const e = asSdk(error);
  const name = e.name ?? "";
  const message = e.message ?? "";
  const what = secretLabel(ctx);
  const { verb, permission } = VERBS[ctx.action];
  const identity = ctx.roleArn ? `role ${ctx.roleArn}` : `access key ${ctx.accessKeyId}`;
  switch (name) {
    case "ResourceNotFoundException":
      if (ctx.version && /VersionId|staging label|version/i.test(message)) {
        return new StoreError("not_found", `Secret ${what} has no version or staging label “${ctx.version}” in Secrets Manager (${ctx.region}).`);
      }
      return new StoreError("not_found", `There is no secret ${what} in Secrets Manager (${ctx.region}). Check the name or ARN and the region.`);
    case "AccessDeniedException":
      return new StoreError("permission", `The AWS identity Latch uses (${identity}) may not ${verb} ${what}. Allow ${permission} on it in the IAM policy or the secret's resource policy.`);
    case "DecryptionFailure":
      return new StoreError("permission", `Secrets Manager could not decrypt ${what}: the identity Latch uses (${identity}) needs kms:Decrypt on the secret's KMS key.`);
    case "UnrecognizedClientException":
    case "InvalidClientTokenId":
      return new StoreError("auth", ctx.roleArn
        ? `AWS did not accept the temporary credentials for ${ctx.roleArn}. Check that the STS endpoint and the Secrets Manager endpoint belong to the same account and partition.`
        : `AWS does not recognise access key ${ctx.accessKeyId} in ${ctx.region}. Check the access key ID, and that the key is active.`);
    case "InvalidSignatureException":
    case "SignatureDoesNotMatch":
      if (/Signature expired|Signature not yet current/i.test(message)) {
        return new StoreError("auth", `AWS refused the request because the clock of the Latch server differs from AWS's by more than 15 minutes. Synchronise the server's clock (NTP).`);
      }
      if (/scoped to a valid region|scoped to correct/i.test(message)) {
        return new StoreError("auth", `AWS refused the request signature: region ${ctx.region} does not match the endpoint ${ctx.host}. Check the region.`);
      }
      return new StoreError("auth", `AWS refused the request signature for access key ${ctx.accessKeyId}: the secret access key does not belong to this access key. Re-enter the secret access key.`);
    case "ExpiredTokenException":
    case "ExpiredToken":
      return new StoreError("auth", `The temporary AWS credentials Latch obtained ${ctx.roleArn ? `for ${ctx.roleArn} ` : ""}have expired and could not be renewed. Try again; if it persists, check the role's maximum session duration.`);
    case "MissingAuthenticationTokenException":
    case "IncompleteSignatureException":
      return new StoreError("auth", `${ctx.host} rejected the request as unsigned. Check that the endpoint address points at Secrets Manager.`);
    case "InvalidRequestException":
      if (/deletion|deleted/i.test(message)) {
        return new StoreError("deleted", `Secret ${what} is scheduled for deletion in Secrets Manager. Restore it (RestoreSecret or the console) to use it again, or point the asset at another secret.`);
      }
      return new StoreError("config", `Secrets Manager refused to ${verb} ${what} in its current state (for example a disabled KMS key or a rotation in progress). Check the secret in the AWS console.`);
    case "InvalidParameterException":
    case "ValidationException":
      return new StoreError("config", `Secrets Manager rejected the reference ${what}${ctx.version ? ` with version “${ctx.version}”` : ""}. Check the secret name or ARN and the version or staging label.`);
    case "ResourceExistsException":
      return new StoreError("config", `Secrets Manager refused to ${verb} ${what}: a version with the same request token but a different value already exists.`);
    case "LimitExceededException":
      return new StoreError("config", `Secrets Manager refused to ${verb} ${what}: an account or secret quota is exhausted (for example the number of versions).`);
  }
  return fromCommon(e, name, ctx, "Secrets Manager") ?? fromNonService(error, e, ctx.host, "Secrets Manager");
}

/** A failure to obtain role credentials, as opposed to a refusal by Secrets Manager itself. */
export class AssumeRoleError extends StoreError {
  static override readonly brand = "latch.AssumeRoleError";
}

/** Errors from STS AssumeRole, raised while the SDK resolves credentials. */
export function mapStsError(error: unknown, ctx: AwsErrorContext & { stsHost: string; roleArn: string }): StoreError {
  if (error instanceof StoreError) return error;
  const mapped = mapStsErrorKind(error, ctx);
  return new AssumeRoleError(mapped.kind, mapped.message, mapped.retryAfterSeconds);
}

function mapStsErrorKind(error: unknown, ctx: AwsErrorContext & { stsHost: string; roleArn: string }): StoreError {
  const e = asSdk(error);
  const name = e.name ?? "";
  switch (name) {
    case "AccessDenied":
    case "AccessDeniedException":
      return new StoreError("permission", `AWS refused to let access key ${ctx.accessKeyId} assume ${ctx.roleArn}. Check the role's trust policy (it must trust this key's user) and that the external ID matches the one in the trust policy.`);
    case "InvalidClientTokenId":
    case "UnrecognizedClientException":
      return new StoreError("auth", `AWS STS does not recognise access key ${ctx.accessKeyId}. Check the access key ID, and that the key is active.`);
    case "SignatureDoesNotMatch":
    case "InvalidSignatureException":
      if (/Signature expired|not yet current/i.test(e.message ?? "")) {
        return new StoreError("auth", `AWS STS refused the request because the clock of the Latch server differs from AWS's by more than 15 minutes. Synchronise the server's clock (NTP).`);
      }
      return new StoreError("auth", `AWS STS refused the request signature for access key ${ctx.accessKeyId}: the secret access key does not belong to this access key. Re-enter the secret access key.`);
    case "ExpiredToken":
    case "ExpiredTokenException":
      return new StoreError("auth", `AWS STS says the credentials for access key ${ctx.accessKeyId} have expired. Use a long-term access key.`);
    case "RegionDisabledException":
      return new StoreError("config", `STS is not activated in ${ctx.region} for this account. Activate the region in IAM, or set the STS endpoint.`);
    case "ValidationError":
    case "MalformedPolicyDocument":
    case "PackedPolicyTooLarge":
      return new StoreError("config", `AWS STS rejected the assume-role request for ${ctx.roleArn}. Check the role ARN and the role session name (2–64 letters, digits or +=,.@-).`);
  }
  return fromCommon(e, name, { ...ctx, host: ctx.stsHost }, "AWS STS") ?? fromNonService(error, e, ctx.stsHost, "AWS STS");
}

import "server-only";
import { randomUUID } from "node:crypto";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type GetSecretValueCommandOutput,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { z } from "zod";
import { StoreError } from "../../errors";
import { withRetry } from "../../retry";
import type { FetchedSecret, SecretRef, StoreProvider } from "../../types";
import { createHandler, createSecretsManagerClient, type AwsClientSettings } from "./client";
import { AssumeRoleError, mapSecretsManagerError, type AwsErrorContext } from "./errors";

const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const optionalText = (schema: z.ZodString) => z.preprocess(blankToUndefined, schema.optional());
const httpsUrl = z.url({ protocol: /^https?$/, error: "Enter a full URL, e.g. https://secretsmanager.eu-west-1.amazonaws.com" });

export const awsConfigSchema = z
  .object({
    region: z.string().trim().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, "Enter an AWS region code, e.g. eu-west-1"),
    endpoint: z.preprocess(blankToUndefined, httpsUrl.optional()),
    stsEndpoint: z.preprocess(blankToUndefined, httpsUrl.optional()),
    auth: z.enum(["access_key", "assume_role"]).default("access_key"),
    accessKeyId: z.string().trim().regex(/^[A-Z0-9]{16,128}$/, "An access key ID looks like AKIA… (letters and digits only)"),
    roleArn: optionalText(z.string().trim().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, "A role ARN looks like arn:aws:iam::123456789012:role/latch-reader")),
    externalId: optionalText(z.string().trim().regex(/^[\w+=,.@:/-]{2,1224}$/, "2–1224 letters, digits or +=,.@:/-")),
    roleSessionName: z.preprocess(blankToUndefined, z.string().trim().regex(/^[\w+=,.@-]{2,64}$/, "2–64 letters, digits or +=,.@-").default("latch")),
  })
  .superRefine((c, ctx) => {
    if (c.auth === "assume_role" && !c.roleArn) ctx.addIssue({ code: "custom", path: ["roleArn"], message: "Enter the ARN of the role Latch should assume." });
  });

export const awsSecretSchema = z.object({
  secretAccessKey: z.string().trim().min(16, "Paste the secret access key that belongs to the access key ID"),
});

/** Upper-case words are staging labels (AWSCURRENT, AWSPREVIOUS, custom ones); anything else is a VersionId. */
function versionSelector(version: string | undefined): { VersionId?: string; VersionStage?: string } {
  const v = version?.trim();
  if (!v) return {};
  const stage = /^stage:(.+)$/i.exec(v)?.[1];
  if (stage) return { VersionStage: stage };
  if (/^[A-Z][A-Z0-9_]*$/.test(v)) return { VersionStage: v };
  return { VersionId: v.replace(/^id:/i, "") };
}

function toValues(out: GetSecretValueCommandOutput, name: string): Record<string, string> {
  if (typeof out.SecretString === "string") {
    try {
      const parsed: unknown = JSON.parse(out.SecretString);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
        return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
      }
    } catch {
      // Not JSON: a single-value secret.
    }
    return { value: out.SecretString };
  }
  if (out.SecretBinary) return { value: Buffer.from(out.SecretBinary).toString("base64") };
  throw new StoreError("bad_response", `Secrets Manager returned neither a string nor a binary value for “${name}”.`);
}

/** A lone "value" is stored as a plain string (so other AWS tooling reads it as such); several keys as a JSON object. */
function toSecretString(values: Record<string, string>): string {
  const keys = Object.keys(values);
  if (keys.length === 1 && keys[0] === "value") {
    const v = values.value!;
    let looksLikeObject = false;
    try {
      const parsed: unknown = JSON.parse(v);
      looksLikeObject = !!parsed && typeof parsed === "object" && !Array.isArray(parsed);
    } catch {
      looksLikeObject = false;
    }
    if (!looksLikeObject) return v;
  }
  return JSON.stringify(values);
}

const errorName = (e: unknown) => (e && typeof e === "object" ? String((e as { name?: unknown }).name ?? "") : "");

export const awsProvider: StoreProvider<typeof awsConfigSchema, typeof awsSecretSchema> = {
  kind: "aws",
  label: "AWS Secrets Manager",
  description: "Reads secrets from AWS Secrets Manager with an IAM access key, optionally assuming a role through STS.",
  configSchema: awsConfigSchema,
  secretSchema: awsSecretSchema,
  fields: [
    { name: "region", label: "Region", type: "text", required: true, placeholder: "eu-west-1", help: "The AWS region that holds the secrets, e.g. eu-west-1. Secrets Manager is regional: a secret in another region is not found." },
    {
      name: "auth",
      label: "Authentication",
      type: "select",
      required: true,
      options: [
        { value: "access_key", label: "Access key" },
        { value: "assume_role", label: "Access key, then assume a role" },
      ],
      help: "Latch always signs with the access key below; it never uses instance profiles or environment credentials. With “assume a role” it first calls STS AssumeRole and reads secrets with short-lived role credentials.",
    },
    { name: "accessKeyId", label: "Access key ID", type: "text", required: true, placeholder: "AKIA…", help: "The access key of an IAM user dedicated to Latch. It needs secretsmanager:GetSecretValue on the secrets (and kms:Decrypt if they use a customer-managed key), or sts:AssumeRole on the role below." },
    { name: "secretAccessKey", label: "Secret access key", type: "text", secret: true, required: true, help: "Shown once by AWS when the access key was created. Stored encrypted and never shown again; leave empty when editing to keep the current one." },
    { name: "roleArn", label: "Role ARN", type: "text", placeholder: "arn:aws:iam::123456789012:role/latch-reader", showWhen: { field: "auth", equals: ["assume_role"] }, help: "The role Latch assumes. Its trust policy must allow the access key's IAM user; its permissions policy grants access to the secrets." },
    { name: "externalId", label: "External ID", type: "text", showWhen: { field: "auth", equals: ["assume_role"] }, help: "Only if the role's trust policy requires an sts:ExternalId condition; enter the same value here." },
    { name: "roleSessionName", label: "Role session name", type: "text", placeholder: "latch", showWhen: { field: "auth", equals: ["assume_role"] }, help: "Appears in CloudTrail as the session that read each secret. Defaults to “latch”." },
    { name: "endpoint", label: "Secrets Manager endpoint", type: "url", placeholder: "https://secretsmanager.eu-west-1.amazonaws.com", help: "Leave empty to use the region's public endpoint. Set it for a VPC interface endpoint (https://vpce-….secretsmanager.eu-west-1.vpce.amazonaws.com) or a compatible service." },
    { name: "stsEndpoint", label: "STS endpoint", type: "url", placeholder: "https://sts.eu-west-1.amazonaws.com", showWhen: { field: "auth", equals: ["assume_role"] }, help: "Leave empty to use the region's STS endpoint. Set it for an STS VPC endpoint." },
  ],
  supportsWrite: true,
  singleValue: false,
  defaultKeys: { username: "username", password: "password" },
  referenceHint: "Secret name or ARN, e.g. prod/payroll-db; version: a staging label (AWSCURRENT, AWSPREVIOUS) or a version ID",
  create({ config, secrets, common }) {
    const settings: AwsClientSettings = { ...config, secretAccessKey: secrets.secretAccessKey };
    const host = settings.endpoint ? safeHost(settings.endpoint) : `secretsmanager.${settings.region}.amazonaws.com`;
    const baseCtx = { host, region: settings.region, accessKeyId: settings.accessKeyId, ...(settings.auth === "assume_role" ? { roleArn: settings.roleArn } : {}) };
    let transport: ReturnType<typeof createHandler> | undefined;
    let sm: SecretsManagerClient | undefined;

    function client(): SecretsManagerClient {
      if (!transport) {
        try {
          transport = createHandler(common);
        } catch (error) {
          if (error instanceof TypeError) throw new StoreError("config", "The proxy URL of this store is not a valid URL.");
          throw error;
        }
      }
      sm ??= createSecretsManagerClient(settings, transport.handler, baseCtx);
      return sm;
    }
    /** Drops cached role credentials; the transport stays, so concurrent calls are not cut off. */
    function renewCredentials(stale: SecretsManagerClient) {
      if (sm === stale) sm = undefined;
    }

    /**
     * One call with bounded retries. Each attempt is bounded by timeoutMs (connect and response);
     * only throttling and 5xx are retried, at most 3 attempts, never sooner than a Retry-After.
     */
    async function call<T>(ctx: Omit<AwsErrorContext, keyof typeof baseCtx>, send: (c: SecretsManagerClient) => Promise<T>): Promise<T> {
      const full: AwsErrorContext = { ...baseCtx, ...ctx };
      return withRetry(
        async () => {
          try {
            const current = client();
            try {
              return await send(current);
            } catch (error) {
              // Role sessions can be revoked before their stated expiry: fetch fresh ones once.
              if (settings.auth !== "assume_role" || errorName(error) !== "ExpiredTokenException") throw error;
              renewCredentials(current);
              return await send(client());
            }
          } catch (error) {
            throw mapSecretsManagerError(error, full);
          }
        },
        { attempts: 3, baseDelayMs: 200, maxDelayMs: 2000 },
      );
    }

    return {
      host,
      async getSecret(ref: SecretRef): Promise<FetchedSecret> {
        const out = await call({ action: "read", secretName: ref.name, version: ref.version }, (c) =>
          c.send(new GetSecretValueCommand({ SecretId: ref.name, ...versionSelector(ref.version) })),
        );
        return { values: toValues(out, ref.name), version: out.VersionId ?? null, updatedAt: out.CreatedDate ?? null };
      },

      async putSecret(ref, values) {
        const SecretString = toSecretString(values);
        // One token for every attempt, so a retried write cannot add a second version.
        const ClientRequestToken = randomUUID();
        const ctx = { action: "write" as const, secretName: ref.name };
        try {
          const out = await call(ctx, (c) => c.send(new PutSecretValueCommand({ SecretId: ref.name, SecretString, ClientRequestToken })));
          return { version: out.VersionId ?? null };
        } catch (error) {
          if (!(error instanceof StoreError && error.kind === "not_found") || ref.name.startsWith("arn:")) throw error;
        }
        const out = await call(ctx, (c) => c.send(new CreateSecretCommand({ Name: ref.name, SecretString, ClientRequestToken })));
        return { version: out.VersionId ?? null };
      },

      async deleteSecret(ref) {
        await call({ action: "delete", secretName: ref.name }, (c) => c.send(new DeleteSecretCommand({ SecretId: ref.name, ForceDeleteWithoutRecovery: true })));
      },

      async health() {
        // A name that cannot exist: "not found" proves the endpoint, TLS, signature (and AssumeRole) all work.
        const probe = `latch-health-probe-${randomUUID()}`;
        try {
          await call({ action: "check", secretName: probe }, (c) => c.send(new GetSecretValueCommand({ SecretId: probe })));
        } catch (error) {
          // Least-privilege identities may not read unknown names; being refused still proves authentication.
          if (error instanceof StoreError && (error.kind === "not_found" || (error.kind === "permission" && !(error instanceof AssumeRoleError)))) return;
          throw error;
        }
      },

      async close() {
        transport?.handler.destroy();
        transport = undefined;
        sm = undefined;
      },
    };
  },
};

function safeHost(raw: string): string {
  try {
    return new URL(raw).host;
  } catch {
    return raw;
  }
}

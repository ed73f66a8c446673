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
import { StoreError } from "../../errors";
import { withRetry } from "../../retry";
import { defineProvider } from "../../define";
import type { FetchedSecret, SecretRef } from "../../types";
import { createHandler, createSecretsManagerClient, type AwsClientSettings } from "./client";
import { awsDescriptor } from "./descriptor";
import { AssumeRoleError, mapSecretsManagerError, type AwsErrorContext } from "./errors";

export { awsConfigSchema, awsSecretSchema } from "./descriptor";

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

/**
 * The call's own result, or the signal's reason once it fires: the SDK cancels its HTTP request on
 * the signal, but not a credential provider's (AssumeRole) work under way.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

const errorName = (e: unknown) => (e && typeof e === "object" ? String((e as { name?: unknown }).name ?? "") : "");

export const awsProvider = defineProvider(awsDescriptor, {
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
     * One call with bounded retries. Each attempt, the role's AssumeRole included, is bounded by
     * timeoutMs as a whole: the SDK's own timers only notice a connection that goes silent, not one
     * that trickles bytes. Only throttling and 5xx are retried, at most 3 attempts, never sooner than
     * a Retry-After.
     */
    async function call<T>(ctx: Omit<AwsErrorContext, keyof typeof baseCtx>, send: (c: SecretsManagerClient, options: { abortSignal: AbortSignal }) => Promise<T>): Promise<T> {
      const full: AwsErrorContext = { ...baseCtx, ...ctx };
      return withRetry(
        async () => {
          const abortSignal = AbortSignal.timeout(common.timeoutMs);
          try {
            const current = client();
            try {
              return await untilAborted(send(current, { abortSignal }), abortSignal);
            } catch (error) {
              // Role sessions can be revoked before their stated expiry: fetch fresh ones once.
              if (settings.auth !== "assume_role" || errorName(error) !== "ExpiredTokenException") throw error;
              renewCredentials(current);
              return await untilAborted(send(client(), { abortSignal }), abortSignal);
            }
          } catch (error) {
            // Past the deadline, whatever the SDK says of its cancelled request is a timeout.
            throw mapSecretsManagerError(abortSignal.aborted ? abortSignal.reason : error, full);
          }
        },
        { attempts: 3, baseDelayMs: 200, maxDelayMs: 2000 },
      );
    }

    return {
      host,
      async getSecret(ref: SecretRef): Promise<FetchedSecret> {
        const out = await call({ action: "read", secretName: ref.name, version: ref.version }, (c, options) =>
          c.send(new GetSecretValueCommand({ SecretId: ref.name, ...versionSelector(ref.version) }), options),
        );
        return { values: toValues(out, ref.name), version: out.VersionId ?? null, updatedAt: out.CreatedDate ?? null };
      },

      async putSecret(ref, values) {
        const SecretString = toSecretString(values);
        // One token for every attempt, so a retried write cannot add a second version.
        const ClientRequestToken = randomUUID();
        const ctx = { action: "write" as const, secretName: ref.name };
        try {
          const out = await call(ctx, (c, options) => c.send(new PutSecretValueCommand({ SecretId: ref.name, SecretString, ClientRequestToken }), options));
          return { version: out.VersionId ?? null };
        } catch (error) {
          if (!(error instanceof StoreError && error.kind === "not_found") || ref.name.startsWith("arn:")) throw error;
        }
        const out = await call(ctx, (c, options) => c.send(new CreateSecretCommand({ Name: ref.name, SecretString, ClientRequestToken }), options));
        return { version: out.VersionId ?? null };
      },

      async deleteSecret(ref) {
        await call({ action: "delete", secretName: ref.name }, (c, options) => c.send(new DeleteSecretCommand({ SecretId: ref.name, ForceDeleteWithoutRecovery: true }), options));
      },

      async health() {
        // A name that cannot exist: "not found" proves the endpoint, TLS, signature (and AssumeRole) all work.
        const probe = `latch-health-probe-${randomUUID()}`;
        try {
          await call({ action: "check", secretName: probe }, (c, options) => c.send(new GetSecretValueCommand({ SecretId: probe }), options));
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
});

function safeHost(raw: string): string {
  try {
    return new URL(raw).host;
  } catch {
    return raw;
  }
}

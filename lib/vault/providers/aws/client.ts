import "server-only";
import https from "node:https";
import { rootCertificates } from "node:tls";
import { SecretsManagerClient, type SecretsManagerClientConfig } from "@aws-sdk/client-secrets-manager";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { assertStoreUrl, createProxyHttpsAgent, egressLookup } from "@/lib/net/egress";
import type { CommonOptions } from "../../types";
import { mapStsError, type AwsErrorContext } from "./errors";

export type AwsClientSettings = {
  region: string;
  endpoint?: string;
  stsEndpoint?: string;
  auth: "access_key" | "assume_role";
  accessKeyId: string;
  secretAccessKey: string;
  roleArn?: string;
  externalId?: string;
  roleSessionName: string;
};

type RetryStrategy = Extract<NonNullable<SecretsManagerClientConfig["retryStrategy"]>, { acquireInitialRetryToken: unknown }>;
type RetryToken = Awaited<ReturnType<RetryStrategy["acquireInitialRetryToken"]>>;

/**
 * The SDK's own retries are switched off (withRetry owns throttling and 5xx, so waits stay
 * bounded) except for one case only the SDK can handle: after a clock-skew refusal it has corrected
 * its clock from the response Date header, and a single immediate retry then succeeds.
 */
const clockSkewOnlyRetry: RetryStrategy = {
  acquireInitialRetryToken: async () => token(0),
  refreshRetryTokenForRetry: async (current: RetryToken, info) => {
    const error = info.error as { $metadata?: { clockSkewCorrected?: boolean } } | undefined;
    if (current.getRetryCount() === 0 && error?.$metadata?.clockSkewCorrected) return token(1);
    throw info.error;
  },
  recordSuccess: () => {},
};
function token(count: number): RetryToken {
  return { getRetryCount: () => count, getRetryDelay: () => 0 } as RetryToken;
}

/** One HTTP handler for Secrets Manager and STS: egress policy, CA bundle, proxy, bounded time. */
export function createHandler(common: CommonOptions): { handler: NodeHttpHandler } {
  const ca = common.caBundle ? [...rootCertificates, common.caBundle] : undefined;
  let agent: https.Agent;
  if (common.proxyUrl) {
    // Latch resolves and checks each host itself and tunnels to that IP; the proxy's address is checked too.
    agent = createProxyHttpsAgent({ proxyUrl: common.proxyUrl, ca: common.caBundle, timeoutMs: common.timeoutMs });
  } else {
    agent = new https.Agent({ keepAlive: true, lookup: egressLookup, ...(ca ? { ca } : {}) });
  }
  const handler = new NodeHttpHandler({
    httpsAgent: agent,
    connectionTimeout: common.timeoutMs,
    requestTimeout: common.timeoutMs,
    throwOnRequestTimeout: true,
  });
  return { handler };
}

/**
 * A Secrets Manager client with explicit credentials only: never the default provider chain,
 * environment, shared config files or instance metadata.
 */
export function createSecretsManagerClient(settings: AwsClientSettings, handler: NodeHttpHandler, ctx: Omit<AwsErrorContext, "action">): SecretsManagerClient {
  if (settings.endpoint) assertStoreUrl(settings.endpoint);
  const common = {
    region: settings.region,
    requestHandler: handler,
    maxAttempts: 2,
    retryStrategy: clockSkewOnlyRetry,
    useFipsEndpoint: false,
    useDualstackEndpoint: false,
    ignoreConfiguredEndpointUrls: true,
  } as const;
  const masterCredentials = { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey };
  let credentials: SecretsManagerClientConfig["credentials"] = masterCredentials;
  if (settings.auth === "assume_role") {
    if (settings.stsEndpoint) assertStoreUrl(settings.stsEndpoint);
    const roleArn = settings.roleArn ?? "";
    const stsHost = settings.stsEndpoint ? new URL(settings.stsEndpoint).host : `sts.${settings.region}.amazonaws.com`;
    const assume = fromTemporaryCredentials({
      masterCredentials,
      params: {
        RoleArn: roleArn,
        RoleSessionName: settings.roleSessionName,
        DurationSeconds: 900,
        ...(settings.externalId ? { ExternalId: settings.externalId } : {}),
      },
      clientConfig: { ...common, ...(settings.stsEndpoint ? { endpoint: settings.stsEndpoint } : {}) },
    });
    credentials = async (props) => {
      try {
        return await assume(props);
      } catch (error) {
        throw mapStsError(error, { ...ctx, action: "check", roleArn, stsHost });
      }
    };
  }
  return new SecretsManagerClient({ ...common, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}), credentials });
}

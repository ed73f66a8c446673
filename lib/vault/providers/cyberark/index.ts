import "server-only";
import type { z } from "zod";
import { StoreError } from "../../errors";
import { defineProvider } from "../../define";
import type { CommonOptions } from "../../types";
import { CcpClient } from "./ccp-client";
import { cyberarkDescriptor } from "./descriptor";
import { loadClientCertificate, type ClientCertificate } from "./client-certificate";

/** Queried by health() when no probe object is set: "not found" then proves the App ID authenticated. */
export const HEALTH_PROBE_OBJECT = "latch-connection-check-no-such-object";

type Config = z.output<typeof cyberarkDescriptor.configSchema>;
type Secrets = z.output<typeof cyberarkDescriptor.secretSchema>;

/**
 * CyberArk Central Credential Provider: read-only, one GET per account, the application
 * authenticated by App ID and client certificate (mutual TLS). A secret reference is the account's
 * Object name; values are password, username, address and the account's other properties with the
 * first letter lower-cased (database, logonDomain, policyID, custom properties…).
 */
export const cyberarkProvider = defineProvider(cyberarkDescriptor, {
  create: ({ config, secrets, common }) => createCcpStoreClient(config, secrets, common),
  // A certificate that cannot be read, or whose key is not its own, is a field error at save time.
  validateOnSave({ config, secrets }) {
    try {
      loadClientCertificate(config.certificateFormat, secrets);
      return {};
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      const field = /passphrase|password/i.test(error.message) ? "passphrase" : config.certificateFormat === "pfx" ? "clientCertificatePfx" : "clientCertificatePem";
      return { [`secrets.${field}`]: [error.message] };
    }
  },
});

function createCcpStoreClient(config: Config, secrets: Secrets, common: CommonOptions) {
  let certificate: ClientCertificate | undefined;
  const ccp = new CcpClient({
    baseUrl: config.url,
    certificate: () => (certificate ??= loadClientCertificate(config.certificateFormat, secrets)),
    caBundle: common.caBundle,
    proxyUrl: common.proxyUrl,
    timeoutMs: common.timeoutMs,
  });
  const query = (object: string, failOnPasswordChange: boolean) =>
    ccp.getPassword({ appId: config.appId, safe: config.safe, folder: config.folder, object, failOnPasswordChange });

  return {
    host: URL.canParse(config.url) ? new URL(config.url).host : config.url,
    async getSecret(ref: { name: string; version?: string }) {
      if (ref.version) throw new StoreError("config", `CyberArk's Credential Provider always returns the current password; remove the version (“${ref.version}”) from the reference.`);
      return query(ref.name.trim(), config.failOnPasswordChange);
    },
    async health() {
      // A named probe is the store-wide "probe secret" setting, read by the store test after this.
      try {
        await query(HEALTH_PROBE_OBJECT, false);
      } catch (error) {
        // CCP answers "not found" only after the application has authenticated.
        if (error instanceof StoreError && error.kind === "not_found") return;
        throw error;
      }
    },
    close: () => ccp.close(),
  };
}

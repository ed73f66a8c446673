import "server-only";
import type { CredentialStore } from "@prisma/client";
import { decrypt, encrypt } from "@/lib/crypto/envelope";
import { db, type Db } from "@/lib/db";
import { getProvider } from "@/lib/vault/registry";
import type { StoreClient } from "@/lib/vault/types";
import { PROXY_SECRET_KEY } from "./common-fields";

const secretsAad = (storeId: string) => `credential_stores:${storeId}`;

/** The store's write-only settings, opened for the provider. Never leaves the server. */
export async function openStoreSecrets(store: Pick<CredentialStore, "id" | "secretCiphertext" | "secretDataKeyId">, client: Db = db()) {
  if (!store.secretCiphertext || !store.secretDataKeyId) return {} as Record<string, string>;
  return JSON.parse(await decrypt({ ciphertext: store.secretCiphertext, dataKeyId: store.secretDataKeyId }, secretsAad(store.id), client)) as Record<string, string>;
}

export async function sealStoreSecrets(storeId: string, secrets: Record<string, string>, client: Db = db()) {
  const sealed = await encrypt(JSON.stringify(secrets), secretsAad(storeId), client);
  return { secretCiphertext: sealed.ciphertext, secretDataKeyId: sealed.dataKeyId };
}

type ClientInput = {
  id: string;
  kind: CredentialStore["kind"];
  config: unknown;
  secrets: Record<string, string>;
  caBundle: string | null;
  timeoutMs: number;
};

/**
 * Builds the provider client for a store (saved or a draft being tested). The only way code reaches
 * a vault: lib/secrets (the resolver) and the store test both come through here.
 */
export function buildStoreClient(input: ClientInput): StoreClient {
  const provider = getProvider(input.kind);
  const { [PROXY_SECRET_KEY]: proxyUrl, ...secrets } = input.secrets;
  return provider.create({
    storeId: input.id,
    config: provider.configSchema.parse(input.config ?? {}),
    secrets: provider.secretSchema.parse(secrets),
    common: { caBundle: input.caBundle || undefined, proxyUrl: proxyUrl || undefined, timeoutMs: input.timeoutMs },
  });
}

export async function clientForStore(store: CredentialStore, client: Db = db()): Promise<StoreClient> {
  return buildStoreClient({ ...store, secrets: await openStoreSecrets(store, client) });
}

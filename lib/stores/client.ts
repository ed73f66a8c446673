import "server-only";
import type { CredentialStore } from "@prisma/client";
import type { z } from "zod";
import { decrypt, encrypt } from "@/lib/crypto/envelope";
import { db, type Db } from "@/lib/db";
import { StoreError, classifyNetworkError, type StoreErrorKind } from "@/lib/vault/errors";
import { getProviderOrThrow } from "@/lib/vault/registry";
import type { FieldSpec, StoreClient } from "@/lib/vault/types";
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
  const provider = getProviderOrThrow(input.kind);
  const { [PROXY_SECRET_KEY]: proxyUrl, ...secrets } = input.secrets;
  const settings = {
    storeId: input.id,
    config: savedSettings(provider.configSchema, input.config ?? {}, provider.fields, true),
    secrets: savedSettings(provider.secretSchema, secrets, provider.fields, false),
    common: { caBundle: input.caBundle || undefined, proxyUrl: proxyUrl || undefined, timeoutMs: input.timeoutMs },
  };
  try {
    return provider.create(settings);
  } catch (error) {
    // A CA bundle or client certificate that does not parse: the settings' fault, said as such.
    throw classifyNetworkError(error, "the store") ?? error;
  }
}

/**
 * Settings saved before a rule was added (an address with user:pass@ in it, say) fail today's schema:
 * a configuration error that says which field to fix, not an unexpected 500 at every read. A secret
 * field's own message is not repeated (a refine may describe what it holds).
 */
function savedSettings<T>(schema: z.ZodType<T>, value: unknown, fields: FieldSpec[], sayWhy: boolean): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const label = fields.find((f) => f.name === issue?.path[0])?.label;
  const why = label ? ` (${label}${sayWhy && issue ? `: ${issue.message}` : ""})` : "";
  throw new StoreError("config", `This store's saved settings are no longer accepted${why}. Edit the store, correct them and save.`);
}

export async function clientForStore(store: CredentialStore, client: Db = db()): Promise<StoreClient> {
  return buildStoreClient({ ...store, secrets: await openStoreSecrets(store, client) });
}

/** A kept client unused this long is closed, so a store's opened settings do not stay in memory idle. */
const IDLE_CLOSE_MS = 5 * 60_000;

type Kept = { client: StoreClient; version: number; lastUsed: number; inUse: number; retired: boolean };
const kept = globalThis as unknown as { latchStoreClients?: Map<string, Kept>; latchStoreClientSweeper?: NodeJS.Timeout };

function keptClients(): Map<string, Kept> {
  kept.latchStoreClients ??= new Map();
  if (!kept.latchStoreClientSweeper) {
    kept.latchStoreClientSweeper = setInterval(() => {
      const idleSince = Date.now() - IDLE_CLOSE_MS;
      for (const [id, k] of kept.latchStoreClients!) if (k.inUse === 0 && k.lastUsed < idleSince) retire(id, k);
    }, 60_000);
    kept.latchStoreClientSweeper.unref();
  }
  return kept.latchStoreClients;
}

/** Takes the client out of service; it closes once the reads still using it are done. */
function retire(id: string, k: Kept) {
  if (keptClients().get(id) === k) keptClients().delete(id);
  k.retired = true;
  if (k.inUse === 0) void k.client.close?.().catch(() => {});
}

/**
 * Runs a read with the store's kept client: its TLS connections and its login (a Vault token, an
 * Azure or AWS access token) serve the next read too, instead of a new client, handshake and login
 * per read. The client is replaced when the store's row changes (its updatedAt) and after a failed
 * read, dropped by forgetStoreClient (store refreshes), and closed after 5 idle minutes. A caller
 * inside a transaction passes it as `session`, for building a client without a second session.
 */
export async function withStoreClient<T>(store: CredentialStore, read: (client: StoreClient) => Promise<T>, session?: Db): Promise<T> {
  const clients = keptClients();
  const version = store.updatedAt.getTime();
  let k = clients.get(store.id);
  // A read that loaded the store's row before an edit uses the client of the newer settings; only
  // an older kept client gives way (a late reader must not put the old address or credential back).
  if (k && k.version < version) {
    retire(store.id, k);
    k = undefined;
  }
  if (!k) {
    k = { client: await clientForStore(store, session), version, lastUsed: Date.now(), inUse: 0, retired: false };
    // Two first reads raced: keep the newer store version's client (or the one already kept), close the other.
    const raced = clients.get(store.id);
    if (raced && raced.version >= version) {
      void k.client.close?.().catch(() => {});
      k = raced;
    } else {
      if (raced) retire(store.id, raced);
      clients.set(store.id, k);
    }
  }
  k.inUse++;
  try {
    return await read(k.client);
  } catch (error) {
    // A refused login, a broken connection or an answer that makes no sense starts the next read
    // with a new client. What the store said of this one secret, or of its own load, does not: a
    // new client would only log in again (over and over, for a caller retrying a denied secret).
    if (!(error instanceof StoreError && KEEPS_CLIENT.has(error.kind))) retire(store.id, k);
    throw error;
  } finally {
    k.inUse--;
    k.lastUsed = Date.now();
    if (k.retired && k.inUse === 0) void k.client.close?.().catch(() => {});
  }
}

// "config" is kept too: most such errors are about one reference (a version on a KV v1 mount, a
// CyberArk query with several matches, a disabled KMS key), and one about the store's own settings
// comes back the same from a new client; an edit or a refresh of the store replaces it anyway.
const KEEPS_CLIENT = new Set<StoreErrorKind>(["not_found", "deleted", "permission", "throttled", "unavailable", "config"]);

/** Drops a store's kept client (store refreshed, changed or deleted on any instance). */
export function forgetStoreClient(storeId: string): void {
  const k = keptClients().get(storeId);
  if (k) retire(storeId, k);
}

/** Kept clients by store id, for tests and diagnostics (no settings, no values). */
export const keptStoreClients = () => [...keptClients()].map(([storeId, k]) => ({ storeId, version: k.version, inUse: k.inUse }));

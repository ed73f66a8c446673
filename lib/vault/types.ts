import type { z } from "zod";
import type { StoreDescriptor } from "./descriptor";
import type { StoreErrorKind } from "./errors";
import type { ConfigShape, SecretShape } from "./fields";

export type { FieldSpec } from "./fields";
export type { StoreDescriptor } from "./descriptor";
/** Every kind is a key of the registry (lib/vault/registry.ts); nothing else lists them. */
export type { ExternalStoreKind, StoreKind } from "./registry";

/** Which secret in the store. `name` is the Vault path, AKV secret name, AWS secret id or CCP Object. */
export type SecretRef = { name: string; version?: string };

export type FetchedSecret = {
  /** Key/value pairs of the secret; single-value secrets use the key "value". Never logged. */
  values: Record<string, string>;
  version: string | null;
  updatedAt: Date | null;
};

/** Settings every external store has, beside its kind-specific configuration. */
export type CommonOptions = {
  /** PEM bundle of CAs to trust in addition to the system roots. */
  caBundle?: string;
  /** HTTPS egress proxy, e.g. http://proxy.internal:3128 (credentials allowed in the URL). */
  proxyUrl?: string;
  /** Per-request timeout. */
  timeoutMs: number;
};

/** A client for one store's settings. */
export type ReadOnlyStoreClient = {
  /**
   * The host Latch dials for this store (e.g. secretsmanager.eu-west-1.amazonaws.com, contoso.vault.azure.net),
   * for messages about failures. Providers name the exact host (sign-in endpoints too) in their own errors.
   */
  readonly host?: string;
  /** The value and its metadata (version, updated-at; the keys present are the value's keys). */
  getSecret(ref: SecretRef): Promise<FetchedSecret>;
  /** Proves the store is reachable and Latch can authenticate; throws StoreError otherwise. */
  health(): Promise<void>;
  close?(): Promise<void>;
};
export type ReadWriteStoreClient = ReadOnlyStoreClient & {
  /** Returns the new version. */
  putSecret(ref: SecretRef, values: Record<string, string>): Promise<{ version: string | null }>;
  deleteSecret(ref: SecretRef): Promise<void>;
};
export type StoreClient = ReadOnlyStoreClient & Partial<Pick<ReadWriteStoreClient, "putSecret" | "deleteSecret">>;

export type StoreTestOptions = { mode: "READ_ONLY" | "READ_WRITE"; probeSecret?: string | null; host?: string };
export type StoreTestResult = { ok: boolean; message: string; kind?: StoreErrorKind; durationMs: number };

/** The public half of a certificate credential, offered for download. Never the key. */
export type PublicCertificate = { pem: string; der: Buffer; thumbprintSha1Hex: string; notAfter: Date };

/**
 * Kinds that sign in with a client certificate Latch can make itself (Azure): the private key is
 * created and sealed with the store's other secrets, and only the public certificate leaves Latch.
 */
export type CertificateCredentialSupport = {
  /** Where the administrator puts the public certificate, in a sentence: "upload it to the app registration". */
  uploadTo: string;
  /** The steps there, shown beside the download. */
  uploadSteps: string;
  /** A new key pair, and the settings and secrets that make the store sign in with it. */
  generate(input: { config: Record<string, unknown>; secrets: Record<string, string>; commonName: string }): {
    config: Record<string, unknown>;
    secrets: Record<string, string>;
    thumbprint: string;
    notAfter: Date;
  };
  /** The public half of the stored credential; null when there is none. Throws StoreError when it cannot be read. */
  publicCertificate(secrets: Record<string, string>): PublicCertificate | null;
  /**
   * How the store signs in now, when that is not with a certificate ("a client secret"); null when it
   * is. A new key pair replaces that way at once, so the page asks before it makes one.
   */
  signsInOtherwise(config: Record<string, unknown>): string | null;
};

type CreateInput<S extends z.ZodRawShape> = {
  config: z.output<z.ZodObject<ConfigShape<S>>>;
  secrets: z.output<z.ZodObject<SecretShape<S>>>;
  common: CommonOptions;
  storeId: string;
};

/**
 * The one way code reaches a vault. Each kind is a folder under lib/vault/providers/<kind>/: a
 * client-safe descriptor.ts (names, flags, the settings schema that also drives the admin form, how
 * assets reference its secrets) and index.ts, the StoreProvider built from it; lib/vault/registry.ts
 * lists them (lib/vault/README.md: adding a kind). Nothing else talks to a vault.
 */
export type StoreProvider<K extends string = string, S extends z.ZodRawShape = z.ZodRawShape> = StoreDescriptor<K, S> & {
  /** The store test: read-write stores write, read back and delete; read-only ones authenticate and read the probe. */
  validate(client: StoreClient, opts: StoreTestOptions): Promise<StoreTestResult>;
  /**
   * Save-time checks a schema does not express (a certificate that matches its key): field errors
   * keyed like the form's ("secrets.certificatePem"). Not run when a store is used, so stricter
   * checks here never break a store that already works.
   */
  validateOnSave?(input: { config: z.output<z.ZodObject<ConfigShape<S>>>; secrets: z.output<z.ZodObject<SecretShape<S>>> }): Record<string, string[]>;
  /** Kinds whose certificate credential Latch can generate (the store page offers it). */
  certificateCredential?: CertificateCredentialSupport;
} & (
    | { supportsWrite: true; create(input: CreateInput<S>): ReadWriteStoreClient }
    | { supportsWrite: false; create(input: CreateInput<S>): ReadOnlyStoreClient }
  );

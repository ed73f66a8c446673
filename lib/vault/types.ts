import type { z } from "zod";

/**
 * The one way code reaches a vault. Each kind is a folder under lib/vault/providers/<kind>/ that
 * exports a StoreProvider; lib/vault/registry.ts lists them. Nothing else talks to a vault.
 */
export type StoreKind = "latch" | "hashicorp" | "azure" | "aws" | "cyberark";
/** Kinds an administrator registers; the Latch Database store is built in. */
export type ExternalStoreKind = Exclude<StoreKind, "latch">;

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

export type FieldSpec = {
  /** Key in the config or secret object. */
  name: string;
  label: string;
  help?: string;
  type: "text" | "url" | "number" | "select" | "textarea" | "boolean" | "file";
  /** Write-only: stored encrypted, never sent back to the browser. */
  secret?: boolean;
  required?: boolean;
  placeholder?: string;
  options?: { value: string; label: string }[];
  /** Shown only when another field has one of these values. */
  showWhen?: { field: string; equals: string[] };
  /** For file inputs: accepted extensions, e.g. ".pem,.crt". */
  accept?: string;
};

export type StoreClient = {
  /**
   * The host Latch dials for this store (e.g. secretsmanager.eu-west-1.amazonaws.com, contoso.vault.azure.net),
   * for messages about failures. Providers name the exact host (sign-in endpoints too) in their own errors.
   */
  readonly host?: string;
  getSecret(ref: SecretRef): Promise<FetchedSecret>;
  /** Read-write stores only. Returns the new version. */
  putSecret?(ref: SecretRef, values: Record<string, string>): Promise<{ version: string | null }>;
  deleteSecret?(ref: SecretRef): Promise<void>;
  /** Proves the store is reachable and Latch can authenticate; throws StoreError otherwise. */
  health(): Promise<void>;
  close?(): Promise<void>;
};

export type StoreProvider<C extends z.ZodType = z.ZodType, S extends z.ZodType = z.ZodType> = {
  kind: StoreKind;
  label: string;
  description: string;
  /** Non-secret configuration, stored as JSON and shown in the edit form. */
  configSchema: C;
  /** Write-only configuration (passwords, secret ids, private keys): stored encrypted. */
  secretSchema: S;
  /** Form fields in display order, drawn from both schemas. */
  fields: FieldSpec[];
  /** Whether the kind can write secrets at all (a store may still be set read-only). */
  supportsWrite: boolean;
  /** Each secret is one string (Azure Key Vault): Credential assets keep the username on the asset. */
  singleValue: boolean;
  /** Default keys for Credential assets (username, password) in multi-key secrets. */
  defaultKeys: { username: string; password: string };
  /** Placeholder text for the secret reference in asset forms. */
  referenceHint: string;
  create(input: { config: z.output<C>; secrets: z.output<S>; common: CommonOptions; storeId: string }): StoreClient;
  /**
   * Save-time checks a schema does not express (a certificate that matches its key): field errors
   * keyed like the form's ("secrets.certificatePem"). Not run when a store is used, so stricter
   * checks here never break a store that already works.
   */
  validateOnSave?(input: { config: z.output<C>; secrets: z.output<S> }): Record<string, string[]>;
};

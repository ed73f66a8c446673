import type { z } from "zod";
import { splitShape, type ConfigShape, type FieldSpec, type SecretShape } from "./fields";
import type { ReferenceRules } from "./reference";

/**
 * What a store kind is, without any code that reaches a vault: names, flags, its settings schema
 * and how assets reference its secrets. Client-safe; each provider folder has one (descriptor.ts),
 * and its server-side StoreProvider (index.ts) is built from it.
 */
export type StoreDescriptor<K extends string = string, S extends z.ZodRawShape = z.ZodRawShape> = {
  kind: K;
  label: string;
  description: string;
  /** The Latch Database store: one per installation, created by the seed, never registered by an admin. */
  builtIn: boolean;
  /** Whether the kind can write secrets at all (a store may still be set read-only). */
  supportsWrite: boolean;
  /** Each secret is one string (Azure Key Vault): Credential assets keep the username on the asset. */
  singleValue: boolean;
  /** How a credential asset names a secret in this kind of store: the asset form's words and the checks. */
  reference: ReferenceRules;
  /** Every setting in form order; write-only ones are marked with secret(). */
  shape: S;
  /** Non-secret configuration, stored as JSON and shown in the edit form. */
  configSchema: z.ZodObject<ConfigShape<S>>;
  /** Write-only configuration (passwords, secret ids, private keys): stored encrypted. */
  secretSchema: z.ZodObject<SecretShape<S>>;
  /** The admin form, derived from the shape. */
  fields: FieldSpec[];
};

export function defineStoreKind<const K extends string, S extends z.ZodRawShape, const W extends boolean, const B extends boolean = false>(
  d: Omit<StoreDescriptor<K, S>, "configSchema" | "secretSchema" | "fields" | "builtIn" | "supportsWrite"> & { builtIn?: B; supportsWrite: W },
): StoreDescriptor<K, S> & { supportsWrite: W; builtIn: B } {
  return { ...d, builtIn: (d.builtIn ?? false) as B, ...splitShape(d.shape) };
}

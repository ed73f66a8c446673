import "server-only";
import { AppError } from "@/lib/errors";
import { awsProvider } from "./providers/aws";
import { azureProvider } from "./providers/azure";
import { cyberarkProvider } from "./providers/cyberark";
import { hashicorpProvider } from "./providers/hashicorp";
import { latchProvider } from "./providers/latch";
import type { StoreProvider } from "./types";

// Each entry's key must be its provider's kind.
const exhaustive = <T extends Record<string, { kind: string; builtIn: boolean }>>(providers: T & { [K in keyof T]: { kind: K } }): T => providers;

/**
 * Every store kind: adding a kind is one folder under providers/ and one line here. The kinds (the
 * StoreKind type, the zod enums, the REST schema, the database's check) all come from this object.
 */
export const PROVIDERS = exhaustive({
  latch: latchProvider,
  hashicorp: hashicorpProvider,
  aws: awsProvider,
  azure: azureProvider,
  cyberark: cyberarkProvider,
});

type Providers = typeof PROVIDERS;
export type StoreKind = keyof Providers;
/** Kinds an administrator registers; the built-in Latch Database store is created by the seed. */
export type ExternalStoreKind = { [K in StoreKind]: Providers[K]["builtIn"] extends true ? never : K }[StoreKind];

export const STORE_KINDS = Object.keys(PROVIDERS) as [StoreKind, ...StoreKind[]];
export const EXTERNAL_STORE_KINDS = STORE_KINDS.filter((k) => !PROVIDERS[k].builtIn) as [ExternalStoreKind, ...ExternalStoreKind[]];

export const isStoreKind = (kind: string): kind is StoreKind => Object.hasOwn(PROVIDERS, kind);
/** A kind an administrator registers (not the built-in store's). */
export const isExternalStoreKind = (kind: string): kind is ExternalStoreKind => (EXTERNAL_STORE_KINDS as string[]).includes(kind);

/** A stored kind no registered provider serves (a kind removed from this list) is a clear error, not a crash. */
export function getProviderOrThrow(kind: string): StoreProvider<StoreKind> {
  if (!isStoreKind(kind)) throw new AppError("CONFLICT", `This store's kind (“${kind.slice(0, 32)}”) is not supported by this version of Latch.`);
  return PROVIDERS[kind] as unknown as StoreProvider<StoreKind>;
}

/** A stored kind, checked against the registry (the database column is plain text). */
export const asStoreKind = (kind: string): StoreKind => getProviderOrThrow(kind).kind;

/** Kinds an administrator can register. */
export function registrableKinds(): ExternalStoreKind[] {
  return [...EXTERNAL_STORE_KINDS];
}

import "server-only";
import { awsProvider } from "./providers/aws";
import { azureProvider } from "./providers/azure";
import { cyberarkProvider } from "./providers/cyberark";
import { hashicorpProvider } from "./providers/hashicorp";
import { latchProvider } from "./providers/latch";
import type { ExternalStoreKind, StoreKind, StoreProvider } from "./types";

/**
 * Every store kind, exhaustively: adding a kind is one folder under providers/ and one line here.
 * The `satisfies` makes a missing kind a type error.
 */
export const PROVIDERS = {
  latch: latchProvider,
  hashicorp: hashicorpProvider,
  aws: awsProvider,
  azure: azureProvider,
  cyberark: cyberarkProvider,
} satisfies Record<StoreKind, StoreProvider>;

export function getProvider(kind: StoreKind): StoreProvider {
  return PROVIDERS[kind];
}

/** Kinds an administrator can register (the Latch Database store is built in, one per installation). */
export function registrableKinds(): ExternalStoreKind[] {
  return (Object.keys(PROVIDERS) as StoreKind[]).filter((k): k is ExternalStoreKind => k !== "latch");
}

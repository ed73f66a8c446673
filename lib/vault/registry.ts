import "server-only";
import { awsProvider } from "./providers/aws";
import { azureProvider } from "./providers/azure";
import { cyberarkProvider } from "./providers/cyberark";
import { latchProvider } from "./providers/latch";
import type { StoreKind, StoreProvider } from "./types";

/**
 * Every store kind, exhaustively: adding a kind is one folder under providers/ and one line here.
 * The `satisfies` makes a missing kind a type error.
 */
export const PROVIDERS = {
  latch: latchProvider,
  aws: awsProvider,
  azure: azureProvider,
  cyberark: cyberarkProvider,
} satisfies Partial<Record<StoreKind, StoreProvider>> as Partial<Record<StoreKind, StoreProvider>>;

export function getProvider(kind: StoreKind): StoreProvider {
  const provider = PROVIDERS[kind];
  if (!provider) throw new Error(`No provider for store kind ${kind}`);
  return provider;
}

/** Kinds an administrator can register (the Latch Database store is built in, one per installation). */
export function registrableKinds(): StoreKind[] {
  return (Object.keys(PROVIDERS) as StoreKind[]).filter((k) => k !== "latch");
}

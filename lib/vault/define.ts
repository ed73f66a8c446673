import "server-only";
import type { z } from "zod";
import { exerciseStore } from "@/lib/stores/exercise";
import type { StoreDescriptor } from "./descriptor";
import type { CertificateCredentialSupport, ReadOnlyStoreClient, ReadWriteStoreClient, StoreClient, StoreProvider, StoreTestOptions, StoreTestResult } from "./types";

type Impl<P extends { configSchema: z.ZodType; secretSchema: z.ZodType; supportsWrite: boolean }> = {
  create(input: { config: z.output<P["configSchema"]>; secrets: z.output<P["secretSchema"]>; common: import("./types").CommonOptions; storeId: string }): P["supportsWrite"] extends true
    ? ReadWriteStoreClient
    : ReadOnlyStoreClient;
  /** Defaults to the generic store test (lib/stores/exercise.ts). */
  validate?(client: StoreClient, opts: StoreTestOptions): Promise<StoreTestResult>;
  validateOnSave?(input: { config: z.output<P["configSchema"]>; secrets: z.output<P["secretSchema"]> }): Record<string, string[]>;
  certificateCredential?: CertificateCredentialSupport;
};

/** A kind's StoreProvider: its client-safe descriptor plus the code that reaches the vault. */
export function defineProvider<const K extends string, S extends z.ZodRawShape, D extends StoreDescriptor<K, S>>(descriptor: D & StoreDescriptor<K, S>, impl: Impl<D>) {
  return {
    ...descriptor,
    validate: impl.validate ?? exerciseStore,
    create: impl.create,
    ...(impl.validateOnSave ? { validateOnSave: impl.validateOnSave } : {}),
    ...(impl.certificateCredential ? { certificateCredential: impl.certificateCredential } : {}),
  } as D & StoreProvider<K, S>;
}

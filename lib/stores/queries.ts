import "server-only";
import type { CredentialStore, StoreKind } from "@prisma/client";
import { assertTenant, type Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { notFound } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { getProvider } from "@/lib/vault/registry";
import { openStoreSecrets } from "./client";
import { PROXY_SECRET_KEY } from "./schemas";

/** What the browser may know about a store: configuration and which secrets are set, never their values. */
export type StoreView = {
  id: string;
  name: string;
  kind: StoreKind;
  kindLabel: string;
  folder: { id: string; name: string } | null;
  mode: "READ_ONLY" | "READ_WRITE";
  isBuiltIn: boolean;
  config: Record<string, unknown>;
  secretsSet: string[];
  caBundle: string;
  probeSecret: string;
  timeoutMs: number;
  lastTest: { at: Date; ok: boolean; message: string } | null;
  updatedAt: Date;
};

async function toView(store: CredentialStore & { folder: { id: string; name: string } | null }): Promise<StoreView> {
  const secrets = await openStoreSecrets(store);
  return {
    id: store.id,
    name: store.name,
    kind: store.kind,
    kindLabel: getProvider(store.kind).label,
    folder: store.folder,
    mode: store.mode,
    isBuiltIn: store.isBuiltIn,
    config: (store.config ?? {}) as Record<string, unknown>,
    secretsSet: Object.entries(secrets).filter(([, v]) => v !== "" && v !== undefined).map(([k]) => k),
    caBundle: store.caBundle ?? "",
    probeSecret: store.probeSecret ?? "",
    timeoutMs: store.timeoutMs,
    lastTest: store.lastTestAt ? { at: store.lastTestAt, ok: !!store.lastTestOk, message: store.lastTestMessage ?? "" } : null,
    updatedAt: store.updatedAt,
  };
}

export async function listStores(actor: Actor, query: { q: string }): Promise<StoreView[]> {
  assertTenant(actor, "stores.manage", "Credential stores");
  const rows = await db().credentialStore.findMany({
    where: query.q ? { name: { contains: query.q, mode: "insensitive" } } : {},
    include: { folder: { select: { id: true, name: true } } },
    orderBy: [{ isBuiltIn: "desc" }, { name: "asc" }],
  });
  return Promise.all(rows.map(toView));
}

export async function getStoreViewOrThrow(actor: Actor, storeId: string): Promise<StoreView> {
  assertTenant(actor, "stores.manage", "Credential store");
  const store = isUuid(storeId)
    ? await db().credentialStore.findUnique({ where: { id: storeId }, include: { folder: { select: { id: true, name: true } } } })
    : null;
  if (!store) throw notFound("Credential store");
  return toView(store);
}

export { PROXY_SECRET_KEY };

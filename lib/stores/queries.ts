import "server-only";
import type { CredentialStore, Prisma } from "@prisma/client";
import { assertTenant, type Actor } from "@/lib/authz";
import { db, type Db } from "@/lib/db";
import { notFound } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { getProviderOrThrow, type StoreKind } from "@/lib/vault/registry";
import { openStoreSecrets } from "./client";
import { PROXY_SECRET_KEY } from "./common-fields";
import { likeTerm } from "@/lib/db/names";

/** A row of the stores list. */
export type StoreSummary = {
  id: string;
  name: string;
  kind: StoreKind;
  kindLabel: string;
  folder: { id: string; name: string } | null;
  mode: "READ_ONLY" | "READ_WRITE";
  isBuiltIn: boolean;
  lastTest: { at: Date; ok: boolean; message: string } | null;
  updatedAt: Date;
  /** Credential assets pointing at the store. */
  assetCount: number;
};

/** What the edit page may know about a store: configuration and which secrets are set, never their values. */
export type StoreView = StoreSummary & {
  config: Record<string, unknown>;
  secretsSet: string[];
  caBundle: string;
  probeSecret: string;
  timeoutMs: number;
  /** Moved by every edit of the settings only: the edit form sends back the one it loaded. */
  settingsVersion: number;
};

type StoreRow = CredentialStore & { folder: { id: string; name: string } | null; _count: { assets: number } };

function toSummary(store: StoreRow): StoreSummary {
  const provider = getProviderOrThrow(store.kind);
  return {
    id: store.id,
    name: store.name,
    kind: provider.kind,
    kindLabel: provider.label,
    folder: store.folder,
    mode: store.mode,
    isBuiltIn: store.isBuiltIn,
    lastTest: store.lastTestAt ? { at: store.lastTestAt, ok: !!store.lastTestOk, message: store.lastTestMessage ?? "" } : null,
    updatedAt: store.updatedAt,
    assetCount: store._count.assets,
  };
}

// Only the edit page needs to know which secrets are set, so only it opens them.
async function toView(store: StoreRow): Promise<StoreView> {
  const secrets = await openStoreSecrets(store);
  const known = new Set([...getProviderOrThrow(store.kind).fields.filter((f) => f.secret).map((f) => f.name), PROXY_SECRET_KEY]);
  return {
    ...toSummary(store),
    config: (store.config ?? {}) as Record<string, unknown>,
    secretsSet: Object.entries(secrets)
      .filter(([k, v]) => known.has(k) && typeof v === "string" && v !== "")
      .map(([k]) => k),
    caBundle: store.caBundle ?? "",
    probeSecret: store.probeSecret ?? "",
    timeoutMs: store.timeoutMs,
    settingsVersion: store.settingsVersion,
  };
}

export async function listStores(actor: Actor, query: { q: string }): Promise<StoreSummary[]> {
  assertTenant(actor, "stores.manage", "Credential stores");
  const rows = await db().credentialStore.findMany({
    where: query.q ? { name: { contains: likeTerm(query.q), mode: "insensitive" } } : {},
    include: { folder: { select: { id: true, name: true } }, _count: { select: { assets: true } } },
    orderBy: [{ isBuiltIn: "desc" }, { name: "asc" }],
  });
  return rows.map(toSummary);
}

async function getStoreRowOrThrow(actor: Actor, storeId: string): Promise<StoreRow> {
  assertTenant(actor, "stores.manage", "Credential store");
  const store = isUuid(storeId)
    ? await db().credentialStore.findUnique({ where: { id: storeId }, include: { folder: { select: { id: true, name: true } }, _count: { select: { assets: true } } } })
    : null;
  if (!store) throw notFound("Credential store");
  return store;
}

export async function getStoreViewOrThrow(actor: Actor, storeId: string): Promise<StoreView> {
  return toView(await getStoreRowOrThrow(actor, storeId));
}

/** Metadata only: unlike the edit page's view, it never opens the store's sealed secrets. */
export async function getStoreSummaryOrThrow(actor: Actor, storeId: string): Promise<StoreSummary> {
  return toSummary(await getStoreRowOrThrow(actor, storeId));
}

/** Stores assets in the folder may point at: tenant-wide ones and those owned by the folder or an ancestor. */
export type UsableStore = Pick<CredentialStore, "id" | "name" | "kind" | "folderId" | "mode" | "isBuiltIn" | "lastTestOk">;

export async function listStoresUsableByFolder(folderId: string, client: Db = db()): Promise<UsableStore[]> {
  return client.$queryRaw<UsableStore[]>`
    WITH RECURSIVE chain AS (
      SELECT id, parent_id, 0 AS depth FROM folders WHERE id = ${folderId}::uuid
      UNION ALL
      SELECT f.id, f.parent_id, c.depth + 1 FROM folders f JOIN chain c ON f.id = c.parent_id WHERE c.depth < 64
    )
    SELECT s.id::text AS id, s.name, s.kind::text AS kind, s.folder_id::text AS "folderId", s.mode::text AS mode, s.is_built_in AS "isBuiltIn", s.last_test_ok AS "lastTestOk"
    FROM credential_stores s
    WHERE s.folder_id IS NULL OR s.folder_id IN (SELECT id FROM chain)
    ORDER BY s.is_built_in DESC, lower(s.name)`;
}

/** Names of assets (with their folders) that point at the store, for "in use" refusals. */
export async function describeAssets(tx: Db, where: Prisma.CredentialAssetWhereInput): Promise<{ count: number; text: string }> {
  const [count, some] = await Promise.all([
    tx.credentialAsset.count({ where }),
    tx.credentialAsset.findMany({ where, select: { name: true, folder: { select: { name: true } } }, orderBy: { name: "asc" }, take: 5 }),
  ]);
  const names = some.map((a) => `“${a.name}” (in ${a.folder.name})`).join(", ");
  return { count, text: count > some.length ? `${names} and ${count - some.length} more` : names };
}

export function storeInUseMessage(storeName: string, use: { count: number; text: string }): string {
  const one = use.count === 1;
  return `“${storeName}” is in use by ${one ? "an asset" : `${use.count} assets`}: ${use.text}. Point ${one ? "it" : "them"} at another store or delete ${one ? "it" : "them"} first.`;
}

/**
 * Why the store cannot be deleted now (the assets that point at it), or null: its page says so in
 * the delete dialog before anyone confirms. deleteStore counts again when asked.
 */
export async function storeDeleteRefusal(actor: Actor, store: { id: string; name: string }): Promise<string | null> {
  assertTenant(actor, "stores.manage", "Credential store");
  const use = await describeAssets(db(), { storeId: store.id });
  return use.count > 0 ? storeInUseMessage(store.name, use) : null;
}

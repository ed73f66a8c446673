import "server-only";
import type { CredentialAsset, Prisma } from "@prisma/client";
import { assertCanOnFolder, can, type Actor } from "@/lib/authz";
import { db, type Db } from "@/lib/db";
import { notFound } from "@/lib/errors";
import { listAncestors } from "@/lib/folders/queries";
import { isUuid } from "@/lib/ids";
import { listStoresUsableByFolder } from "@/lib/stores/queries";
import { referenceView, type ReferenceView } from "@/lib/vault/reference";
import { getProviderOrThrow } from "@/lib/vault/registry";
import type { StoreKind } from "@/lib/vault/types";
import type { AssetListQuery, AssetType } from "./schemas";
import { listAssetUsages, type AssetUsage } from "./usage";
import { likeTerm } from "@/lib/db/names";

/** A store as the asset form sees it: what kind it is and what it can do, nothing of its settings. */
export type StoreOption = {
  id: string;
  name: string;
  kind: StoreKind;
  kindLabel: string;
  scope: "tenant" | "folder";
  /** The person may type a value and Latch writes it (the Latch Database store, read-write external stores). */
  writable: boolean;
  /** One string per secret (Azure Key Vault): a Credential's username lives on the asset. */
  singleValue: boolean;
  /** How assets name a secret in this kind of store (the form's labels, help and version inputs; default keys). */
  reference: ReferenceView;
  isBuiltIn: boolean;
  /** The store's last test failed: assets in it may not resolve until an administrator puts it right. */
  lastTestFailed: boolean;
};

export type AssetRow = {
  id: string;
  name: string;
  description: string;
  type: AssetType;
  store: { id: string; name: string; kindLabel: string } | null;
  reference: string | null;
  updatedAt: Date;
  lastResolve: { at: Date; ok: boolean } | null;
};

/** What the asset page and edit form may know: metadata only, never a secret value. */
export type AssetView = AssetRow & {
  folder: { id: string; name: string };
  folderPath: { id: string; name: string }[];
  secretName: string | null;
  secretVersion: string | null;
  usernameKey: string | null;
  valueKey: string | null;
  username: string | null;
  ownsSecret: boolean;
  /** Text/Integer/Boolean only: these are settings, stored and shown as such. */
  plainValue: string | null;
  createdAt: Date;
  storeOption: StoreOption | null;
  permissions: { write: boolean; use: boolean };
  /** Connections using the asset that the viewer may read; the others are only counted. */
  usages: AssetUsage[];
  hiddenUsages: number;
};

export function toStoreOption(store: { id: string; name: string; kind: string; folderId: string | null; mode: string; isBuiltIn: boolean; lastTestOk: boolean | null }): StoreOption {
  const p = getProviderOrThrow(store.kind);
  return {
    id: store.id,
    name: store.name,
    kind: p.kind,
    kindLabel: p.label,
    scope: store.folderId ? "folder" : "tenant",
    writable: p.supportsWrite && (store.isBuiltIn || store.mode === "READ_WRITE"),
    singleValue: p.singleValue,
    reference: referenceView(p.reference),
    isBuiltIn: store.isBuiltIn,
    lastTestFailed: store.lastTestOk === false,
  };
}

type Row = CredentialAsset & { store: { id: string; name: string; kind: string } | null };

function referenceOf(a: Pick<CredentialAsset, "secretName" | "secretVersion">) {
  if (!a.secretName) return null;
  return a.secretVersion ? `${a.secretName} @ ${a.secretVersion}` : a.secretName;
}

function toRow(a: Row): AssetRow {
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    type: a.type,
    store: a.store ? { id: a.store.id, name: a.store.name, kindLabel: getProviderOrThrow(a.store.kind).label } : null,
    reference: referenceOf(a),
    updatedAt: a.updatedAt,
    lastResolve: a.lastResolveAt ? { at: a.lastResolveAt, ok: !!a.lastResolveOk } : null,
  };
}

const storeSelect = { select: { id: true, name: true, kind: true } } as const;

/** The folder's assets tab: searched by name or description, filtered by type, paged. */
export async function listAssets(actor: Actor, folderId: string, query: AssetListQuery) {
  const access = await assertCanOnFolder(db(), actor, "assets.read", folderId);
  const where: Prisma.CredentialAssetWhereInput = {
    folderId: access.folder.id,
    ...(query.type ? { type: query.type } : {}),
    ...(query.q
      ? { OR: [{ name: { contains: likeTerm(query.q), mode: "insensitive" } }, { description: { contains: likeTerm(query.q), mode: "insensitive" } }] }
      : {}),
  };
  const [rows, total] = await Promise.all([
    db().credentialAsset.findMany({
      where,
      include: { store: storeSelect },
      orderBy: [{ name: "asc" }, { id: "asc" }],
      skip: (query.page - 1) * query.pageSize,
      take: query.pageSize,
    }),
    db().credentialAsset.count({ where }),
  ]);
  return { rows: rows.map(toRow), total, permissions: { write: can(access, "assets.write"), use: can(access, "assets.use") } };
}

/** Loads an asset the actor may act on; absent and forbidden are the same "not found". */
export async function getAssetForOrThrow(client: Db, actor: Actor, permission: "assets.read" | "assets.write" | "assets.use", assetId: string) {
  const asset = isUuid(assetId) ? await client.credentialAsset.findUnique({ where: { id: assetId }, include: { store: true } }) : null;
  if (!asset) throw notFound("Credential asset");
  const access = await assertCanOnFolder(client, actor, permission, asset.folderId, "Credential asset");
  return { asset, access };
}

export async function getAssetViewOrThrow(actor: Actor, assetId: string): Promise<AssetView> {
  const { asset, access } = await getAssetForOrThrow(db(), actor, "assets.read", assetId);
  const [ancestors, usages] = await Promise.all([listAncestors(asset.folderId, actor), listAssetUsages(db(), asset.id, actor)]);
  return {
    ...toRow(asset),
    folder: { id: access.folder.id, name: access.folder.name },
    folderPath: [...ancestors, { id: access.folder.id, name: access.folder.name }],
    secretName: asset.secretName,
    secretVersion: asset.secretVersion,
    usernameKey: asset.usernameKey,
    valueKey: asset.valueKey,
    username: asset.username,
    ownsSecret: asset.ownsSecret,
    plainValue: asset.plainValue,
    createdAt: asset.createdAt,
    storeOption: asset.store ? toStoreOption(asset.store) : null,
    permissions: { write: can(access, "assets.write"), use: can(access, "assets.use") },
    usages: usages.visible,
    hiddenUsages: usages.hidden,
  };
}

/** Stores the asset form offers for a folder (checked again on save). */
export async function listStoreOptions(actor: Actor, folderId: string): Promise<StoreOption[]> {
  const access = await assertCanOnFolder(db(), actor, "assets.write", folderId);
  return (await listStoresUsableByFolder(access.folder.id)).map(toStoreOption);
}

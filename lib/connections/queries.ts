import "server-only";
import type { ConnectionStatus } from "@prisma/client";
import { assertCanOnFolder, can, listFolderIdsWith, type Actor } from "@/lib/authz";
import { getConnectorOrThrow, isConnectorKind } from "@/lib/connectors/registry";
import type { ConnectorField, ConnectorKind } from "@/lib/connectors/types";
import { db } from "@/lib/db";
import { notFound } from "@/lib/errors";
import { listAncestors } from "@/lib/folders/queries";
import { isUuid } from "@/lib/ids";
import type { ListQuery } from "@/lib/list-query";
import { likeTerm } from "@/lib/db/names";
import { lastMessageFor } from "./store-failures";

export type ConnectionRow = {
  id: string;
  name: string;
  kind: string;
  kindLabel: string;
  status: ConnectionStatus;
  lastConnectedAt: Date | null;
  lastMessage: string | null;
  /** Labels of the fields that use credential assets. */
  assetFields: string[];
};

/** An asset as a connection's field shows it: a chip with the folder path, linked when the viewer may read it. */
/** `id` is null, like the path, for an asset in a folder the person cannot open. */
export type AssetChip = { id: string | null; name: string; type: string; folderPath: string; readable: boolean };

export type SecretFieldView = {
  field: string;
  label: string;
  source: "asset" | "value" | "none";
  asset: AssetChip | null;
  /** The connector's username field this asset also fills, if any. */
  fillsUsernameField: string | null;
};

export type ConnectionView = ConnectionRow & {
  folder: { id: string; name: string };
  folderPath: { id: string; name: string }[];
  config: Record<string, unknown>;
  fields: ConnectorField[];
  secretFields: SecretFieldView[];
  owner: { name: string; email: string };
  createdAt: Date;
  updatedAt: Date;
  /** Moved by every edit only (not status, kept tokens or refreshes): the edit form sends back the one it loaded. */
  settingsVersion: number;
  lastCheckAt: Date | null;
  lastErrorKind: string | null;
  permissions: { write: boolean; use: boolean };
};

const kindLabel = (kind: string) => (isConnectorKind(kind) ? safeLabel(kind) : kind);
function safeLabel(kind: ConnectorKind) {
  try {
    return getConnectorOrThrow(kind).label;
  } catch {
    return kind;
  }
}

export async function listConnections(actor: Actor, folderId: string, query: ListQuery) {
  const access = await assertCanOnFolder(db(), actor, "connections.read", folderId);
  const where = { folderId: access.folder.id, ...(query.q ? { name: { contains: likeTerm(query.q), mode: "insensitive" as const } } : {}) };
  const [rows, total] = await Promise.all([
    db().connection.findMany({ where, include: { secrets: { select: { field: true, part: true, assetId: true, asset: { select: { folderId: true } } } } }, orderBy: [{ name: "asc" }, { id: "asc" }], skip: (query.page - 1) * query.pageSize, take: query.pageSize }),
    db().connection.count({ where }),
  ]);
  // A store failure is told in full only to those who may read every asset it could be about (read only when one is shown).
  const readable = rows.some((c) => c.lastErrorKind?.startsWith("store_")) ? new Set(await listFolderIdsWith(db(), actor, "assets.read")) : new Set<string>();
  return {
    total,
    permissions: { write: can(access, "connections.write"), use: can(access, "connections.use") },
    rows: rows.map((c): ConnectionRow => {
      const fields = isConnectorKind(c.connectorKind) ? getConnectorOrThrow(c.connectorKind).fields : [];
      return {
        id: c.id,
        name: c.name,
        kind: c.connectorKind,
        kindLabel: kindLabel(c.connectorKind),
        status: c.status,
        lastConnectedAt: c.lastConnectedAt,
        lastMessage: lastMessageFor(c, c.secrets.every((s) => !s.asset || readable.has(s.asset.folderId))),
        // In the form's order, a username filled from a Credential asset included (its User field).
        assetFields: fields.filter((f) => c.secrets.some((s) => s.assetId && s.field === f.name)).map((f) => f.label),
      };
    }),
  };
}

export async function getConnectionViewOrThrow(actor: Actor, connectionId: string): Promise<ConnectionView> {
  const c = isUuid(connectionId)
    ? await db().connection.findUnique({
        where: { id: connectionId },
        include: { secrets: { include: { asset: { select: { id: true, name: true, type: true, folderId: true } } } }, owner: { select: { name: true, email: true } } },
      })
    : null;
  if (!c) throw notFound("Connection");
  const access = await assertCanOnFolder(db(), actor, "connections.read", c.folderId, "Connection");
  const connector = getConnectorOrThrow(c.connectorKind);
  const readable = new Set(await listFolderIdsWith(db(), actor, "assets.read"));
  const assetFolders = [...new Set(c.secrets.map((s) => s.asset?.folderId).filter((x): x is string => !!x))];
  const paths = new Map<string, string>();
  for (const folderId of assetFolders) {
    const folder = await db().folder.findUnique({ where: { id: folderId }, select: { name: true } });
    const ancestors = await listAncestors(folderId, actor);
    paths.set(folderId, [...ancestors.map((a) => a.name), folder?.name ?? ""].join(" / "));
  }
  const config = (c.config ?? {}) as Record<string, unknown>;
  const secretFields = connector.fields
    .filter((f) => f.type === "secret")
    .filter((f) => !f.showWhen || f.showWhen.equals.includes(String(config[f.showWhen.field] ?? "")))
    .map((f): SecretFieldView => {
      const row = c.secrets.find((s) => s.field === f.name && s.part === "VALUE");
      const asset = row?.asset;
      const fillsUsername = f.usernameField && c.secrets.some((s) => s.field === f.usernameField && s.part === "USERNAME") ? f.usernameField : null;
      return {
        field: f.name,
        label: f.label,
        source: asset ? "asset" : row ? "value" : "none",
        // Someone who may see the connection but not the asset's folder sees its name, not a link or its path.
        asset: asset ? { id: readable.has(asset.folderId) ? asset.id : null, name: asset.name, type: asset.type, folderPath: readable.has(asset.folderId) ? paths.get(asset.folderId) ?? "" : "a folder you cannot open", readable: readable.has(asset.folderId) } : null,
        fillsUsernameField: fillsUsername,
      };
    });
  const ancestors = await listAncestors(c.folderId, actor);
  return {
    id: c.id,
    name: c.name,
    kind: c.connectorKind,
    kindLabel: connector.label,
    status: c.status,
    lastConnectedAt: c.lastConnectedAt,
    lastMessage: lastMessageFor(c, c.secrets.every((s) => !s.asset || readable.has(s.asset.folderId))),
    assetFields: secretFields.filter((s) => s.asset).map((s) => s.label),
    folder: { id: access.folder.id, name: access.folder.name },
    folderPath: [...ancestors, { id: access.folder.id, name: access.folder.name }],
    config,
    fields: connector.fields,
    secretFields,
    owner: c.owner,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    settingsVersion: c.settingsVersion,
    lastCheckAt: c.lastCheckAt,
    lastErrorKind: c.lastErrorKind,
    permissions: { write: can(access, "connections.write"), use: can(access, "connections.use") },
  };
}

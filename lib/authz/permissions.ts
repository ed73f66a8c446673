import type { FolderRole } from "@prisma/client";

/**
 * The one place roles become permissions. Later features add names here and nowhere else.
 * Folder permissions are granted by a role on the folder or any ancestor; tenant administrators hold all.
 */
export const FOLDER_PERMISSIONS = [
  "folders.read",
  "folders.manage",
  "members.manage",
  "audit.read",
  "assets.read",
  "assets.write",
  "assets.use",
  "connections.read",
  "connections.write",
  "connections.use",
] as const;

export const TENANT_PERMISSIONS = ["users.manage", "stores.manage", "audit.read.all", "folders.create.root", "tokens.manage"] as const;

export type FolderPermission = (typeof FOLDER_PERMISSIONS)[number];
export type TenantPermission = (typeof TENANT_PERMISSIONS)[number];

/**
 * The folder permissions an API token may carry: what runners need to find and use connections.
 * With a token, assets.use refreshes an asset's cached value (POST /assets/{id}/refresh): a
 * connection resolves its assets as its owner, whoever invokes it. Anything that changes folders,
 * members or settings stays with signed-in people.
 */
export const TOKEN_PERMISSIONS = ["folders.read", "assets.read", "assets.use", "connections.read", "connections.use"] as const satisfies readonly FolderPermission[];
export type TokenPermission = (typeof TOKEN_PERMISSIONS)[number];

export const PERMISSION_LABELS: Record<TokenPermission, string> = {
  "folders.read": "See the folder",
  "assets.read": "Read asset metadata",
  "assets.use": "Refresh assets’ cached values",
  "connections.read": "Read connections",
  "connections.use": "Use connections",
};

/**
 * Tenant-wide permissions an API token may carry: only service accounts' tokens, and only what an
 * operations tool needs (reading metrics). They open no folder.
 */
export const TOKEN_TENANT_PERMISSIONS = ["metrics.read"] as const;
export type TokenTenantPermission = (typeof TOKEN_TENANT_PERMISSIONS)[number];

export const TENANT_PERMISSION_LABELS: Record<TokenTenantPermission, string> = {
  "metrics.read": "Read metrics (/api/metrics)",
};

const VIEWER: FolderPermission[] = ["folders.read", "assets.read", "connections.read"];
const EDITOR: FolderPermission[] = [...VIEWER, "assets.write", "assets.use", "connections.write", "connections.use"];
const FOLDER_ADMIN: FolderPermission[] = [...EDITOR, "folders.manage", "members.manage", "audit.read"];

export const ROLE_PERMISSIONS: Record<FolderRole, ReadonlySet<FolderPermission>> = {
  VIEWER: new Set(VIEWER),
  EDITOR: new Set(EDITOR),
  FOLDER_ADMIN: new Set(FOLDER_ADMIN),
};

/** Higher rank wins when a person holds roles on several ancestors. */
export const ROLE_RANK: Record<FolderRole, number> = { VIEWER: 1, EDITOR: 2, FOLDER_ADMIN: 3 };

export const ROLE_LABELS: Record<FolderRole, string> = {
  FOLDER_ADMIN: "Folder Admin",
  EDITOR: "Editor",
  VIEWER: "Viewer",
};

export function roleGrants(role: FolderRole | null, permission: FolderPermission): boolean {
  return role !== null && ROLE_PERMISSIONS[role].has(permission);
}

export function highestRole(roles: FolderRole[]): FolderRole | null {
  let best: FolderRole | null = null;
  for (const role of roles) if (!best || ROLE_RANK[role] > ROLE_RANK[best]) best = role;
  return best;
}

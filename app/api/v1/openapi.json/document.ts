import "server-only";
import { z } from "zod";
import { buildOpenApiDocument, operationsOf, type OpenApiDocument, type OperationSpec } from "@/lib/api/openapi";
import * as assetRefresh from "../assets/[assetId]/refresh/route";
import * as asset from "../assets/[assetId]/route";
import * as connectionInvoke from "../connections/[connectionId]/invoke/route";
import * as connectionRefresh from "../connections/[connectionId]/refresh/route";
import * as connection from "../connections/[connectionId]/route";
import * as connectionTest from "../connections/[connectionId]/test/route";
import * as oauthCallback from "../connections/oauth/callback/route";
import * as connectors from "../connectors/route";
import * as folderAssets from "../folders/[folderId]/assets/route";
import * as folderConnections from "../folders/[folderId]/connections/route";
import * as folderMembers from "../folders/[folderId]/members/route";
import * as folder from "../folders/[folderId]/route";
import * as folders from "../folders/route";
import * as storeCertificate from "../stores/[storeId]/certificate/route";
import * as storeRefresh from "../stores/[storeId]/refresh/route";
import * as store from "../stores/[storeId]/route";
import * as stores from "../stores/route";

/**
 * Every route module under app/api/v1. A test walks the folders and fails when a route.ts, or one of
 * its exported methods, is missing from the document built here.
 */
const ROUTE_MODULES: Record<string, unknown>[] = [
  folders,
  folder,
  folderMembers,
  folderAssets,
  folderConnections,
  asset,
  assetRefresh,
  connection,
  connectionInvoke,
  connectionRefresh,
  connectionTest,
  oauthCallback,
  connectors,
  stores,
  store,
  storeRefresh,
  storeCertificate,
];

/** The document's own entry; its route file hands this to defineRoute (importing it here would be a cycle). */
export const openApiOperation = {
  method: "GET",
  path: "/openapi.json",
  summary: "This OpenAPI document",
  description: "OpenAPI 3.1, generated from the schemas the handlers validate with. Requires authentication like every other route.",
  tags: ["Meta"],
  access: { kind: "authenticated" },
  response: z.record(z.string(), z.unknown()).meta({ description: "An OpenAPI 3.1 document." }),
} satisfies OperationSpec;

export const API_VERSION = "1.0.0";

let cached: OpenApiDocument | undefined;

export function openApiDocument(): OpenApiDocument {
  cached ??= buildOpenApiDocument([...ROUTE_MODULES.flatMap(operationsOf), openApiOperation], { version: API_VERSION });
  return cached;
}

import { z } from "zod";
import { FAILURE_REASONS, dateTimeSchema } from "@/lib/api/openapi";
import type { ConnectionRow, ConnectionView } from "./queries";

/**
 * What the REST API says about a connection: its settings and where each secret field gets its value
 * from. Never a value: a typed secret shows as source "value", an asset-backed one names the asset.
 */

const statusSchema = z.enum(["CONNECTED", "FAILED", "PENDING_AUTHORIZATION"]);

export const connectionSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.string().meta({ description: "The connector kind; see GET /connectors." }),
  kindLabel: z.string(),
  status: statusSchema,
  lastConnectedAt: dateTimeSchema.nullable(),
  lastMessage: z.string().nullable().meta({ description: "The last connection test's outcome in words; never a value." }),
});
export type ConnectionSummaryDto = z.output<typeof connectionSummarySchema>;

export const connectionListResponseSchema = z.object({
  connections: z.array(connectionSummarySchema),
  total: z.number().int(),
  page: z.number().int(),
  pageSize: z.number().int(),
});

export const secretFieldSchema = z.object({
  field: z.string(),
  label: z.string(),
  source: z.enum(["asset", "value", "none"]).meta({ description: "asset: resolved from a credential asset at every use; value: typed in and sealed; none: left empty." }),
  asset: z
    .object({ id: z.string().nullable().meta({ description: "null when the asset is in a folder you cannot open." }), name: z.string() })
    .nullable(),
});

export const connectionSchema = connectionSummarySchema.extend({
  folder: z.object({ id: z.string(), name: z.string() }),
  settings: z.record(z.string(), z.unknown()).meta({ description: "The connector's non-secret fields as saved." }),
  secretFields: z.array(secretFieldSchema).meta({ description: "Where each secret field gets its value; never the value." }),
  owner: z.object({ name: z.string(), email: z.string() }).meta({ description: "Whose access resolves the connection's assets at run time." }),
  createdAt: dateTimeSchema,
  updatedAt: dateTimeSchema,
  lastCheckAt: dateTimeSchema.nullable(),
  lastErrorKind: z.string().nullable().meta({ description: "What the last failed connect or test met, as an error's reason names it (credentials_rejected, store_not_found, …); null after a success." }),
  permissions: z.object({ write: z.boolean(), use: z.boolean() }),
});
export type ConnectionDto = z.output<typeof connectionSchema>;
export type ConnectionStatus = z.output<typeof statusSchema>;

export const connectionResponseSchema = z.object({ connection: connectionSchema });

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toConnectionSummaryDto(row: ConnectionRow): ConnectionSummaryDto {
  return { id: row.id, name: row.name, kind: row.kind, kindLabel: row.kindLabel, status: row.status, lastConnectedAt: iso(row.lastConnectedAt), lastMessage: row.lastMessage };
}

export function toConnectionDto(view: ConnectionView): ConnectionDto {
  // Only fields the connector declares as non-secret: a stray key in the stored config is not echoed.
  const settingNames = new Set(view.fields.filter((f) => f.type !== "secret").map((f) => f.name));
  return {
    ...toConnectionSummaryDto(view),
    folder: view.folder,
    settings: Object.fromEntries(Object.entries(view.config).filter(([key]) => settingNames.has(key))),
    secretFields: view.secretFields.map((s) => ({ field: s.field, label: s.label, source: s.source, asset: s.asset ? { id: s.asset.id, name: s.asset.name } : null })),
    owner: view.owner,
    createdAt: view.createdAt.toISOString(),
    updatedAt: view.updatedAt.toISOString(),
    lastCheckAt: iso(view.lastCheckAt),
    lastErrorKind: view.lastErrorKind,
    permissions: view.permissions,
  };
}

/** POST /connections/{id}/test: the same outcome the console shows. */
export const connectOutcomeSchema = z.union([
  z.object({ ok: z.literal(true), connectionId: z.string(), message: z.string() }),
  z.object({ ok: z.literal(true), connectionId: z.string(), redirectTo: z.string().meta({ description: "OAuth authorization code: open this to authorise the app." }) }),
  z.object({
    ok: z.literal(false),
    connectionId: z.string().nullable(),
    reason: z.enum(FAILURE_REASONS).meta({ description: "What failed: the same values as an error's reason (credentials_rejected, unreachable, store_auth, …) and a connection's lastErrorKind." }),
    kind: z.string().meta({ description: "The same as reason; kept for runners written before reason was added.", deprecated: true }),
    title: z.string(),
    message: z.string(),
    targetCode: z
      .string()
      .optional()
      .meta({ description: "The target's own code for the failure, when it sent one, as in an error body (a SQLSTATE such as 28P01, a MariaDB error number such as 1045, a Redis reply code)." }),
  }),
]);

export const connectionRefreshResponseSchema = z.object({ refreshed: z.literal(true), connectionId: z.string() });

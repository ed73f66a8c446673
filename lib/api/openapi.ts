import { z } from "zod";
import { CONNECTOR_ERROR_KINDS } from "@/lib/connectors/types";
import type { FolderPermission, TenantPermission, TokenPermission } from "@/lib/authz/permissions";
import type { AppErrorCode } from "@/lib/errors";
import { STORE_ERROR_TITLES, type StoreErrorKind } from "@/lib/vault/errors";

/**
 * The OpenAPI 3.1 document of /api/v1, built from the very zod schemas the handlers validate with.
 * Each route declares its operation through defineRoute (lib/api/route.ts), which hangs the spec on
 * the exported handler; buildOpenApiDocument collects those specs from the route modules.
 */

export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const ERROR_STATUSES = [400, 401, 404, 409, 413, 422, 429, 500, 502, 503, 504] as const;
export type ErrorStatus = (typeof ERROR_STATUSES)[number];

/** A response that is not one JSON body: a redirect, a download. Written as OpenAPI response objects. */
export type RawResponses = Record<string, Record<string, unknown>>;

/**
 * Who may call an operation, as its handler and lib/authz check it: what an API token needs, or why
 * no token can. lib/api/permissions.test.ts calls every route with tokens to hold this to the code.
 */
export type OperationAccess =
  /** `permission` on the folder the path names, or on the folder the asset or connection lives in. */
  | { kind: "folder"; permission: TokenPermission; on: "folder" | "asset" | "connection" }
  /** Never refused for want of a permission: the answer holds only the folders where the caller has `permission`. */
  | { kind: "list"; permission: TokenPermission }
  /** Any signed-in person or valid API token, whatever its folders. */
  | { kind: "authenticated" }
  /** A permission no token can carry: signed-in people only, with `permission` there ("parent": the body's parentId). */
  | { kind: "session"; permission: Exclude<FolderPermission, TokenPermission>; on: "folder" | "connection" | "parent" }
  /** Tenant administrators, signed in: no token, not even an administrator's own. */
  | { kind: "admin"; permission: TenantPermission };

export type OperationSpec = {
  method: HttpMethod;
  /** Relative to the server URL /api/v1, with {param} placeholders named like the route's folders. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /**
   * What the document shows for the body when it says more than the validating `body` can (e.g. one
   * variant per connector operation, each with the input schema the operation itself validates with).
   */
  documentedBody?: z.ZodType;
  /** The JSON body of a success; "empty" for 204 No Content; raw response objects for anything else. */
  response: z.ZodType | "empty" | { raw: RawResponses };
  /** Status of a JSON success (default 200). */
  status?: number;
  /** Statuses beyond those implied by the schemas (see errorStatusesOf). */
  errors?: ErrorStatus[];
  /** Who may call it: shown as x-latch-permission and as the description's last sentence. */
  access: OperationAccess;
};

export const API_BASE_PATH = "/api/v1";

const ERROR_CODES = [
  "BAD_REQUEST",
  "VALIDATION",
  "UNAUTHENTICATED",
  "NOT_FOUND",
  "CONFLICT",
  "RATE_LIMITED",
  "PAYLOAD_TOO_LARGE",
  "UPSTREAM_FAILED",
  "UPSTREAM_UNAVAILABLE",
  "UPSTREAM_TIMEOUT",
  "NOT_CONFIGURED",
  "METHOD_NOT_ALLOWED",
  "UNEXPECTED",
] as const satisfies readonly (AppErrorCode | "METHOD_NOT_ALLOWED" | "UNEXPECTED")[];

/** An error's `reason`: what failed at a target (lib/connectors) or a credential store (lib/vault), as AppError.reason gives it. */
export const FAILURE_REASONS = [...CONNECTOR_ERROR_KINDS, ...(Object.keys(STORE_ERROR_TITLES) as StoreErrorKind[]).map((kind) => `store_${kind}` as const)];

/** The one error body every handler answers with (lib/api/handler.ts). */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).meta({ description: "METHOD_NOT_ALLOWED comes with 405 and an Allow header, for a method an address does not take (GET on …/invoke); the operations below list the statuses they answer otherwise." }),
      message: z.string().meta({ description: "Meant for a person; never carries a secret value." }),
      reason: z
        .enum(FAILURE_REASONS)
        .optional()
        .meta({
          description:
            "Present when a connection's target or a credential store caused the failure, absent when Latch refused the request itself (then fieldErrors names the fields). What failed, for a program to branch on: the target's (credentials_rejected: it refused the login even with a value fetched anew; target_error: it refused what was asked, such as bad SQL, so sending it again will fail the same way; busy: it asks for the request again; …) or the store's, prefixed store_ (store_not_found, store_auth, …). The same values as a connection's lastErrorKind.",
        }),
      targetCode: z
        .string()
        .optional()
        .meta({
          description:
            "With a reason from the target, when the target sent a code of its own: PostgreSQL's SQLSTATE (23505 for a unique violation), MariaDB's error number (1062), the prefix of a Redis error reply (WRONGTYPE), an AMQP reply code (404). For a program to branch on instead of the message.",
        }),
      fieldErrors: z.record(z.string(), z.array(z.string())).optional().meta({ description: "Validation problems by field path." }),
      requestId: z.string().meta({ description: "Quote it to an administrator; the server log has the details." }),
    }),
  });

/** A timestamp as JSON carries it (Date → ISO 8601 string). */
export const dateTimeSchema = z.string().meta({ format: "date-time" });

const ERROR_DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: "The body is not JSON, not sent as application/json, nested more than 64 levels deep, has a key named __proto__, or holds text that is not valid Unicode or that Latch's own database cannot store (a NUL character in a field whose validation does not already refuse it with 422; what an invoke sends on is the target's to refuse); or a change made with the browser session from another site (BAD_REQUEST).",
  401: "No valid session or API token (UNAUTHENTICATED).",
  404: "Absent, malformed or not yours: the three look the same; or, for a change, deleted by another request while it ran (NOT_FOUND).",
  409: "The request conflicts with the current state (CONFLICT). Either another request deleted something it names or took the same name while it ran: reload and try again. Or the resource's state or settings do not allow it, such as a connection waiting for authorisation in the console, or settings its target refuses (an OAuth scope, a grant the app may not use): sending it again as it is will fail the same way until someone changes that in the console.",
  413: "The body is larger than 1 MiB (PAYLOAD_TOO_LARGE).",
  422: "The query or body failed validation; fieldErrors names the fields (VALIDATION). An operation that takes no body answers it to one sent anyway (other than {}). On an invoke, also the target refusing what was asked (bad SQL, a refused command): then reason is target_error, with no fieldErrors.",
  429: "Too many requests; retry after the Retry-After header's seconds (RATE_LIMITED).",
  500: "Something unexpected failed; quote the requestId (UNEXPECTED).",
  502: "The credential store or the target refused or failed (UPSTREAM_FAILED).",
  503: "The credential store or the target could not be reached, the store, the target or its token endpoint is throttling Latch, the target rolled the request back and asks for it again (a deadlock, a serialization failure, a lock it could not get), or Latch's own database failed while keeping an OAuth app's renewed tokens (UPSTREAM_UNAVAILABLE). Retry-After, when present, says how long to wait: the store's or the token endpoint's own wait, or 1 after a rollback; absent, back off as for an outage. Or the instance that answered lacks the master key stored values are sealed with, which its operator must configure (NOT_CONFIGURED; /api/ready says so too).",
  504: "The credential store or the target did not answer in time (UPSTREAM_TIMEOUT).",
};

/** What the wrapper itself can answer for this operation, plus the statuses the route declares. */
export function errorStatusesOf(spec: Pick<OperationSpec, "params" | "query" | "body" | "errors"> & { method?: OperationSpec["method"] }): ErrorStatus[] {
  const statuses = new Set<ErrorStatus>([401, 500, ...(spec.errors ?? [])]);
  // A change can lose a race with another request (a row deleted, a name taken meanwhile): lib/db/races.ts.
  if (spec.method && spec.method !== "GET") {
    statuses.add(400); // a browser session used from another site
    statuses.add(404);
    statuses.add(409);
  }
  if (spec.params) statuses.add(404);
  // A change with no body refuses one sent to it (lib/api/handler.ts assertNoBody).
  if (spec.query || spec.body || (spec.method && spec.method !== "GET")) statuses.add(422);
  if (spec.body) {
    statuses.add(400);
    statuses.add(413);
  }
  return ERROR_STATUSES.filter((s) => statuses.has(s));
}

type JsonSchema = Record<string, unknown>;

/**
 * zod → JSON Schema 2020-12 (the dialect of OpenAPI 3.1). Nested `$defs` are lifted into
 * components.schemas, because inside the document `#/$defs/...` would point at the document's root.
 */
class SchemaCollector {
  readonly components: Record<string, JsonSchema> = { Error: this.plain(errorBodySchema, "output") };

  plain(schema: z.ZodType, io: "input" | "output"): JsonSchema {
    const json = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as JsonSchema;
    delete json.$schema;
    return json;
  }

  convert(schema: z.ZodType, io: "input" | "output", prefix: string): JsonSchema {
    const json = this.plain(schema, io);
    const defs = (json.$defs ?? {}) as Record<string, JsonSchema>;
    delete json.$defs;
    // A schema with an id (.meta({ id })) keeps it as its name; zod's own names for the others (__schema0) get the operation's prefix.
    const rename = (name: string) => (name.startsWith("__schema") ? `${prefix}.${name}` : name).replace(/[^A-Za-z0-9._-]/g, "_");
    const rewrite = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(rewrite);
      if (!value || typeof value !== "object") return value;
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, k === "$ref" && typeof v === "string" && v.startsWith("#/$defs/") ? `#/components/schemas/${rename(v.slice(8))}` : rewrite(v)]),
      );
    };
    for (const [name, def] of Object.entries(defs)) this.components[rename(name)] = rewrite(def) as JsonSchema;
    return rewrite(json) as JsonSchema;
  }
}

/** The extension each operation carries, for programs: the spec's access as it is. */
export const ACCESS_EXTENSION = "x-latch-permission";

const ITEM_FOLDER = { folder: "the folder", asset: "the asset's folder", connection: "the connection's folder" } as const;

/** The sentence a person reading the reference sees: what a token needs, or that none can. */
export function accessSentence(access: OperationAccess): string {
  switch (access.kind) {
    case "folder":
      return `Token permission: ${access.permission} on ${ITEM_FOLDER[access.on]}.`;
    case "list":
      return `Token permission: none to call it; the answer holds only the folders where the token has ${access.permission}.`;
    case "authenticated":
      return "Token permission: none; any valid API token may call it, whatever its folders.";
    case "session": {
      const where = access.on === "parent" ? "the parent folder (a top-level folder: a tenant administrator)" : ITEM_FOLDER[access.on];
      return `Token permission: none suffices, API tokens get 404; signed-in people need ${access.permission} on ${where}.`;
    }
    case "admin":
      return "Token permission: none suffices, API tokens get 404 (an administrator's own too); signed-in administrators only.";
  }
}

/**
 * The description with its access sentence, and the extension. A spec made around the types (a cast)
 * is left without both rather than failing the whole document; lib/api/openapi.test.ts refuses it.
 */
function describedAccess(spec: OperationSpec): Record<string, unknown> {
  const access = spec.access as OperationAccess | undefined;
  const description = [spec.description, access ? accessSentence(access) : undefined].filter(Boolean).join(" ");
  return { ...(description ? { description } : {}), ...(access ? { [ACCESS_EXTENSION]: { ...access } } : {}) };
}

function operationId(spec: OperationSpec): string {
  const words = spec.path
    .split("/")
    .filter(Boolean)
    .map((part) => part.replace(/^\{(.*)\}$/, "by-$1").replace(/[^A-Za-z0-9]+/g, "-"));
  return [spec.method.toLowerCase(), ...words].join("-").replace(/-+(.)/g, (_m, c: string) => c.toUpperCase());
}

function parametersOf(schema: z.ZodType | undefined, where: "path" | "query", collector: SchemaCollector, prefix: string) {
  if (!schema) return [];
  const json = collector.convert(schema, "input", prefix);
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      // Path parameters are always required in OpenAPI; the schema decides for the query.
      required: where === "path" || required.has(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

const isRaw = (response: z.ZodType | { raw: RawResponses }): response is { raw: RawResponses } => !("_zod" in response);

/** Every answer's id for the request, the one its audit events and log lines carry. */
const REQUEST_ID_HEADER_DOC = {
  description:
    "The request's id, as its audit events and Latch's log lines record it (and an error body's requestId). A request that sends its own X-Request-Id (8–64 letters, digits, '.', '_' or '-') gets it back; otherwise Latch makes one.",
  schema: { type: "string" },
};

function responsesOf(spec: OperationSpec, collector: SchemaCollector, prefix: string) {
  const responses: Record<string, Record<string, unknown>> = {};
  if (spec.response === "empty") responses["204"] = { description: "Done; no content." };
  else if (isRaw(spec.response)) Object.assign(responses, spec.response.raw);
  else {
    responses[String(spec.status ?? 200)] = {
      description: "Success.",
      content: { "application/json": { schema: collector.convert(spec.response, "output", `${prefix}.response`) } },
    };
  }
  for (const status of errorStatusesOf(spec)) {
    responses[String(status)] = {
      description: ERROR_DESCRIPTIONS[status],
      ...(status === 429 || status === 503 ? { headers: { "Retry-After": { description: status === 429 ? "Seconds to wait." : "Seconds to wait before sending it again: the credential store's or the OAuth token endpoint's own wait, passed on when it said, or 1 when the target rolled the request back and asks for it again.", schema: { type: "integer" } } } } : {}),
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
  }
  for (const response of Object.values(responses)) response.headers = { "X-Request-Id": { $ref: "#/components/headers/RequestId" }, ...(response.headers as object | undefined) };
  return responses;
}

export type OpenApiDocument = {
  openapi: string;
  info: Record<string, unknown>;
  servers: { url: string; description?: string }[];
  security: Record<string, string[]>[];
  tags: { name: string; description?: string }[];
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { schemas: Record<string, JsonSchema>; headers: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

const TAG_DESCRIPTIONS: Record<string, string> = {
  Folders: "The folder tree and its members. Access follows folder roles, inherited by subfolders.",
  Assets: "Credential assets: references to secrets in credential stores, and plain settings. Never a secret value.",
  Connections: "Connections to target systems, and running their connectors' operations.",
  Connectors: "The kinds of connection Latch can make, with their fields and operations.",
  Stores: "Credential stores (administrators only): metadata, never their configuration secrets.",
  Meta: "This document.",
};

export function buildOpenApiDocument(specs: OperationSpec[], info: { version: string }): OpenApiDocument {
  const collector = new SchemaCollector();
  const paths: OpenApiDocument["paths"] = {};
  const tags = new Set<string>();
  for (const spec of [...specs].sort((a, b) => a.path.localeCompare(b.path) || HTTP_METHODS.indexOf(a.method) - HTTP_METHODS.indexOf(b.method))) {
    const id = operationId(spec);
    spec.tags.forEach((t) => tags.add(t));
    const operation: Record<string, unknown> = {
      operationId: id,
      summary: spec.summary,
      ...describedAccess(spec),
      tags: spec.tags,
      parameters: [...parametersOf(spec.params, "path", collector, `${id}.params`), ...parametersOf(spec.query, "query", collector, `${id}.query`)],
      ...(spec.body
        ? { requestBody: { required: true, content: { "application/json": { schema: collector.convert(spec.documentedBody ?? spec.body, "input", `${id}.body`) } } } }
        : {}),
      responses: responsesOf(spec, collector, id),
    };
    (paths[spec.path] ??= {})[spec.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.1",
    info: {
      title: "Latch API",
      version: info.version,
      description:
        "The REST API automation runners use to read folders, assets, stores, connections and connectors, and to run connector operations. " +
        "Authenticate with an API token (`Authorization: Bearer lt_…`) or, from the console, the session cookie. " +
        "Anything you may not see answers 404, exactly like something that does not exist. No response ever carries a secret value. " +
        "Each operation ends its description with the permission an API token needs (also as x-latch-permission): a token's permission on a folder reaches its subfolders, and folders.read comes with every folder a token names.",
    },
    servers: [{ url: API_BASE_PATH, description: "This Latch instance" }],
    security: [{ bearerAuth: [] }, { cookieSession: [] }],
    tags: [...tags].sort().map((name) => ({ name, ...(TAG_DESCRIPTIONS[name] ? { description: TAG_DESCRIPTIONS[name] } : {}) })),
    paths,
    components: {
      schemas: collector.components,
      headers: { RequestId: REQUEST_ID_HEADER_DOC },
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "lt_<prefix>_<secret>",
          description: "An API token created under API tokens. When the Authorization header is present it alone decides; a bad token is 401 even with a session.",
        },
        cookieSession: {
          type: "apiKey",
          in: "cookie",
          name: "next-auth.session-token",
          description: "The console's session (named __Secure-next-auth.session-token over HTTPS). Used when no Authorization header is sent.",
        },
      },
    },
  };
}

/** A handler defined with defineRoute carries its spec here. */
export type Documented = { openapi: OperationSpec };

export function isDocumented(value: unknown): value is Documented {
  return typeof value === "function" && typeof (value as Partial<Documented>).openapi === "object";
}

/** Every documented handler a route module exports under an HTTP method's name. */
export function operationsOf(module: Record<string, unknown>): OperationSpec[] {
  return HTTP_METHODS.flatMap((method) => {
    const handler = module[method];
    if (!isDocumented(handler)) return [];
    // The spec's method is what the document says; the export name is what Next serves.
    if (handler.openapi.method !== method) throw new Error(`${method} export is documented as ${handler.openapi.method} ${handler.openapi.path}`);
    return [handler.openapi];
  });
}

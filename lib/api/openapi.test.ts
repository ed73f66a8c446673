import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { openApiDocument } from "@/app/api/v1/openapi.json/document";
import { FOLDER_PERMISSIONS, TENANT_PERMISSIONS, TOKEN_PERMISSIONS } from "@/lib/authz/permissions";
import { ACCESS_EXTENSION, accessSentence, buildOpenApiDocument, errorStatusesOf, HTTP_METHODS, isDocumented, operationsOf, type OpenApiDocument, type OperationAccess, type OperationSpec } from "./openapi";
import { isOperationRouteFile } from "@/test/api-routes";
import { isMethodRefusal } from "./handler";

const V1 = path.join(process.cwd(), "app", "api", "v1");
// Every method Next serves from a route module; HEAD and OPTIONS would need an entry too.
const SERVED_METHODS = [...HTTP_METHODS, "HEAD", "OPTIONS"] as const;

/** app/api/v1/**\/route.ts, each with the API path its folders spell ([x] → {x}). */
function routeFiles(): { file: string; apiPath: string }[] {
  return (readdirSync(V1, { recursive: true }) as string[])
    .filter(isOperationRouteFile)
    .map((f) => {
      const segments = path.dirname(f).split(path.sep).filter((s) => s && s !== ".");
      return { file: path.join(V1, f), apiPath: `/${segments.map((s) => s.replace(/^\[(.+)\]$/, "{$1}")).join("/")}` };
    })
    .sort((a, b) => a.apiPath.localeCompare(b.apiPath));
}

/** (method, path) pairs a set of route modules serves but the document lacks. */
function missingFrom(doc: OpenApiDocument, modules: { apiPath: string; module: Record<string, unknown> }[]): string[] {
  const missing: string[] = [];
  for (const { apiPath, module } of modules) {
    for (const method of SERVED_METHODS) {
      const handler = module[method];
      if (typeof handler !== "function" || isMethodRefusal(handler)) continue;
      const entry = doc.paths[apiPath]?.[method.toLowerCase()];
      if (!entry) missing.push(`${method} ${apiPath}`);
      // The spec on the handler must name the folder it lives in, or the document would lie about it.
      else if (!isDocumented(handler) || handler.openapi.path !== apiPath) missing.push(`${method} ${apiPath} (documented as ${isDocumented(handler) ? handler.openapi.path : "nothing"})`);
    }
  }
  return missing;
}

const isIn = (list: readonly string[], value: unknown) => typeof value === "string" && list.includes(value);

/** The shapes OperationAccess allows, checked at run time: what a program reading the document may rely on. */
function isAccess(value: unknown): value is OperationAccess {
  const a = (value ?? {}) as Record<string, unknown>;
  const keys = Object.keys(a).sort().join(",");
  switch (a.kind) {
    case "folder":
      return keys === "kind,on,permission" && isIn(TOKEN_PERMISSIONS, a.permission) && isIn(["folder", "asset", "connection"], a.on);
    case "list":
      return keys === "kind,permission" && isIn(TOKEN_PERMISSIONS, a.permission);
    case "authenticated":
      return keys === "kind";
    case "session":
      return keys === "kind,on,permission" && isIn(FOLDER_PERMISSIONS, a.permission) && !isIn(TOKEN_PERMISSIONS, a.permission) && isIn(["folder", "connection", "parent"], a.on);
    case "admin":
      return keys === "kind,permission" && isIn(TENANT_PERMISSIONS, a.permission);
    default:
      return false;
  }
}

/** Operations that do not say who may call them: no valid x-latch-permission, or a description that does not end saying it. */
function withoutAccess(doc: OpenApiDocument): string[] {
  const missing: string[] = [];
  for (const [p, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) {
      const access = op[ACCESS_EXTENSION];
      if (!isAccess(access) || typeof op.description !== "string" || !op.description.endsWith(accessSentence(access))) missing.push(`${method} ${p}`);
    }
  return missing;
}

function refsIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, out));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

describe("the OpenAPI document", () => {
  const doc = openApiDocument();

  it("is OpenAPI 3.1 with the security schemes and the error body", () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.servers).toEqual([expect.objectContaining({ url: "/api/v1" })]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.securitySchemes.cookieSession).toMatchObject({ type: "apiKey", in: "cookie" });
    expect(doc.security).toEqual([{ bearerAuth: [] }, { cookieSession: [] }]);
    expect(doc.components.schemas.Error).toMatchObject({ type: "object", required: ["error"] });
    expect(Object.keys(doc.paths).length).toBeGreaterThan(10);
    // Serialisable as is: what the route and the viewer hand out.
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });

  it("declares every path parameter, and no path parameter its path lacks", () => {
    for (const [p, item] of Object.entries(doc.paths)) {
      const inTemplate = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(item)) {
        const params = (op.parameters ?? []) as { name: string; in: string; required: boolean; schema: unknown }[];
        const declared = params.filter((x) => x.in === "path");
        expect(declared.map((x) => x.name).sort(), `${method} ${p}`).toEqual(inTemplate);
        for (const x of declared) expect(x.required, `${method} ${p} ${x.name}`).toBe(true);
        for (const x of params) expect(x.schema, `${method} ${p} ${x.name}`).toEqual(expect.any(Object));
      }
    }
  });

  it("gives each operation a unique id, a tag, a success and the wrapper's error statuses", () => {
    const ids = new Set<string>();
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        expect(ids.has(op.operationId as string), `duplicate ${op.operationId}`).toBe(false);
        ids.add(op.operationId as string);
        expect((op.tags as string[]).length).toBeGreaterThan(0);
        const statuses = Object.keys(op.responses as object);
        expect(statuses.some((s) => /^[23]\d\d$/.test(s)), `${method} ${p}`).toBe(true);
        expect(statuses, `${method} ${p}`).toEqual(expect.arrayContaining(["401", "500"]));
        if (/\{/.test(p)) expect(statuses, `${method} ${p}`).toContain("404");
        if (op.requestBody) expect(statuses, `${method} ${p}`).toEqual(expect.arrayContaining(["400", "413", "422"]));
      }
    }
    expect(doc.paths["/connections/{connectionId}/invoke"]?.post?.responses).toEqual(
      expect.objectContaining({ "429": expect.anything(), "502": expect.anything(), "503": expect.anything(), "504": expect.anything() }),
    );
  });

  it("resolves every $ref inside the document", () => {
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      const [, kind, name] = /^#\/components\/(schemas|headers)\/([A-Za-z0-9._-]+)$/.exec(ref) ?? [];
      expect(kind, ref).toBeDefined();
      expect(doc.components[kind as "schemas" | "headers"][name!], ref).toBeDefined();
    }
    // Every answer names its request id header, the one to quote with a problem.
    for (const [p, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item)) for (const [status, response] of Object.entries(op.responses as Record<string, { headers?: Record<string, unknown> }>)) expect(response.headers?.["X-Request-Id"], `${method} ${p} ${status}`).toEqual({ $ref: "#/components/headers/RequestId" });
  });

  it("describes no response property that would carry a secret", () => {
    const FORBIDDEN = new Set(["password", "secretValue", "plainValue", "username", "ciphertext", "apiKey", "token", "clientSecret", "config", "secrets"]);
    const offending: string[] = [];
    // Response schemas the document moved into components are reached through their $ref (request
    // schemas there may well have a password field).
    const followed = new Set<string>();
    const walk = (schema: unknown, where: string) => {
      if (Array.isArray(schema)) return schema.forEach((s, i) => walk(s, `${where}[${i}]`));
      if (!schema || typeof schema !== "object") return;
      for (const [k, v] of Object.entries(schema)) {
        if (k === "properties" && v && typeof v === "object") for (const name of Object.keys(v)) if (FORBIDDEN.has(name)) offending.push(`${where}.${name}`);
        if (k === "$ref" && typeof v === "string" && !followed.has(v)) {
          followed.add(v);
          walk(doc.components.schemas[v.slice("#/components/schemas/".length)], v);
        }
        walk(v, `${where}.${k}`);
      }
    };
    for (const [p, item] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(item)) walk(op.responses, `${method} ${p}`);
    expect(followed.size).toBeGreaterThan(0);
    expect(offending).toEqual([]);
  });

  it("documents the schemas the handlers validate with", () => {
    const list = doc.paths["/folders/{folderId}/assets"]?.get;
    const names = (list?.parameters as { name: string; in: string }[]).map((x) => `${x.in}:${x.name}`);
    expect(names).toEqual(["path:folderId", "query:q", "query:type", "query:page", "query:pageSize"]);
    const invoke = doc.paths["/connections/{connectionId}/invoke"]?.post?.requestBody as { content: Record<string, { schema: { oneOf: { required: string[] }[] } }> };
    for (const variant of invoke.content["application/json"]!.schema.oneOf) expect(variant.required).toEqual(["operation", "input"]);
    // Bodies refuse keys they do not know (a misspelt or misplaced setting is named, not dropped), and say so.
    const bodies: [string, { type?: string; additionalProperties?: unknown; oneOf?: { additionalProperties?: unknown }[] }][] = [];
    for (const [p, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item)) {
        const schema = (op.requestBody as { content?: Record<string, { schema: never }> } | undefined)?.content?.["application/json"]?.schema;
        if (schema) bodies.push([`${method} ${p}`, schema]);
      }
    expect(bodies.length).toBeGreaterThanOrEqual(4);
    for (const [where, schema] of bodies) {
      for (const object of schema.oneOf ?? [schema]) expect(object.additionalProperties, where).toBe(false);
    }
    const asset = doc.paths["/assets/{assetId}"]?.get?.responses as Record<string, { content: Record<string, { schema: { properties: Record<string, unknown> } }> }>;
    const fields = Object.keys(asset["200"]!.content["application/json"]!.schema.properties);
    expect(fields).toEqual(["asset"]);
  });
});

describe("every route under app/api/v1 is in the document", () => {
  it("finds the route files", () => {
    const paths = routeFiles().map((r) => r.apiPath);
    expect(paths).toContain("/folders/{folderId}");
    expect(paths).toContain("/openapi.json");
    expect(paths.length).toBeGreaterThan(15);
  });

  it("has an entry for each exported method of each route.ts", async () => {
    const doc = openApiDocument();
    const modules = await Promise.all(routeFiles().map(async (r) => ({ apiPath: r.apiPath, module: (await import(r.file)) as Record<string, unknown> })));
    expect(modules.every((m) => SERVED_METHODS.some((method) => typeof m.module[method] === "function"))).toBe(true);
    expect(missingFrom(doc, modules)).toEqual([]);
    // And nothing documented that no route serves.
    const served = new Set(modules.flatMap((m) => SERVED_METHODS.filter((x) => typeof m.module[x] === "function" && !isMethodRefusal(m.module[x])).map((x) => `${x.toLowerCase()} ${m.apiPath}`)));
    const documented = Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((method) => `${method} ${p}`));
    expect(documented.filter((d) => !served.has(d))).toEqual([]);
  });

  it("says on every operation what an API token needs, as x-latch-permission and in its description", () => {
    const doc = openApiDocument();
    expect(withoutAccess(doc)).toEqual([]);
    const invoke = doc.paths["/connections/{connectionId}/invoke"]!.post!;
    expect(invoke[ACCESS_EXTENSION]).toEqual({ kind: "folder", permission: "connections.use", on: "connection" });
    expect(invoke.description).toMatch(/The response never carries a resolved secret\. Token permission: connections\.use on the connection's folder\.$/);
    // An operation without a description of its own gets the sentence alone.
    expect(doc.paths["/folders/{folderId}"]!.get!.description).toBe("Token permission: folders.read on the folder.");
    expect(doc.paths["/stores"]!.get![ACCESS_EXTENSION]).toEqual({ kind: "admin", permission: "stores.manage" });
  });

  it("checks a folder permission on the item the path names", () => {
    for (const [p, item] of Object.entries(openApiDocument().paths))
      for (const [method, op] of Object.entries(item)) {
        const access = op[ACCESS_EXTENSION] as OperationAccess | undefined;
        if (access?.kind === "folder") expect(p, `${method} ${p}`).toContain(`{${access.on}Id}`);
      }
  });

  it("would notice an operation that does not say who may call it", () => {
    const spec = { method: "GET" as const, path: "/widgets", summary: "Widgets", description: "All of them.", tags: ["Meta"], response: z.object({}) };
    const without = buildOpenApiDocument([spec as unknown as OperationSpec], { version: "0" });
    expect(without.paths["/widgets"]!.get![ACCESS_EXTENSION]).toBeUndefined();
    expect(withoutAccess(without)).toEqual(["get /widgets"]);
    // A shape OperationAccess does not allow: a token permission where none can do, or an unknown kind.
    for (const access of [{ kind: "session", permission: "connections.use", on: "folder" }, { kind: "folder", permission: "folders.manage", on: "folder" }, { kind: "anyone" }]) {
      const doc = buildOpenApiDocument([{ ...spec, access } as unknown as OperationSpec], { version: "0" });
      expect(withoutAccess(doc), JSON.stringify(access)).toEqual(["get /widgets"]);
    }
    const doc = buildOpenApiDocument([{ ...spec, access: { kind: "authenticated" } }], { version: "0" });
    expect(doc.paths["/widgets"]!.get!.description).toBe("All of them. Token permission: none; any valid API token may call it, whatever its folders.");
    expect(withoutAccess(doc)).toEqual([]);
  });

  it("lists the conflict a store's certificate download can answer", () => {
    expect(Object.keys(openApiDocument().paths["/stores/{storeId}/certificate"]?.get?.responses ?? {})).toContain("409");
  });

  it("would notice a handler without its entry", () => {
    const doc = buildOpenApiDocument([], { version: "0" });
    const plain = async () => new Response(null);
    expect(missingFrom(doc, [{ apiPath: "/widgets", module: { GET: plain, dynamic: "force-dynamic" } }])).toEqual(["GET /widgets"]);
  });
});

describe("building blocks", () => {
  it("derives the error statuses from the schemas", () => {
    expect(errorStatusesOf({})).toEqual([401, 500]);
    expect(errorStatusesOf({ params: z.object({}) })).toEqual([401, 404, 500]);
    expect(errorStatusesOf({ body: z.object({}), errors: [429] })).toEqual([400, 401, 413, 422, 429, 500]);
    // A change can lose a race with another request: 404 (deleted meanwhile) or 409 (taken meanwhile);
    // and made with the browser session from another site, it is refused (400); a body sent to one that takes none, 422.
    expect(errorStatusesOf({ method: "POST" })).toEqual([400, 401, 404, 409, 422, 500]);
    expect(errorStatusesOf({ method: "GET" })).toEqual([401, 500]);
  });

  it("lifts recursive definitions into components", () => {
    const doc = buildOpenApiDocument(
      [{ method: "POST", path: "/echo", summary: "Echo", tags: ["Meta"], access: { kind: "authenticated" }, body: z.object({ value: z.json() }), response: z.object({ ok: z.boolean() }) }],
      { version: "0" },
    );
    const schemaRefs = refsIn(doc.paths["/echo"]);
    expect(schemaRefs.some((r) => r.startsWith("#/components/schemas/postEcho.body."))).toBe(true);
    for (const ref of refsIn(doc).filter((r) => r.startsWith("#/components/schemas/"))) expect(doc.components.schemas[ref.split("/").pop()!]).toBeDefined();
  });

  it("names a recursive schema by its id, as code generators name the type, wherever it is used", () => {
    const doc = openApiDocument();
    const names = Object.keys(doc.components.schemas);
    // SQL params: any JSON value. Not postConnectionsByConnectionIdInvoke.body.__schema0.
    expect(names).toContain("JsonValue");
    expect(names.filter((n) => n.includes("__schema"))).toEqual([]);
    expect(JSON.stringify(doc.paths)).toContain('"$ref":"#/components/schemas/JsonValue"');
  });

  it("checks that a handler is exported under the method it documents", () => {
    const handler = Object.assign(async () => new Response(null), { openapi: { method: "GET" as const, path: "/x", summary: "x", tags: ["Meta"], response: "empty" as const } });
    expect(operationsOf({ GET: handler })).toHaveLength(1);
    expect(() => operationsOf({ POST: handler })).toThrow(/documented as GET/);
  });

  it("documents invoke's body per operation, with each operation's own input schema", async () => {
    const doc = openApiDocument();
    const { getConnectorOrThrow, CONNECTOR_KINDS } = await import("@/lib/connectors/registry");
    const body = (doc.paths["/connections/{connectionId}/invoke"]!.post!.requestBody as { content: Record<string, { schema: { oneOf: Record<string, unknown>[] } }> }).content["application/json"]!.schema;
    const variants = new Map(body.oneOf.map((v) => [((v.properties as Record<string, { const: string }>).operation!).const, v]));
    for (const kind of CONNECTOR_KINDS) {
      const connector = getConnectorOrThrow(kind);
      for (const [name, op] of Object.entries(connector.operations)) {
        const variant = variants.get(name);
        expect(variant, `${kind}.${name}`).toBeDefined();
        expect(String(variant!.description), `${kind}.${name}`).toContain(connector.label);
        // The documented input is the schema the operation validates with.
        const own = z.toJSONSchema(op.input, { target: "draft-2020-12", io: "input", unrepresentable: "any" }) as { required?: string[]; properties: object };
        const documented = (variant!.properties as { input: { required?: string[]; properties: object } }).input;
        expect(Object.keys(documented.properties).sort(), `${kind}.${name}`).toEqual(Object.keys(own.properties).sort());
        expect(documented.required ?? [], `${kind}.${name}`).toEqual(own.required ?? []);
      }
    }
    expect([...variants.keys()].sort()).toEqual(["command", "publish", "query", "request"]);
  });

  it("documents invoke's answer per operation, with the shape of each operation's result", async () => {
    const doc = openApiDocument();
    const { getConnectorOrThrow, CONNECTOR_KINDS } = await import("@/lib/connectors/registry");
    const answer = ((doc.paths["/connections/{connectionId}/invoke"]!.post!.responses as Record<string, unknown>)["200"] as { content: Record<string, { schema: { oneOf: Record<string, unknown>[] } }> }).content["application/json"]!.schema;
    const variants = new Map(answer.oneOf.map((v) => [((v.properties as Record<string, { const: string }>).operation!).const, v]));
    for (const kind of CONNECTOR_KINDS) {
      for (const [name, op] of Object.entries(getConnectorOrThrow(kind).operations)) {
        const own = z.toJSONSchema(op.output, { target: "draft-2020-12", io: "output", unrepresentable: "any" }) as { required?: string[]; properties: object };
        const documented = (variants.get(name)!.properties as { result: { required?: string[]; properties: object } }).result;
        expect(Object.keys(documented.properties).sort(), `${kind}.${name}`).toEqual(Object.keys(own.properties).sort());
        expect(documented.required ?? [], `${kind}.${name}`).toEqual(own.required ?? []);
      }
    }
    const query = (variants.get("query")!.properties as { result: { properties: Record<string, { description?: string }> } }).result;
    expect(query.properties.rowCount!.description).toMatch(/also past rowLimit/);
  });
});

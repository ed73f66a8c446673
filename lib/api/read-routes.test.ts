import { randomUUID } from "node:crypto";
import { NextRequest } from "next/server";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { z } from "zod";
import type { ActionResult } from "@/lib/actions/action";
import { assetListResponseSchema, assetResponseSchema } from "@/lib/assets/dto";
import { createAssetAction } from "@/lib/assets/actions";
import type { Actor } from "@/lib/authz";
import { connectionListResponseSchema, connectionResponseSchema } from "@/lib/connections/dto";
import { connectorListResponseSchema } from "@/lib/connectors/dto";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { storeListResponseSchema, storeResponseSchema } from "@/lib/stores/dto";
import { grant, latchStore, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { bearer, personalToken } from "@/test/tokens";
import * as assetRoute from "@/app/api/v1/assets/[assetId]/route";
import * as connectionRoute from "@/app/api/v1/connections/[connectionId]/route";
import * as connectorsRoute from "@/app/api/v1/connectors/route";
import * as folderAssetsRoute from "@/app/api/v1/folders/[folderId]/assets/route";
import * as folderConnectionsRoute from "@/app/api/v1/folders/[folderId]/connections/route";
import * as openapiRoute from "@/app/api/v1/openapi.json/route";
import * as storeRoute from "@/app/api/v1/stores/[storeId]/route";
import * as storesRoute from "@/app/api/v1/stores/route";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * The read routes: forbidden, malformed and absent ids all answer 404; what they do answer matches the
 * documented schema exactly and never carries a secret value (nor a Credential's username).
 */

const MALFORMED = "not-a-uuid";
const ABSENT = "00000000-0000-4000-8000-000000000000";
const PASSWORD_B = `folder-b-password-${randomUUID()}`;
const USERNAME_B = `payroll_${randomUUID().slice(0, 8)}`;

let admin: Actor, outsider: Actor, viewerB: Actor, editorB: Actor;
let folderA: { id: string }, folderB: { id: string };
let credentialB: string, settingB: string, connectionB: string, storeId: string;

function ok<T>(result: ActionResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.data;
}

function req(url: string, authorization?: string) {
  return new NextRequest(new URL(url, "http://localhost"), { method: "GET", headers: authorization ? { authorization } : {} });
}
const ctx = (params: Record<string, string> = {}) => ({ params: Promise.resolve(params) });

/**
 * proxy.ts skips /api/v1, so the wrapper alone must mark every answer, errors included: never cached,
 * never sniffed as another type, never framed, and traceable by its request id.
 */
function expectApiHeaders(res: Response) {
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("x-frame-options")).toBe("DENY");
  expect(res.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
  expect(res.headers.get("x-request-id")).toMatch(/^[A-Za-z0-9._-]{8,64}$/);
}

/** The body as the schema describes it, with nothing beyond it (parsing strips unknown keys). */
async function exactly<S extends z.ZodType>(res: Response, schema: S): Promise<{ body: z.output<S>; text: string }> {
  expect(res.status).toBe(200);
  expectApiHeaders(res);
  const text = await res.text();
  const body = JSON.parse(text);
  expect(schema.parse(body)).toEqual(body);
  return { body, text };
}

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  outsider = await makeUser();
  viewerB = await makeUser();
  editorB = await makeUser();
  folderA = await makeFolder();
  folderB = await makeFolder();
  await grant(folderA.id, outsider, "FOLDER_ADMIN");
  await grant(folderB.id, viewerB, "VIEWER");
  await grant(folderB.id, editorB, "EDITOR");
  storeId = (await latchStore()).id;
  signInAs(editorB);
  credentialB = ok(
    await createAssetAction({ folderId: folderB.id, type: "CREDENTIAL", name: "Payroll DB", storeId, source: "value", username: USERNAME_B, secretValue: PASSWORD_B }),
  ).id;
  settingB = ok(await createAssetAction({ folderId: folderB.id, type: "TEXT", name: "Region", plainValue: "eu-west-1" })).id;
  const connection = await db().connection.create({
    data: {
      folderId: folderB.id,
      name: "Payroll API",
      connectorKind: "http",
      status: "CONNECTED",
      ownerId: editorB.id,
      // A key the connector does not declare must not be echoed.
      config: { baseUrl: "https://payroll.example.test", authScheme: "basic", basicUser: "svc", testPath: "/", stray: "not a setting" },
    },
  });
  await db().connectionSecret.create({ data: { connectionId: connection.id, field: "basicPassword", assetId: credentialB } });
  connectionB = connection.id;
});

type Call = (id: string) => Promise<Response>;
const byIdCases: [string, Call, () => string][] = [
  ["GET /folders/:id/assets", (id) => folderAssetsRoute.GET(req(`/api/v1/folders/${id}/assets`), ctx({ folderId: id })), () => folderB.id],
  ["GET /folders/:id/connections", (id) => folderConnectionsRoute.GET(req(`/api/v1/folders/${id}/connections`), ctx({ folderId: id })), () => folderB.id],
  ["GET /assets/:id", (id) => assetRoute.GET(req(`/api/v1/assets/${id}`), ctx({ assetId: id })), () => credentialB],
  ["GET /connections/:id", (id) => connectionRoute.GET(req(`/api/v1/connections/${id}`), ctx({ connectionId: id })), () => connectionB],
  ["GET /stores/:id", (id) => storeRoute.GET(req(`/api/v1/stores/${id}`), ctx({ storeId: id })), () => storeId],
];

describe("foreign, malformed and absent ids answer 404", () => {
  for (const [name, call, foreignId] of byIdCases) {
    it(name, async () => {
      for (const [actor, id] of [
        [outsider, foreignId()],
        [admin, MALFORMED],
        [admin, ABSENT],
      ] as const) {
        signInAs(actor);
        const res = await call(id);
        expect(res.status, `${name} on ${id}`).toBe(404);
        expect((await res.json()).error).toMatchObject({ code: "NOT_FOUND", requestId: expect.any(String) });
        expectApiHeaders(res);
      }
    });
  }

  it("stores are invisible to everyone but administrators, a folder's viewer included", async () => {
    for (const actor of [outsider, viewerB]) {
      signInAs(actor);
      expect((await storesRoute.GET(req("/api/v1/stores"), ctx())).status).toBe(404);
      expect((await storeRoute.GET(req(`/api/v1/stores/${storeId}`), ctx({ storeId }))).status).toBe(404);
    }
  });

  it("without a session: 401 on every read route", async () => {
    signInAs(null);
    for (const [name, call, id] of byIdCases) {
      const res = await call(id());
      expect(res.status, name).toBe(401);
      expectApiHeaders(res);
    }
    expect((await storesRoute.GET(req("/api/v1/stores"), ctx())).status).toBe(401);
    expect((await connectorsRoute.GET(req("/api/v1/connectors"), ctx())).status).toBe(401);
    expect((await openapiRoute.GET(req("/api/v1/openapi.json"), ctx())).status).toBe(401);
  });

  it("served at an https address, answers (errors included) carry HSTS, as the pages do; at http, not", async () => {
    signInAs(null);
    const configured = env().NEXTAUTH_URL;
    try {
      Object.assign(env(), { NEXTAUTH_URL: "https://latch.example.com" });
      expect((await connectorsRoute.GET(req("/api/v1/connectors"), ctx())).headers.get("strict-transport-security")).toBe("max-age=31536000; includeSubDomains");
      Object.assign(env(), { NEXTAUTH_URL: "http://localhost:3000" });
      expect((await connectorsRoute.GET(req("/api/v1/connectors"), ctx())).headers.get("strict-transport-security")).toBeNull();
    } finally {
      Object.assign(env(), { NEXTAUTH_URL: configured });
    }
  });
});

describe("what the read routes answer", () => {
  it("lists a folder's assets, searched and filtered, without secret material", async () => {
    signInAs(viewerB);
    const { body, text } = await exactly(await folderAssetsRoute.GET(req(`/api/v1/folders/${folderB.id}/assets`), ctx({ folderId: folderB.id })), assetListResponseSchema);
    expect(body.assets.map((a) => a.id).sort()).toEqual([credentialB, settingB].sort());
    expect(body).toMatchObject({ total: 2, page: 1, pageSize: 20 });
    expect(text).not.toContain(PASSWORD_B);
    expect(text).not.toContain(USERNAME_B);

    const filtered = await folderAssetsRoute.GET(req(`/api/v1/folders/${folderB.id}/assets?type=TEXT&q=reg`), ctx({ folderId: folderB.id }));
    expect((await exactly(filtered, assetListResponseSchema)).body.assets.map((a) => a.id)).toEqual([settingB]);

    const bad = await folderAssetsRoute.GET(req(`/api/v1/folders/${folderB.id}/assets?type=NOPE`), ctx({ folderId: folderB.id }));
    expect(bad.status).toBe(422);
  });

  it("refuses search text with a NUL or another control character with 422, on every list", async () => {
    signInAs(viewerB);
    for (const q of ["%00", "pay%00roll", "a%0Db"]) {
      for (const answer of [
        await folderAssetsRoute.GET(req(`/api/v1/folders/${folderB.id}/assets?q=${q}`), ctx({ folderId: folderB.id })),
        await folderConnectionsRoute.GET(req(`/api/v1/folders/${folderB.id}/connections?q=${q}`), ctx({ folderId: folderB.id })),
      ]) {
        expect(answer.status).toBe(422);
        expect((await answer.json()) as unknown).toMatchObject({ error: { code: "VALIDATION", fieldErrors: { q: ["Search text cannot contain control characters."] } } });
      }
    }
  });

  it("refuses a page number written other than in decimal digits with 422, rather than reading 1e1 as 10", async () => {
    signInAs(viewerB);
    for (const page of ["1e1", "0x2", "", "2.5", "two"]) {
      const answer = await folderAssetsRoute.GET(req(`/api/v1/folders/${folderB.id}/assets?page=${page}`), ctx({ folderId: folderB.id }));
      expect(answer.status, page).toBe(422);
      expect((await answer.json()) as { error: { fieldErrors: object } }, page).toMatchObject({ error: { code: "VALIDATION", fieldErrors: { page: [expect.any(String)] } } });
    }
    const second = await folderConnectionsRoute.GET(req(`/api/v1/folders/${folderB.id}/connections?page=2&pageSize=1`), ctx({ folderId: folderB.id }));
    expect(second.status).toBe(200);
    expect((await second.json()) as unknown).toMatchObject({ page: 2, pageSize: 1 });
  });

  it("refuses a list's unknown query parameter with 422 naming it, rather than answering the list unfiltered", async () => {
    signInAs(viewerB);
    const answer = await folderAssetsRoute.GET(req(`/api/v1/folders/${folderB.id}/assets?search=payroll`), ctx({ folderId: folderB.id }));
    expect(answer.status).toBe(422);
    expect((await answer.json()) as unknown).toMatchObject({ error: { code: "VALIDATION", fieldErrors: { search: [expect.stringContaining("is not a field of the query here")] } } });
    // A parameter named __proto__ is no key to an object: said as such, not "Invalid query." with no field named.
    const proto = await folderAssetsRoute.GET(req(`/api/v1/folders/${folderB.id}/assets?__proto__=1`), ctx({ folderId: folderB.id }));
    expect(proto.status).toBe(400);
    expect((await proto.json()) as unknown).toMatchObject({ error: { code: "BAD_REQUEST", message: expect.stringContaining('a key named "__proto__"') } });
  });

  it("refuses a query parameter given twice with 422 naming it, rather than guessing which was meant", async () => {
    signInAs(viewerB);
    const answer = await folderAssetsRoute.GET(req(`/api/v1/folders/${folderB.id}/assets?q=payroll&q=billing`), ctx({ folderId: folderB.id }));
    expect(answer.status).toBe(422);
    expect((await answer.json()) as unknown).toMatchObject({ error: { code: "VALIDATION", fieldErrors: { q: ["is given more than once; give it once."] } } });
    expect((await folderAssetsRoute.GET(req(`/api/v1/folders/${folderB.id}/assets?q=payroll`), ctx({ folderId: folderB.id }))).status).toBe(200);
  });

  it("an asset: metadata, a setting's value, never a credential's password or username", async () => {
    signInAs(viewerB);
    const credential = await exactly(await assetRoute.GET(req(`/api/v1/assets/${credentialB}`), ctx({ assetId: credentialB })), assetResponseSchema);
    expect(credential.body.asset).toMatchObject({ id: credentialB, type: "CREDENTIAL", value: null, ownsSecret: true, folder: { id: folderB.id }, store: { id: storeId, kind: "latch" } });
    expect(credential.text).not.toContain(PASSWORD_B);
    expect(credential.text).not.toContain(USERNAME_B);
    const setting = await exactly(await assetRoute.GET(req(`/api/v1/assets/${settingB}`), ctx({ assetId: settingB })), assetResponseSchema);
    expect(setting.body.asset).toMatchObject({ type: "TEXT", value: "eu-west-1", store: null, permissions: { write: false, use: false } });
  });

  it("connections: the list, and one with its settings and where each secret comes from", async () => {
    signInAs(viewerB);
    const list = await exactly(await folderConnectionsRoute.GET(req(`/api/v1/folders/${folderB.id}/connections?q=payroll`), ctx({ folderId: folderB.id })), connectionListResponseSchema);
    expect(list.body.connections.map((c) => c.id)).toEqual([connectionB]);

    const one = await exactly(await connectionRoute.GET(req(`/api/v1/connections/${connectionB}`), ctx({ connectionId: connectionB })), connectionResponseSchema);
    expect(one.body.connection.settings).toEqual({ baseUrl: "https://payroll.example.test", authScheme: "basic", basicUser: "svc", testPath: "/" });
    expect(one.body.connection.secretFields).toEqual([{ field: "basicPassword", label: "Password", source: "asset", asset: { id: credentialB, name: "Payroll DB" } }]);
    expect(one.text).not.toContain(PASSWORD_B);
    expect(one.text).not.toContain("not a setting");
  });

  it("connectors with their operations' input and output JSON Schemas", async () => {
    signInAs(viewerB);
    const { body } = await exactly(await connectorsRoute.GET(req("/api/v1/connectors"), ctx()), connectorListResponseSchema);
    expect(body.connectors.map((c) => c.kind)).toEqual(["postgres", "mariadb", "redis", "rabbitmq", "http", "oauth2"]);
    const postgres = body.connectors.find((c) => c.kind === "postgres")!;
    expect(postgres.fields.find((f) => f.name === "password")).toMatchObject({ type: "secret" });
    expect(postgres.operations).toEqual([
      expect.objectContaining({ name: "query", input: expect.objectContaining({ type: "object", required: expect.arrayContaining(["sql"]) }) }),
    ]);
    for (const c of body.connectors)
      for (const op of c.operations) {
        expect(op.input, `${c.kind}.${op.name}`).toMatchObject({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "object" });
        expect(op.output, `${c.kind}.${op.name}`).toMatchObject({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "object", additionalProperties: false });
      }
    expect(postgres.operations[0]!.output).toMatchObject({ required: ["columns", "rows", "rowCount", "truncated"] });
  });

  it("stores for administrators: metadata and health, no configuration", async () => {
    signInAs(admin);
    const list = await exactly(await storesRoute.GET(req("/api/v1/stores"), ctx()), storeListResponseSchema);
    expect(list.body.stores.find((s) => s.id === storeId)).toMatchObject({ kind: "latch", scope: "tenant", folder: null, isBuiltIn: true });
    const one = await exactly(await storeRoute.GET(req(`/api/v1/stores/${storeId}`), ctx({ storeId })), storeResponseSchema);
    expect(one.body.store.id).toBe(storeId);
    expect(one.text).not.toMatch(/"config"|"secretsSet"|"caBundle"|"probeSecret"/);
  });

  it("the OpenAPI document, for anyone signed in", async () => {
    signInAs(viewerB);
    const res = await openapiRoute.GET(req("/api/v1/openapi.json"), ctx());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ openapi: expect.stringMatching(/^3\.1\./), paths: expect.objectContaining({ "/assets/{assetId}": expect.any(Object) }) });
  });
});

describe("API tokens on the read routes", () => {
  it("a token scoped to folder A reads nothing of folder B, and no token reads stores", async () => {
    const { token } = await personalToken(admin, [{ folderId: folderA.id, permissions: ["assets.read", "connections.read"] }]);
    signInAs(null);
    const calls: [string, Promise<Response>][] = [
      ["assets of B", folderAssetsRoute.GET(req(`/api/v1/folders/${folderB.id}/assets`, bearer(token)), ctx({ folderId: folderB.id }))],
      ["asset of B", assetRoute.GET(req(`/api/v1/assets/${credentialB}`, bearer(token)), ctx({ assetId: credentialB }))],
      ["connection of B", connectionRoute.GET(req(`/api/v1/connections/${connectionB}`, bearer(token)), ctx({ connectionId: connectionB }))],
      ["stores", storesRoute.GET(req("/api/v1/stores", bearer(token)), ctx())],
      ["store", storeRoute.GET(req(`/api/v1/stores/${storeId}`, bearer(token)), ctx({ storeId }))],
    ];
    for (const [name, pending] of calls) expect((await pending).status, name).toBe(404);
    const own = await folderAssetsRoute.GET(req(`/api/v1/folders/${folderA.id}/assets`, bearer(token)), ctx({ folderId: folderA.id }));
    expect(own.status).toBe(200);
  });
});

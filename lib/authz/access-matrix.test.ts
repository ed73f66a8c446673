import { NextRequest } from "next/server";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { Actor } from "@/lib/authz";
import { grant, makeFolder, makeUser, rowCounts, signInAs } from "@/test/fixtures";
import * as folderActions from "@/lib/folders/actions";
import * as tokenActions from "@/lib/tokens/actions";
import * as userActions from "@/lib/users/actions";
import * as foldersRoute from "@/app/api/v1/folders/route";
import * as folderRoute from "@/app/api/v1/folders/[folderId]/route";
import * as membersRoute from "@/app/api/v1/folders/[folderId]/members/route";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * For every foundation action and route: a person without the right on the target gets "not found"
 * (404) and nothing changes, whether the id is foreign, malformed, or simply absent.
 */
let admin: Actor, outsider: Actor, viewer: Actor, target: Actor;
let folder: { id: string }, child: { id: string }, viewerHome: { id: string };

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  outsider = await makeUser();
  viewer = await makeUser();
  target = await makeUser();
  folder = await makeFolder();
  child = await makeFolder("Child", folder.id);
  viewerHome = await makeFolder();
  await grant(folder.id, viewer, "VIEWER");
  await grant(folder.id, target, "EDITOR");
  await grant(viewerHome.id, viewer, "FOLDER_ADMIN");
  await grant(viewerHome.id, outsider, "FOLDER_ADMIN");
});

const MALFORMED = "not-a-uuid";
const ABSENT = "00000000-0000-4000-8000-000000000000";

type Case = [name: string, call: (folderId: string) => Promise<unknown>];
const folderActionCases: Case[] = [
  ["createFolder (as parent)", (id) => folderActions.createFolderAction({ name: "Sneaky", parentId: id })],
  ["renameFolder", (id) => folderActions.renameFolderAction({ folderId: id, name: "Sneaky" })],
  ["moveFolder (source)", (id) => folderActions.moveFolderAction({ folderId: id, parentId: viewerHome.id })],
  ["moveFolder (destination)", (id) => folderActions.moveFolderAction({ folderId: viewerHome.id, parentId: id })],
  ["deleteFolder", (id) => folderActions.deleteFolderAction({ folderId: id })],
  ["setFolderMember", (id) => folderActions.setFolderMemberAction({ folderId: id, email: target.email, role: "FOLDER_ADMIN" })],
  ["removeFolderMember", (id) => folderActions.removeFolderMemberAction({ folderId: id, userId: target.id })],
];

describe("server actions answer not found without changing anything", () => {
  for (const [name, call] of folderActionCases) {
    it(`${name}: outsider, viewer (where managing is needed), malformed and absent ids`, async () => {
      const before = await rowCounts();
      for (const [actor, id] of [
        [outsider, folder.id],
        [outsider, child.id],
        [viewer, child.id],
        [admin, MALFORMED],
        [admin, ABSENT],
      ] as const) {
        signInAs(actor);
        const result = await call(id);
        expect(result, `${name} as ${actor === admin ? "admin" : actor === viewer ? "viewer" : "outsider"} on ${id}`).toMatchObject({
          ok: false,
          error: { code: "NOT_FOUND" },
        });
      }
      expect(await rowCounts()).toEqual(before);
    });
  }

  it("root folders can only be created by administrators", async () => {
    const before = await rowCounts();
    signInAs(viewer);
    expect(await folderActions.createFolderAction({ name: "Top", parentId: null })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await rowCounts()).toEqual(before);
  });

  it("user administration is invisible to non-administrators", async () => {
    const before = await rowCounts();
    signInAs(viewer);
    const calls = [
      userActions.createUserAction({ email: "new@example.test", name: "New", password: "long enough password", isAdmin: true }),
      userActions.setUserActiveAction({ userId: target.id, active: false }),
      userActions.setUserAdminAction({ userId: viewer.id, isAdmin: true }),
      userActions.resetUserPasswordAction({ userId: target.id, password: "another long password" }),
      userActions.updateUserAction({ userId: target.id, name: "Renamed", email: "renamed@example.test" }),
    ];
    for (const result of await Promise.all(calls)) expect(result).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await rowCounts()).toEqual(before);
  });

  it("admin-only actions answer not found to others even for malformed input (authorised before validating)", async () => {
    const before = await rowCounts();
    signInAs(viewer);
    const calls = [
      userActions.createUserAction({ email: "not an e-mail", name: "", password: "short", isAdmin: "yes" } as never),
      userActions.setUserActiveAction({ userId: MALFORMED } as never),
      userActions.setUserAdminAction(null as never),
      userActions.resetUserPasswordAction({ userId: target.id, password: "x" }),
      userActions.updateUserAction({ userId: target.id, name: "", email: "not an e-mail" }),
      tokenActions.createServiceAccountAction({ name: "" } as never),
      tokenActions.updateServiceAccountAction({ serviceAccountId: 1 } as never),
      tokenActions.setServiceAccountDisabledAction({} as never),
      tokenActions.deleteServiceAccountAction({ serviceAccountId: MALFORMED }),
      tokenActions.createServiceAccountTokenAction({} as never),
    ];
    for (const result of await Promise.all(calls)) {
      expect(result).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      expect((result as { error?: { fieldErrors?: unknown } }).error?.fieldErrors).toBeUndefined();
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("without a session every action answers UNAUTHENTICATED", async () => {
    signInAs(null);
    expect(await folderActions.renameFolderAction({ folderId: folder.id, name: "x" })).toMatchObject({ ok: false, error: { code: "UNAUTHENTICATED" } });
    expect(await userActions.changeOwnPasswordAction({ currentPassword: "a", newPassword: "bbbbbbbbbbbbbbbb" })).toMatchObject({
      ok: false,
      error: { code: "UNAUTHENTICATED" },
    });
  });
});

function req(method: string, url: string, body?: BodyInit, contentType = "application/json") {
  return new NextRequest(new URL(url, "http://localhost"), {
    method,
    body,
    headers: body !== undefined ? { "content-type": contentType } : {},
  });
}
const ctx = (params: Record<string, string>) => ({ params: Promise.resolve(params) });

describe("route handlers answer 404 for forbidden and absent alike", () => {
  const routeCases: [string, (id: string) => Promise<Response>][] = [
    ["GET /folders/:id", (id) => folderRoute.GET(req("GET", `/api/v1/folders/${id}`), ctx({ folderId: id }))],
    ["PATCH /folders/:id", (id) => folderRoute.PATCH(req("PATCH", `/api/v1/folders/${id}`, JSON.stringify({ name: "Sneaky" })), ctx({ folderId: id }))],
    ["DELETE /folders/:id", (id) => folderRoute.DELETE(req("DELETE", `/api/v1/folders/${id}`), ctx({ folderId: id }))],
    ["GET /folders/:id/members", (id) => membersRoute.GET(req("GET", `/api/v1/folders/${id}/members`), ctx({ folderId: id }))],
    [
      "PUT /folders/:id/members",
      (id) => membersRoute.PUT(req("PUT", `/api/v1/folders/${id}/members`, JSON.stringify({ email: target.email, role: "FOLDER_ADMIN" })), ctx({ folderId: id })),
    ],
    ["DELETE /folders/:id/members", (id) => membersRoute.DELETE(req("DELETE", `/api/v1/folders/${id}/members?userId=${target.id}`), ctx({ folderId: id }))],
    ["POST /folders (as parent)", (id) => foldersRoute.POST(req("POST", "/api/v1/folders", JSON.stringify({ name: "Sneaky", parentId: id })), ctx({}))],
  ];

  for (const [name, call] of routeCases) {
    it(name, async () => {
      const before = await rowCounts();
      for (const [actor, id] of [
        [outsider, folder.id],
        [admin, MALFORMED],
        [admin, ABSENT],
      ] as const) {
        signInAs(actor);
        const res = await call(id);
        expect(res.status, `${name} on ${id}`).toBe(404);
        const body = await res.json();
        expect(body.error).toMatchObject({ code: "NOT_FOUND", requestId: expect.any(String) });
        expect(res.headers.get("cache-control")).toBe("no-store");
      }
      expect(await rowCounts()).toEqual(before);
    });
  }

  it("the folder list shows only folders the caller may read", async () => {
    signInAs(outsider);
    const res = await foldersRoute.GET(req("GET", "/api/v1/folders"), ctx({}));
    const ids = (await res.json()).folders.map((f: { id: string }) => f.id);
    expect(ids).toContain(viewerHome.id);
    expect(ids).not.toContain(folder.id);
    expect(ids).not.toContain(child.id);
  });

  it("without a session: 401", async () => {
    signInAs(null);
    const res = await foldersRoute.GET(req("GET", "/api/v1/folders"), ctx({}));
    expect(res.status).toBe(401);
  });
});

const BROKEN_TEXT = "The input contains text that is not valid Unicode (an unpaired surrogate such as \\ud800). Send well-formed text.";

describe("route handlers give a clear 4xx for bad input, never a 500", () => {
  it.each([
    ["malformed JSON", "{not json", "application/json", 400, "The request body is not valid JSON."],
    ["wrong content type", "name=x", "application/x-www-form-urlencoded", 400, "Send the request body as JSON with Content-Type: application/json."],
    ["empty name", JSON.stringify({ name: "", parentId: null }), "application/json", 422, "body: name Enter a folder name."],
    ["over-long name", JSON.stringify({ name: "n".repeat(500), parentId: null }), "application/json", 422, "body: name Folder names can be at most 100 characters."],
    ["wrong type", JSON.stringify({ name: ["a"], parentId: null }), "application/json", 422, "body: name Enter a folder name."],
    ["JSON that is not an object", "[]", "application/json", 422, "The request body must be a JSON object; see the operation in /api/v1/openapi.json for its fields."],
    ["JSON null", "null", "application/json", 422, "The request body must be a JSON object; see the operation in /api/v1/openapi.json for its fields."],
    ["oversize body", JSON.stringify({ name: "x".repeat(1_100_000) }), "application/json", 413, "The request body is larger than 1 MiB."],
    // JSON escapes can spell half a character, which PostgreSQL cannot store (it failed inside the write: a 500).
    ["a lone surrogate in a value", '{"name":"Pay\\ud800roll","parentId":null}', "application/json", 400, BROKEN_TEXT],
    ["a lone surrogate in a key", '{"name":"Payroll","parentId":null,"\\udfff":1}', "application/json", 400, BROKEN_TEXT],
    // Latin-1 "é": the name would otherwise be stored as "Caf\ufffd".
    ["bytes that are not UTF-8", Buffer.concat([Buffer.from('{"name":"Caf'), Buffer.from([0xe9]), Buffer.from('","parentId":null}')]), "application/json", 400, "The request body is not valid UTF-8. Send JSON encoded as UTF-8."],
  ])("%s", async (_label, body, type, status, message) => {
    signInAs(admin);
    const before = await rowCounts();
    const res = await foldersRoute.POST(req("POST", "/api/v1/folders", body, type), ctx({}));
    expect(res.status).toBe(status);
    const json = await res.json();
    if (message) expect(json.error.message).toBe(message);
    expect(json.error.requestId).toBeTruthy();
    expect(await rowCounts()).toEqual(before);
  });

  it("duplicate sibling name: 409 with the field named", async () => {
    signInAs(admin);
    const res = await foldersRoute.POST(req("POST", "/api/v1/folders", JSON.stringify({ name: "CHILD", parentId: folder.id })), ctx({}));
    expect(res.status).toBe(409);
    expect((await res.json()).error.fieldErrors.name[0]).toContain("already exists");
  });

  it("PATCH with nothing to change: 422", async () => {
    signInAs(admin);
    const res = await folderRoute.PATCH(req("PATCH", `/api/v1/folders/${child.id}`, JSON.stringify({})), ctx({ folderId: child.id }));
    expect(res.status).toBe(422);
  });

  it("moving a folder into its own descendant: 422", async () => {
    signInAs(admin);
    const res = await folderRoute.PATCH(req("PATCH", `/api/v1/folders/${folder.id}`, JSON.stringify({ parentId: child.id })), ctx({ folderId: folder.id }));
    expect(res.status).toBe(422);
    expect((await res.json()).error.message).toBe("A folder cannot be moved into itself or one of its subfolders.");
  });
});

import { describe, expect, it, vi } from "vitest";
import { db } from "@/lib/db";
import { makeUser, rowCounts, signInAs } from "@/test/fixtures";
import { NextRequest } from "next/server";
import * as certificateRoute from "@/app/api/v1/stores/[storeId]/certificate/route";
import { generateAzureCertificateAction, createStoreAction, deleteStoreAction, testDraftStoreAction, testStoreAction, updateStoreAction } from "./actions";
import { getStoreViewOrThrow, listStores } from "./queries";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

async function builtInStore() {
  return (
    (await db().credentialStore.findFirst({ where: { isBuiltIn: true } })) ??
    (await db().credentialStore.create({ data: { name: "Latch Database", kind: "latch", mode: "READ_WRITE", isBuiltIn: true } }))
  );
}

describe("credential stores", () => {
  it("the built-in Latch Database store tests by writing, reading back and deleting, and records its health", async () => {
    const admin = await makeUser({ isAdmin: true });
    signInAs(admin);
    const store = await builtInStore();
    const result = await testStoreAction({ storeId: store.id });
    expect(result).toMatchObject({ ok: true, data: { ok: true, message: "Connected: wrote, read back and deleted a test secret." } });
    expect(await db().latchSecret.count({ where: { storeId: store.id, name: { startsWith: "latch-connection-test-" } } })).toBe(0);
    const view = await getStoreViewOrThrow(admin, store.id);
    expect(view.lastTest).toMatchObject({ ok: true });
    expect(await db().auditEvent.count({ where: { action: "store.test", targetId: store.id, outcome: "SUCCESS" } })).toBeGreaterThan(0);
  });

  it("the built-in store cannot be deleted or renamed", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const store = await builtInStore();
    expect(await deleteStoreAction({ storeId: store.id })).toMatchObject({ ok: false, error: { code: "CONFLICT", message: "The built-in Latch Database store cannot be deleted." } });
    expect(await updateStoreAction({ storeId: store.id, name: "Renamed", config: {}, secrets: {} })).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
  });

  it("every store action answers not found to non-administrators and changes nothing", async () => {
    const store = await builtInStore();
    signInAs(await makeUser());
    const before = await rowCounts();
    const storesBefore = await db().credentialStore.count();
    const results = await Promise.all([
      createStoreAction({ name: "Sneaky", kind: "hashicorp", config: {}, secrets: {} }),
      updateStoreAction({ storeId: store.id, name: "Sneaky", config: {}, secrets: {} }),
      deleteStoreAction({ storeId: store.id }),
      testStoreAction({ storeId: store.id }),
      testDraftStoreAction({ name: "Sneaky", kind: "hashicorp", config: {}, secrets: {} }),
      generateAzureCertificateAction({ storeId: store.id }),
    ]);
    for (const r of results) expect(r).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    await expect(listStores((await makeUser()) as never, { q: "" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await rowCounts()).toMatchObject({ ...before, users: before.users + 1 });
    expect(await db().credentialStore.count()).toBe(storesBefore);
  });

  it("malformed and unknown store ids are not found", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    for (const storeId of ["nope", "00000000-0000-4000-8000-000000000000"]) {
      expect(await testStoreAction({ storeId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      expect(await deleteStoreAction({ storeId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    }
  });
});

describe("the public-certificate download", () => {
  const get = (storeId: string) =>
    certificateRoute.GET(new NextRequest(new URL(`http://localhost/api/v1/stores/${storeId}/certificate`)), { params: Promise.resolve({ storeId }) });

  it("answers 404 to non-administrators, for unknown ids, and for stores that are not Azure", async () => {
    const store = await builtInStore();
    signInAs(await makeUser());
    expect((await get(store.id)).status).toBe(404);
    signInAs(await makeUser({ isAdmin: true }));
    expect((await get(store.id)).status).toBe(404);
    expect((await get("not-an-id")).status).toBe(404);
  });
});

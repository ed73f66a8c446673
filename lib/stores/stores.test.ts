import { randomUUID } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { db } from "@/lib/db";
import { makeUser, rowCounts, signInAs } from "@/test/fixtures";
import { whileAnotherSession } from "@/test/races";
import { NextRequest } from "next/server";
import * as certificateRoute from "@/app/api/v1/stores/[storeId]/certificate/route";
import { createTestPki } from "@/test/emulators/tls";
import { generateStoreCertificateAction, createStoreAction, deleteStoreAction, refreshStoreAction, testDraftStoreAction, testStoreAction, updateStoreAction } from "./actions";
import { sealStoreSecrets } from "./client";
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

  it("generating a certificate while an edit is being saved adds it to the edited settings, not to the ones read before", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const created = await createStoreAction({
      name: `Azure ${randomUUID().slice(0, 6)}`,
      kind: "azure",
      config: { vault: "https://old-vault.vault.azure.net", tenantId: randomUUID(), clientId: randomUUID(), auth: "client_secret" },
      secrets: { clientSecret: "placeholder-client-secret" },
    });
    if (!created.ok) throw new Error(JSON.stringify(created));
    const id = created.data.id;
    // Another admin's edit (a new vault address) holds the row and has not committed yet.
    const edit = `UPDATE credential_stores SET config = jsonb_set(config, '{vault}', '"https://new-vault.vault.azure.net"'), updated_at = now() WHERE id = $1::uuid`;
    expect(await whileAnotherSession(edit, [id], () => generateStoreCertificateAction({ storeId: id }))).toMatchObject({ ok: true });
    const store = await db().credentialStore.findUniqueOrThrow({ where: { id } });
    expect(store.config).toMatchObject({ vault: "https://new-vault.vault.azure.net", auth: "certificate" });
    // A new key pair changes the settings: an edit form loaded before it is refused rather than switching back.
    expect(store.settingsVersion).toBe(1);
    const stale = await updateStoreAction({ storeId: id, name: "Renamed", config: { vault: "https://new-vault.vault.azure.net", tenantId: randomUUID(), clientId: randomUUID(), auth: "client_secret" }, secrets: {}, expectedVersion: 0 });
    expect(stale).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
  });

  it("a store kind without a certificate credential says so to an administrator, rather than that the store is missing", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const store = await builtInStore();
    expect(await generateStoreCertificateAction({ storeId: store.id })).toMatchObject({
      ok: false,
      error: { code: "NOT_FOUND", message: "The built-in store has no certificate credential: only Azure Key Vault stores sign in with one Latch can generate." },
    });
    expect(await generateStoreCertificateAction({ storeId: randomUUID() })).toMatchObject({ ok: false, error: { code: "NOT_FOUND", message: "Credential store was not found." } });
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
      generateStoreCertificateAction({ storeId: store.id }),
      refreshStoreAction({ storeId: store.id }),
    ]);
    for (const r of results) expect(r).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    await expect(listStores((await makeUser()) as never, { q: "" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await rowCounts()).toMatchObject({ ...before, users: before.users + 1 });
    expect(await db().credentialStore.count()).toBe(storesBefore);
  });

  it("non-administrators get not found even for malformed input, never a validation message", async () => {
    signInAs(await makeUser());
    const storesBefore = await db().credentialStore.count();
    const malformed = [
      createStoreAction({ name: "", kind: "nope", config: "x", secrets: 1 } as never),
      updateStoreAction({ storeId: "not-an-id", name: 42 } as never),
      deleteStoreAction({} as never),
      testStoreAction({ storeId: 7 } as never),
      testDraftStoreAction(null as never),
      generateStoreCertificateAction("x" as never),
      refreshStoreAction({ storeId: ["a"] } as never),
    ];
    for (const r of await Promise.all(malformed)) {
      expect(r).toMatchObject({ ok: false, error: { code: "NOT_FOUND", message: "Credential store was not found." } });
      expect((r as { error?: { fieldErrors?: unknown } }).error?.fieldErrors).toBeUndefined();
    }
    expect(await db().credentialStore.count()).toBe(storesBefore);
  });

  it("malformed and unknown store ids are not found", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    for (const storeId of ["nope", "00000000-0000-4000-8000-000000000000"]) {
      expect(await testStoreAction({ storeId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      expect(await deleteStoreAction({ storeId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
      expect(await refreshStoreAction({ storeId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
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

  const azureConfig = { vault: "contoso-prod", tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47", clientId: "0f7b3c1e-2d4a-4b5c-9e8f-1a2b3c4d5e6f", auth: "certificate" };
  const pki = createTestPki();
  const leaf = pki.issueClient("latch-upload");
  const other = pki.issueClient("someone-else");
  const getPem = (storeId: string) =>
    certificateRoute.GET(new NextRequest(new URL(`http://localhost/api/v1/stores/${storeId}/certificate?format=pem`)), { params: Promise.resolve({ storeId }) });

  it("refuses on save a certificate its private key does not belong to, on the certificate field", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const result = await createStoreAction({ name: `Azure mismatched ${Date.now()}`, kind: "azure", config: azureConfig, secrets: { certificatePem: `${leaf.cert}${other.key}` } });
    expect(result).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { "secrets.certificatePem": [expect.stringContaining("does not belong to the certificate (CN=latch-upload)")] } } });
  });

  it("offers the certificate the key belongs to, even when the bundle starts with its CA", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const created = await createStoreAction({ name: `Azure chain ${Date.now()}`, kind: "azure", config: azureConfig, secrets: { certificatePem: `${pki.caCert}${leaf.cert}${leaf.key}` } });
    expect(created).toMatchObject({ ok: true });
    const res = await getPem((created as { data: { id: string } }).data.id);
    expect(res.status).toBe(200);
    // The download keeps its own type and name, and gets the API's headers like every other answer.
    expect(res.headers.get("content-type")).toBe("application/x-pem-file");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="azure-chain-\d+\.pem"$/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect((await res.text()).trim()).toBe(leaf.cert.trim());
  });

  it("answers a clear 409, not a 500, when the stored certificate cannot be read", async () => {
    signInAs(await makeUser({ isAdmin: true }));
    const created = await createStoreAction({ name: `Azure damaged ${Date.now()}`, kind: "azure", config: azureConfig, secrets: { certificatePem: `${leaf.cert}${leaf.key}` } });
    const storeId = (created as { data: { id: string } }).data.id;
    // Stored before save-time checks existed: the block looks like a certificate but does not parse.
    const damaged = leaf.cert.replace(/^(-----BEGIN CERTIFICATE-----\n)(.{40})/m, (_m, head: string, body: string) => `${head}${body.split("").reverse().join("")}`);
    await db().credentialStore.update({ where: { id: storeId }, data: await sealStoreSecrets(storeId, { certificatePem: `${damaged}${leaf.key}` }) });
    const res = await getPem(storeId);
    expect(res.status).toBe(409);
    expect(JSON.stringify(await res.json())).toContain("The certificate could not be read.");
  });
});

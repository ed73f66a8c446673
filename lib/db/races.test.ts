import { randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { createAssetAction, deleteAssetAction } from "@/lib/assets/actions";
import { deleteConnectionAction, saveConnectionAction } from "@/lib/connections/actions";
import { db } from "@/lib/db";
import { removeFolderMemberAction } from "@/lib/folders/actions";
import { createStoreAction, testStoreAction } from "@/lib/stores/actions";
import * as membersRoute from "@/app/api/v1/folders/[folderId]/members/route";
import { grant, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { request } from "@/test/tokens";
import { whileAnotherSession } from "@/test/races";
import { GONE_MEANWHILE_MESSAGE, TOO_LONG_MESSAGE, UNSTORABLE_TEXT_MESSAGE } from "./errors";
import { dbErrorAnswer } from "./races";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * Changes that pass their checks and then meet another request's committed change at the write:
 * a row deleted, a name taken, each held deterministically (test/races.ts). The answer is a 404
 * or a 409 that says what happened, never UNEXPECTED, and nothing is left half-written.
 */

const pgInput = (folderId: string, name: string) => ({
  connectionId: null,
  folderId,
  name,
  kind: "postgres",
  config: { host: "127.0.0.1", port: 5432, database: "postgres", user: "postgres", tlsMode: "disable" },
  secrets: { password: { mode: "value" as const, value: "any-password-trust-auth" } },
});

describe("a change that loses a race", () => {
  let admin: Awaited<ReturnType<typeof makeUser>>;
  beforeEach(async () => {
    admin = await makeUser({ isAdmin: true });
    signInAs(admin);
  });

  it("removing a member someone else just removed: 404 'deleted meanwhile', from the action and the route", async () => {
    const folder = await makeFolder();
    const [a, b] = [await makeUser(), await makeUser()];
    await grant(folder.id, a, "VIEWER");
    await grant(folder.id, b, "VIEWER");
    const gone = `DELETE FROM folder_members WHERE folder_id = $1::uuid AND user_id = $2::uuid`;
    expect(await whileAnotherSession(gone, [folder.id, a.id], () => removeFolderMemberAction({ folderId: folder.id, userId: a.id }))).toMatchObject({
      ok: false,
      error: { code: "NOT_FOUND", message: GONE_MEANWHILE_MESSAGE },
    });
    const res = await whileAnotherSession(gone, [folder.id, b.id], () =>
      membersRoute.DELETE(request("DELETE", `/api/v1/folders/${folder.id}/members?userId=${b.id}`), { params: Promise.resolve({ folderId: folder.id }) }),
    );
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "NOT_FOUND", message: GONE_MEANWHILE_MESSAGE } });
  });

  it("deleting a connection another request is deleting: 404, once", async () => {
    const folder = await makeFolder();
    const saved = await saveConnectionAction(pgInput(folder.id, `Doomed ${randomUUID().slice(0, 6)}`));
    if (!saved.ok || !saved.data.ok) throw new Error(`not saved: ${JSON.stringify(saved)}`);
    const id = saved.data.connectionId;
    const result = await whileAnotherSession(`DELETE FROM connections WHERE id = $1::uuid`, [id], () => deleteConnectionAction({ connectionId: id }));
    expect(result).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await db().auditEvent.count({ where: { action: "connection.delete", targetId: id } })).toBe(0);
  });

  it("deleting an asset another request is deleting: 404, and the trail says not found, not unexpected", async () => {
    const folder = await makeFolder();
    const created = await createAssetAction({ folderId: folder.id, type: "TEXT", name: "Region", plainValue: "eu-west-1" });
    if (!created.ok) throw new Error(JSON.stringify(created));
    const id = created.data.id;
    const result = await whileAnotherSession(`DELETE FROM credential_assets WHERE id = $1::uuid`, [id], () => deleteAssetAction({ assetId: id }));
    expect(result).toMatchObject({ ok: false, error: { code: "NOT_FOUND", message: "Credential asset was not found." } });
    const events = await db().auditEvent.findMany({ where: { action: "asset.delete", targetId: id } });
    expect(events.map((e) => [e.outcome, (e.details as { failure?: string }).failure])).toEqual([["FAILURE", "not_found"]]);
  });

  it("a connection whose name another request took after the check: the name's own 409, and the attempt in the trail", async () => {
    const folder = await makeFolder();
    const name = `Payroll ${randomUUID().slice(0, 6)}`;
    const taken = `INSERT INTO connections (id, folder_id, name, connector_kind, config, status, owner_id, updated_at)
      VALUES (gen_random_uuid(), $1::uuid, $2, 'postgres', '{}', 'FAILED', $3::uuid, now())`;
    const result = await whileAnotherSession(taken, [folder.id, name.toUpperCase(), admin.id], () => saveConnectionAction(pgInput(folder.id, name)));
    expect(result).toMatchObject({ ok: false, error: { code: "CONFLICT", message: `A connection named “${name}” already exists in this folder.` } });
    expect(await db().connection.count({ where: { folderId: folder.id } })).toBe(1);
    expect(await db().connectionSecret.count({ where: { connection: { folderId: folder.id } } })).toBe(0);
    const attempt = await db().auditEvent.findFirstOrThrow({ where: { action: "connection.create", folderId: folder.id } });
    expect(attempt).toMatchObject({ outcome: "FAILURE", targetLabel: name, details: expect.objectContaining({ failure: "conflict" }) });
  });

  it("a store whose name another request took after the check: the name's own 409", async () => {
    const name = `Vault ${randomUUID().slice(0, 6)}`;
    const taken = `INSERT INTO credential_stores (id, name, kind, mode, config, updated_at) VALUES (gen_random_uuid(), $1, 'hashicorp', 'READ_ONLY', '{}', now())`;
    const input = { name, kind: "hashicorp" as const, mode: "READ_ONLY" as const, config: { address: "https://127.0.0.1:1", kvVersion: "2", auth: "token" }, secrets: { token: "s.placeholder" }, timeoutMs: 2000 };
    const result = await whileAnotherSession(taken, [name.toLowerCase()], () => createStoreAction(input));
    expect(result).toMatchObject({ ok: false, error: { code: "CONFLICT", message: `A store named “${name}” already exists.` } });
    expect(await db().credentialStore.count({ where: { name: { in: [name, name.toLowerCase()] } } })).toBe(1);
  });

  it("a store deleted while it was being tested: 404, and the test (which used its settings) is still audited", async () => {
    const name = `Vault ${randomUUID().slice(0, 6)}`;
    const created = await createStoreAction({ name, kind: "hashicorp", mode: "READ_ONLY", config: { address: "https://127.0.0.1:1", kvVersion: "2", auth: "token" }, secrets: { token: "s.placeholder" }, timeoutMs: 2000 });
    if (!created.ok) throw new Error(JSON.stringify(created));
    const id = created.data.id;
    const result = await whileAnotherSession(`DELETE FROM credential_stores WHERE id = $1::uuid`, [id], () => testStoreAction({ storeId: id }));
    expect(result).toMatchObject({ ok: false, error: { code: "NOT_FOUND", message: "Credential store was not found." } });
    const event = await db().auditEvent.findFirstOrThrow({ where: { action: "store.test", targetId: id } });
    expect(event).toMatchObject({ outcome: "FAILURE", details: expect.objectContaining({ storeDeleted: true }) });
  });
});

/** The error a real write gets, as it reaches a wrapper. */
async function refusal(write: () => Promise<unknown>): Promise<unknown> {
  try {
    await write();
  } catch (error) {
    return error;
  }
  throw new Error("expected the write to be refused");
}

describe("database refusals that escaped a change's own checks", () => {
  it("input the columns cannot hold answers 400 with a message, not an unexpected error", async () => {
    const user = (email: string, name = "Someone") => () => db().user.create({ data: { email, name, passwordHash: "x" } });
    expect(dbErrorAnswer(await refusal(user(`${"x".repeat(300)}@example.test`)))).toEqual({ code: "BAD_REQUEST", message: TOO_LONG_MESSAGE, lostRace: false });
    expect(dbErrorAnswer(await refusal(user(`${randomUUID()}@example.test`, "nul\u0000name")))).toEqual({ code: "BAD_REQUEST", message: UNSTORABLE_TEXT_MESSAGE, lostRace: false });
  });

  it("anything else is left to the caller as unexpected", () => {
    expect(dbErrorAnswer(new Error("connection terminated"))).toBeNull();
  });
});

import { randomUUID } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { createFolderAction, deleteFolderAction, moveFolderAction, renameFolderAction } from "@/lib/folders/actions";
import { grant, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { db } from "@/lib/db";
import { canSeeAudit, HIDDEN_FOLDER, listAuditEvents, parseAsOf, parseAuditOutcome } from "./queries";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

const all = { q: "", page: 1, pageSize: 100 };

describe("audit log visibility", () => {
  it("admins see everything; folder admins see their folders and subfolders only; others see nothing", async () => {
    const admin = await makeUser({ isAdmin: true });
    const folderAdmin = await makeUser();
    const viewer = await makeUser();
    const mine = await makeFolder();
    const theirs = await makeFolder();
    await grant(mine.id, folderAdmin, "FOLDER_ADMIN");
    await grant(mine.id, viewer, "VIEWER");

    signInAs(admin);
    const sub = await createFolderAction({ name: "Sub", parentId: mine.id });
    expect(sub.ok).toBe(true);
    await renameFolderAction({ folderId: theirs.id, name: `${theirs.name} renamed` });

    const seenByFolderAdmin = (await listAuditEvents(folderAdmin, all)).rows;
    const folderIds = new Set(seenByFolderAdmin.map((e) => e.folderId));
    expect(sub.ok && folderIds.has(sub.data.id)).toBe(true);
    expect(folderIds.has(theirs.id)).toBe(false);
    expect(seenByFolderAdmin.every((e) => e.actorEmail !== null)).toBe(true);

    const seenByAdmin = (await listAuditEvents(admin, all)).rows.map((e) => e.folderId);
    expect(seenByAdmin).toContain(theirs.id);

    expect(await canSeeAudit(viewer)).toBe(false);
    expect((await listAuditEvents(viewer, all)).rows).toEqual([]);
    // Narrowing to a folder one cannot audit yields nothing rather than an error.
    expect((await listAuditEvents(folderAdmin, { ...all, folderId: theirs.id })).rows).toEqual([]);
  });

  it("a subfolder's deletion is in its parent's log, where the parent's folder admins read it", async () => {
    const [admin, lead] = [await makeUser({ isAdmin: true }), await makeUser()];
    const parent = await makeFolder(`Parent ${Date.now()}`);
    const child = await makeFolder("Short-lived", parent.id);
    await grant(parent.id, lead, "FOLDER_ADMIN");
    signInAs(admin);
    expect((await deleteFolderAction({ folderId: child.id })).ok).toBe(true);
    const deleted = (await listAuditEvents(lead, all)).rows.find((e) => e.action === "folder.delete" && e.targetId === child.id);
    expect(deleted).toMatchObject({ folderId: parent.id, targetLabel: "Short-lived", actorEmail: admin.email });
    // In the parent's own Audit tab too.
    expect((await listAuditEvents(lead, { ...all, folderId: parent.id })).rows.map((e) => e.targetId)).toContain(child.id);
  });

  it("a folder event names a folder the reader cannot see as such: no name, no id", async () => {
    const [admin, person] = [await makeUser({ isAdmin: true }), await makeUser()];
    const hidden = await makeFolder(`Hidden ${Date.now()}`);
    const [moving, into] = [await makeFolder("Moving", hidden.id), await makeFolder("Into", hidden.id)];
    await grant(moving.id, person, "FOLDER_ADMIN");
    await grant(into.id, person, "FOLDER_ADMIN");
    signInAs(admin);
    const made = await createFolderAction({ name: "Made", parentId: hidden.id });
    if (!made.ok) throw new Error(made.error.message);
    await grant(made.data.id, person, "FOLDER_ADMIN");
    // The move stays under the hidden folder, so it needs no role there.
    signInAs(person);
    expect((await moveFolderAction({ folderId: moving.id, parentId: into.id })).ok).toBe(true);

    const theirs = (await listAuditEvents(person, all)).rows;
    const move = theirs.find((e) => e.action === "folder.move" && e.targetId === moving.id);
    expect(move?.details).toEqual({ from: HIDDEN_FOLDER, to: { id: into.id, name: "Into" } });
    const create = theirs.find((e) => e.action === "folder.create" && e.targetId === made.data.id);
    expect(create?.details).toEqual({ parent: HIDDEN_FOLDER });
    expect(JSON.stringify(theirs)).not.toContain(hidden.id);
    expect(JSON.stringify(theirs)).not.toContain(hidden.name);
    // An administrator sees the folder as it was recorded.
    const adminsMove = (await listAuditEvents(admin, all)).rows.find((e) => e.action === "folder.move" && e.targetId === moving.id);
    expect(adminsMove?.details).toEqual({ from: { id: hidden.id, name: hidden.name }, to: { id: into.id, name: "Into" } });
  });

  it("search matches action, person, target and the full request id", async () => {
    const admin = await makeUser({ isAdmin: true });
    signInAs(admin);
    const name = `Searchable ${Date.now()}`;
    await createFolderAction({ name, parentId: null });
    expect((await listAuditEvents(admin, { ...all, q: name.toLowerCase() })).rows).toHaveLength(1);
    expect((await listAuditEvents(admin, { ...all, q: "test-request-id" })).total).toBeGreaterThan(0);
    // By action, and by the person who acted: the event is among what each finds, and a search for another person's is not.
    const ids = async (q: string) => (await listAuditEvents(admin, { ...all, q, pageSize: 100 })).rows.map((r) => r.targetLabel);
    expect(await ids("folder.create")).toContain(name);
    expect(await ids(admin.email)).toContain(name);
    expect(await ids("nobody-at-all@example.test")).not.toContain(name);
  });

  it("finds a request by the first 8 characters the table shows, and filters by outcome", async () => {
    const admin = await makeUser({ isAdmin: true });
    const requestId = randomUUID();
    const label = `Outcome ${Date.now()}`;
    for (const outcome of ["SUCCESS", "FAILURE", "DENIED"] as const) {
      await db().auditEvent.create({ data: { action: "connection.invoke", targetType: "connection", targetLabel: label, outcome, requestId } });
    }
    const found = async (q: string, outcome?: "SUCCESS" | "FAILURE" | "DENIED") => (await listAuditEvents(admin, { ...all, q, outcome })).rows.filter((r) => r.targetLabel === label).map((r) => r.outcome).sort();
    expect(await found(requestId.slice(0, 8))).toEqual(["DENIED", "FAILURE", "SUCCESS"]);
    expect(await found(requestId.slice(0, 8).toUpperCase())).toHaveLength(3);
    expect(await found(requestId)).toHaveLength(3);
    expect(await found(requestId.slice(0, 8), "FAILURE")).toEqual(["FAILURE"]);
    expect(await found(label, "DENIED")).toEqual(["DENIED"]);
    // Shorter than the table's 8 characters matches by nothing (it would match too much).
    expect(await found(requestId.slice(0, 7))).toEqual([]);
    expect(parseAuditOutcome("FAILURE")).toBe("FAILURE");
    expect([parseAuditOutcome("failure"), parseAuditOutcome(["DENIED", "SUCCESS"]), parseAuditOutcome(undefined)]).toEqual([undefined, undefined, undefined]);
  });
});

describe("paging through a log that grows", () => {
  it("later pages read the log as of the first page's newest event: a new event neither repeats nor hides one", async () => {
    const admin = await makeUser({ isAdmin: true });
    signInAs(admin);
    const folder = await makeFolder();
    await grant(folder.id, admin, "FOLDER_ADMIN");
    const renames = ["one", "two", "three", "four"];
    for (const name of renames) await renameFolderAction({ folderId: folder.id, name: `paged ${name}` });
    const page = (n: number, asOf: Date | null) => listAuditEvents(admin, { q: "", page: n, pageSize: 2, folderId: folder.id, asOf });
    const first = await page(1, null);
    expect(first.rows.map((r) => r.targetLabel)).toEqual(["paged four", "paged three"]);
    const asOf = parseAsOf(first.rows[0]!.occurredAt.toISOString());
    expect(asOf).toEqual(first.rows[0]!.occurredAt);
    // Meanwhile, another event at the head of the log.
    await new Promise((r) => setTimeout(r, 5));
    await renameFolderAction({ folderId: folder.id, name: "paged five" });
    expect((await page(2, asOf)).rows.map((r) => r.targetLabel)).toEqual(["paged two", "paged one"]);
    // Without the pin the second page repeats one of the first.
    expect((await page(2, null)).rows.map((r) => r.targetLabel)).toContain("paged three");
    expect(parseAsOf("not a time")).toBeNull();
    expect(parseAsOf(["2026-12-05T07:00:00.000Z"])).toEqual(new Date("2026-12-05T07:00:00.000Z"));
  });
});

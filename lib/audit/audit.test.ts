import { describe, expect, it, vi } from "vitest";
import { createFolderAction, renameFolderAction } from "@/lib/folders/actions";
import { grant, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { canSeeAudit, listAuditEvents, parseAsOf } from "./queries";

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

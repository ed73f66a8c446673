import { randomUUID } from "node:crypto";
import type { AssetType, CredentialStore, Folder } from "@prisma/client";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { getProviderOrThrow } from "@/lib/vault/registry";
import { grant, latchStore, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { listPickerFolders, searchPickableAssets, type PickerAsset } from "./picker";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * The "Use credential asset" picker against the real database: which folders and assets a person
 * may pick from (assets.use, inherited by subfolders), search, and keyset paging by (lower(name), id).
 *
 * Test files share one database, so every name carries this file's tag, and the actors that page
 * without a search term hold roles only on folders made here.
 */

const t = randomUUID().slice(0, 8); // lowercase hex: names stay within [a-z0-9-]
const T = t.toUpperCase();

let admin: Actor, editor: Actor, stranger: Actor, pager: Actor;
/** A and its subfolder A1: editor is EDITOR on A. B: no role. V: VIEWER only; V1 (under V): EDITOR. */
let A: Folder, A1: Folder, B: Folder, V: Folder, V1: Folder;
let latch: CredentialStore, vault: CredentialStore;

async function asset(folder: Folder, name: string, type: AssetType, store: CredentialStore = latch) {
  const secret = type === "CREDENTIAL" || type === "SECRET";
  return db().credentialAsset.create({
    data: {
      folderId: folder.id,
      name,
      type,
      storeId: secret ? store.id : null,
      secretName: secret ? `picker/${randomUUID()}` : null,
      plainValue: secret ? null : type === "INTEGER" ? "42" : type === "BOOLEAN" ? "true" : "hello",
    },
  });
}

const search = (actor: Actor, input: Parameters<typeof searchPickableAssets>[1]) => searchPickableAssets(actor, input);
const names = (rows: PickerAsset[]) => rows.map((r) => r.name).sort();

/** Every page, following nextCursor until it is null; fails on a runaway loop. */
async function allPages(actor: Actor, input: Omit<Parameters<typeof searchPickableAssets>[1], "cursor">) {
  const pages: PickerAsset[][] = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof searchPickableAssets>> = await search(actor, { ...input, cursor });
    pages.push(page.rows);
    cursor = page.nextCursor;
    if (pages.length > 100) throw new Error("pagination did not end");
  } while (cursor);
  return pages;
}

/** The picker's order: lower(name), then id (uuid order is the order of its lowercase hex text). */
const pickerOrder = (a: { name: string; id: string }, b: { name: string; id: string }) => {
  const x = a.name.toLowerCase();
  const y = b.name.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
};

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  editor = await makeUser();
  stranger = await makeUser();
  A = await makeFolder(`A ${t}`);
  A1 = await makeFolder(`A1 ${t}`, A.id);
  B = await makeFolder(`B ${t}`);
  V = await makeFolder(`V ${t}`);
  V1 = await makeFolder(`V1 ${t}`, V.id);
  await grant(A.id, editor, "EDITOR");
  await grant(V.id, editor, "VIEWER");
  await grant(V1.id, editor, "EDITOR");
  latch = await latchStore();
  vault = await db().credentialStore.create({ data: { name: `Vault ${t}`, kind: "hashicorp", config: { address: "https://vault.example.test" } } });

  await asset(A, `${t}-alpha-cred`, "CREDENTIAL");
  await asset(A, `${t}-alpha-secret`, "SECRET", vault);
  await asset(A, `${t}-alpha-text`, "TEXT");
  await asset(A, `${t}-alpha-int`, "INTEGER");
  await asset(A, `${t}-alpha-bool`, "BOOLEAN");
  await asset(A1, `${t}-a1-cred`, "CREDENTIAL");
  await asset(B, `${t}-b-cred`, "CREDENTIAL");
  await asset(V, `${t}-v-cred`, "CREDENTIAL");
  await asset(V1, `${t}-v1-cred`, "SECRET");
  // LIKE wildcards and the escape character, each beside a name the wildcard would also match.
  await asset(A, `${t}-100%-off`, "TEXT");
  await asset(A, `${t}-100x-off`, "TEXT");
  await asset(A, `${t}-snake_case`, "TEXT");
  await asset(A, `${t}-snakeXcase`, "TEXT");
  await asset(A, `${t}-back\\slash`, "TEXT");
  await asset(A, `${t}-backslash`, "TEXT");
});

beforeEach(() => signInAs(editor));

describe("who sees what", () => {
  it("an Editor of A sees A's and (inherited) A1's assets, never B's, nor those of a folder where they are only a Viewer", async () => {
    const { rows, nextCursor } = await search(editor, { q: t, limit: 50 });
    expect(nextCursor).toBeNull();
    expect(names(rows)).toEqual(
      [
        `${t}-100%-off`,
        `${t}-100x-off`,
        `${t}-a1-cred`,
        `${t}-alpha-bool`,
        `${t}-alpha-cred`,
        `${t}-alpha-int`,
        `${t}-alpha-secret`,
        `${t}-alpha-text`,
        `${t}-back\\slash`,
        `${t}-backslash`,
        `${t}-snake_case`,
        `${t}-snakeXcase`,
        `${t}-v1-cred`,
      ].sort(),
    );
    expect(rows.some((r) => r.folder.id === B.id || r.folder.id === V.id)).toBe(false);
  });

  it("listPickerFolders holds only folders with assets.use, in tree order with paths; a Viewer-only folder is left out but its Editor subfolder keeps the full path", async () => {
    const folders = await listPickerFolders(editor);
    expect(folders).toEqual([
      { id: A.id, name: A.name, path: A.name, depth: 0 },
      { id: A1.id, name: A1.name, path: `${A.name} / ${A1.name}`, depth: 1 },
      { id: V1.id, name: V1.name, path: `${V.name} / ${V1.name}`, depth: 1 },
    ]);
  });

  it("an administrator sees every folder's assets and every folder", async () => {
    const { rows } = await search(admin, { q: t, limit: 50 });
    expect(names(rows)).toEqual(expect.arrayContaining([`${t}-alpha-cred`, `${t}-a1-cred`, `${t}-b-cred`, `${t}-v-cred`, `${t}-v1-cred`]));
    expect(rows).toHaveLength(15);
    const folders = await listPickerFolders(admin);
    const mine = folders.filter((f) => [A, A1, B, V, V1].some((x) => x.id === f.id));
    expect(mine.map((f) => f.path).sort()).toEqual([A.name, `${A.name} / ${A1.name}`, B.name, V.name, `${V.name} / ${V1.name}`].sort());
  });

  it("someone with no role (or only Viewer roles) gets no folders and no rows", async () => {
    expect(await listPickerFolders(stranger)).toEqual([]);
    expect(await search(stranger, { q: "" })).toEqual({ rows: [], nextCursor: null });
    const viewer = await makeUser();
    await grant(A.id, viewer, "VIEWER");
    expect(await listPickerFolders(viewer)).toEqual([]);
    expect(await search(viewer, { q: t })).toEqual({ rows: [], nextCursor: null });
  });

  it("a Folder Admin role grants assets.use too", async () => {
    const fa = await makeUser();
    await grant(B.id, fa, "FOLDER_ADMIN");
    expect((await search(fa, { q: t })).rows.map((r) => r.name)).toEqual([`${t}-b-cred`]);
  });
});

describe("rows", () => {
  it("settings (Text, Integer, Boolean) are listed but not selectable; Credential and Secret are, with their store", async () => {
    const { rows } = await search(editor, { q: `${t}-alpha`, limit: 50 });
    const by = new Map(rows.map((r) => [r.name, r]));
    expect(rows.map((r) => [r.name, r.type, r.selectable])).toEqual([
      [`${t}-alpha-bool`, "BOOLEAN", false],
      [`${t}-alpha-cred`, "CREDENTIAL", true],
      [`${t}-alpha-int`, "INTEGER", false],
      [`${t}-alpha-secret`, "SECRET", true],
      [`${t}-alpha-text`, "TEXT", false],
    ]);
    expect(by.get(`${t}-alpha-cred`)!.store).toEqual({ name: latch.name, kindLabel: getProviderOrThrow("latch").label });
    expect(by.get(`${t}-alpha-secret`)!.store).toEqual({ name: vault.name, kindLabel: getProviderOrThrow("hashicorp").label });
    expect(by.get(`${t}-alpha-text`)!.store).toBeNull();
    expect(by.get(`${t}-alpha-cred`)!.folder).toEqual({ id: A.id, path: A.name });
  });

  it("rows carry the folder path from the top visible folder (A / A1)", async () => {
    const { rows } = await search(editor, { q: `${t}-a1-` });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: `${t}-a1-cred`, type: "CREDENTIAL", selectable: true, folder: { id: A1.id, path: `${A.name} / ${A1.name}` } });
    expect(rows[0]!.store).toEqual({ name: latch.name, kindLabel: getProviderOrThrow("latch").label });
    expect(typeof rows[0]!.id).toBe("string");
  });
});

describe("search", () => {
  it("is a case-insensitive substring match", async () => {
    expect(names((await search(editor, { q: `${T}-ALPHA-C` })).rows)).toEqual([`${t}-alpha-cred`]);
    expect(names((await search(editor, { q: `${t}-AlPhA-` })).rows)).toHaveLength(5);
    // In the middle of the name, not only a prefix.
    expect(names((await search(editor, { q: `lpha-te` })).rows)).toEqual([`${t}-alpha-text`]);
    // Surrounding spaces are trimmed.
    expect(names((await search(editor, { q: `  ${t}-alpha-int  ` })).rows)).toEqual([`${t}-alpha-int`]);
  });

  it("ignores case beyond A–Z the way the database does, so an exact name is always found", async () => {
    // Every database Latch creates folds case beyond A–Z (the builtin C.UTF-8 provider, or a UTF-8 libc
    // locale). An embedded data directory from before 2026-12-05 folds A–Z only: a failure, not a skip.
    const [probe] = await db().$queryRaw<{ folds: boolean }[]>`SELECT lower('ÄΣ') = 'äσ' AS folds`;
    expect(probe?.folds, "the test database folds A–Z only: delete .data/test-postgres (it is created anew), or point TEST_DATABASE_URL at a UTF-8 server").toBe(true);
    const folder = await makeFolder(`Unicode ${t}`);
    await grant(folder.id, editor, "EDITOR");
    await asset(folder, `Ärzte DB ${t}`, "TEXT");
    await asset(folder, `ΟΔΟΣ key ${t}`, "TEXT");
    for (const q of [`Ärzte DB ${t}`, "ärzte", "ÄRZTE"]) expect(names((await search(editor, { q, folderId: folder.id })).rows), q).toEqual([`Ärzte DB ${t}`]);
    // JavaScript lower-cases a final Σ as ς; the database as σ, in the name and the term alike.
    for (const q of [`ΟΔΟΣ key ${t}`, "ΟΔΟΣ", "οδοσ"]) expect(names((await search(editor, { q, folderId: folder.id })).rows), q).toEqual([`ΟΔΟΣ key ${t}`]);
  });

  it("treats LIKE wildcards (% and _) and the escape character as literal text", async () => {
    expect(names((await search(editor, { q: `${t}-100%` })).rows)).toEqual([`${t}-100%-off`]);
    expect(names((await search(editor, { q: `${t}-snake_c` })).rows)).toEqual([`${t}-snake_case`]);
    expect(names((await search(editor, { q: `${t}-back\\s` })).rows)).toEqual([`${t}-back\\slash`]);
    expect((await search(editor, { q: `${t}%alpha` })).rows).toEqual([]);
    expect((await search(editor, { q: `${t}_alpha` })).rows).toEqual([]);
    expect((await search(editor, { q: `%` })).rows.map((r) => r.name)).toEqual([`${t}-100%-off`]);
    expect((await search(editor, { q: `_` })).rows.map((r) => r.name)).toEqual([`${t}-snake_case`]);
  });

  it("a term that matches nothing gives an empty page without a cursor", async () => {
    expect(await search(editor, { q: `${t}-nothing-like-this` })).toEqual({ rows: [], nextCursor: null });
  });
});

describe("keyset pagination", () => {
  /** P with six subfolders; pager is EDITOR on P only and so holds exactly these 7 folders. */
  let P: Folder, children: Folder[];
  type Made = { id: string; name: string; folderId: string };
  const made: Made[] = [];
  /** Case variants of the same name; uniqueness is per folder, ignoring case, so variants go to different folders. */
  const variant = (name: string, i: number) => [...name].map((c, k) => ((i >> k) & 1 ? c.toUpperCase() : c)).join("");
  const BASES = ["db", "db0", "db1", "dba", "dbb", "dbz"];
  const EXTRAS = ["a", "dc", "zz"];

  beforeAll(async () => {
    pager = await makeUser();
    P = await makeFolder(`P ${t}`);
    children = [];
    for (let i = 0; i < 6; i++) children.push(await makeFolder(`P${i} ${t}`, P.id));
    await grant(P.id, pager, "EDITOR");
    const all = [P, ...children];
    for (const [i, folder] of all.entries()) {
      for (const base of BASES) {
        const a = await asset(folder, variant(base, i), i % 3 === 2 ? "TEXT" : "CREDENTIAL");
        made.push({ id: a.id, name: a.name, folderId: folder.id });
      }
    }
    for (const name of EXTRAS) {
      const a = await asset(P, name, "SECRET");
      made.push({ id: a.id, name: a.name, folderId: P.id });
    }
    expect(made).toHaveLength(45);
    // Collisions really are there: "db" in seven folders, spelled four ways.
    expect(new Set(made.filter((m) => m.name.toLowerCase() === "db").map((m) => m.name))).toEqual(new Set(["db", "Db", "dB", "DB"]));
  });

  it("pages of 10 cover all 45 assets exactly once, in (lower(name), id) order, and the last page has no cursor", async () => {
    const expected = [...made].sort(pickerOrder);
    const pages = await allPages(pager, { q: "", limit: 10 });
    expect(pages.map((p) => p.length)).toEqual([10, 10, 10, 10, 5]);
    const flat = pages.flat();
    expect(new Set(flat.map((r) => r.id)).size).toBe(45);
    expect(flat.map((r) => r.id)).toEqual(expected.map((m) => m.id));
    expect(flat.map((r) => r.name)).toEqual(expected.map((m) => m.name));
    // Page boundaries fall inside runs of equal lower(name): the id tie-break carries across them.
    for (let i = 10; i < 45; i += 10) expect(flat[i - 1]!.name.toLowerCase()).toBe(flat[i]!.name.toLowerCase());
  });

  it("agrees with the full list fetched in one page, and pages with a search term too", async () => {
    const one = await search(pager, { q: "", limit: 50 });
    expect(one.nextCursor).toBeNull();
    expect(one.rows.map((r) => r.id)).toEqual([...made].sort(pickerOrder).map((m) => m.id));

    const expected = made.filter((m) => m.name.toLowerCase().includes("db")).sort(pickerOrder);
    expect(expected).toHaveLength(42);
    const pages = await allPages(pager, { q: "DB", limit: 4 });
    expect(pages.flat().map((r) => r.id)).toEqual(expected.map((m) => m.id));
    expect(pages).toHaveLength(11);
    expect(pages.at(-1)).toHaveLength(2);
  });

  it("a page that ends exactly at the last row has no cursor", async () => {
    const page = await search(pager, { q: "", limit: 45 });
    expect(page.rows).toHaveLength(45);
    expect(page.nextCursor).toBeNull();
    const last = await search(pager, { q: "zz", limit: 1 });
    expect(last.rows.map((r) => r.name)).toEqual(["zz"]);
    expect(last.nextCursor).toBeNull();
  });

  it("a garbage cursor is treated as the first page", async () => {
    const first = await search(pager, { q: "", limit: 10 });
    const garbage = [
      "not-a-cursor",
      "%%%",
      Buffer.from("not json").toString("base64url"),
      Buffer.from(JSON.stringify({ n: 1, i: 2 })).toString("base64url"),
      Buffer.from(JSON.stringify({ n: "db", i: "'; DROP TABLE credential_assets; --" })).toString("base64url"),
      Buffer.from(JSON.stringify(["db", randomUUID()])).toString("base64url"),
      // Shaped like an id but not one, and a NUL the database cannot take.
      Buffer.from(JSON.stringify({ n: "db", i: "-".repeat(36) })).toString("base64url"),
      Buffer.from(JSON.stringify({ n: "d\u0000b", i: randomUUID() })).toString("base64url"),
      // Half a character, which JSON escapes can spell and PostgreSQL refuses (an unexpected error, once).
      Buffer.from('{"n":"\\ud800","i":"' + randomUUID() + '"}').toString("base64url"),
      "",
    ];
    for (const cursor of garbage) expect(await search(pager, { q: "", limit: 10, cursor })).toEqual(first);
  });

  it("the folder filter restricts to that one folder (subfolders not included) and pages within it", async () => {
    const child = children[3]!;
    const expected = made.filter((m) => m.folderId === child.id).sort(pickerOrder);
    const pages = await allPages(pager, { q: "", folderId: child.id, limit: 4 });
    expect(pages.map((p) => p.length)).toEqual([4, 2]);
    expect(pages.flat().map((r) => r.id)).toEqual(expected.map((m) => m.id));
    expect(pages.flat().every((r) => r.folder.id === child.id && r.folder.path === `${P.name} / ${child.name}`)).toBe(true);

    const top = await search(pager, { q: "", folderId: P.id, limit: 50 });
    expect(top.rows).toHaveLength(9);
    expect(top.rows.every((r) => r.folder.id === P.id)).toBe(true);

    // An administrator's folder filter works the same way.
    expect((await search(admin, { q: "", folderId: child.id, limit: 50 })).rows.map((r) => r.id)).toEqual(expected.map((m) => m.id));
  });
});

describe("folder filter and access", () => {
  it("restricts to the chosen folder", async () => {
    const { rows } = await search(editor, { q: t, folderId: A1.id });
    expect(rows.map((r) => r.name)).toEqual([`${t}-a1-cred`]);
  });

  it("a folder the person cannot use gives no rows, not an error: no role, Viewer only, or no such folder", async () => {
    for (const folderId of [B.id, V.id, randomUUID()]) {
      expect(await search(editor, { q: "", folderId })).toEqual({ rows: [], nextCursor: null });
    }
    // An asset's name in another folder is not revealed through the search term either.
    expect(await search(editor, { q: `${t}-b-cred`, folderId: B.id })).toEqual({ rows: [], nextCursor: null });
    expect(await search(editor, { q: `${t}-b-cred` })).toEqual({ rows: [], nextCursor: null });
  });

  it("the administrator can filter on any folder", async () => {
    expect((await search(admin, { q: "", folderId: B.id })).rows.map((r) => r.name)).toEqual([`${t}-b-cred`]);
  });
});

describe("searchPickableAssetsAction", () => {
  it("validates its input and runs the search as the signed-in person", async () => {
    // Imported here so that, if lib/connections/actions.ts (or a connector it loads) breaks, this
    // test fails with the import error while the picker's own tests above still report.
    const { searchPickableAssetsAction: action } = await import("@/lib/connections/actions");

    const tooMany = await action({ q: "", limit: 500 });
    expect(tooMany).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await action({ q: "x".repeat(101) })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await action({ q: "", folderId: "not-a-uuid" })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await action({ q: "", limit: 0 })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await action({ q: "pay\u0000" })).toMatchObject({ ok: false, error: { code: "VALIDATION", message: "Search text cannot contain control characters." } });

    const found = await action({ q: `${t}-alpha-c`, folderId: null, cursor: null, limit: 20 });
    expect(found).toMatchObject({ ok: true, data: { nextCursor: null, rows: [{ name: `${t}-alpha-cred`, selectable: true }] } });
    signInAs(stranger);
    expect(await action({ q: `${t}-alpha-c` })).toEqual({ ok: true, data: { rows: [], nextCursor: null } });
    signInAs(null);
    expect(await action({ q: "" })).toMatchObject({ ok: false, error: { code: "UNAUTHENTICATED" } });
  });
});

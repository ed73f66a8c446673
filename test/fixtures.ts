import { randomUUID } from "node:crypto";
import type { FolderRole } from "@prisma/client";
import { hashPassword } from "@/lib/auth/password";
import type { Actor } from "@/lib/authz";
import type { z } from "zod";
import type { updateAssetSchema } from "@/lib/assets/schemas";
import { getAssetViewOrThrow } from "@/lib/assets/queries";
import { db } from "@/lib/db";
import { ensureListening } from "@/lib/secrets/broadcast";
import { session } from "@/test/mocks/session";

/**
 * Integration-test helpers. Tests call the real server actions and route handlers; only the two
 * request-bound inputs are replaced, by each test file's own top-level mocks:
 *
 *   vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
 *   vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));
 */
export function signInAs(actor: Actor | null) {
  session.current = actor;
}

let passwordHash: Promise<string> | undefined;

export async function makeUser(opts: { isAdmin?: boolean; name?: string; active?: boolean } = {}): Promise<Actor> {
  passwordHash ??= hashPassword("correct horse battery");
  const tag = randomUUID().slice(0, 8);
  const user = await db().user.create({
    data: {
      email: `user-${tag}@example.test`,
      name: opts.name ?? `User ${tag}`,
      passwordHash: await passwordHash,
      isAdmin: opts.isAdmin ?? false,
      active: opts.active ?? true,
    },
  });
  return { id: user.id, email: user.email, name: user.name, isAdmin: user.isAdmin };
}

export async function makeFolder(name = `Folder ${randomUUID().slice(0, 8)}`, parentId: string | null = null) {
  return db().folder.create({ data: { name, parentId } });
}

export async function grant(folderId: string, user: Actor, role: FolderRole) {
  await db().folderMember.create({ data: { folderId, userId: user.id, role } });
}

/** Row counts of every table a foundation mutation can touch. */
export async function rowCounts() {
  const c = db();
  const [users, folders, members, audit, sessions] = await Promise.all([
    c.user.count(),
    c.folder.count(),
    c.folderMember.count(),
    c.auditEvent.count(),
    c.session.count(),
  ]);
  return { users, folders, members, audit, sessions };
}

/** A person who is an Editor of two new folders: one for connections, one for the assets they use. */
export async function editorOfTwoFolders() {
  const editor = await makeUser();
  const [connFolder, secretsFolder] = [await makeFolder(), await makeFolder()];
  await grant(connFolder.id, editor, "EDITOR");
  await grant(secretsFolder.id, editor, "EDITOR");
  return { editor, connFolder, secretsFolder };
}

/**
 * The built-in Latch Database store (the seed creates it; tests that run without the seed make it).
 * Every file of a worker shares it, so a refresh of it that an earlier file sent is in the refresh
 * log: this process catches up on that log now, as a server does at boot, and not when its first
 * resolve starts the listener, where the catch-up would drop a value a test has just cached.
 */
export async function latchStore() {
  await ensureListening();
  return (
    (await db().credentialStore.findFirst({ where: { isBuiltIn: true } })) ??
    (await db().credentialStore.create({ data: { name: "Latch Database", kind: "latch", mode: "READ_WRITE", isBuiltIn: true } }))
  );
}

/**
 * Runs `fn` while Latch's database refuses `op` on rows of `table` that meet `when` (SQL over NEW, or
 * OLD for a delete): a database that fails at that step.
 */
export async function whileRefusing<T>(op: "INSERT" | "UPDATE" | "DELETE", table: string, when: string, fn: () => Promise<T>): Promise<T> {
  const row = op === "DELETE" ? "OLD" : "NEW";
  await db().$executeRawUnsafe(`CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF ${when} THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN ${row}; END $$`);
  await db().$executeRawUnsafe(`CREATE TRIGGER test_refuse BEFORE ${op} ON ${table} FOR EACH ROW EXECUTE FUNCTION test_refuse()`);
  try {
    return await fn();
  } finally {
    await db().$executeRawUnsafe(`DROP TRIGGER test_refuse ON ${table}`);
    await db().$executeRawUnsafe(`DROP FUNCTION test_refuse()`);
  }
}

/** Runs `fn` while Latch's database refuses inserts into `table` that meet `when` (SQL over NEW): a store that fails at that step. */
export const whileRefusingInserts = <T>(table: "audit_events" | "refresh_events", when: string, fn: () => Promise<T>) => whileRefusing("INSERT", table, when, fn);

/** What the asset edit form submits, as `actor` sees the asset: unchanged unless overridden (the write-only value blank). */
type AssetEdit = z.input<typeof updateAssetSchema>;
export async function assetEditInput(actor: Actor, assetId: string, changes: Partial<Omit<AssetEdit, "assetId">> = {}): Promise<AssetEdit> {
  const v = await getAssetViewOrThrow(actor, assetId);
  return {
    assetId,
    name: v.name,
    description: v.description,
    storeId: v.store?.id ?? "",
    secretName: v.secretName ?? "",
    secretVersion: v.secretVersion ?? "",
    usernameKey: v.usernameKey ?? "",
    valueKey: v.valueKey ?? "",
    username: v.username ?? "",
    secretValue: "",
    plainValue: v.plainValue ?? "",
    ...changes,
  };
}

/**
 * Everything an error could say to whoever catches, logs or serialises it: its own properties, its
 * message and stack (which JSON.stringify skips: they are not enumerable), and the same of its causes.
 */
export function everythingSaidBy(error: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let e: unknown = error; e && typeof e === "object" && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    parts.push(JSON.stringify(e), String((e as { message?: unknown }).message), String((e as { stack?: unknown }).stack));
  }
  if (parts.length === 0) parts.push(String(error));
  return parts.join("\n");
}

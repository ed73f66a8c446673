import "server-only";
import { db, type Db } from "@/lib/db";

/**
 * What a folder holds that must go first: every kind of row whose foreign key restricts the
 * folder's deletion (members and token scopes go with the folder). Subfolders and stores can be
 * moved elsewhere; assets and connections cannot (their folder decides who may use them), so
 * they can only be deleted.
 */
type Held = { count: number; one: string; many: string; movable: boolean };

export async function folderContents(tx: Db, folderId: string): Promise<Held[]> {
  const [subfolders, stores, assets, connections] = await Promise.all([
    tx.folder.count({ where: { parentId: folderId } }),
    tx.credentialStore.count({ where: { folderId } }),
    tx.credentialAsset.count({ where: { folderId } }),
    tx.connection.count({ where: { folderId } }),
  ]);
  return [
    { count: subfolders, one: "subfolder", many: "subfolders", movable: true },
    { count: assets, one: "credential asset", many: "credential assets", movable: false },
    { count: connections, one: "connection", many: "connections", movable: false },
    { count: stores, one: "credential store", many: "credential stores", movable: true },
  ];
}

/** “X” still contains 2 subfolders, 1 connection. Move or delete the subfolders, and delete the connection first. */
export function stillContainsMessage(folderName: string, held: Held[]): string {
  const list = held.map((c) => `${c.count} ${c.count === 1 ? c.one : c.many}`).join(", ");
  const name = (c: Held) => (c.count === 1 ? c.one : c.many);
  const and = (parts: string[]) => (parts.length < 2 ? parts.join("") : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`);
  const movable = held.filter((c) => c.movable);
  const fixed = held.filter((c) => !c.movable);
  let advice: string;
  if (held.length === 1) {
    const pronoun = held[0]!.count === 1 ? "it" : "them";
    advice = held[0]!.movable ? `Move or delete ${pronoun} first.` : `Delete ${pronoun} first.`;
  } else {
    const steps = [];
    if (movable.length > 0) steps.push(`move or delete the ${and(movable.map(name))}`);
    if (fixed.length > 0) steps.push(`delete the ${and(fixed.map(name))}`);
    const text = steps.join(", and ");
    advice = `${text[0]!.toUpperCase()}${text.slice(1)} first.`;
  }
  return `“${folderName}” still contains ${list}. ${advice}`;
}

/**
 * Why the folder cannot be deleted now, or null: the folder's page says it before anyone confirms.
 * deleteFolder counts again under the tree lock; this is only what the page was rendered with.
 */
export async function folderDeleteRefusal(folder: { id: string; name: string }): Promise<string | null> {
  const held = (await folderContents(db(), folder.id)).filter((c) => c.count > 0);
  return held.length > 0 ? stillContainsMessage(folder.name, held) : null;
}

import "server-only";
import type { Tx } from "@/lib/db";

/**
 * The folder tree's shape (parents) changes under one lock. Moves, creates and deletes take it
 * exclusively, so two concurrent moves cannot build a cycle; a change that depends on where a
 * folder sits (an asset's store, usable from its folder's ancestors) takes it shared, for as short a
 * time as it can: held across a slow store call, it would hold every folder change up.
 */
export async function lockFolderTree(tx: Tx, mode: "exclusive" | "shared" = "exclusive") {
  if (mode === "shared") await tx.$executeRaw`SELECT pg_advisory_xact_lock_shared(hashtext('latch.folder-tree'))`;
  else await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('latch.folder-tree'))`;
}

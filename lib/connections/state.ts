import "server-only";
import { randomUUID } from "node:crypto";
import type { Connection } from "@prisma/client";
import { ConnectorError, type SharedState } from "@/lib/connectors/types";
import { decrypt, sealerFor } from "@/lib/crypto/envelope";
import { db, sql, transactionWithin, type Tx } from "@/lib/db";
import { AppError, notFound } from "@/lib/errors";
import { logger } from "@/lib/log";

/**
 * A saved connection's kept state (an OAuth app's tokens, or a pending authorisation's nonce),
 * sealed in its row. Its values are secrets: they are only ever decrypted here, for a connector.
 */

const stateAad = (connectionId: string) => `connections:${connectionId}:state`;

/** No kept state, and no lease on it: a renewal still running stores nothing over this. */
export const NO_STATE = { stateCiphertext: null, stateDataKeyId: null, stateLeaseId: null, stateLeaseUntil: null } as const;

/** The columns that keep `state`; a write of them ends any lease, so a renewal still running stores nothing over it. */
export async function sealState(connectionId: string, state: Record<string, string>, tx?: Tx) {
  return (await stateSealer(connectionId, tx))(state);
}

/** Seals this connection's states with the data key active now, with no database step per seal. */
async function stateSealer(connectionId: string, tx?: Tx) {
  const sealWith = await sealerFor(tx);
  return (state: Record<string, string>) => {
    const sealed = sealWith(JSON.stringify(state), stateAad(connectionId));
    return { stateCiphertext: sealed.ciphertext, stateDataKeyId: sealed.dataKeyId, stateLeaseId: null, stateLeaseUntil: null };
  };
}

export async function openState(connection: Pick<Connection, "id" | "stateCiphertext" | "stateDataKeyId">): Promise<Record<string, string> | null> {
  if (!connection.stateCiphertext || !connection.stateDataKeyId) return null;
  return JSON.parse(await decrypt({ ciphertext: connection.stateCiphertext, dataKeyId: connection.stateDataKeyId }, stateAad(connection.id))) as Record<string, string>;
}

/** How often a client waiting for another's state change looks again. */
const LEASE_POLL_MS = 50;
/**
 * A lease lasts the holder's remaining time plus this margin, for reading the state before the
 * change and storing it after. A holder left with less than the margin does not start its change,
 * so a lease runs out (and another client may take it over) only when its holder has died.
 */
const LEASE_MARGIN_MS = 5_000;
/** Releasing a lease waits for a writer holding the row until the caller's deadline, and at least this long. */
const RELEASE_MIN_WAIT_MS = 250;
/** A failed store is tried again, this many times in all, pausing this long times the attempt. */
const STORE_ATTEMPTS = 3;
const STORE_RETRY_MS = 200;

const TIMED_OUT = "Another client of this connection was renewing its tokens and did not finish in time. Try again.";
const UNAVAILABLE = "Latch could not read or store this connection's kept tokens just now. Try again; if it persists, check Latch's database.";

const LEASE_LOST = "Renewing this connection's tokens took longer than Latch allows, so the result could not be kept for other requests. Try again.";

/** Whether two sealed states (or both none) are the same bytes. */
export function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === null || b === null ? a === b : Buffer.from(a).equals(Buffer.from(b));
}

type Claim = { claimed: boolean; present: boolean; state_ciphertext: Connection["stateCiphertext"]; state_data_key_id: string | null; config: unknown };

/**
 * One statement: takes the lease when it is free (or its holder's time ran out) and the row is not
 * locked by a writer, reading the state the last holder stored. It never waits on a row lock (SKIP
 * LOCKED: the caller polls instead, within its own time), and times the lease by the clock at the
 * moment it is taken, not at the start of the statement.
 */
async function claimLease(connectionId: string, lease: string, holdMs: number): Promise<Claim> {
  const rows = await db().$queryRaw<Claim[]>`
    WITH claimed AS (
      UPDATE "connections" SET "state_lease_id" = ${lease}::uuid, "state_lease_until" = clock_timestamp() + make_interval(secs => ${holdMs / 1000})
      WHERE "id" = (
        SELECT "id" FROM "connections"
        WHERE "id" = ${connectionId}::uuid AND ("state_lease_until" IS NULL OR "state_lease_until" < clock_timestamp())
        FOR UPDATE SKIP LOCKED
      )
      RETURNING "state_ciphertext", "state_data_key_id", "config"
    )
    SELECT EXISTS (SELECT 1 FROM claimed) AS claimed,
           EXISTS (SELECT 1 FROM "connections" WHERE "id" = ${connectionId}::uuid) AS present,
           claimed.state_ciphertext, claimed.state_data_key_id::text, claimed.config
    FROM (SELECT 1) AS one LEFT JOIN claimed ON true`;
  return rows[0]!;
}

/**
 * Clears this client's lease (another write may have ended it already), waiting for a session and
 * for a writer holding the row no later than the caller's deadline. Never throws: a lease left
 * behind runs out by itself.
 */
async function releaseLease(connectionId: string, lease: string, deadline: number): Promise<void> {
  await transactionWithin(Math.max(RELEASE_MIN_WAIT_MS, deadline - Date.now()), (client) =>
    client.query(`UPDATE "connections" SET "state_lease_id" = NULL, "state_lease_until" = NULL WHERE "id" = $1::uuid AND "state_lease_id" = $2::uuid`, [connectionId, lease]),
  ).catch((error: unknown) => logger().warn({ err: error, connectionId }, "could not release a connection's state lease; it runs out by itself"));
}

/**
 * Stores a change's result while the lease is this client's (the sealed columns end it). The change
 * may have spent a rotated refresh token, so a failed write is tried again while the lease lasts, and
 * a writer holding the row is waited for until then, past the caller's own time if need be.
 */
async function storeWithinLease(connectionId: string, lease: string, sealed: Awaited<ReturnType<typeof sealState>>, leaseEnds: number, claimed: Claim["state_ciphertext"]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    let lost: boolean;
    try {
      lost = await transactionWithin(leaseEnds - Date.now(), async (client) => {
        const { rowCount } = await client.query(
          `UPDATE "connections" SET "state_ciphertext" = $3, "state_data_key_id" = $4::uuid, "state_lease_id" = NULL, "state_lease_until" = NULL, "updated_at" = now()
           WHERE "id" = $1::uuid AND "state_lease_id" = $2::uuid`,
          [connectionId, lease, Buffer.from(sealed.stateCiphertext), sealed.stateDataKeyId],
        );
        if (rowCount) return false;
        // Not ours any more. Read anew (this statement sees what committed while the UPDATE waited):
        // state stored meanwhile (an edit, a new authorisation) overtook the change, which has nothing
        // to store; the state as claimed means the lease ran out under a stalled change and the result
        // would be lost. A deleted connection has nothing to store either.
        const { rows } = await client.query<{ state_ciphertext: Buffer | null }>(`SELECT "state_ciphertext" FROM "connections" WHERE "id" = $1::uuid`, [connectionId]);
        return rows.length > 0 && sameBytes(rows[0]!.state_ciphertext, claimed);
      });
    } catch (error) {
      if (attempt >= STORE_ATTEMPTS || leaseEnds - Date.now() < STORE_RETRY_MS * 2) throw unavailable(error);
      logger().warn({ err: error, connectionId, attempt }, "could not store a connection's renewed state; trying again");
      await new Promise((resolve) => setTimeout(resolve, STORE_RETRY_MS * attempt));
      continue;
    }
    if (!lost) return;
    logger().warn({ connectionId }, "a connection's renewal outlasted its lease and could not be stored; its result is kept on this instance");
    throw new AppError("UPSTREAM_UNAVAILABLE", LEASE_LOST);
  }
}

/**
 * Latch's own database failing under a state change is a 503 the invoke can report, not an
 * unexpected error. Errors that already say what to do (an AppError such as a master key Latch no
 * longer has, a ConnectorError) pass through as they are.
 */
function unavailable(error: unknown): unknown {
  if (error instanceof AppError || error instanceof ConnectorError) return error;
  logger().error({ err: error }, "connection state: a database step failed");
  return new AppError("UPSTREAM_UNAVAILABLE", UNAVAILABLE);
}

async function orUnavailable<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw unavailable(error);
  }
}

/**
 * The saved connection's kept state for its connector to change while open (an OAuth renewal), one
 * client at a time across every instance. A client takes a lease on the row (one UPDATE; no database
 * session is held while the change runs, which can be a token request), reads the state the one
 * before it stored, and stores its result only if the lease is still its own: any other write of the
 * state (a new authorisation, an edit) clears the lease, and then the overtaken result is dropped.
 * Waiting for the lease and the change share the caller's time: the change gets what is left.
 */
export function sharedStateOf(connectionId: string): SharedState {
  return {
    async exclusive(change, timeoutMs) {
      const lease = randomUUID();
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // Taken before the claim: the lease runs out no earlier than this plus holdMs.
        const asked = Date.now();
        const holdMs = Math.max(0, deadline - asked) + LEASE_MARGIN_MS;
        const claim = await orUnavailable(() => claimLease(connectionId, lease, holdMs));
        if (claim.claimed) return holdLease(connectionId, lease, claim, change, deadline, asked + holdMs);
        // Deleted meanwhile: nothing to read, nowhere to keep a result.
        if (!claim.present) {
          unsaved.delete(connectionId);
          throw notFound("Connection");
        }
        if (Date.now() + LEASE_POLL_MS > deadline) throw new ConnectorError("timeout", TIMED_OUT);
        await new Promise((resolve) => setTimeout(resolve, LEASE_POLL_MS));
      }
    },
  };
}

type Sealed = Awaited<ReturnType<typeof sealState>>;

/**
 * A change whose result could not be stored while its lease lasted (Latch's database failing), kept
 * sealed on this instance with the stored state it was to replace. The change may have spent a
 * rotated refresh token, so its result may be the only state that still works: the next change on
 * this instance starts from it and stores it, unless something else was stored meanwhile (a new
 * authorisation, an edit, another instance's renewal), which wins. Only a result that replaces a
 * stored state is kept: every write of a state seals anew, so its bytes say whether it was replaced.
 */
// On globalThis: the instrumentation bundle (which serves lib/api/direct.ts) and the routes' bundles
// each load this module, and a result kept by one must be found, and swept, by the other.
const unsavedHolder = globalThis as unknown as { latchUnsavedStates?: Map<string, { sealed: Sealed; replaces: Uint8Array }> };
const unsaved = (unsavedHolder.latchUnsavedStates ??= new Map());

/**
 * Drops kept results that can no longer be used: their connection was deleted (on any instance)
 * or its state was stored anew. Until then, a deleted connection's renewed tokens would stay in
 * this instance's memory, sealed, for as long as it runs. Called by the run time's sweeper; a
 * database that does not answer keeps them for the next sweep. Returns how many it dropped.
 */
export async function sweepUnsaved(): Promise<number> {
  if (unsaved.size === 0) return 0;
  // What is checked is what was kept before the query: a result kept while it runs is not looked at.
  const checked = [...unsaved];
  const rows = await sql<{ id: string; state_ciphertext: Uint8Array | null }>(
    db(),
    `SELECT id::text AS id, state_ciphertext FROM connections WHERE id = ANY($1::uuid[])`,
    [checked.map(([id]) => id)],
  );
  const stored = new Map(rows.map((r) => [r.id, r.state_ciphertext]));
  let dropped = 0;
  for (const [id, kept] of checked) {
    const now = stored.get(id);
    if (sameBytes(kept.replaces, now ?? null)) continue;
    // Replaced while the query ran (a newer result kept): that one stays.
    if (unsaved.get(id) === kept) {
      unsaved.delete(id);
      dropped++;
    }
  }
  return dropped;
}

async function holdLease(
  connectionId: string,
  lease: string,
  claim: Claim,
  change: Parameters<SharedState["exclusive"]>[0],
  deadline: number,
  leaseEnds: number,
): Promise<void> {
  let released = false;
  try {
    let pending = unsaved.get(connectionId) ?? null;
    if (pending && !sameBytes(pending.replaces, claim.state_ciphertext)) {
      unsaved.delete(connectionId);
      pending = null;
    }
    // The data key is read now, while the database is known to answer: sealing the change's result
    // then needs no database step, so a result that cannot be stored can still be kept sealed.
    const seal = await orUnavailable(() => stateSealer(connectionId));
    const current = pending ? { stateCiphertext: pending.sealed.stateCiphertext, stateDataKeyId: pending.sealed.stateDataKeyId } : { stateCiphertext: claim.state_ciphertext, stateDataKeyId: claim.state_data_key_id };
    const latest = await orUnavailable(() => openState({ id: connectionId, ...current }));
    // The change may take all of what it is given; the margin is left for storing its result.
    const timeLeftMs = Math.min(deadline, leaseEnds - LEASE_MARGIN_MS) - Date.now();
    if (timeLeftMs <= 0) throw new ConnectorError("timeout", "Reading this connection's kept tokens took the time the request had. Try again.");
    const next = await change(latest, timeLeftMs, (claim.config ?? {}) as Record<string, unknown>);
    const sealed = next ? seal(next) : pending?.sealed;
    if (!sealed) return;
    try {
      await storeWithinLease(connectionId, lease, sealed, leaseEnds, claim.state_ciphertext);
    } catch (error) {
      if (claim.state_ciphertext) unsaved.set(connectionId, { sealed, replaces: claim.state_ciphertext });
      throw error;
    }
    unsaved.delete(connectionId);
    released = true;
  } finally {
    if (!released) await releaseLease(connectionId, lease, deadline);
  }
}

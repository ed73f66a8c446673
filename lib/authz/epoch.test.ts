import pg from "pg";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Actor } from "@/lib/authz";
import { db, sql } from "@/lib/db";
import { env } from "@/lib/env";
import { grant, latchStore, makeFolder, makeUser } from "@/test/fixtures";
import { personalToken } from "@/test/tokens";
import { currentEpoch, EPOCH_COLUMN, EpochMemo, withFreshnessFrom } from "./epoch";

/**
 * The authorisation epoch: what the invoke path keeps in memory is used only while nothing it was
 * read from has changed, on any instance (lib/authz/epoch.ts, migration 20261203120000_authz_epoch).
 */
let owner: Actor;
let folder: { id: string };

beforeAll(async () => {
  owner = await makeUser();
  folder = await makeFolder();
  await grant(folder.id, owner, "EDITOR");
});

afterEach(() => vi.restoreAllMocks());

/** A second session, as another instance (or an operator's psql) would change things. */
async function elsewhere<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: env().DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe("the epoch", () => {
  it("goes up at commit with every change to a table a run-time decision reads, and not before", async () => {
    const store = await latchStore();
    const { row: token } = await personalToken(owner, [{ folderId: folder.id, permissions: [] }]);
    const asset = await db().credentialAsset.create({ data: { folderId: folder.id, name: `epoch ${Date.now()}`, type: "TEXT", plainValue: "x" } });
    const connection = await db().connection.create({ data: { folderId: folder.id, name: "epoch", connectorKind: "http", status: "CONNECTED", ownerId: owner.id } });
    const account = await db().serviceAccount.create({ data: { name: `epoch-${Date.now()}`, description: "" } });
    const changes: [string, () => Promise<unknown>][] = [
      ["api_tokens (revoked)", () => db().apiToken.update({ where: { id: token.id }, data: { revokedAt: new Date() } })],
      ["api_token_scopes", () => db().apiTokenScope.updateMany({ where: { tokenId: token.id }, data: { permissions: ["connections.read"] } })],
      ["users", () => db().user.update({ where: { id: owner.id }, data: { name: "Renamed" } })],
      ["service_accounts", () => db().serviceAccount.update({ where: { id: account.id }, data: { disabled: true } })],
      ["folders", () => db().folder.update({ where: { id: folder.id }, data: { name: `Moved ${Date.now()}` } })],
      ["folder_members", () => db().folderMember.updateMany({ where: { folderId: folder.id, userId: owner.id }, data: { role: "VIEWER" } })],
      ["connections", () => db().connection.update({ where: { id: connection.id }, data: { name: "epoch 2" } })],
      ["connection_secrets", () => db().connectionSecret.create({ data: { connectionId: connection.id, field: "token", part: "VALUE", assetId: asset.id } })],
      ["credential_assets", () => db().credentialAsset.update({ where: { id: asset.id }, data: { name: `epoch 2 ${Date.now()}` } })],
      ["credential_stores", () => db().credentialStore.update({ where: { id: store.id }, data: { updatedAt: new Date() } })],
      ["refresh_events", () => db().refreshEvent.create({ data: { kind: "asset", targetId: asset.id, assetIds: [], origin: "test" } })],
    ];
    for (const [table, change] of changes) {
      const before = await currentEpoch();
      await change();
      expect(await currentEpoch(), table).toBeGreaterThan(before);
    }

    // Uncommitted changes do not count yet: a reader would still see the old rows.
    const before = await currentEpoch();
    await db().$transaction(async (tx) => {
      await tx.connection.update({ where: { id: connection.id }, data: { name: "in a transaction" } });
      expect(await currentEpoch()).toBe(before);
    });
    expect(await currentEpoch()).toBeGreaterThan(before);

    // Pruning the refresh log decides nothing either (its rows are read only as the newest one).
    const old = await db().refreshEvent.create({ data: { kind: "asset", targetId: asset.id, assetIds: [], origin: "test" } });
    const beforePrune = await currentEpoch();
    await db().refreshEvent.deleteMany({ where: { id: old.id } });
    expect(await currentEpoch()).toBe(beforePrune);

    // A token's last use decides nothing and is written once a minute per token: it does not count.
    const beforeUse = await currentEpoch();
    await db().apiToken.update({ where: { id: token.id }, data: { lastUsedAt: new Date(), lastUsedIp: "203.0.113.9" } });
    expect(await currentEpoch()).toBe(beforeUse);
  });
});

describe("EpochMemo", () => {
  const readName = (reads: { n: number }) => async () => {
    reads.n++;
    const [row] = await sql<{ name: string; authz_epoch: number }>(db(), `SELECT name, ${EPOCH_COLUMN} FROM folders WHERE id = $1::uuid`, [folder.id]);
    return row ? { value: row.name, epoch: row.authz_epoch } : null;
  };

  it("answers from memory while the epoch stands, and reads afresh after a change made anywhere", async () => {
    const memo = new EpochMemo<string>();
    const reads = { n: 0 };
    const first = await memo.load(folder.id, readName(reads));
    expect(await memo.load(folder.id, readName(reads))).toBe(first);
    expect(await memo.load(folder.id, readName(reads))).toBe(first);
    expect(reads.n).toBe(1);

    // Another session commits a rename: the very next load sees it.
    await elsewhere((c) => c.query("UPDATE folders SET name = $2 WHERE id = $1", [folder.id, "Renamed elsewhere"]));
    expect(await memo.load(folder.id, readName(reads))).toBe("Renamed elsewhere");
    expect(reads.n).toBe(2);
  });

  it("never keeps a miss", async () => {
    const memo = new EpochMemo<string>();
    let reads = 0;
    const missing = async () => {
      reads++;
      return null;
    };
    expect(await memo.load("nothing", missing)).toBeNull();
    expect(await memo.load("nothing", missing)).toBeNull();
    expect(reads).toBe(2);
    expect(memo.size).toBe(0);
  });

  it("checks the epoch once per request, and concurrent requests share the check", async () => {
    const memos = [new EpochMemo<string>(), new EpochMemo<string>(), new EpochMemo<string>()];
    const reads = { n: 0 };
    for (const memo of memos) await memo.load(folder.id, readName(reads));
    const epochReads = vi.spyOn(pg.Pool.prototype, "query");
    const countEpochReads = () => epochReads.mock.calls.filter(([text]) => typeof text === "string" && text.includes("FROM authz_epoch")).length;

    // One request that uses three kept reads: one check.
    await withFreshnessFrom(performance.now(), async () => {
      for (const memo of memos) await memo.load(folder.id, readName(reads));
    });
    expect(countEpochReads()).toBe(1);

    // Fifty requests arriving together: one check on its way answers every one that arrived before it was sent.
    epochReads.mockClear();
    await Promise.all(
      Array.from({ length: 50 }, () =>
        withFreshnessFrom(performance.now(), async () => {
          for (const memo of memos) await memo.load(folder.id, readName(reads));
        }),
      ),
    );
    expect(countEpochReads()).toBeLessThanOrEqual(2);
    expect(reads.n).toBe(3);
  });

  it("a request that arrives after a change never gets the check sent before it", async () => {
    const memo = new EpochMemo<string>();
    const reads = { n: 0 };
    await memo.load(folder.id, readName(reads));
    // A check is on its way for an earlier request when the change commits and a new request arrives.
    const earlier = withFreshnessFrom(performance.now(), () => memo.load(folder.id, readName(reads)));
    await elsewhere((c) => c.query("UPDATE folders SET name = $2 WHERE id = $1", [folder.id, "Renamed meanwhile"]));
    const later = await withFreshnessFrom(performance.now(), () => memo.load(folder.id, readName(reads)));
    await earlier;
    expect(later).toBe("Renamed meanwhile");
  });
});

import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { currentEpoch } from "@/lib/authz/epoch";
import { ConnectorError } from "@/lib/connectors/types";
import { decrypt, encrypt, sealerFor } from "@/lib/crypto/envelope";
import { db, sql, transactionWithin } from "@/lib/db";
import { env } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { makeFolder, makeUser } from "@/test/fixtures";
import { NO_STATE, openState, sharedStateOf, sweepUnsaved } from "./state";

// The real envelope encryption, with a way to make one call fail (a KMS or database outage).
vi.mock("@/lib/crypto/envelope", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@/lib/crypto/envelope")>();
  return { ...actual, encrypt: vi.fn(actual.encrypt), decrypt: vi.fn(actual.decrypt), sealerFor: vi.fn(actual.sealerFor) };
});

// The real pool sessions, with a way to make storing fail (Latch's database failing under a renewal).
vi.mock("@/lib/db", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@/lib/db")>();
  return { ...actual, transactionWithin: vi.fn(actual.transactionWithin), sql: vi.fn(actual.sql) };
});

let connectionId: string;

beforeAll(async () => {
  const [owner, folder] = await Promise.all([makeUser(), makeFolder()]);
  const row = await db().connection.create({ data: { folderId: folder.id, name: `Shared state ${randomUUID().slice(0, 6)}`, connectorKind: "oauth2", status: "CONNECTED", ownerId: owner.id } });
  connectionId = row.id;
  await sharedStateOf(connectionId).exclusive(async (latest) => {
    expect(latest).toBeNull();
    return { accessToken: "t0", refreshToken: "r0", tokenType: "Bearer", scope: "" };
  }, 5_000);
});

afterAll(async () => {
  await db().connection.deleteMany({ where: { id: connectionId } });
});

const stored = async () => openState(await db().connection.findUniqueOrThrow({ where: { id: connectionId } }));
const lease = async () => (await db().connection.findUniqueOrThrow({ where: { id: connectionId }, select: { stateLeaseId: true } })).stateLeaseId;
/** A promise and the function that settles it: a step held open until the test lets it go. */
function gate(): [Promise<void>, () => void] {
  let open!: () => void;
  return [new Promise<void>((r) => (open = r)), () => open()];
}
/** For a lease a case could not clear (it would run out by itself), so the next case need not wait. */
const clearLease = () => db().connection.update({ where: { id: connectionId }, data: { stateLeaseId: null, stateLeaseUntil: null } });

/** What the next change on this instance starts from; the change returns nothing (a result kept unstored is stored). */
async function refreshTokenTheNextChangeSees(id = connectionId): Promise<string | undefined> {
  let seen: string | undefined;
  await sharedStateOf(id).exclusive(async (latest) => {
    seen = latest?.refreshToken;
    return null;
  }, 5_000);
  return seen;
}

/** A second session, as an edit on another instance would be: `holdRow()` locks the connection's row until COMMIT. */
async function asWriter(work: (writer: pg.Client, holdRow: () => Promise<void>) => Promise<void>): Promise<void> {
  const writer = new pg.Client({ connectionString: env().DATABASE_URL });
  await writer.connect();
  try {
    await work(writer, async () => {
      await writer.query("BEGIN");
      await writer.query(`SELECT 1 FROM connections WHERE id = $1 FOR UPDATE`, [connectionId]);
    });
  } finally {
    await writer.query("ROLLBACK").catch(() => undefined);
    await writer.end();
  }
}

/** Another connection with stored tokens (r0), for the sweep's cases. */
async function connectionWithTokens(): Promise<string> {
  const [owner, folder] = [await makeUser(), await makeFolder()];
  const { id } = await db().connection.create({ data: { folderId: folder.id, name: `Sweep ${randomUUID().slice(0, 6)}`, connectorKind: "oauth2", status: "CONNECTED", ownerId: owner.id } });
  await sharedStateOf(id).exclusive(async () => ({ accessToken: "t0", refreshToken: "r0", tokenType: "Bearer", scope: "" }), 5_000);
  return id;
}

/** A renewal (r-kept) this instance could not store: every store attempt fails, as when Latch's database goes away. */
async function keepUnstoredRenewal(id: string): Promise<void> {
  const down = new Error("connection terminated unexpectedly");
  vi.mocked(transactionWithin).mockRejectedValueOnce(down).mockRejectedValueOnce(down).mockRejectedValueOnce(down);
  await expect(sharedStateOf(id).exclusive(async (latest) => ({ ...latest!, refreshToken: "r-kept" }), 5_000)).rejects.toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
}

describe("a saved connection's shared state", () => {
  it("lets one change in at a time, each reading what the one before stored, even from separate clients", async () => {
    const seen: string[] = [];
    // Ten clients each "rotate" the token they read; interleaved, some would read the same one.
    await Promise.all(
      Array.from({ length: 10 }, () =>
        sharedStateOf(connectionId).exclusive(async (latest) => {
          seen.push(latest!.refreshToken!);
          await new Promise((r) => setTimeout(r, 5));
          return { ...latest!, refreshToken: `r${Number(latest!.refreshToken!.slice(1)) + 1}` };
        }, 5_000),
      ),
    );
    expect(seen.sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
    expect((await stored())!.refreshToken).toBe("r10");
  });

  it("stores nothing when the change returns null, or throws", async () => {
    await sharedStateOf(connectionId).exclusive(async () => null, 5_000);
    await expect(sharedStateOf(connectionId).exclusive(async () => Promise.reject(new Error("token endpoint down")), 5_000)).rejects.toThrow("token endpoint down");
    expect((await stored())!.refreshToken).toBe("r10");
  });

  it("holds no database session while a change runs: other queries go on however many changes wait on token endpoints", async () => {
    const [owner, folder] = await Promise.all([makeUser(), makeFolder()]);
    const rows = await Promise.all(
      Array.from({ length: 15 }, (_, i) => db().connection.create({ data: { folderId: folder.id, name: `Busy ${i} ${randomUUID().slice(0, 6)}`, connectorKind: "oauth2", status: "CONNECTED", ownerId: owner.id } })),
    );
    try {
      const [held, release] = gate();
      let inside = 0;
      // More changes in flight than the app's database pool has sessions (10).
      const changes = rows.map((row) =>
        sharedStateOf(row.id).exclusive(async () => {
          inside++;
          await held;
          return { accessToken: `t-${row.id}`, tokenType: "Bearer", scope: "" };
        }, 10_000),
      );
      await expect.poll(() => inside, { timeout: 5_000 }).toBe(rows.length);
      const started = Date.now();
      expect(await db().user.count({ where: { id: owner.id } })).toBe(1);
      expect(Date.now() - started).toBeLessThan(1_000);
      release();
      await Promise.all(changes);
      for (const row of rows) expect((await openState(await db().connection.findUniqueOrThrow({ where: { id: row.id } })))!.accessToken).toBe(`t-${row.id}`);
    } finally {
      await db().connection.deleteMany({ where: { id: { in: rows.map((r) => r.id) } } });
    }
  });

  it("a change overtaken by another write of the state (an edit, a new authorisation) stores nothing", async () => {
    await sharedStateOf(connectionId).exclusive(async (latest) => {
      // Meanwhile, an edit that changes the grant clears the kept state.
      await db().connection.update({ where: { id: connectionId }, data: NO_STATE });
      return { ...latest!, refreshToken: "r-overtaken" };
    }, 5_000);
    expect(await stored()).toBeNull();
    // The next change starts from what the edit left, and is stored.
    await sharedStateOf(connectionId).exclusive(async (latest) => {
      expect(latest).toBeNull();
      return { accessToken: "t-new", refreshToken: "r-new", tokenType: "Bearer", scope: "" };
    }, 5_000);
    expect((await stored())!.refreshToken).toBe("r-new");
  });

  it("takes over the lease of a client that died mid-change once its time is up", async () => {
    // A lease left behind (its instance stopped during a renewal) that has run out.
    await db().connection.update({ where: { id: connectionId }, data: { stateLeaseId: randomUUID(), stateLeaseUntil: new Date(Date.now() - 1_000) } });
    await sharedStateOf(connectionId).exclusive(async (latest) => ({ ...latest!, refreshToken: "r-after-crash" }), 2_000);
    expect((await stored())!.refreshToken).toBe("r-after-crash");
  });

  it("gives up waiting for another client's change after the caller's time, with a timeout the invoke can report", async () => {
    const [held, release] = gate();
    const [inside, entered] = gate();
    const slow = sharedStateOf(connectionId).exclusive(async (latest) => {
      entered();
      await held;
      return { ...latest!, refreshToken: "r-slow" };
    }, 5_000);
    await inside;
    const started = Date.now();
    const waited = sharedStateOf(connectionId).exclusive(async (latest) => latest, 300);
    await expect(waited).rejects.toBeInstanceOf(ConnectorError);
    await expect(waited).rejects.toMatchObject({ kind: "timeout", message: expect.stringContaining("did not finish in time") });
    expect(Date.now() - started).toBeLessThan(3_000);
    release();
    await slow;
    expect((await stored())!.refreshToken).toBe("r-slow");
  });

  it("a data key that cannot be read stops the change before it runs (no token spent), releases the lease, and is a 503", async () => {
    vi.mocked(sealerFor).mockRejectedValueOnce(new Error("data key unavailable"));
    const change = vi.fn(async (latest: Record<string, string> | null) => ({ ...latest!, refreshToken: "r-unkept" }));
    const failed = sharedStateOf(connectionId).exclusive(change, 5_000);
    await expect(failed).rejects.toBeInstanceOf(AppError);
    expect(change).not.toHaveBeenCalled();
    await expect(failed).rejects.toMatchObject({ code: "UPSTREAM_UNAVAILABLE", userMessage: expect.stringContaining("could not read or store") });
    expect(await lease()).toBeNull();
    // The next client goes straight in; it does not wait out a lease left behind.
    const started = Date.now();
    await sharedStateOf(connectionId).exclusive(async (latest) => ({ ...latest!, refreshToken: "r-after-failure" }), 5_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await stored())!.refreshToken).toBe("r-after-failure");
  });

  it("a result that could not be stored while the lease lasted is kept sealed on this instance: the next change starts from it and stores it", async () => {
    const before = (await stored())!.refreshToken;
    // Every store attempt fails (three in all), as when Latch's database goes away under a renewal.
    const down = new Error("connection terminated unexpectedly");
    vi.mocked(transactionWithin).mockRejectedValueOnce(down).mockRejectedValueOnce(down).mockRejectedValueOnce(down);
    // The database is already gone when the token request returns: sealing its result must not need it.
    const keyReads = vi.spyOn(db().dataKey, "findFirst");
    const failed = sharedStateOf(connectionId).exclusive(async (latest) => {
      keyReads.mockRejectedValue(down);
      return { ...latest!, refreshToken: "r-rotated-unstored" };
    }, 5_000);
    await expect(failed).rejects.toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
    keyReads.mockRestore();
    expect((await stored())!.refreshToken).toBe(before);
    expect(await lease()).toBeNull();
    // The token request spent `before`: the next change gets what it returned instead, and keeps it.
    expect(await refreshTokenTheNextChangeSees()).toBe("r-rotated-unstored");
    expect((await stored())!.refreshToken).toBe("r-rotated-unstored");
    // Stored once: after that, changes read the database again.
    await sharedStateOf(connectionId).exclusive(async (latest) => ({ ...latest!, refreshToken: "r-next" }), 5_000);
    expect((await stored())!.refreshToken).toBe("r-next");
  });

  it("a change that outlasted its lease while another client took it over is not reported as stored: a 503, and its result is kept", async () => {
    const before = (await stored())!.refreshToken;
    const other = randomUUID();
    const failed = sharedStateOf(connectionId).exclusive(async (latest) => {
      // The token request stalled past the lease; another instance's client took the lease over.
      await db().connection.update({ where: { id: connectionId }, data: { stateLeaseId: other, stateLeaseUntil: new Date(Date.now() + 60_000) } });
      return { ...latest!, refreshToken: "r-outlasted" };
    }, 5_000);
    await expect(failed).rejects.toMatchObject({ code: "UPSTREAM_UNAVAILABLE", message: expect.stringContaining("took longer than Latch allows") });
    // Nothing stored, and the other client's lease is left alone.
    expect((await stored())!.refreshToken).toBe(before);
    expect(await lease()).toBe(other);
    // That client ends without storing anything: the result spent nothing in vain, the next change starts from it.
    await clearLease();
    expect(await refreshTokenTheNextChangeSees()).toBe("r-outlasted");
    expect((await stored())!.refreshToken).toBe("r-outlasted");
  });

  it("the same when the other client's takeover commits while the store waits for the row", async () => {
    const before = (await stored())!.refreshToken;
    await asWriter(async (writer) => {
      const failed = sharedStateOf(connectionId).exclusive(async (latest) => {
        // The other client's claim holds the row, not yet committed, when this change stores.
        await writer.query("BEGIN");
        await writer.query(`UPDATE connections SET state_lease_id = $2, state_lease_until = now() + interval '1 minute' WHERE id = $1`, [connectionId, randomUUID()]);
        setTimeout(() => void writer.query("COMMIT"), 300);
        return { ...latest!, refreshToken: "r-outlasted-waiting" };
      }, 5_000);
      await expect(failed).rejects.toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
    });
    expect((await stored())!.refreshToken).toBe(before);
    await clearLease();
    expect(await refreshTokenTheNextChangeSees()).toBe("r-outlasted-waiting");
  });

  it("the same when the client that took the lease over has already let it go without storing anything", async () => {
    const before = (await stored())!.refreshToken;
    const failed = sharedStateOf(connectionId).exclusive(async (latest) => {
      await db().connection.update({ where: { id: connectionId }, data: { stateLeaseId: randomUUID(), stateLeaseUntil: new Date(Date.now() + 60_000) } });
      await clearLease();
      return { ...latest!, refreshToken: "r-outlasted-again" };
    }, 5_000);
    await expect(failed).rejects.toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
    expect((await stored())!.refreshToken).toBe(before);
    expect(await refreshTokenTheNextChangeSees()).toBe("r-outlasted-again");
    expect((await stored())!.refreshToken).toBe("r-outlasted-again");
  });

  it("a kept unstored result that the next change renews again: the newer result is stored", async () => {
    const down = new Error("connection terminated unexpectedly");
    vi.mocked(transactionWithin).mockRejectedValueOnce(down).mockRejectedValueOnce(down).mockRejectedValueOnce(down);
    await expect(sharedStateOf(connectionId).exclusive(async (latest) => ({ ...latest!, refreshToken: "r-kept" }), 5_000)).rejects.toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
    await sharedStateOf(connectionId).exclusive(async (latest) => ({ ...latest!, refreshToken: `${latest!.refreshToken}-then-renewed` }), 5_000);
    expect((await stored())!.refreshToken).toBe("r-kept-then-renewed");
  });

  it("a kept unstored result gives way to state stored meanwhile (a new authorisation)", async () => {
    const down = new Error("connection terminated unexpectedly");
    vi.mocked(transactionWithin).mockRejectedValueOnce(down).mockRejectedValueOnce(down).mockRejectedValueOnce(down);
    await expect(sharedStateOf(connectionId).exclusive(async (latest) => ({ ...latest!, refreshToken: "r-lost" }), 5_000)).rejects.toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
    // Someone authorises the app again, on another instance: that state is the one to use.
    const reauthorised = await encrypt(JSON.stringify({ accessToken: "t-new-grant", refreshToken: "r-new-grant", tokenType: "Bearer", scope: "" }), `connections:${connectionId}:state`);
    await db().connection.update({ where: { id: connectionId }, data: { stateCiphertext: reauthorised.ciphertext, stateDataKeyId: reauthorised.dataKeyId } });
    expect(await refreshTokenTheNextChangeSees()).toBe("r-new-grant");
    expect((await stored())!.refreshToken).toBe("r-new-grant");
  });

  it("the sweep drops kept unstored results whose connection was deleted or stored anew, and keeps one that is still wanted", async () => {
    const withKeptRenewal = async () => {
      const id = await connectionWithTokens();
      await keepUnstoredRenewal(id);
      return id;
    };
    const [deleted, reauthorised, wanted] = [await withKeptRenewal(), await withKeptRenewal(), await withKeptRenewal()];
    // Deleted on another instance (nothing here is told), and authorised anew on another.
    await db().connection.delete({ where: { id: deleted } });
    const fresh = await encrypt(JSON.stringify({ accessToken: "t-new", refreshToken: "r-new", tokenType: "Bearer", scope: "" }), `connections:${reauthorised}:state`);
    await db().connection.update({ where: { id: reauthorised }, data: { stateCiphertext: fresh.ciphertext, stateDataKeyId: fresh.dataKeyId } });

    expect(await sweepUnsaved()).toBe(2);
    expect(await sweepUnsaved()).toBe(0);
    // The one still wanted is still what its next change starts from.
    expect(await refreshTokenTheNextChangeSees(wanted)).toBe("r-kept");
    expect((await openState(await db().connection.findUniqueOrThrow({ where: { id: wanted } })))!.refreshToken).toBe("r-kept");
    await db().connection.deleteMany({ where: { id: { in: [reauthorised, wanted] } } });
  });

  it("the sweep keeps a renewal kept while its own query runs", async () => {
    const [gone, late] = [await connectionWithTokens(), await connectionWithTokens()];
    await keepUnstoredRenewal(gone);
    await db().connection.delete({ where: { id: gone } });
    // The sweep's query is held until a renewal for `late` has been kept.
    const [held, release] = gate();
    const real = vi.mocked(sql).getMockImplementation()!;
    vi.mocked(sql).mockImplementationOnce(async (...args) => {
      await held;
      return real(...args);
    });
    const sweeping = sweepUnsaved();
    await keepUnstoredRenewal(late);
    release();
    expect(await sweeping).toBe(1);
    expect(await refreshTokenTheNextChangeSees(late)).toBe("r-kept");
    await db().connection.deleteMany({ where: { id: late } });
  });

  it("passes on an error that says what to do (a master key Latch no longer has) as it is, and releases the lease", async () => {
    const keyGone = new AppError("NOT_CONFIGURED", "This Latch instance lacks the master key stored values are sealed with: its administrator must configure that key.");
    vi.mocked(decrypt).mockRejectedValueOnce(keyGone);
    await expect(sharedStateOf(connectionId).exclusive(async (latest) => latest, 5_000)).rejects.toBe(keyGone);
    expect(await lease()).toBeNull();
  });

  it("a writer holding the row: a failed change's release waits no longer than the caller's time; a result is waited for and kept", { timeout: 20_000 }, async () => {
    await asWriter(async (writer, holdRow) => {
      // The change fails while an edit holds the row: the caller hears of it in its own time.
      let started = Date.now();
      await expect(
        sharedStateOf(connectionId).exclusive(async () => {
          await holdRow();
          throw new Error("token endpoint down");
        }, 500),
      ).rejects.toThrow("token endpoint down");
      expect(Date.now() - started).toBeLessThan(1_500);
      await writer.query("COMMIT");
      expect(await lease()).not.toBeNull();
      await clearLease();

      // The change succeeded (a refresh token may be spent): its result waits for the edit, past the
      // caller's time while the lease lasts (3 s + 5 s here), and is stored.
      started = Date.now();
      await sharedStateOf(connectionId).exclusive(async (latest) => {
        await holdRow();
        setTimeout(() => void writer.query("COMMIT"), 6_000);
        return { ...latest!, refreshToken: "r-waited-for" };
      }, 3_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(5_900);
      expect((await stored())!.refreshToken).toBe("r-waited-for");
      expect(await lease()).toBeNull();
    });
  });

  it("a failed change's release waits no longer than the caller's time for a session of a busy pool", async () => {
    const [held, release] = gate();
    const busy: Promise<unknown>[] = [];
    const started = Date.now();
    await expect(
      sharedStateOf(connectionId).exclusive(async () => {
        // Every session of Latch's pool (10) taken by other work for a while.
        for (let i = 0; i < 10; i++) busy.push(transactionWithin(10_000, () => held));
        await new Promise((r) => setTimeout(r, 100));
        throw new Error("token endpoint down");
      }, 500),
    ).rejects.toThrow("token endpoint down");
    expect(Date.now() - started).toBeLessThan(1_500);
    release();
    await Promise.all(busy);
    await clearLease();
  });

  it("never waits on a row lock held by a writer past the caller's time, and goes in once it is gone", async () => {
    await asWriter(async (writer, holdRow) => {
      // An edit in progress elsewhere holds the row.
      await holdRow();
      const started = Date.now();
      await expect(sharedStateOf(connectionId).exclusive(async (latest) => latest, 300)).rejects.toMatchObject({ kind: "timeout" });
      expect(Date.now() - started).toBeLessThan(1_500);
      const waiting = sharedStateOf(connectionId).exclusive(async (latest) => ({ ...latest!, refreshToken: "r-after-edit" }), 5_000);
      await new Promise((r) => setTimeout(r, 200));
      await writer.query("COMMIT");
      await waiting;
      expect((await stored())!.refreshToken).toBe("r-after-edit");
    });
  });

  it("gives the change only what is left of the caller's time after waiting for the lease", async () => {
    const [held, release] = gate();
    const [inside, entered] = gate();
    const first = sharedStateOf(connectionId).exclusive(async (latest, timeLeftMs) => {
      expect(timeLeftMs).toBeGreaterThan(4_000);
      expect(timeLeftMs).toBeLessThanOrEqual(5_000);
      entered();
      await held;
      return latest;
    }, 5_000);
    await inside;
    let given = 0;
    const second = sharedStateOf(connectionId).exclusive(async (latest, timeLeftMs) => {
      given = timeLeftMs;
      return latest;
    }, 2_000);
    await new Promise((r) => setTimeout(r, 800));
    release();
    await Promise.all([first, second]);
    expect(given).toBeGreaterThan(0);
    expect(given).toBeLessThanOrEqual(1_200);
  });

  it("answers 404 for a connection deleted meanwhile, without running the change", async () => {
    const [owner, folder] = await Promise.all([makeUser(), makeFolder()]);
    const gone = await db().connection.create({ data: { folderId: folder.id, name: `Gone ${randomUUID().slice(0, 6)}`, connectorKind: "oauth2", status: "CONNECTED", ownerId: owner.id } });
    await db().connection.delete({ where: { id: gone.id } });
    const change = vi.fn(async () => null);
    await expect(sharedStateOf(gone.id).exclusive(change, 1_000)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(change).not.toHaveBeenCalled();
  });

  it("taking and clearing the lease does not move the authorisation epoch; storing new state does", async () => {
    const before = await currentEpoch();
    await sharedStateOf(connectionId).exclusive(async () => null, 5_000);
    await expect(sharedStateOf(connectionId).exclusive(async () => Promise.reject(new Error("token endpoint down")), 5_000)).rejects.toThrow();
    expect(await currentEpoch()).toBe(before);
    await sharedStateOf(connectionId).exclusive(async (latest) => ({ ...latest!, refreshToken: "r-epoch" }), 5_000);
    expect(await currentEpoch()).toBeGreaterThan(before);
  });
});

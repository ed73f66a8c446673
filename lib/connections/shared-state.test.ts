import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectorError } from "@/lib/connectors/types";
import { db } from "@/lib/db";
import { makeFolder, makeUser } from "@/test/fixtures";
import { NO_STATE, openState, sharedStateOf } from "./mutations";

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
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
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
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
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
});

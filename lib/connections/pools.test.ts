import { describe, expect, it, vi } from "vitest";
import type { Connector } from "@/lib/connectors/types";
import { Pools } from "./pools";

/** A connector whose clients only record whether they were closed. */
function fakeConnector(healthy = () => true) {
  const closed: string[] = [];
  const connector = {
    close: async (client: { name: string }) => void closed.push(client.name),
    healthy: () => healthy(),
  } as unknown as Connector;
  return { connector, closed };
}

const open = (name: string) => () => ({ client: Promise.resolve({ name }) });
const settle = () => new Promise((r) => setTimeout(r, 0));
/** A rank under the connection's first settings. */
const r = (fetched: number, settings = 0) => ({ settings, fetched });

describe("pools keyed by connection and credential version", () => {
  it("reuses one client per version, and a newer version drains the older one gracefully", async () => {
    const pools = new Pools();
    const { connector, closed } = fakeConnector();
    const a = pools.acquire("c1", "v1", r(1), connector, open("v1"));
    const again = pools.acquire("c1", "v1", r(1), connector, open("v1-duplicate"));
    expect(again).toBe(a);
    expect(a.inFlight).toBe(2);

    const b = pools.acquire("c1", "v2", r(2), connector, open("v2"));
    await settle();
    expect(closed).toEqual([]); // v1 still has two invokes in flight
    expect(pools.list("c1")).toEqual([expect.objectContaining({ version: "v2", draining: false })]);
    pools.release(a);
    await settle();
    expect(closed).toEqual([]);
    pools.release(a);
    await settle();
    expect(closed).toEqual(["v1"]);
    pools.release(b);
    expect(pools.list("c1")).toHaveLength(1);
  });

  it("an asset or store refresh drains the clients built with its values, whichever connection they serve", async () => {
    const pools = new Pools();
    const { connector, closed } = fakeConnector();
    const uses = (assetIds: string[], storeIds: string[]) => ({ assetIds: new Set(assetIds), storeIds: new Set(storeIds), expiresAt: null });
    for (const [connection, asset, store] of [["c1", "a1", "s1"], ["c2", "a1", "s1"], ["c3", "a2", "s1"], ["c4", "a3", "s2"]]) {
      pools.release(pools.acquire(connection!, "v1", r(1), connector, open(connection!), uses([asset!], [store!])));
    }
    pools.release(pools.acquire("c5", "v1", r(1), connector, open("c5"))); // typed values only
    pools.drainUsing({ assetIds: ["a1"] });
    await settle();
    expect(closed.sort()).toEqual(["c1", "c2"]);
    pools.drainUsing({ storeId: "s1", assetIds: [] });
    await settle();
    expect(closed.sort()).toEqual(["c1", "c2", "c3"]);
    expect(pools.list().map((e) => e.connectionId).sort()).toEqual(["c4", "c5"]);
  });

  it("a client is not handed out past the end of its values' hour, and the sweep drains it", async () => {
    const pools = new Pools();
    const { connector, closed } = fakeConnector();
    const ends = Date.now() + 60_000;
    const uses = { assetIds: new Set(["a1"]), storeIds: new Set(["s1"]), expiresAt: ends };
    const first = pools.acquire("c1", "v1", r(1), connector, open("first"), uses);
    pools.release(first);
    expect(pools.acquire("c1", "v1", r(1), connector, open("same"), uses)).toBe(first);
    pools.release(first);
    pools.sweep(3_600_000, ends - 1);
    expect(pools.list("c1")).toHaveLength(1);
    pools.sweep(3_600_000, ends);
    await settle();
    expect(closed).toEqual(["first"]);
    // Values whose hour ended before they reached the pool (a cache hit a moment before): served once,
    // never kept, so callers in that moment do not replace each other's clients.
    const late = { ...uses, expiresAt: Date.now() - 1 };
    const current = pools.acquire("c2", "v1", r(1), connector, open("current"), uses);
    pools.release(current);
    const once = pools.acquire("c3", "v1", r(1), connector, open("once"), late);
    expect(pools.list("c3")).toEqual([]);
    pools.release(once);
    await settle();
    expect(closed).toEqual(["first", "once"]);
    // A client kept for values whose hour has not ended serves them too (the same credentials).
    expect(pools.acquire("c2", "v1", r(1), connector, open("again"), late)).toBe(current);
  });

  it("a late rejection on the old version drains only that version, never the newer client", async () => {
    const pools = new Pools();
    const { connector, closed } = fakeConnector();
    const old = pools.acquire("c1", "v1", r(1), connector, open("v1"));
    const current = pools.acquire("c1", "v2", r(2), connector, open("v2"));
    pools.release(current);
    // The invoke still on v1 is rejected now and drains what it used.
    pools.drain(old);
    pools.release(old);
    await settle();
    expect(closed).toEqual(["v1"]);
    expect(pools.list("c1")).toEqual([expect.objectContaining({ version: "v2", draining: false })]);
  });

  it("twenty invokes rejected together set one forced-close timer, which closing the client clears", async () => {
    vi.useFakeTimers();
    try {
      const pools = new Pools();
      const { connector, closed } = fakeConnector();
      const entries = Array.from({ length: 20 }, () => pools.acquire("c1", "v1", r(1), connector, open("v1")));
      const before = vi.getTimerCount();
      for (const entry of entries) pools.drain(entry);
      expect(vi.getTimerCount() - before).toBe(1);
      for (const entry of entries) pools.release(entry);
      await vi.advanceTimersByTimeAsync(0);
      expect(closed).toEqual(["v1"]);
      // Closed: nothing keeps the client (and the credentials its driver holds) in memory any longer.
      expect(vi.getTimerCount()).toBe(before);
    } finally {
      vi.useRealTimers();
    }
  });

  it("values older than the open version are served once and never displace it", async () => {
    const pools = new Pools();
    const { connector, closed } = fakeConnector();
    pools.release(pools.acquire("c1", "v2", r(5), connector, open("v2")));
    const stale = pools.acquire("c1", "v1", r(3), connector, open("v1"));
    expect(stale.draining).toBe(true);
    pools.release(stale);
    await settle();
    expect(closed).toEqual(["v1"]);
    expect(pools.list("c1")).toEqual([expect.objectContaining({ version: "v2" })]);
  });

  it("after an edit, the new settings' client replaces the old one even when its values were fetched earlier", async () => {
    const pools = new Pools();
    const { connector, closed } = fakeConnector();
    // Before the edit: a password from an asset fetched just now (fetch 9).
    pools.release(pools.acquire("c1", "asset", r(9, 0), connector, open("before edit")));
    // The edit switched to a typed password (no fetch) or an asset cached long ago (fetch 2).
    const edited = pools.acquire("c1", "typed", r(2, 1), connector, open("after edit"));
    expect(edited.draining).toBe(false);
    pools.release(edited);
    await settle();
    expect(closed).toEqual(["before edit"]);
    // The next invoke reuses it: no login per invoke.
    const next = pools.acquire("c1", "typed", r(2, 1), connector, open("another login"));
    expect(next).toBe(edited);
    pools.release(next);
    // An invoke that read the connection before the edit is served once and does not displace it.
    const stale = pools.acquire("c1", "asset", r(12, 0), connector, open("stale read"));
    expect(stale.draining).toBe(true);
    pools.release(stale);
    await settle();
    expect(closed).toEqual(["before edit", "stale read"]);
    expect(pools.list("c1")).toEqual([expect.objectContaining({ version: "typed", draining: false })]);
  });

  it("an unhealthy client is replaced, a failed open is forgotten, idle clients are swept, a connection drains all versions", async () => {
    const pools = new Pools();
    let ok = true;
    const { connector, closed } = fakeConnector(() => ok);
    const first = pools.acquire("c1", "v1", r(1), connector, open("first"));
    await first.client;
    pools.release(first);
    ok = false;
    const second = pools.acquire("c1", "v1", r(1), connector, open("second"));
    expect(second).not.toBe(first);
    await settle();
    expect(closed).toEqual(["first"]);
    ok = true;
    pools.release(second);

    const failing = pools.acquire("c2", "v1", r(1), connector, () => ({ client: Promise.reject(new Error("login refused")) }));
    await expect(failing.client).rejects.toThrow("login refused");
    pools.release(failing);
    expect(pools.list("c2")).toEqual([]);

    pools.sweep(60_000, Date.now() + 120_000);
    await settle();
    expect(closed).toEqual(["first", "second"]);

    pools.acquire("c3", "v1", r(1), connector, open("c3"));
    pools.drainConnection("c3");
    expect(pools.list("c3")).toEqual([]);
  });
  it("drainAll resolves once every idle client has closed, without waiting for one still in use", async () => {
    const pools = new Pools();
    const closed: string[] = [];
    let finishSlowClose!: () => void;
    const connector = {
      close: async (client: { name: string }) => {
        // The first client says goodbye slowly, as a distant target might.
        if (client.name === "a") await new Promise<void>((resolve) => (finishSlowClose = resolve));
        closed.push(client.name);
      },
    } as unknown as Connector;
    pools.release(pools.acquire("c1", "v1", r(1), connector, open("a")));
    pools.release(pools.acquire("c2", "v1", r(1), connector, open("b")));
    pools.acquire("c3", "v1", r(1), connector, open("busy")); // never released

    let done = false;
    const drained = pools.drainAll().then(() => (done = true));
    await settle();
    expect(closed).toEqual(["b"]);
    expect(done).toBe(false); // still waiting for "a"
    finishSlowClose();
    await drained;
    expect(closed).toEqual(["b", "a"]);
    expect(pools.list()).toEqual([]);
  });
});

import { describe, expect, it, vi } from "vitest";
import { SECRET_TTL_MS, SecretCache, type CachedSecret } from "./cache";

const HOUR = 60 * 60 * 1000;
const key = { storeId: "store-1", name: "prod/db", version: null };

function clock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms), set: (t: number) => (now = t) };
}

function vault(value = "s3cret-value") {
  let calls = 0;
  let current = value;
  let down = false;
  return {
    fetch: async (): Promise<CachedSecret> => {
      calls++;
      if (down) throw new Error("vault unavailable");
      return { values: { password: current }, version: String(calls), updatedAt: null };
    },
    get calls() {
      return calls;
    },
    rotate: (v: string) => (current = v),
    setDown: (d: boolean) => (down = d),
  };
}

describe("SecretCache lifetime", () => {
  it("is fixed at exactly one hour", () => {
    expect(SECRET_TTL_MS).toBe(HOUR);
  });

  it("makes no vault call at 59:59.999 and exactly one at 60:00", async () => {
    const c = clock();
    const v = vault();
    const cache = new SecretCache({ now: c.now });
    const t0 = c.now();
    await cache.get(key, v.fetch);
    expect(v.calls).toBe(1);
    c.set(t0 + HOUR - 1);
    const hit = await cache.get(key, v.fetch);
    expect(v.calls).toBe(1);
    expect(hit.fromCache).toBe(true);
    c.set(t0 + HOUR);
    const miss = await cache.get(key, v.fetch);
    expect(v.calls).toBe(2);
    expect(miss.fromCache).toBe(false);
    // The new entry's hour starts at its own fetch.
    c.set(t0 + 2 * HOUR - 1);
    await cache.get(key, v.fetch);
    expect(v.calls).toBe(2);
  });

  it("ends an entry when either clock says its hour has passed: the wall clock set back, or a machine resumed", async () => {
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    try {
      const v = vault();
      const cache = new SecretCache();
      await cache.get(key, v.fetch);
      // An NTP step sets the wall clock back ten minutes; an hour passes: the wall clock says fifty minutes.
      vi.setSystemTime(Date.now() - 10 * 60_000);
      vi.advanceTimersByTime(HOUR);
      expect((await cache.get(key, v.fetch)).fromCache).toBe(false);
      expect(v.calls).toBe(2);
      // Suspended for two hours (the monotonic clock stood still), then resumed: the wall clock says so.
      vi.setSystemTime(Date.now() + 2 * HOUR);
      expect((await cache.get(key, v.fetch)).fromCache).toBe(false);
      expect(v.calls).toBe(3);
      // And nothing in between: a minute later the new entry is served.
      vi.advanceTimersByTime(60_000);
      expect((await cache.get(key, v.fetch)).fromCache).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a sweep drops entries past their hour that nobody looked up again, and keeps the rest", async () => {
    const c = clock();
    const cache = new SecretCache({ now: c.now });
    await cache.get({ ...key, name: "old" }, vault().fetch);
    c.advance(30 * 60 * 1000);
    await cache.get({ ...key, name: "newer" }, vault().fetch);
    c.advance(30 * 60 * 1000);
    expect(cache.sweepExpired()).toBe(1);
    expect(cache.stats()).toMatchObject({ size: 1, expirations: 1 });
    c.advance(30 * 60 * 1000);
    expect(cache.sweepExpired()).toBe(1);
    expect(cache.stats().size).toBe(0);
  });

  it("counts the hour from when the fetch began, so a slow vault only shortens it", async () => {
    const c = clock();
    const cache = new SecretCache({ now: c.now });
    const t0 = c.now();
    await cache.get(key, async () => {
      c.advance(5_000); // the vault took five seconds
      return { values: { password: "x" }, version: null, updatedAt: null };
    });
    c.set(t0 + HOUR);
    let called = false;
    await cache.get(key, async () => {
      called = true;
      return { values: { password: "y" }, version: null, updatedAt: null };
    });
    expect(called).toBe(true);
  });

  it("never serves an expired entry while the vault is down: the caller gets the vault's error", async () => {
    const c = clock();
    const v = vault("old-value");
    const cache = new SecretCache({ now: c.now });
    await cache.get(key, v.fetch);
    v.setDown(true);
    c.advance(HOUR);
    await expect(cache.get(key, v.fetch)).rejects.toThrow("vault unavailable");
    // …and keeps refusing: the failed fetch left nothing behind.
    await expect(cache.get(key, v.fetch)).rejects.toThrow("vault unavailable");
    expect(cache.stats().size).toBe(0);
    v.setDown(false);
    v.rotate("new-value");
    expect((await cache.get(key, v.fetch)).values.password).toBe("new-value");
  });
});

describe("SecretCache single-flight", () => {
  it("makes one vault call for 200 concurrent misses, and every caller gets the value", async () => {
    const cache = new SecretCache();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const fetch = async (): Promise<CachedSecret> => {
      calls++;
      await gate;
      return { values: { password: "p@ss" }, version: "7", updatedAt: null };
    };
    const all = Promise.all(Array.from({ length: 200 }, () => cache.get(key, fetch)));
    release();
    const results = await all;
    expect(calls).toBe(1);
    expect(new Set(results.map((r) => r.values.password))).toEqual(new Set(["p@ss"]));
  });

  it("shares a failure among the concurrent callers, then tries again for the next one", async () => {
    const cache = new SecretCache();
    let calls = 0;
    const fetch = async (): Promise<CachedSecret> => {
      calls++;
      if (calls === 1) throw new Error("timeout");
      return { values: { password: "ok" }, version: null, updatedAt: null };
    };
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => cache.get(key, fetch)));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(calls).toBe(1);
    expect((await cache.get(key, fetch)).values.password).toBe("ok");
    expect(calls).toBe(2);
  });

  it("a fresh read bypasses the cached value and replaces it", async () => {
    const v = vault("one");
    const cache = new SecretCache();
    await cache.get(key, v.fetch);
    v.rotate("two");
    expect((await cache.get(key, v.fetch)).values.password).toBe("one");
    expect((await cache.get(key, v.fetch, { fresh: true })).values.password).toBe("two");
    expect((await cache.get(key, v.fetch)).values.password).toBe("two");
  });
});

describe("SecretCache invalidation", () => {
  it("by key, by asset and by store", async () => {
    const v = vault();
    const cache = new SecretCache();
    const other = { storeId: "store-2", name: "prod/db", version: null };
    const pinned = { ...key, version: "3" };
    await cache.get(key, v.fetch, { assetId: "asset-a" });
    await cache.get(pinned, v.fetch, { assetId: "asset-b" });
    await cache.get(other, v.fetch, { assetId: "asset-c" });
    expect(v.calls).toBe(3);

    expect(cache.invalidateKey(key)).toBe(1);
    await cache.get(key, v.fetch, { assetId: "asset-a" });
    expect(v.calls).toBe(4);

    expect(cache.invalidateAsset("asset-b")).toBe(1);
    await cache.get(other, v.fetch);
    expect(v.calls).toBe(4); // store-2's entry untouched
    await cache.get(pinned, v.fetch, { assetId: "asset-b" });
    expect(v.calls).toBe(5);

    expect(cache.invalidateStore("store-1")).toBe(2);
    await cache.get(other, v.fetch);
    expect(v.calls).toBe(5);
    await cache.get(key, v.fetch);
    await cache.get(pinned, v.fetch);
    expect(v.calls).toBe(7);
  });

  it("a fetch that began before an invalidation neither fills the cache nor is joined afterwards", async () => {
    const cache = new SecretCache();
    let release!: () => void;
    const slow = async (): Promise<CachedSecret> => {
      await new Promise<void>((r) => (release = r));
      return { values: { password: "before-rotation" }, version: null, updatedAt: null };
    };
    const first = cache.get(key, slow, { assetId: "a" });
    await Promise.resolve();
    cache.invalidateAsset("a");
    let secondCalls = 0;
    const second = cache.get(key, async () => {
      secondCalls++;
      return { values: { password: "after-rotation" }, version: null, updatedAt: null };
    });
    release();
    expect((await first).values.password).toBe("before-rotation");
    expect((await second).values.password).toBe("after-rotation");
    expect(secondCalls).toBe(1);
    expect((await cache.get(key, slow)).values.password).toBe("after-rotation");
  });

  it("an invalidation of an asset that joined another asset's fetch keeps that fetch out of the cache", async () => {
    const cache = new SecretCache();
    let release!: () => void;
    const slow = async (): Promise<CachedSecret> => {
      await new Promise<void>((r) => (release = r));
      return { values: { password: "before-rotation" }, version: null, updatedAt: null };
    };
    // Two assets naming one secret (an AWS name and its ARN, say): B's caller joins A's fetch.
    const a = cache.get(key, slow, { assetId: "A" });
    const b = cache.get(key, slow, { assetId: "B" });
    await Promise.resolve();
    cache.invalidateAsset("B");
    release();
    await Promise.all([a, b]);
    const next = await cache.get(key, async () => ({ values: { password: "after-rotation" }, version: null, updatedAt: null }), { assetId: "B" });
    expect(next).toMatchObject({ values: { password: "after-rotation" }, fromCache: false });
  });
});

describe("SecretCache bounds", () => {
  it("evicts the least recently used entry beyond its bound", async () => {
    const v = vault();
    const cache = new SecretCache({ maxEntries: 2 });
    const k = (name: string) => ({ storeId: "s", name, version: null });
    await cache.get(k("a"), v.fetch);
    await cache.get(k("b"), v.fetch);
    await cache.get(k("a"), v.fetch); // a is now the most recent
    await cache.get(k("c"), v.fetch); // evicts b
    expect(cache.stats()).toMatchObject({ size: 2, evictions: 1 });
    const before = v.calls;
    await cache.get(k("a"), v.fetch);
    expect(v.calls).toBe(before);
    await cache.get(k("b"), v.fetch);
    expect(v.calls).toBe(before + 1);
  });
});

describe("SecretCache races", () => {
  it("an older fetch finishing late does not replace the value a fresh read brought in", async () => {
    const cache = new SecretCache();
    let releaseOld!: () => void;
    const old = cache.get(key, async () => {
      await new Promise<void>((r) => (releaseOld = r));
      return { values: { password: "old" }, version: null, updatedAt: null };
    });
    await Promise.resolve();
    const fresh = await cache.get(key, async () => ({ values: { password: "new" }, version: null, updatedAt: null }), { fresh: true });
    expect(fresh.values.password).toBe("new");
    releaseOld();
    await old;
    let called = false;
    const next = await cache.get(key, async () => {
      called = true;
      return { values: { password: "unexpected" }, version: null, updatedAt: null };
    });
    expect(called).toBe(false);
    expect(next.values.password).toBe("new");
  });
});

describe("SecretCache after a rejection", () => {
  it("twenty callers whose value was rejected together make one new fetch, and all get the new value", async () => {
    const cache = new SecretCache();
    let calls = 0;
    let current = "old";
    let release!: () => void;
    const fetch = async (): Promise<CachedSecret> => {
      calls++;
      if (calls > 1) await new Promise<void>((r) => (release = r));
      return { values: { password: current }, version: null, updatedAt: null };
    };
    const first = await cache.get(key, fetch);
    current = "rotated";
    const retries = Promise.all(Array.from({ length: 20 }, () => cache.get(key, fetch, { newerThan: first.fetchSeq })));
    await Promise.resolve();
    release();
    const results = await retries;
    expect(calls).toBe(2);
    expect(new Set(results.map((r) => r.values.password))).toEqual(new Set(["rotated"]));
    // A later rejection of the old value is satisfied by the new entry without another fetch.
    expect((await cache.get(key, fetch, { newerThan: first.fetchSeq })).values.password).toBe("rotated");
    expect(calls).toBe(2);
  });
});

describe("SecretCache rejected values", () => {
  it("a value a caller saw rejected leaves the cache, even when the fetch for a newer one fails", async () => {
    const cache = new SecretCache();
    let calls = 0;
    let storeDown = false;
    const fetch = async (): Promise<CachedSecret> => {
      calls++;
      if (storeDown) throw new Error("store unavailable");
      return { values: { password: "old" }, version: null, updatedAt: null };
    };
    const first = await cache.get(key, fetch);
    storeDown = true;
    await expect(cache.get(key, fetch, { newerThan: first.fetchSeq })).rejects.toThrow("store unavailable");
    // The next caller, who knows nothing of the rejection, is not handed the rejected value.
    await expect(cache.get(key, fetch)).rejects.toThrow("store unavailable");
    expect(calls).toBe(3);
    storeDown = false;
    expect((await cache.get(key, fetch)).fromCache).toBe(false);
  });
});

describe("SecretCache fresh reads", () => {
  it("callers who arrive during a fresh read do not join a fetch that began before it", async () => {
    const cache = new SecretCache();
    const pending: ((value: string) => void)[] = [];
    const slow = () => new Promise<CachedSecret>((resolve) => pending.push((v) => resolve({ values: { password: v }, version: null, updatedAt: null })));
    const before = cache.get(key, slow);
    const fresh = cache.get(key, slow, { fresh: true });
    const late = cache.get(key, slow);
    // Three fetches: the one under way, the fresh one, and the late caller's own.
    expect(pending).toHaveLength(3);
    pending[0]!("old");
    pending[1]!("new");
    pending[2]!("newest");
    expect((await before).values.password).toBe("old");
    expect((await fresh).values.password).toBe("new");
    expect((await late).values.password).toBe("newest");
    // The value read before the fresh one is not what the cache keeps.
    expect((await cache.get(key, slow)).values.password).toBe("newest");
  });
});

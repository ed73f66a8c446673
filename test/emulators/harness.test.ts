import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, startEmulator, type Emulator } from "./harness";

let emu: Emulator;
const seeded: unknown[] = [];

beforeAll(async () => {
  emu = await startEmulator({
    name: "plain",
    handle: ({ res }) => json(res, 200, { ok: true }),
    // Like every emulator's own control routes: parses the body it is given.
    control: ({ req, res, url, body }) => {
      if (req.method === "POST" && url.pathname === "/_control/seed") {
        seeded.push(JSON.parse(body));
        json(res, 200, { ok: true });
        return true;
      }
      return false;
    },
  });
});
afterAll(() => emu.close());

const control = (path: string, init: RequestInit = {}) => fetch(`${emu.controlUrl}/_control/${path}`, init);
const get = () => fetch(`${emu.url}/anything`);

describe("emulator control API", () => {
  it("answers 400 to a body that is not JSON, on its own routes and the emulator's, and keeps running", async () => {
    for (const path of ["faults", "seed"]) {
      const res = await control(path, { method: "POST", body: "{not json" });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: "the request body is not valid JSON" });
    }
    expect(seeded).toEqual([]);
    expect((await control("seed", { method: "POST", body: JSON.stringify({ name: "a" }) })).status).toBe(200);
    expect(seeded).toEqual([{ name: "a" }]);
    expect((await get()).status).toBe(200);
  });

  it("refuses a fault rule it cannot apply, saying why", async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /expected \{"fault"/],
      [{ fault: { type: "explode" } }, /unknown fault type "explode"/],
      [{ fault: { type: "latency" } }, /latency fault needs ms/],
      [{ fault: { type: "status" } }, /status fault needs status/],
      [{ fault: { type: "reset" }, times: 0 }, /times must be a positive whole number/],
    ];
    for (const [rule, reason] of cases) {
      const res = await control("faults", { method: "POST", body: JSON.stringify(rule) });
      expect(res.status, JSON.stringify(rule)).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(reason);
    }
    expect((await get()).status).toBe(200);
  });

  it("applies latency, status and reset faults sent over HTTP, counts them down, and clears them", async () => {
    expect((await control("faults", { method: "POST", body: JSON.stringify({ fault: { type: "latency", ms: 1_000 }, times: 1 }) })).status).toBe(204);
    let started = Date.now();
    expect((await get()).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    // Used up: the next request is not held a second (a local GET, far below that even on a busy machine).
    started = Date.now();
    await get();
    expect(Date.now() - started).toBeLessThan(700);

    await control("faults", { method: "POST", body: JSON.stringify({ fault: { type: "status", status: 503, body: { busy: true } }, pathIncludes: "/busy" }) });
    expect((await fetch(`${emu.url}/busy`)).status).toBe(503);
    expect((await get()).status).toBe(200);

    await control("faults", { method: "POST", body: JSON.stringify({ fault: { type: "reset" }, times: 1 }) });
    await expect(get()).rejects.toThrow();
    expect((await control("faults", { method: "DELETE" })).status).toBe(204);
    expect((await fetch(`${emu.url}/busy`)).status).toBe(200);

    const logged = (await (await control("requests")).json()) as { path: string }[];
    expect(logged.filter((r) => r.path === "/busy")).toHaveLength(2);
  });
});

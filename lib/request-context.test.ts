import { describe, expect, it, vi } from "vitest";
import { clientAddressFrom } from "./request-context";

// server.mjs appends the socket's peer to X-Forwarded-For, so the header always ends with it.
const from = (forwarded: string, proxies: number) => clientAddressFrom(new Headers({ "x-forwarded-for": forwarded }), proxies);

describe("clientAddressFrom", () => {
  it("without a proxy, is the socket's peer whatever the client wrote before it", () => {
    expect(from("203.0.113.7", 0)).toBe("203.0.113.7");
    expect(from("198.51.100.1, 203.0.113.7", 0)).toBe("203.0.113.7");
  });

  it("behind one proxy that appends, is the address that proxy received from, not what the client claimed", () => {
    // Client 203.0.113.7 sends a forged entry; nginx appends the client; server.mjs appends nginx (10.0.0.2).
    expect(from("198.51.100.1, 203.0.113.7, 10.0.0.2", 1)).toBe("203.0.113.7");
    expect(from("203.0.113.7, 10.0.0.2", 1)).toBe("203.0.113.7");
  });

  it("behind two proxies, reads two entries from the right", () => {
    expect(from("198.51.100.1, 203.0.113.7, 10.0.0.1, 10.0.0.2", 2)).toBe("203.0.113.7");
  });

  it("with fewer entries than proxies, takes the farthest there is; with none, says unknown", () => {
    expect(from("10.0.0.2", 1)).toBe("10.0.0.2");
    expect(clientAddressFrom(new Headers(), 1)).toBe("unknown");
    expect(clientAddressFrom({ "x-forwarded-for": ["203.0.113.7", "10.0.0.2"] }, 1)).toBe("203.0.113.7");
  });
});

describe("a proxy Latch was not told of", () => {
  it("is said once in the log, naming LATCH_TRUST_PROXY, when a request arrives with a forwarded address and none is trusted", async () => {
    vi.resetModules();
    const { logger } = await import("@/lib/log");
    const warn = vi.spyOn(logger(), "warn").mockImplementation(() => undefined);
    const fresh = await import("./request-context");
    const at = (forwarded: string, proxies: number) => fresh.clientAddressFrom(new Headers({ "x-forwarded-for": forwarded }), proxies);
    expect(at("10.0.0.2", 0)).toBe("10.0.0.2"); // the peer alone: no proxy in sight
    expect(at("203.0.113.7, 10.0.0.2", 1)).toBe("203.0.113.7"); // a proxy Latch trusts
    expect(warn).not.toHaveBeenCalled();
    expect(at("203.0.113.7, 10.0.0.2", 0)).toBe("10.0.0.2");
    expect(at("198.51.100.9, 10.0.0.2", 0)).toBe("10.0.0.2");
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]).toEqual([{ event: "proxy.untrusted_forwarding", peer: "10.0.0.2" }, expect.stringContaining("Set LATCH_TRUST_PROXY")]);
  });
});

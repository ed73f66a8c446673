import { describe, expect, it } from "vitest";
import type { StoreClient } from "@/lib/vault/types";
import { exerciseStore } from "./exercise";

describe("exerciseStore", () => {
  it("names the host the provider dials when a failure reaches it unclassified, not a config field", async () => {
    const dnsFailure = Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
    const client: StoreClient = {
      host: "secretsmanager.eu-west-1.amazonaws.com",
      getSecret: () => Promise.reject(dnsFailure),
      health: () => Promise.reject(dnsFailure),
    };
    expect(await exerciseStore(client, { mode: "READ_ONLY" })).toMatchObject({
      ok: false,
      kind: "dns",
      message: expect.stringContaining("while authenticating: The host name secretsmanager.eu-west-1.amazonaws.com could not be resolved."),
    });
  });
});

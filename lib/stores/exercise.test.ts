import { describe, expect, it } from "vitest";
import { StoreError } from "@/lib/vault/errors";
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

  it("removes its test secret even when reading it back fails (write allowed, read denied)", async () => {
    const calls: string[] = [];
    const client: StoreClient = {
      putSecret: async (ref) => {
        calls.push(`put ${ref.name}`);
        return { version: "1" };
      },
      getSecret: async (ref) => {
        calls.push(`get ${ref.name}`);
        throw new StoreError("permission", "The identity may not read it.");
      },
      deleteSecret: async (ref) => void calls.push(`delete ${ref.name}`),
      health: async () => {},
    };
    expect(await exerciseStore(client, { mode: "READ_WRITE" })).toMatchObject({ ok: false, kind: "permission", message: expect.stringContaining("while reading the test secret back") });
    expect(calls.map((c) => c.split(" ")[0])).toEqual(["put", "get", "delete"]);
    expect(new Set(calls.map((c) => c.split(" ")[1])).size).toBe(1);
  });
});

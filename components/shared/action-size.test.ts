import { describe, expect, it } from "vitest";
import nextConfig from "@/next.config";
import { ACTION_BODY_MAX_BYTES } from "@/lib/server/action-requests.mjs";
import { ACTION_BODY_LIMIT_BYTES, approximateBytes, tooLargeToSend } from "./action-size";

describe("inputs too large for a server action", () => {
  it("are refused below the body limit Next enforces, which would otherwise read as Latch being unreachable", () => {
    expect(nextConfig.experimental?.serverActions?.bodySizeLimit).toBe("2mb");
    // What server.mjs refuses with 413 before Next reads it.
    expect(ACTION_BODY_MAX_BYTES).toBe(2 * 1024 * 1024);
    expect(ACTION_BODY_LIMIT_BYTES).toBeLessThan(2 * 1024 * 1024);
    expect(ACTION_BODY_LIMIT_BYTES).toBeGreaterThan(1.5 * 1024 * 1024);
  });

  it("are measured as UTF-8 on the wire, objects as JSON and forms field by field", () => {
    expect(approximateBytes({ caBundle: "é".repeat(1000) })).toBe(JSON.stringify({ caBundle: "" }).length + 2000);
    const form = new FormData();
    form.set("name", "Vault");
    form.set("file", new Blob([new Uint8Array(5000)]));
    expect(approximateBytes(form)).toBe("name".length + "Vault".length + "file".length + 5000);
    expect(approximateBytes(undefined)).toBe(0);
  });

  it("are refused with the size and what usually causes it, as a 413 the form shows", () => {
    expect(tooLargeToSend(4.8 * 1024 * 1024)).toMatchObject({ code: "PAYLOAD_TOO_LARGE", message: expect.stringMatching(/^What you entered is too large to send \(4\.8 MB; Latch takes at most 2 MB at once\)/) });
  });
});

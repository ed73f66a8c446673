import { describe, expect, it } from "vitest";
import { DEFAULT_AFTER_SIGN_IN, safeCallbackPath } from "./callback";

describe("where sign-in goes next", () => {
  it("keeps a path on this site, with its query and fragment", () => {
    expect(safeCallbackPath("/folders/abc/connections?q=pg#top")).toBe("/folders/abc/connections?q=pg#top");
    expect(safeCallbackPath(["/stores", "/audit"])).toBe("/stores");
  });

  it.each([
    ["another site", "https://evil.example/"],
    ["a scheme-relative address", "//evil.example"],
    ["a backslash browsers read as a slash", "/\\evil.example"],
    ["a tab browsers delete", "/\t/evil.example"],
    ["a line feed browsers delete", "/\n/evil.example"],
    ["a carriage return browsers delete", "/\r/evil.example"],
    ["a script", "javascript:alert(1)"],
    ["a relative path", "folders"],
    ["nothing", undefined],
    ["empty", ""],
  ])("refuses %s", (_, raw) => {
    expect(safeCallbackPath(raw)).toBe(DEFAULT_AFTER_SIGN_IN);
  });

  it("whatever it returns, a browser resolves it to this site", () => {
    for (const raw of ["/\t/evil.example", "/%2F/evil.example", "/./\t/evil.example", "/..//evil.example", "/a/../..//evil.example"]) {
      const next = safeCallbackPath(raw);
      expect(new URL(next, "https://latch.example.com/login").origin, raw).toBe("https://latch.example.com");
    }
  });
});

import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { HelpText } from "./help-text";

const html = (text: string) => renderToStaticMarkup(createElement(HelpText, { text }));

describe("a field's help text", () => {
  it("shows `backticked` commands as code, without the backticks", () => {
    const out = html("From `vault read auth/approle/role/<name>/role-id`.");
    expect(out).toMatch(/^From <code [^>]*>vault read auth\/approle\/role\/&lt;name&gt;\/role-id<\/code>\.$/);
    expect(out).not.toContain("`");
  });

  it("leaves text without backticks, or with an unmatched one, as written", () => {
    expect(html("Plain help.")).toBe("Plain help.");
    expect(html("A stray ` here.")).toBe("A stray ` here.");
  });
});

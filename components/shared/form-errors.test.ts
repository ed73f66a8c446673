import { describe, expect, it } from "vitest";
import { formLevelMessage } from "./form-errors";

const shown = (...names: string[]) => new Set(names);

describe("which action errors the form shows above its fields", () => {
  it("an error that names no field is shown at form level", () => {
    expect(formLevelMessage({ message: "This asset changed since you opened it." }, shown("name"))).toBe("This asset changed since you opened it.");
    expect(formLevelMessage({ message: "Not found.", fieldErrors: {} }, shown())).toBe("Not found.");
  });

  it("errors for fields the form shows stay by those fields", () => {
    expect(formLevelMessage({ message: "Enter a name.", fieldErrors: { name: ["Enter a name."] } }, shown("name", "description"))).toBeNull();
  });

  it("an error for a field the form does not render is shown at form level, even beside shown ones", () => {
    const error = { message: "Enter a name.", fieldErrors: { name: ["Enter a name."], "secrets.token": ["Enter the Vault token Latch uses."] } };
    expect(formLevelMessage(error, shown("name"))).toBe("Enter the Vault token Latch uses.");
    // Before the fix, any field error hid the form-level message: this one was on no screen at all.
    expect(formLevelMessage({ message: "Choose a store.", fieldErrors: { storeId: ["Choose a store."] } }, shown("name"))).toBe("Choose a store.");
  });

  it("a root error (_form) is a field no form renders unless it asks for it", () => {
    const error = { message: "Send a new name, a new parentId, or both.", fieldErrors: { _form: ["Send a new name, a new parentId, or both."], name: ["Too long."] } };
    expect(formLevelMessage(error, shown("name"))).toBe("Send a new name, a new parentId, or both.");
    expect(formLevelMessage(error, shown("name", "_form"))).toBeNull();
  });

  it("several unshown errors are shown together, each message once, a few at most", () => {
    const error = { message: "x", fieldErrors: { a: ["One."], b: ["One."], c: ["Two."], d: ["Three."], e: ["Four."], f: [] } };
    expect(formLevelMessage(error, shown())).toBe("One. Two. Three. (and 1 more)");
    expect(formLevelMessage({ message: "Fallback.", fieldErrors: { f: [] } }, shown())).toBe("Fallback.");
  });
});

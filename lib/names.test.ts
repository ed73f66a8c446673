import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { createAssetSchema } from "@/lib/assets/schemas";
import { saveConnectionSchema } from "@/lib/connections/schemas";
import { createFolderSchema } from "@/lib/folders/schemas";
import { searchTextSchema } from "@/lib/list-query";
import { createStoreSchema } from "@/lib/stores/schemas";
import { createPersonalTokenSchema, createServiceAccountSchema } from "@/lib/tokens/schemas";
import { createUserSchema } from "@/lib/users/schemas";
import { UNSEEN_MESSAGE } from "./names";

const FOLDER = "00000000-0000-4000-8000-000000000001";

/** Each form that names something, with everything but the name filled in validly. */
const forms: Record<string, { schema: z.ZodType; input: (name: string) => unknown }> = {
  folder: { schema: createFolderSchema, input: (name) => ({ name, parentId: null }) },
  store: { schema: createStoreSchema, input: (name) => ({ name, kind: "hashicorp" }) },
  asset: { schema: createAssetSchema, input: (name) => ({ folderId: FOLDER, type: "TEXT", name, plainValue: "x" }) },
  connection: { schema: saveConnectionSchema, input: (name) => ({ folderId: FOLDER, name, kind: "postgresql" }) },
  token: { schema: createPersonalTokenSchema, input: (name) => ({ name, expiresInDays: 30, scopes: [{ folderId: FOLDER, permissions: ["connections.use"] }] }) },
  "service account": { schema: createServiceAccountSchema, input: (name) => ({ name }) },
  person: { schema: createUserSchema, input: (name) => ({ name, email: "someone@example.com", password: "a long enough password" }) },
};

function nameOf(form: (typeof forms)[string], name: string): { name?: string; errors?: string[] } {
  const result = form.schema.safeParse(form.input(name));
  if (result.success) return { name: (result.data as { name: string }).name };
  return { errors: result.error.issues.filter((i) => i.path[0] === "name").map((i) => i.message) };
}

describe("names", () => {
  it("every form accepts an ordinary name, trimmed (a precondition for the cases below)", () => {
    for (const [what, form] of Object.entries(forms)) expect(nameOf(form, "  Payroll DB  "), what).toEqual({ name: "Payroll DB" });
  });

  it("a name that looks the same is the same name: stored in NFC whichever way the accent was typed", () => {
    const decomposed = "Cafe\u0301 prod";
    expect(decomposed).not.toBe("Café prod");
    for (const [what, form] of Object.entries(forms)) expect(nameOf(form, decomposed), what).toEqual({ name: "Café prod" });
  });

  it("refuses characters nobody can see: controls, zero-width spaces, byte-order marks and text-direction overrides", () => {
    const unseen = ["tab\there", "line\nbreak", "nul\u0000", "c1\u0085", "zero\u200bwidth", "word\u2060joiner", "byte\ufefforder", "soft\u00adhyphen", "exe.\u202etxt", "isolate\u2066x\u2069", "mark\u200f",
      // Joiners and selectors where no writing needs them: alone, inside a Latin word, after a letter.
      "\u200c", "Produc\u200dtion", "Produc\u200ction", "Production\ufe0f", "a\u034fb",
      "tag\u{e0041}\u{e0042}", "\u3164", "filler\u3164name", "line\u2028sep", "para\u2029sep", "khmer\u17b4"];
    for (const [what, form] of Object.entries(forms)) {
      for (const name of unseen) expect(nameOf(form, name), `${what}: ${JSON.stringify(name)}`).toEqual({ errors: [UNSEEN_MESSAGE] });
    }
  });

  it("keeps the joiners that scripts and emoji need", () => {
    for (const name of ["می\u200cخواهم", "क्\u200dष", "Team 👩\u200d💻", "Love ❤\ufe0f", "On fire ❤\ufe0f\u200d🔥", "OK 👍🏽", "Ops 👩🏽\u200d💻"]) {
      for (const [what, form] of Object.entries(forms)) expect(nameOf(form, name), what).toEqual({ name });
    }
  });

  it("search text is put in NFC too, so it finds names typed the other way", () => {
    expect(searchTextSchema(200).parse("cafe\u0301")).toBe("café");
  });
});

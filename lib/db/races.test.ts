import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { db } from "@/lib/db";
import { TOO_LONG_MESSAGE, UNSTORABLE_TEXT_MESSAGE } from "./errors";
import { dbErrorAnswer } from "./races";

/** The error a real write gets, as it reaches a wrapper. */
async function refusal(write: () => Promise<unknown>): Promise<unknown> {
  try {
    await write();
  } catch (error) {
    return error;
  }
  throw new Error("expected the write to be refused");
}

describe("database refusals that escaped a change's own checks", () => {
  it("input the columns cannot hold answers 400 with a message, not an unexpected error", async () => {
    const user = (email: string, name = "Someone") => () => db().user.create({ data: { email, name, passwordHash: "x" } });
    expect(dbErrorAnswer(await refusal(user(`${"x".repeat(300)}@example.test`)))).toEqual({ code: "BAD_REQUEST", message: TOO_LONG_MESSAGE, lostRace: false });
    expect(dbErrorAnswer(await refusal(user(`${randomUUID()}@example.test`, "nul\u0000name")))).toEqual({ code: "BAD_REQUEST", message: UNSTORABLE_TEXT_MESSAGE, lostRace: false });
  });

  it("anything else is left to the caller as unexpected", () => {
    expect(dbErrorAnswer(new Error("connection terminated"))).toBeNull();
  });
});

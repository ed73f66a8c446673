import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { AppError } from "@/lib/errors";
import { makeUser, signInAs } from "@/test/fixtures";
import { defineAction } from "./action";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

describe("the action helper", () => {
  it("passes expected errors through with their message", async () => {
    signInAs(await makeUser());
    const action = defineAction(z.object({}), async () => {
      throw new AppError("CONFLICT", "That name is taken.");
    });
    expect(await action({})).toEqual({ ok: false, error: { code: "CONFLICT", message: "That name is taken.", reference: "test-request-id" } });
  });

  it("hides unexpected errors behind a generic message with the reference id, and never echoes them", async () => {
    signInAs(await makeUser());
    const action = defineAction(z.object({}), async () => {
      throw new Error("connect ECONNREFUSED postgres://app:hunter2@db:5432");
    });
    const result = await action({});
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe("UNEXPECTED");
    expect(result.error.message).toContain("test-request-id");
    expect(JSON.stringify(result)).not.toContain("hunter2");
    expect(JSON.stringify(result)).not.toContain("ECONNREFUSED");
  });

  it("checks the session before running anything", async () => {
    signInAs(null);
    const run = vi.fn();
    const action = defineAction(z.object({}), run);
    expect(await action({})).toMatchObject({ ok: false, error: { code: "UNAUTHENTICATED" } });
    expect(run).not.toHaveBeenCalled();
  });
});

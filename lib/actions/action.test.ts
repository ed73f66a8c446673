import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { db, sql } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { makeUser, signInAs } from "@/test/fixtures";
import { defineAction, requireTenant } from "./action";

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

  it("authorises what needs no input before validating it: the forbidden get not found, whatever they send", async () => {
    const run = vi.fn(async () => "done");
    const action = defineAction(z.object({ name: z.string().min(3) }), run, requireTenant("stores.manage", "Credential store"));
    signInAs(await makeUser());
    for (const input of [{ name: "" }, { name: "valid name" }, null]) {
      expect(await action(input as never)).toEqual({ ok: false, error: { code: "NOT_FOUND", message: "Credential store was not found.", reference: "test-request-id" } });
    }
    signInAs(await makeUser({ isAdmin: true }));
    expect(await action({ name: "" })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await action({ name: "valid name" })).toEqual({ ok: true, data: "done" });
    expect(run).toHaveBeenCalledTimes(1);
  });

  it("refuses input nested too deeply, or referring to itself, with a 400 before zod walks it", async () => {
    signInAs(await makeUser());
    const run = vi.fn(async () => "done");
    const action = defineAction(z.object({ value: z.json() }), run);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const value of [deep, cyclic]) {
      expect(await action({ value } as never)).toEqual({ ok: false, error: { code: "BAD_REQUEST", message: "The input is nested more than 64 levels deep.", reference: "test-request-id" } });
    }
    let fine: unknown = 1;
    for (let i = 0; i < 60; i++) fine = { next: fine };
    expect(await action({ value: fine } as never)).toEqual({ ok: true, data: "done" });
    // One object used in two places is not a cycle; 40 levels of two references each to the same child
    // (2^40 paths) are checked once each, not path by path: walking every path would never finish.
    let shared: unknown = { leaf: true };
    for (let i = 0; i < 40; i++) shared = { left: shared, right: shared };
    expect(await action({ value: shared } as never)).toEqual({ ok: true, data: "done" });
    expect(run).toHaveBeenCalledTimes(2);
  });

  it("refuses text that is not well-formed Unicode (a lone surrogate), in a value or a key, with a 400 before anything runs", async () => {
    signInAs(await makeUser());
    const run = vi.fn(async () => "done");
    const action = defineAction(z.object({ name: z.string(), tags: z.record(z.string(), z.string()) }), run);
    const refused = { ok: false, error: { code: "BAD_REQUEST", message: expect.stringContaining("not valid Unicode"), reference: "test-request-id" } };
    expect(await action({ name: "pay\ud800roll", tags: {} })).toEqual(refused);
    expect(await action({ name: "payroll", tags: { "\udc00": "x" } })).toEqual(refused);
    expect(run).not.toHaveBeenCalled();
    // A whole surrogate pair is one character, and fine.
    expect(await action({ name: "pay\ud83d\udd11roll", tags: { "🔑": "key" } })).toEqual({ ok: true, data: "done" });
  });

  it("refuses a key named __proto__, which validation would drop without a word, with a 400 naming it", async () => {
    signInAs(await makeUser());
    const run = vi.fn(async () => "done");
    const action = defineAction(z.object({ params: z.array(z.json()) }), run);
    const parsed = JSON.parse('{"params":[{"b":2,"nested":{"__proto__":{"a":1}}}]}') as { params: z.core.util.JSONType[] };
    expect(await action(parsed)).toEqual({ ok: false, error: { code: "BAD_REQUEST", message: expect.stringContaining('a key named "__proto__"'), reference: "test-request-id" } });
    expect(run).not.toHaveBeenCalled();
    expect(await action({ params: [{ b: 2, constructor: "fine" }] })).toEqual({ ok: true, data: "done" });
  });

  it("answers text the database cannot store (a NUL) with a 400 that says what to fix, not an unexpected error", async () => {
    signInAs(await makeUser());
    const action = defineAction(z.object({ name: z.string() }), async ({ name }) => sql(db(), "SELECT $1::text AS name", [name]));
    expect(await action({ name: "pay\u0000roll" })).toEqual({
      ok: false,
      error: { code: "BAD_REQUEST", message: "The input contains a character that cannot be stored, such as the NUL character (U+0000). Remove it and try again.", reference: "test-request-id" },
    });
    // The same through Prisma.
    const viaPrisma = defineAction(z.object({ name: z.string() }), async ({ name }) => db().folder.findFirst({ where: { name } }));
    expect(await viaPrisma({ name: "pay\u0000roll" })).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    expect(await action({ name: "payroll" })).toEqual({ ok: true, data: [{ name: "payroll" }] });
  });
});

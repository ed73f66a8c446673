import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { format } from "node:util";
import * as NextLog from "next/dist/build/output/log";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { defineAction } from "@/lib/actions/action";
import { typedValueAad, withCredentials } from "@/lib/connections/credentials";
import { encrypt } from "@/lib/crypto/envelope";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { resolve } from "@/lib/secrets/resolver";
import { clientForStore } from "@/lib/stores/client";
import { latchStore, makeFolder, makeUser, signInAs } from "@/test/fixtures";
import { installConsoleRedaction } from "./console";
import { createLogger, type Logger } from "./index";
import { forgetAllValues } from "./known-values";
import { REDACTED } from "./redact";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));

/**
 * End to end: a value that resolve() hands out is masked wherever it turns up in the process output,
 * in our logger's lines and in Next.js's own console error output. The values here look like ordinary
 * words, so only the "values Latch resolved" layer (known-values.ts) can catch them, not the patterns.
 */

let admin: Actor;
let assetId: string;
let value: string;

/** A logger with the process logger's settings, writing its lines here. */
function capturedLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: createLogger(stream), lines };
}

const flush = () => new Promise((r) => setImmediate(r));

/** A console whose every method records what Node's console would print (util.format of the arguments). */
function recordingConsole() {
  const printed: string[] = [];
  const record = (...args: unknown[]) => void printed.push(format(...args));
  const fake = { error: record, warn: record, log: record, info: record, debug: record, trace: record } as unknown as Console;
  return { fake, printed };
}

/** Runs `fn` with `fake` as the global console (Next.js's logger looks it up at every call). */
function withConsole(fake: Console, fn: () => void) {
  const real = globalThis.console;
  globalThis.console = fake;
  try {
    fn();
  } finally {
    globalThis.console = real;
  }
}

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  const folder = await makeFolder();
  const latch = await latchStore();
  value = `quiet harbour lantern ${randomUUID().slice(0, 8)}`;
  const name = `log-test/${randomUUID()}`;
  await (await clientForStore(latch)).putSecret!({ name }, { value });
  assetId = (await db().credentialAsset.create({ data: { folderId: folder.id, name: `Log test ${randomUUID().slice(0, 8)}`, type: "SECRET", storeId: latch.id, secretName: name } })).id;
});

afterEach(() => forgetAllValues());

async function resolveValue() {
  const resolved = await resolve({ assetId }, { actor: admin, purpose: "test", fresh: true });
  if (resolved.type !== "SECRET") throw new Error("expected a Secret");
  expect(resolved.value).toBe(value);
  return resolved.value;
}

describe("a value resolve() handed out is masked in real log lines", () => {
  it("in the message, printf arguments, a nested object, and an Error's message and stack", async () => {
    // Control: before any resolve, the logger has no reason to mask these words.
    forgetAllValues();
    const before = capturedLogger();
    before.log.info(`connect failed: ${value}`);
    await flush();
    expect(before.lines.join("")).toContain(value);

    const resolved = await resolveValue();
    const { log, lines } = capturedLogger();
    log.info(`connect failed: ${resolved}`);
    log.info("connect failed for %s at %s", resolved, "db.internal");
    log.warn({ target: { host: "db.internal", note: `using ${resolved}`, list: [resolved] } }, "nested");
    log.error({ err: new Error(`target rejected ${resolved}`) }, "wrapped error");
    log.error(new Error(`bare ${resolved}`));
    log.child({ requestId: "r1" }).error({ err: new Error("outer", { cause: new Error(`inner ${resolved}`) }) }, "with a cause");
    await flush();

    const text = lines.join("");
    expect(lines).toHaveLength(6);
    expect(text).not.toContain(value);
    expect(text).not.toContain(value.slice(0, 20));
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0]).toMatchObject({ msg: `connect failed: ${REDACTED}` });
    expect(parsed[1]).toMatchObject({ msg: `connect failed for ${REDACTED} at db.internal` });
    expect(parsed[2]).toMatchObject({ target: { host: "db.internal", note: `using ${REDACTED}`, list: [REDACTED] } });
    expect(parsed[3]).toMatchObject({ err: { message: `target rejected ${REDACTED}`, stack: expect.stringContaining(`target rejected ${REDACTED}`) } });
    expect(JSON.stringify(parsed[4])).toContain(`bare ${REDACTED}`);
    expect(parsed[5]).toMatchObject({ requestId: "r1", err: { cause: { message: `inner ${REDACTED}` } } });
  });

  it("an unexpected error in a server action, logged by the action helper through logger(), is masked too", async () => {
    const { log, lines } = capturedLogger();
    const holder = globalThis as unknown as { latchLogger?: Logger };
    const previous = holder.latchLogger;
    holder.latchLogger = log;
    try {
      signInAs(admin);
      const leaky = defineAction(z.object({}), async (_input, ctx) => {
        const resolved = await resolve({ assetId }, { actor: ctx.actor, purpose: "test" });
        throw new Error(`the target said no to ${resolved.type === "SECRET" ? resolved.value : ""}`);
      });
      const result = await leaky({});
      expect(result).toMatchObject({ ok: false, error: { code: "UNEXPECTED" } });
      expect(JSON.stringify(result)).not.toContain(value);
    } finally {
      holder.latchLogger = previous;
    }
    await flush();
    const text = lines.join("");
    expect(text).toContain("unexpected error in server action");
    expect(text).toContain(`the target said no to ${REDACTED}`);
    expect(text).not.toContain(value);
  });
});

describe("a typed connection secret is masked once opened", () => {
  it("a value sealed in connection_secrets, and one typed into a form, once used for a connection", async () => {
    const typed = `amber orchard window ${randomUUID().slice(0, 8)}`;
    const sealedValue = `silver meadow engine ${randomUUID().slice(0, 8)}`;
    const aad = typedValueAad(randomUUID(), "password");
    const sealed = await encrypt(sealedValue, aad);
    const used: string[] = [];
    await withCredentials(
      [
        { field: "password", part: "VALUE", sealed, aad },
        { field: "token", part: "VALUE", typed },
      ],
      { actor: admin, purpose: "test" },
      async ({ secrets }) => void used.push(secrets.password!, secrets.token!),
    );
    expect(used).toEqual([sealedValue, typed]);
    const { log, lines } = capturedLogger();
    log.error({ err: new Error(`target said: ${sealedValue} / ${typed}`) }, "unclassified");
    await flush();
    expect(lines.join("")).toContain(`target said: ${REDACTED} / ${REDACTED}`);
  });
});

describe("Next.js's own console error output (“⨯ Error …”)", () => {
  it("carries an error's message and stack as is, so without the redaction layer a value would be printed", async () => {
    const resolved = await resolveValue();
    const { fake, printed } = recordingConsole();
    // The function Next's server calls for an error in a render, route or action (base-server logError).
    withConsole(fake, () => NextLog.error(new Error(`render failed: ${resolved}`)));
    expect(printed.join("\n")).toContain("⨯");
    expect(printed.join("\n")).toContain(value);
  });

  it("passes through the redaction once installed: message, stack, extra properties, other console methods", async () => {
    const resolved = await resolveValue();
    const { fake, printed } = recordingConsole();
    installConsoleRedaction(fake);
    installConsoleRedaction(fake); // once only: not wrapped twice
    const error = Object.assign(new Error(`render failed: ${resolved}`), { digest: "123", detail: `while using ${resolved}` });
    withConsole(fake, () => {
      NextLog.error(error);
      NextLog.error("in a route:", `value ${resolved}`);
      NextLog.warn({ context: [resolved] });
      console.log("plain %s", resolved);
    });
    const text = printed.join("\n");
    expect(printed).toHaveLength(4);
    expect(text).not.toContain(value);
    expect(printed[0]).toContain("⨯");
    expect(printed[0]).toContain(`render failed: ${REDACTED}`);
    // The stack is printed (redacted), with the error's own properties.
    expect(printed[0]).toMatch(/at .*resolved-values\.test\.ts/);
    expect(printed[0]).toContain("digest: '123'");
    expect(printed[0]).toContain(`while using ${REDACTED}`);
    expect(printed[1]).toContain(`value ${REDACTED}`);
    expect(printed[3]).toBe(`plain ${REDACTED}`);
  });

  it("is installed by the server's start-up hook (instrumentation.ts register)", async () => {
    const resolved = await resolveValue();
    const { fake, printed } = recordingConsole();
    vi.stubEnv("NEXT_RUNTIME", "nodejs");
    const real = globalThis.console;
    globalThis.console = fake;
    try {
      const { register } = await import("@/instrumentation");
      await register();
      NextLog.error(new Error(`after start-up: ${resolved}`));
    } finally {
      globalThis.console = real;
      vi.unstubAllEnvs();
    }
    expect(printed.join("\n")).toContain(`after start-up: ${REDACTED}`);
    expect(printed.join("\n")).not.toContain(value);
  });
});

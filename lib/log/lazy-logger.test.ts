import { Writable } from "node:stream";
import pino from "pino";
import { expect, it } from "vitest";
import { lazyLogger } from "./index";

it("a lazy logger makes its child only when something is logged, then behaves as that child", () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
  const base = pino({ level: "info" }, sink);
  let made = 0;
  const log = lazyLogger(() => (made++, base.child({ requestId: "r-1" })), base);
  expect(made).toBe(0);

  log.debug("below the level");
  expect(made).toBe(0);
  expect(log.level).toBe("info");
  log.info({ step: 1 }, "first");
  log.child({ userId: "u-1" }).warn("second");
  expect(made).toBe(1);
  const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(first).toMatchObject({ requestId: "r-1", step: 1, msg: "first", level: 30 });
  expect(second).toMatchObject({ requestId: "r-1", userId: "u-1", msg: "second", level: 40 });
  expect(lines).toHaveLength(2);
});

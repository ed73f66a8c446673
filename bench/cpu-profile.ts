/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and says where the time went: self time by package or
 * part of the server, and the functions with the most self time. For the invoke benchmark's diagnosis.
 */
import { readFileSync } from "node:fs";

type Frame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type ProfileNode = { id: number; callFrame: Frame; hitCount?: number; children?: number[] };
type Profile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

/**
 * Only the samples between `fromEndMs` and `toEndMs` before the profile's end (the load phase; the
 * process's start-up and shutdown are left out). Without a window, every sample counts.
 */
export type Window = { fromEndMs: number; toEndMs: number };

/** [index, µs] of each sample inside the window. */
function windowed(profile: Profile, window?: Window): [number, number][] {
  const out: [number, number][] = [];
  const from = window ? profile.endTime - window.fromEndMs * 1000 : -Infinity;
  const to = window ? profile.endTime - window.toEndMs * 1000 : Infinity;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t >= from && t <= to) out.push([i, delta]);
  }
  return out;
}

/** Which part of the server a frame belongs to. */
export function partOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === "(idle)") return "(idle)";
    if (functionName === "(garbage collector)") return "(garbage collector)";
    if (functionName === "(program)") return "(program: native, not attributed)";
    return `(native) ${functionName || "anonymous"}`;
  }
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    const pkg = rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
    if (pkg === "next") {
      // Next's own server (routing, request/response adaptation) vs the compiled React/Next runtime it ships.
      if (url.includes("/dist/compiled/")) return `next (compiled: ${rest[3] ?? "?"})`;
      return "next (server)";
    }
    return pkg;
  }
  if (url.includes("/.next/server/")) return "app bundle (.next/server: lib/, app/ and bundled packages)";
  if (url.startsWith("node:")) return "node (internals)";
  return url;
}

export function summariseProfile(file: string, top = 25, window?: Window) {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  for (const [i, delta] of windowed(profile, window)) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    totalUs += delta;
  }
  let idleUs = 0;
  const parts = new Map<string, number>();
  const functions = new Map<string, { us: number; part: string }>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const part = partOf(url, functionName);
    if (part === "(idle)") {
      idleUs += us;
      continue;
    }
    parts.set(part, (parts.get(part) ?? 0) + us);
    const short = url ? url.replace(/^.*node_modules\//, "").replace(/^.*\.next\/server\//, ".next/server/") : "";
    const key = `${functionName || "(anonymous)"} ${short ? `${short}:${lineNumber + 1}` : ""}`.trim();
    const f = functions.get(key) ?? { us: 0, part };
    f.us += us;
    functions.set(key, f);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number) => Math.round((us / busyUs) * 1000) / 10;
  return {
    file,
    wallMs: Math.round(totalUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    parts: [...parts].map(([part, us]) => ({ part, ms: Math.round(us / 1000), pctOfBusy: pct(us) })).sort((a, b) => b.ms - a.ms),
    topFunctions: [...functions]
      .map(([fn, f]) => ({ fn, part: f.part, ms: Math.round(f.us / 1000), pctOfBusy: pct(f.us) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  };
}

/** Inclusive time of frames whose function or file matches, e.g. everything under Prisma's query path. */
export function inclusiveMatching(file: string, test: (frame: Frame) => boolean, window?: Window) {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const matches = new Map<number, boolean>();
  const under = (id: number): boolean => {
    const known = matches.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id)!;
    const p = parent.get(id);
    const result = test(node.callFrame) || (p !== undefined && under(p));
    matches.set(id, result);
    return result;
  };
  let us = 0;
  let busy = 0;
  for (const [i, delta] of windowed(profile, window)) {
    const node = byId.get(profile.samples[i]!)!;
    if (node.callFrame.functionName === "(idle)") continue;
    busy += delta;
    if (under(node.id)) us += delta;
  }
  return { ms: Math.round(us / 1000), pctOfBusy: Math.round((us / busy) * 1000) / 10 };
}

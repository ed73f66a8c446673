import dns, { type LookupAddress } from "node:dns";
import { vi } from "vitest";

/**
 * Answers dns.lookup for the given names (an address, or an error code such as "ENOTFOUND") and
 * passes every other name to the real resolver; records each name looked up. Lets tests make a
 * name resolve to a metadata or private address without touching /etc/hosts.
 */
export function stubDns(answers: Record<string, string>) {
  const real = dns.lookup.bind(dns);
  const lookups: string[] = [];
  const spy = vi.spyOn(dns, "lookup").mockImplementation(((hostname: string, options: unknown, callback?: unknown) => {
    const cb = (typeof options === "function" ? options : callback) as (error: Error | null, address?: string | LookupAddress[], family?: number) => void;
    const opts = (typeof options === "object" && options ? options : {}) as dns.LookupOptions;
    lookups.push(hostname);
    const answer = answers[hostname.toLowerCase()];
    if (answer === undefined) return (real as (h: string, o: dns.LookupOptions, c: typeof cb) => void)(hostname, opts, cb);
    if (!/[.:]/.test(answer)) {
      return process.nextTick(() => cb(Object.assign(new Error(`getaddrinfo ${answer} ${hostname}`), { code: answer, hostname }) as Error));
    }
    const family = answer.includes(":") ? 6 : 4;
    process.nextTick(() => (opts.all ? cb(null, [{ address: answer, family }]) : cb(null, answer, family)));
  }) as typeof dns.lookup);
  return { lookups, restore: () => spy.mockRestore() };
}

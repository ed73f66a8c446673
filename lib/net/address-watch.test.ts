import { describe, expect, it } from "vitest";
import { AddressWatch } from "./address-watch";

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A resolver answering from a list that the test changes, counting its lookups. */
function dnsAnswering(initial: string[] | Error) {
  const dns = { answer: initial, lookups: 0 };
  const resolve = async () => {
    dns.lookups++;
    if (dns.answer instanceof Error) throw dns.answer;
    return dns.answer;
  };
  return { dns, resolve };
}

describe("the address a pooled client dials", () => {
  it("is looked up only after a failure, and stops holding once the name no longer resolves to it", async () => {
    const { dns, resolve } = dnsAnswering(["10.0.0.1", "10.0.0.9"]);
    const watch = new AddressWatch("db.example.com", "10.0.0.1", 0, resolve);
    // In use and working: no lookups (a reader endpoint answering one instance at random is no move).
    for (let i = 0; i < 5; i++) expect(watch.holds()).toBe(true);
    await settle();
    expect(dns.lookups).toBe(0);
    // A failure, and the name still includes the address: it holds, and the suspicion is settled.
    watch.suspect();
    await settle();
    expect(watch.holds()).toBe(true);
    await settle();
    expect(dns.lookups).toBe(1);
    // A failure after the name moved elsewhere: the pool is to be replaced, for good.
    dns.answer = ["10.0.0.2"];
    watch.suspect();
    await settle();
    expect(watch.holds()).toBe(false);
    expect(watch.holds()).toBe(false);
    expect(dns.lookups).toBe(2);
  });

  it("keeps the address when the lookup fails, looks up at most once per interval, and never for an IP address", async () => {
    const { dns, resolve } = dnsAnswering(new Error("SERVFAIL"));
    const failing = new AddressWatch("db.example.com", "10.0.0.1", 0, resolve);
    failing.suspect();
    await settle();
    expect(failing.holds()).toBe(true);
    expect(dns.lookups).toBe(1);

    const { dns: counted, resolve: counting } = dnsAnswering(["10.0.0.1"]);
    const busy = new AddressWatch("db.example.com", "10.0.0.1", 3_600_000, counting);
    // Twenty failing invokes together: one lookup; the suspicion they leave waits for the interval.
    for (let i = 0; i < 20; i++) busy.suspect();
    await settle();
    for (let i = 0; i < 5; i++) expect(busy.holds()).toBe(true);
    await settle();
    expect(counted.lookups).toBe(1);

    const literal = new AddressWatch("10.0.0.1", "10.0.0.1", 0, counting);
    literal.suspect();
    await settle();
    expect(literal.holds()).toBe(true);
    expect(counted.lookups).toBe(1);
  });
});

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
  it("stops holding once the name no longer resolves to it (a DNS failover), and not before", async () => {
    const { dns, resolve } = dnsAnswering(["10.0.0.1", "10.0.0.9"]);
    const watch = new AddressWatch("db.example.com", "10.0.0.1", 0, resolve);
    expect(watch.holds()).toBe(true);
    await settle();
    expect(watch.holds()).toBe(true); // still among the answers (round-robin DNS keeps it)
    await settle();
    dns.answer = ["10.0.0.2"];
    watch.holds(); // starts the check that finds the move
    await settle();
    expect(watch.holds()).toBe(false);
    expect(watch.holds()).toBe(false); // for good: the pool replaces the client
  });

  it("keeps the address when the lookup fails, checks at most once per interval, and never for an IP address", async () => {
    const { dns, resolve } = dnsAnswering(new Error("SERVFAIL"));
    const failing = new AddressWatch("db.example.com", "10.0.0.1", 0, resolve);
    failing.holds();
    await settle();
    expect(failing.holds()).toBe(true);

    const { dns: hourly, resolve: counted } = dnsAnswering(["10.0.0.2"]);
    const rare = new AddressWatch("db.example.com", "10.0.0.1", 3_600_000, counted);
    for (let i = 0; i < 5; i++) expect(rare.holds()).toBe(true);
    await settle();
    expect(hourly.lookups).toBe(0);

    const literal = new AddressWatch("10.0.0.1", "10.0.0.1", 0, counted);
    literal.holds();
    await settle();
    expect(literal.holds()).toBe(true);
    expect(hourly.lookups).toBe(0);
    expect(dns.lookups).toBe(2); // the failing watch looked up at each of its two calls (interval 0)
  });
});

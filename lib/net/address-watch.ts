import { isIP } from "node:net";
import { resolveTargetAddresses } from "./egress";

/** How often a pooled client in use has its host name resolved again. */
export const ADDRESS_RECHECK_MS = 30_000;

/**
 * The address a pooled client dials, checked against DNS now and then. A pool opens its sessions to
 * the address resolved (and allowed by the egress policy) when it opened, so after a DNS failover
 * (RDS Multi-AZ, Aurora: the endpoint's name moves to another host) its new sessions would still go to
 * the old host for as long as invokes keep it busy. While the client is in use, the name is resolved
 * again in the background every ADDRESS_RECHECK_MS; once the answer no longer includes the address,
 * `holds()` says so and the pool replaces the client (which resolves afresh). A failed lookup changes
 * nothing: the address that works is kept.
 */
export class AddressWatch {
  #checkedAt: number;
  #checking = false;
  #moved = false;

  constructor(
    readonly hostname: string,
    readonly address: string,
    readonly recheckMs = ADDRESS_RECHECK_MS,
    readonly resolve: (hostname: string) => Promise<string[]> = resolveTargetAddresses,
  ) {
    this.#checkedAt = Date.now();
  }

  /** Whether the address is still one the name resolves to, as last checked; starts a check when one is due. */
  holds(): boolean {
    if (this.#moved || this.#checking || isIP(this.hostname) !== 0) return !this.#moved;
    if (Date.now() - this.#checkedAt < this.recheckMs) return true;
    this.#checking = true;
    this.resolve(this.hostname)
      .then(
        (addresses) => {
          if (!addresses.includes(this.address)) this.#moved = true;
        },
        () => {},
      )
      .finally(() => {
        this.#checking = false;
        this.#checkedAt = Date.now();
      });
    return true;
  }
}

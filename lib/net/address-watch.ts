import { isIP } from "node:net";
import { resolveTargetAddresses } from "./egress";

/** At most one lookup per this long for one pool, however many failures call for one. */
export const ADDRESS_RECHECK_MS = 5_000;

/**
 * The address a pooled client dials, checked against DNS when its sessions fail in a way a move
 * would explain. A pool opens its sessions to the address resolved (and allowed by the egress
 * policy) when it opened, so after a DNS failover (RDS Multi-AZ, Aurora: the endpoint's name moves
 * to another host) its new sessions would still go to the old host for as long as invokes keep it
 * busy: refused, timed out, or (Aurora) a demoted instance refusing writes as read-only. The
 * connector calls `suspect()` on such a failure; the name is then resolved again in the background,
 * and once the answer no longer includes the address, `holds()` says so and the pool replaces the
 * client (which resolves afresh). Without a failure nothing is looked up: a reader endpoint that
 * answers with one instance at random is not a move. A failed lookup changes nothing.
 */
export class AddressWatch {
  #checkedAt = Number.NEGATIVE_INFINITY;
  #checking = false;
  #suspected = false;
  #moved = false;

  constructor(
    readonly hostname: string,
    readonly address: string,
    readonly recheckMs = ADDRESS_RECHECK_MS,
    readonly resolve: (hostname: string) => Promise<string[]> = resolveTargetAddresses,
  ) {}

  /** A session failed as it would if the name had moved elsewhere: look the name up again. */
  suspect(): void {
    if (isIP(this.hostname) !== 0 || this.#moved) return;
    this.#suspected = true;
    this.#check();
  }

  /** Whether the address is still one the name resolves to, as far as is known. */
  holds(): boolean {
    if (this.#suspected) this.#check();
    return !this.#moved;
  }

  #check() {
    if (this.#checking || Date.now() - this.#checkedAt < this.recheckMs) return;
    this.#checking = true;
    this.#suspected = false;
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
  }
}

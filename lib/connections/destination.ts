import type { Destination } from "@/lib/connectors/types";
import { caBundleAddsTrust } from "@/lib/stores/common-fields";

/**
 * How an edit changes where a connection's typed secrets go, in words ("to a new address", "without
 * TLS", "under a newly trusted CA"), or null if it does not. A kept typed secret follows only a
 * null: as with a store's secrets, a new address, dropped TLS or a CA that could vouch for an
 * interceptor needs the value entered again.
 */
export function destinationChange(was: Destination, now: Destination): string | null {
  const reasons = [
    was.address !== now.address ? "to a new address" : null,
    was.encrypted && !now.encrypted ? "without TLS" : null,
    caBundleAddsTrust(was.ca, now.ca) ? "under a newly trusted CA" : null,
  ].filter(Boolean);
  return reasons.length ? reasons.join(" or ") : null;
}

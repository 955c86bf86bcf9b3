// What steering reads from outside the load-balancer module, as small interfaces: endpoint health (from the
// monitors), resolved hostname endpoints, and GeoIP. The server wires the real stores in; `explain` and tests
// can pass their own.
import type { PoolConfig } from '../config/types';
import type { RData } from '../dns/wire/records';
import type { GeoLocation } from '../geo/geoip';
import type { IpAddr } from '../util/ip';

export interface HealthView {
  /** Changes whenever the health of any endpoint may have changed; pools cache what they derive from it. */
  readonly version: number;
  /** Health of each origin of `pool`, in config order (disabled origins: false). */
  originHealth(pool: PoolConfig): readonly boolean[];
  /** The pool's RTT EWMA in ms from its monitor probes, or null without data (read live, per query). */
  poolRtt(pool: PoolConfig): number | null;
}

export interface HostnameView {
  /** Changes whenever a resolved address set changes. */
  readonly version: number;
  /** Resolved addresses of a hostname endpoint as A/AAAA RDATA; null while unknown or unresolvable. */
  addresses(hostname: string, family: 4 | 6): readonly RData[] | null;
}

export interface GeoView {
  lookup(ip: IpAddr): GeoLocation | null;
}

/** Health as if every monitored endpoint were up (explain --health assume-up, and pools without monitors). */
export const assumeUpHealth: HealthView = {
  version: 0,
  originHealth: (pool) => pool.origins.map((o) => o.enabled),
  poolRtt: () => null,
};

export const noHostnames: HostnameView = {
  version: 0,
  addresses: () => null,
};

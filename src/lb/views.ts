// What steering reads from outside the load-balancer module, as small interfaces: endpoint health (from the
// monitors), resolved hostname endpoints, and GeoIP. The server wires the real stores in; `explain` and tests
// can pass their own.
import type { PoolConfig } from '../config/types';
import type { RData } from '../dns/wire/records';
import type { GeoLocation } from '../geo/geoip';
import type { IpAddr } from '../util/ip';

/** The judgement of one pool's health (health/pool-state.ts evaluatePool decides; steering only reads it). */
export interface PoolJudgement {
  /** Per origin in config order: up (disabled origins, and hostnames that do not resolve, are not). */
  readonly up: readonly boolean[];
  /** Enabled and enough healthy endpoints (minimum_origins). */
  readonly usable: boolean;
  readonly healthyCount: number;
}

export interface HealthView {
  /** Changes whenever the health of any endpoint may have changed; pools cache what they derive from it. */
  readonly version: number;
  /** The pool's health as the one judge sees it (hostname resolution included). */
  pool(pool: PoolConfig): PoolJudgement;
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

export const noHostnames: HostnameView = {
  version: 0,
  addresses: () => null,
};

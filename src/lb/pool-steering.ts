// Pool ("global") steering: one function per policy, each ordering or picking among the candidate pools
// (design §2.5). `usable` decides per pool (enabled, healthy, has an endpoint of the type, not shed).
import { distanceKm } from '../geo/distance';
import { PerLocation, type Location } from './location';
import type { Pool } from './pool';
import type { PoolVerdict } from './trace';

/** Checks one candidate for this query; returns 'chosen' when the pool can answer. */
export type UsableCheck = (pool: Pool) => PoolVerdict;

/** Off / failover (seed L7990-L8008): the first usable pool in order; failback is automatic. */
export function firstUsable(pools: readonly Pool[], usable: UsableCheck): Pool | null {
  for (const p of pools) if (usable(p) === 'chosen') return p;
  return null;
}

const scratch: Pool[] = [];
const scratchWeights: number[] = [];

/**
 * Random (seed L8012-L8014, [003:L466-L481]): probability ∝ pool weight among the usable pools, renormalised
 * over the ones left (T23). Also least_outstanding_requests / least_connections, whose counts are zero for
 * DNS-only load balancers (seed L7921). A pool that sheds this client is removed and the draw repeated.
 */
export function weightedPools<C>(pools: readonly Pool[], weightOf: (p: Pool) => number, usable: UsableCheck, noteZero: (p: Pool, ctx: C) => void, ctx: C): Pool | null {
  scratch.length = 0;
  scratchWeights.length = 0;
  for (const p of pools) {
    if (scratch.includes(p)) continue;
    const w = weightOf(p);
    if (w <= 0) {
      noteZero(p, ctx);
      continue;
    }
    scratch.push(p);
    scratchWeights.push(w);
  }
  while (scratch.length > 0) {
    let total = 0;
    for (const w of scratchWeights) total += w;
    let r = Math.random() * total;
    let i = 0;
    for (; i < scratch.length - 1; i++) {
      r -= scratchWeights[i];
      if (r < 0) break;
    }
    const p = scratch[i];
    if (usable(p) === 'chosen') return p;
    scratch.splice(i, 1);
    scratchWeights.splice(i, 1);
  }
  return null;
}

/**
 * Proximity (seed L7943-L7966): pools by great-circle distance from the client location to the pool's
 * coordinates; pools without coordinates after the others, in config order. Without a client location the
 * config order stands.
 */
// Great-circle distances cost ~2 µs each (geolib): the order is computed once per (location, pool list).
const proximityOrders = new PerLocation<readonly Pool[], Pool[]>();

export function byDistanceCached(pools: readonly Pool[], loc: Location): Pool[] {
  return proximityOrders.get(loc, pools) ?? proximityOrders.set(loc, pools, byDistance(pools, loc));
}

export function byDistance(pools: readonly Pool[], loc: Location | null): Pool[] {
  const out = pools.slice();
  if (!loc || loc.latitude === null || loc.longitude === null) return out;
  const lat = loc.latitude;
  const lon = loc.longitude;
  const dist = new Map<Pool, number>();
  for (const p of out) {
    const c = p.config;
    dist.set(p, c.latitude === null || c.longitude === null ? Infinity : distanceKm(lat, lon, c.latitude, c.longitude));
  }
  return stableSort(out, (a, b) => (dist.get(a) as number) - (dist.get(b) as number));
}

/**
 * Dynamic latency (seed L7693-L7712): pools by their RTT EWMA, lowest first; pools without RTT data after them
 * in failover order.
 */
export function byRtt(pools: readonly Pool[], rttOf: (p: Pool) => number | null): Pool[] {
  const rtt = new Map<Pool, number>();
  for (const p of pools) rtt.set(p, rttOf(p) ?? Infinity);
  return stableSort(pools.slice(), (a, b) => (rtt.get(a) as number) - (rtt.get(b) as number));
}

function stableSort<T>(arr: T[], cmp: (a: T, b: T) => number): T[] {
  // Array.prototype.sort is stable in V8; ties (Infinity vs Infinity) keep config order.
  return arr.sort((a, b) => {
    const d = cmp(a, b);
    return Number.isNaN(d) ? 0 : d;
  });
}

// Pool ("global") steering: one function per policy, each ordering or picking among the candidate pools
// (docs/decisions.md §1.5). What a policy needs of the query being steered (is this pool usable for it, a pool's weight or
// RTT, scratch for the draw) comes in as a SteeringQuery, so a policy is a plain function, testable alone.
import { distanceKm } from '../geo/distance';
import { PerLocation, type Location } from './location';
import type { Pool } from './pool';
import type { Steering } from './steering';
import type { PoolVerdict, Trace } from './trace';

/** The query being steered, as the policies see it. */
export interface SteeringQuery {
  /** Checks one candidate for this query (enabled, healthy, an endpoint of the type, not shed): 'chosen' when it can answer. */
  usable(pool: Pool): PoolVerdict;
  /** The pool's `random_steering` weight in the steering in force. */
  weight(pool: Pool): number;
  /** The pool's RTT EWMA in ms, null without data. */
  rtt(pool: Pool): number | null;
  /** The explain trace, when one is being recorded. */
  readonly trace: Trace | undefined;
  /** Scratch for the weighted draw (reused from query to query). */
  readonly drawPools: Pool[];
  readonly drawWeights: number[];
}

/**
 * Off / failover: the first usable pool in order; failback is automatic.
 * https://developers.cloudflare.com/load-balancing/understand-basics/traffic-steering/steering-policies/standard-options/ ("Off - Failover")
 */
export function failover(pools: readonly Pool[], q: SteeringQuery): Pool | null {
  for (const p of pools) if (q.usable(p) === 'chosen') return p;
  return null;
}

/**
 * Random: probability ∝ pool weight among the usable pools, renormalised over the ones left. Also
 * least_outstanding_requests / least_connections, whose counts are zero for DNS-only load balancers (they "revert
 * to random weighted steering"). A pool that cannot take this client is removed and the draw repeated.
 * https://developers.cloudflare.com/load-balancing/understand-basics/traffic-steering/steering-policies/standard-options/ ("Random")
 */
export function weightedRandom(pools: readonly Pool[], q: SteeringQuery): Pool | null {
  const drawn = q.drawPools;
  const weights = q.drawWeights;
  while (drawn.length > 0) drawn.pop();
  while (weights.length > 0) weights.pop();
  for (const p of pools) {
    if (drawn.includes(p)) continue;
    const w = q.weight(p);
    if (w <= 0) {
      if (q.trace) q.trace.candidates.push({ pool: p.name, verdict: 'weight 0', detail: 'random_steering weight is 0' });
      continue;
    }
    drawn.push(p);
    weights.push(w);
  }
  while (drawn.length > 0) {
    let total = 0;
    for (const w of weights) total += w;
    let r = Math.random() * total;
    let i = 0;
    for (; i < drawn.length - 1; i++) {
      r -= weights[i];
      if (r < 0) break;
    }
    const p = drawn[i];
    if (q.usable(p) === 'chosen') return p;
    drawn.splice(i, 1);
    weights.splice(i, 1);
  }
  return null;
}

/** Geo candidate lists by location object (a shared GeoIP result or the PoP) and steering object. */
const geoAreas = new PerLocation<Steering, Pool[]>();

/**
 * Geo: the candidate list of the most specific area that has one — this PoP's `pop_pools`, then the client's
 * subdivision and country in `country_pools`, then its region in `region_pools`, else `default_pools` — tried in
 * failover order. An area list whose pools are all unusable goes to the fallback pool, not on to default_pools.
 * https://developers.cloudflare.com/load-balancing/understand-basics/traffic-steering/steering-policies/geo-steering/
 */
export function geo(s: Steering, loc: Location, popCode: string, q: SteeringQuery): Pool | null {
  // The list depends only on the location and the steering in force (explain records which list it was).
  const area = q.trace ? geoArea(s, loc, popCode, q.trace) : geoAreas.get(loc, s) ?? geoAreas.set(loc, s, geoArea(s, loc, popCode, undefined));
  return failover(area, q);
}

function geoArea(s: Steering, loc: Location, pop: string, trace: Trace | undefined): Pool[] {
  let list = s.popPools.get(pop);
  if (list) {
    if (trace) trace.candidateSource = `pop_pools.${pop}`;
    return list;
  }
  if (loc.country) {
    if (loc.subdivision) {
      list = s.countryPools.get(`${loc.country}-${loc.subdivision}`);
      if (list) {
        if (trace) trace.candidateSource = `country_pools.${loc.country}-${loc.subdivision}`;
        return list;
      }
    }
    list = s.countryPools.get(loc.country);
    if (list) {
      if (trace) trace.candidateSource = `country_pools.${loc.country}`;
      return list;
    }
  }
  if (loc.region) {
    list = s.regionPools.get(loc.region);
    if (list) {
      if (trace) trace.candidateSource = `region_pools.${loc.region}`;
      return list;
    }
  }
  if (trace) trace.candidateSource = 'default_pools (no geo mapping for this location)';
  return s.defaultPools;
}

// Great-circle distances cost ~2 µs each (geolib): the order is computed once per (location, pool list).
const proximityOrders = new PerLocation<readonly Pool[], Pool[]>();

/**
 * Proximity: pools by great-circle distance from the client location to the pool's coordinates, nearest first;
 * pools without coordinates after the others, in config order.
 * https://developers.cloudflare.com/load-balancing/understand-basics/traffic-steering/steering-policies/proximity-steering/
 */
export function proximity(pools: readonly Pool[], loc: Location, q: SteeringQuery): Pool | null {
  const ordered = proximityOrders.get(loc, pools) ?? proximityOrders.set(loc, pools, byDistance(pools, loc));
  return failover(ordered, q);
}

/** `pools` ordered by distance from `loc` (config order without a client location). */
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
 * Dynamic latency: pools by their monitors' RTT EWMA, lowest first; pools without RTT data after them in failover
 * order.
 * https://developers.cloudflare.com/load-balancing/understand-basics/traffic-steering/steering-policies/dynamic-steering/
 */
export function dynamicLatency(pools: readonly Pool[], q: SteeringQuery): Pool | null {
  return failover(byRtt(pools, (p) => q.rtt(p)), q);
}

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

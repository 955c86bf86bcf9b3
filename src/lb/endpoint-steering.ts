// Endpoint ("local") steering and the answer shape (https://developers.cloudflare.com/load-balancing/understand-basics/traffic-steering/origin-level-steering/; DNS-only answer shape: https://developers.cloudflare.com/reference-architecture/architectures/load-balancing/): when every enabled endpoint
// of the pool has the same weight the answer carries all eligible endpoints, rotated per query; otherwise one
// endpoint, by weighted random or by weighted rendezvous hashing on the client key.
import { RRType } from '../dns/wire/constants';
import type { RData } from '../dns/wire/records';
import { fmix32 } from '../util/ip';
import type { Endpoint, Pool } from './pool';
import type { HostnameView } from './views';

/**
 * Appends to `out` what `pool` answers for `qtype` and returns how many records it added (0: the pool has no
 * eligible endpoint for this type). `clientHash` is read only for hash steering; `chosen`, when given (explain),
 * receives the endpoints in answer order. When `cell` ≥ 0 (a counted answer), the answer cell of each endpoint
 * added is incremented: `cells[cell + endpoint.cellOffset]` (stats.ts CellBlock).
 */
export function chooseEndpoints(
  pool: Pool,
  qtype: number,
  ignoreHealth: boolean,
  clientHash: () => number,
  hostnames: HostnameView,
  out: RData[],
  chosen: Endpoint[] | null,
  cells: Float64Array,
  cell: number,
): number {
  const before = out.length;
  const list = pool.eligibleFor(qtype, ignoreHealth);
  const n = list.length;
  if (n === 0) return 0;
  const dedupe = pool.hasHostnames;
  if (pool.equalWeights) {
    const start = pool.rotation++ % n;
    if (pool.rotation > 0x3fffffff) pool.rotation = 0;
    for (let i = 0; i < n; i++) {
      const e = list[(start + i) % n];
      appendRData(e, qtype, hostnames, out, dedupe);
      if (cell >= 0) cells[cell + e.cellOffset]++;
      if (chosen) chosen.push(e);
    }
  } else {
    let e: Endpoint;
    switch (pool.config.origin_steering.policy) {
      case 'hash':
        e = rendezvous(list, clientHash());
        break;
      default:
        // random, and least_outstanding_requests / least_connections, whose counts are always zero for
        // DNS-only load balancers (https://developers.cloudflare.com/load-balancing/understand-basics/traffic-steering/origin-level-steering/least-outstanding-requests-pools/): weighted random.
        e = weightedRandom(list);
    }
    appendRData(e, qtype, hostnames, out, dedupe);
    if (cell >= 0) cells[cell + e.cellOffset]++;
    if (chosen) chosen.push(e);
  }
  return out.length - before;
}

/** Appends the records endpoint `e` answers `qtype` with (its address, MX or SRV, or a hostname's addresses). */
export function appendRData(e: Endpoint, qtype: number, hostnames: HostnameView, out: RData[], dedupe: boolean): void {
  if (qtype === RRType.MX) {
    if (e.mx) out.push(e.mx);
    return;
  }
  if (qtype === RRType.SRV) {
    if (e.srv) out.push(e.srv);
    return;
  }
  if (e.rdata) {
    // Address endpoints of one pool are distinct (config check); only hostnames can repeat an address.
    if (dedupe) pushAddress(out, e.rdata);
    else out.push(e.rdata);
    return;
  }
  // A hostname endpoint answers with its resolved addresses, never a CNAME (docs/decisions.md §1.6).
  const addrs = hostnames.addresses(e.config.address, qtype === RRType.AAAA ? 6 : 4);
  if (addrs) for (const a of addrs) pushAddress(out, a);
}

/** Adds an A/AAAA RDATA unless the same address is already there (two hostnames, or a hostname and an IP endpoint, may share one): no duplicate RRs in an RRset (RFC 2181 §5). */
function pushAddress(out: RData[], a: RData): void {
  for (const r of out) if (r === a || r.head.equals(a.head)) return;
  out.push(a);
}

export function weightedRandom<T extends { weight: number }>(list: readonly T[]): T {
  let total = 0;
  for (const e of list) total += e.weight;
  let r = Math.random() * total;
  for (const e of list) {
    r -= e.weight;
    if (r < 0) return e;
  }
  return list[list.length - 1];
}

/**
 * Weighted rendezvous (highest random weight) hashing: each endpoint scores w / -ln(u) with u uniform from the
 * hash of (client, endpoint); the best score wins. A client stays on its endpoint, and when an endpoint leaves
 * only the clients that were on it move (https://developers.cloudflare.com/load-balancing/understand-basics/traffic-steering/origin-level-steering/hash-origin-steering/).
 */
export function rendezvous(list: readonly Endpoint[], clientHash: number): Endpoint {
  let best = list[0];
  let bestScore = -Infinity;
  for (const e of list) {
    const u = (fmix32(clientHash ^ e.seed) + 0.5) / 4294967296;
    const score = e.weight / -Math.log(u);
    if (score > bestScore) {
      bestScore = score;
      best = e;
    }
  }
  return best;
}

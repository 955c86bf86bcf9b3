// Per-query counters kept as plain numbers on the query path (an array index and an increment); the Prometheus
// exposition reads them at scrape time. Label lookups in a metrics library would cost more than the answer.
import { SIGNING_COUNTERS } from '../dns/context';
import { Rcode, RRType } from '../dns/wire/constants';

export const TRANSPORTS = ['udp', 'tcp'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export const QTYPE_LABELS = ['A', 'AAAA', 'CNAME', 'MX', 'SRV', 'TXT', 'CAA', 'NS', 'PTR', 'SOA', 'ANY', 'HTTPS', 'other'] as const;
// Counter index by QTYPE (every labelled type is below 256); a typed-array read, not a Map lookup per query.
const QTYPE_INDEX = new Uint8Array(256).fill(QTYPE_LABELS.length - 1);
[RRType.A, RRType.AAAA, RRType.CNAME, RRType.MX, RRType.SRV, RRType.TXT, RRType.CAA, RRType.NS, RRType.PTR, RRType.SOA, RRType.ANY, 65]
  .forEach((t, i) => (QTYPE_INDEX[t] = i));

export const RCODE_LABELS = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'BADVERS', 'other'] as const;
function rcodeIndex(rcode: number): number {
  if (rcode <= Rcode.REFUSED) return rcode;
  return rcode === Rcode.BADVERS ? 6 : 7;
}

/** Upper bounds (seconds) of the answer-latency histogram: the time spent inside the server per query. */
export const LATENCY_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01] as const;

export class QueryStats {
  /** [transport][rcode][qtype] flattened. */
  readonly queries = new Float64Array(TRANSPORTS.length * RCODE_LABELS.length * QTYPE_LABELS.length);
  readonly truncated = new Float64Array(TRANSPORTS.length);
  readonly dropped = new Map<string, number>();
  readonly tcpRejected = new Map<string, number>();
  readonly latencyBuckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  latencySum = 0;
  latencyCount = 0;
  /** DNSSEC signing counters by SigningCounter (the query context of the data plane adds to this array). */
  readonly signing = new Float64Array(SIGNING_COUNTERS);

  /** `seconds` < 0: the query was not timed. */
  record(transport: Transport, rcode: number, qtype: number, truncated: boolean, seconds: number): void {
    const t = transport === 'udp' ? 0 : 1;
    const q = qtype < 256 ? QTYPE_INDEX[qtype] : QTYPE_LABELS.length - 1;
    this.queries[(t * RCODE_LABELS.length + rcodeIndex(rcode)) * QTYPE_LABELS.length + q]++;
    if (truncated) this.truncated[t]++;
    if (seconds < 0) return; // not timed (the histogram samples queries)
    let b = 0;
    while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]) b++;
    this.latencyBuckets[b]++;
    this.latencySum += seconds;
    this.latencyCount++;
  }

  drop(transport: Transport, reason: string): void {
    const k = `${transport}|${reason}`;
    this.dropped.set(k, (this.dropped.get(k) ?? 0) + 1);
  }

  reject(reason: string): void {
    this.tcpRejected.set(reason, (this.tcpRejected.get(reason) ?? 0) + 1);
  }

  /** Visits every non-zero query counter. */
  forEachQuery(fn: (transport: Transport, rcode: string, qtype: string, n: number) => void): void {
    for (let t = 0; t < TRANSPORTS.length; t++) {
      for (let r = 0; r < RCODE_LABELS.length; r++) {
        for (let q = 0; q < QTYPE_LABELS.length; q++) {
          const n = this.queries[(t * RCODE_LABELS.length + r) * QTYPE_LABELS.length + q];
          if (n > 0) fn(TRANSPORTS[t], RCODE_LABELS[r], QTYPE_LABELS[q], n);
        }
      }
    }
  }

  /** The counters as plain data (cluster workers send them to the primary). */
  snapshot(): QueryStatsSnapshot {
    return {
      queries: Array.from(this.queries),
      truncated: Array.from(this.truncated),
      dropped: [...this.dropped],
      tcpRejected: [...this.tcpRejected],
      latencyBuckets: Array.from(this.latencyBuckets),
      latencySum: this.latencySum,
      latencyCount: this.latencyCount,
      signing: Array.from(this.signing),
    };
  }

  /** Adds another instance's counters to these. */
  add(s: QueryStatsSnapshot): void {
    addInto(this.queries, s.queries);
    addInto(this.truncated, s.truncated);
    for (const [k, n] of s.dropped) this.dropped.set(k, (this.dropped.get(k) ?? 0) + n);
    for (const [k, n] of s.tcpRejected) this.tcpRejected.set(k, (this.tcpRejected.get(k) ?? 0) + n);
    addInto(this.latencyBuckets, s.latencyBuckets);
    this.latencySum += s.latencySum;
    this.latencyCount += s.latencyCount;
    if (Array.isArray(s.signing)) addInto(this.signing, s.signing);
  }

  get total(): number {
    let n = 0;
    for (const v of this.queries) n += v;
    return n;
  }
}

export interface QueryStatsSnapshot {
  queries: number[];
  truncated: number[];
  dropped: [string, number][];
  tcpRejected: [string, number][];
  latencyBuckets: number[];
  latencySum: number;
  latencyCount: number;
  /** Absent from workers of an older build. */
  signing?: number[];
}

function addInto(into: Float64Array, from: readonly number[]): void {
  const n = Math.min(into.length, from.length);
  for (let i = 0; i < n; i++) into[i] += from[i];
}

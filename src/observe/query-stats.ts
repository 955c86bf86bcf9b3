// Per-query counters kept as plain numbers on the query path (an array index and an increment); the Prometheus
// exposition reads them at scrape time. Label lookups in a metrics library would cost more than the answer.
import { COOKIE_STATUS_LABELS } from '../dns/cookies';
import { SIGNING_COUNTERS } from '../dns/context';
import { RRL_KIND_LABELS, RrlAction } from '../dns/rrl';
import { Rcode } from '../dns/wire/constants';
import { RECORD_TYPES } from '../dns/wire/rrtypes';

export const TRANSPORTS = ['udp', 'tcp'] as const;
export type Transport = (typeof TRANSPORTS)[number];

// The types with a label of their own come from the record-type table; every other type counts as "other".
const LABELLED = RECORD_TYPES.filter((t) => t.metric === true);
export const QTYPE_LABELS: readonly string[] = [...LABELLED.map((t) => t.name), 'other'];
// Counter index by QTYPE (65536 entries: one typed-array read per query, not a Map lookup).
const QTYPE_INDEX = new Uint8Array(65536).fill(QTYPE_LABELS.length - 1);
LABELLED.forEach((t, i) => (QTYPE_INDEX[t.code] = i));

export const RCODE_LABELS = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'BADVERS', 'NOTAUTH', 'BADCOOKIE', 'other'] as const;
function rcodeIndex(rcode: number): number {
  if (rcode <= Rcode.REFUSED) return rcode;
  if (rcode === Rcode.BADVERS) return 6;
  if (rcode === Rcode.NOTAUTH) return 7;
  return rcode === Rcode.BADCOOKIE ? 8 : 9;
}

/**
 * Per response kind, what rate limiting did: limited (over the limit, whatever happened next; in log_only mode
 * the responses that would have been limited), dropped, slipped as TC=1, slipped as BADCOOKIE.
 */
export const RRL_COUNTER_LABELS = ['limited', 'dropped', 'slipped_truncated', 'slipped_badcookie'] as const;

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
  /** [RrlKind][RRL_COUNTER_LABELS] flattened. */
  readonly rrl = new Float64Array(RRL_KIND_LABELS.length * RRL_COUNTER_LABELS.length);
  /** Requests by CookieStatus. */
  readonly cookies = new Float64Array(COOKIE_STATUS_LABELS.length);
  /** DNSSEC signing counters by SigningCounter (the query context of the data plane adds to this array). */
  readonly signing = new Float64Array(SIGNING_COUNTERS);

  /** `seconds` < 0: the query was not timed. */
  record(transport: Transport, rcode: number, qtype: number, truncated: boolean, seconds: number): void {
    const t = transport === 'udp' ? 0 : 1;
    const q = QTYPE_INDEX[qtype & 0xffff];
    this.queries[(t * RCODE_LABELS.length + rcodeIndex(rcode)) * QTYPE_LABELS.length + q]++;
    if (truncated) this.truncated[t]++;
    if (seconds < 0) return; // not timed (the histogram samples queries)
    let b = 0;
    while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]) b++;
    this.latencyBuckets[b]++;
    this.latencySum += seconds;
    this.latencyCount++;
  }

  /** What cookies and rate limiting made of a query (called only when one of them did something). */
  guard(cookie: number, rrlKind: number, rrlAction: number, rcode: number): void {
    if (cookie !== 0) this.cookies[cookie]++;
    if (rrlAction === RrlAction.Ok) return;
    const at = rrlKind * RRL_COUNTER_LABELS.length;
    this.rrl[at]++;
    if (rrlAction === RrlAction.Drop) this.rrl[at + 1]++;
    else if (rrlAction === RrlAction.Slip) this.rrl[at + (rcode === Rcode.BADCOOKIE ? 3 : 2)]++;
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
      rrl: Array.from(this.rrl),
      cookies: Array.from(this.cookies),
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
    addInto(this.rrl, s.rrl);
    addInto(this.cookies, s.cookies);
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
  rrl: number[];
  cookies: number[];
  /** Absent from workers of an older build. */
  signing?: number[];
}

function addInto(into: Float64Array, from: readonly number[]): void {
  const n = Math.min(into.length, from.length);
  for (let i = 0; i < n; i++) into[i] += from[i];
}

// Everything one query needs while it is being answered, made once per data plane and reused for every query: the
// decoded query, the message being built, who asked, the authority's and the encoder's working memory, and what
// the query came to (for metrics). Passing it down the query path, instead of module-level scratch, makes the engine
// re-entrant: two contexts (a server and an `explain`, two listeners in a test) answer independently.
import { Answering } from './authority';
import { ClientInfo } from './dynamic';
import { emptyQuery, type Query } from './wire/decode';
import { Encoder, type EncodeOptions } from './wire/encode';
import { Message } from './wire/records';

/** Per-query observations for metrics and query logs. */
export interface QueryOutcome {
  status: 'answered' | 'dropped';
  rcode: number;
  qtype: number;
  qname: string;
  truncated: boolean;
  problem: string;
}

/** What the signing step counts (QueryContext.signingStats). */
export const enum SigningCounter {
  /** RRsets whose signatures came from the cache. */
  Hits = 0,
  /** RRsets looked up and not found fresh. */
  Misses = 1,
  /** Signatures made on the query path (a miss signs synchronously). */
  Signatures = 2,
  /** Signatures made ahead, off the query path. */
  Background = 3,
  /** Cache entries evicted to make room. */
  Evictions = 4,
}
export const SIGNING_COUNTERS = 5;

export class QueryContext {
  readonly query: Query = emptyQuery();
  readonly msg = new Message();
  readonly client = new ClientInfo('', null, 'udp');
  readonly answering = new Answering(this.msg, this.client);
  readonly encoder = new Encoder();
  readonly encodeOptions: EncodeOptions = { limit: 0, ednsUdpSize: 0, nsid: null, prefix: 0 };
  /** What the last query handled in this context came to. */
  readonly outcome: QueryOutcome = { status: 'dropped', rcode: 0, qtype: 0, qname: '', truncated: false, problem: '' };
  /** The signing step's working memory, made by it on first use (opaque here, like ClientInfo.scratch). */
  signing: object | null = null;

  constructor(
    /** Signing counters by SigningCounter; the data plane passes its query stats' array so they add up there. */
    readonly signingStats: Float64Array = new Float64Array(SIGNING_COUNTERS),
  ) {}
}

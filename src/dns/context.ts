// Everything one query needs while it is being answered, made once per data plane and reused for every query: the
// decoded query, the message being built, who asked, the authority's and the encoder's working memory, and what
// the query came to (for metrics). Passing it down the query path, instead of module-level scratch, makes the engine
// re-entrant: two contexts (a server and an `explain`, two listeners in a test) answer independently.
//
// What protects the server from abuse is per data plane too, and so lives here: the response rate limiter and the
// server cookie secrets (null when the config turns them off), and the coarse clock both read, which the data plane
// advances a few times a second so that no query reads the system clock.
import { Answering } from './authority';
import { clockNow } from './clock';
import type { CookieStatus, ServerCookies } from './cookies';
import { ClientInfo } from './dynamic';
import type { RateLimiter, RrlAction, RrlKind } from './rrl';
import { emptyQuery, type Query } from './wire/decode';
import { Encoder, type EncodeOptions } from './wire/encode';
import { Message } from './wire/records';

/** Per-query observations for metrics and query logs. */
export interface QueryOutcome {
  /** 'limited': response rate limiting dropped the answer. */
  status: 'answered' | 'dropped' | 'limited';
  rcode: number;
  qtype: number;
  qname: string;
  truncated: boolean;
  problem: string;
  /** What the query's COOKIE option came to (CookieStatus.None without one, or with cookies off). */
  cookie: CookieStatus;
  /** The rate limiter's verdict on this UDP response (RrlAction.Ok when not limited or not accounted)… */
  rrl: RrlAction;
  /** …and the kind of response it accounted (RrlKind.None when it did not). */
  rrlKind: RrlKind;
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
  readonly encodeOptions: EncodeOptions = { limit: 0, ednsUdpSize: 0, nsid: null, prefix: 0, now: 0 };
  /** What the last query handled in this context came to. */
  readonly outcome: QueryOutcome = { status: 'dropped', rcode: 0, qtype: 0, qname: '', truncated: false, problem: '', cookie: 0, rrl: 0, rrlKind: 0 };
  /** Response rate limiting of UDP answers; null = off. */
  rrl: RateLimiter | null = null;
  /** DNS Cookies (RFC 7873/9018); null = off (COOKIE options are ignored). */
  cookies: ServerCookies | null = null;
  /** The coarse clock (clock.ts: whole seconds since 2020) as of its owner's last tick. */
  now = clockNow();
  /** The signing step's working memory, made by it on first use (opaque here, like ClientInfo.scratch). */
  signing: object | null = null;

  /**
   * Lets go of the runtime that answered the last query: the zone and node it found, its records, and the working
   * memory of the load balancers and the signer (made again on first use). The data plane calls it when a reload
   * swaps the runtime; without it an idle server keeps the previous config and runtime alive (about 85 MB for
   * 10,000 load balancers) until its next query.
   */
  forget(): void {
    this.msg.forget();
    this.answering.forget();
    this.client.scratch = null;
    this.signing = null;
  }

  constructor(
    /** Signing counters by SigningCounter; the data plane passes its query stats' array so they add up there. */
    readonly signingStats: Float64Array = new Float64Array(SIGNING_COUNTERS),
  ) {}
}

// Counters of steering decisions per load balancer, pool and endpoint, kept across reloads (Prometheus counters
// must not reset when the config changes), and the answer cells the analytics time series are made from.
//
// The query path only increments numbers: the per-LB counters, and one cell of a flat Float64Array per answer
// (the pool) and per endpoint it carried, each split by client region. Everything else happens beside it: a timer
// drains the cells at every 10-second boundary into per-bucket deltas (which the control plane turns into time
// series, observe/analytics.ts) and into the cumulative per-pool and per-endpoint totals the metrics read.
import { REGION_CODES } from '../geo/regions';

/** Analytics bucket: the cells are drained at every multiple of this many ms of wall-clock time. */
export const BUCKET_MS = 10_000;

/** Client regions answers are counted by: the 13 Cloudflare regions, then "unknown" (the answer located no one). */
export const ANALYTICS_REGIONS: readonly string[] = Object.freeze([...REGION_CODES, 'unknown']);
/** Cells per slot (one per region). */
export const REGION_COUNT = ANALYTICS_REGIONS.length;
export const UNKNOWN_REGION = REGION_COUNT - 1;
const regionIndex = new Map<string, number>(REGION_CODES.map((r, i) => [r, i]));

/** The cell index of a region code ("unknown" for null or a code outside the list). */
export function regionIndexOf(region: string | null): number {
  return region === null ? UNKNOWN_REGION : (regionIndex.get(region) ?? UNKNOWN_REGION);
}

/** The start of the analytics bucket holding `ms`. */
export function bucketOf(ms: number): number {
  return ms - (ms % BUCKET_MS);
}

/**
 * The cells of one (load balancer, pool) pair in AnswerCells.counts, from `offset`: slot 0 counts answers from the
 * pool, slot 1 + i answers that carried endpoint i (the pool's `origins` order); each slot has REGION_COUNT cells.
 */
export class CellBlock {
  constructor(
    readonly lb: string,
    readonly pool: string,
    readonly endpoints: readonly string[],
    readonly offset: number,
  ) {}

  get size(): number {
    return (1 + this.endpoints.length) * REGION_COUNT;
  }
}

/** Answers counted in one drain, per block: [lb, pool, endpoints, cells as (index in block, count) pairs]. */
export type AnswerDeltaBlock = [string, string, string[], number[]];

/** What the cells counted while one bucket ran (or part of it): plain data, sent from cluster workers. */
export interface AnswerDelta {
  /** Bucket start, ms since the epoch (a multiple of BUCKET_MS). */
  bucket: number;
  blocks: AnswerDeltaBlock[];
}

const NO_COUNTS: ReadonlyMap<string, number> = new Map();
const NO_ENDPOINT_COUNTS: ReadonlyMap<string, ReadonlyMap<string, number>> = new Map();

export class LbCounters {
  /** Queries clients sent this load balancer (any outcome; ADDITIONAL-section and internal lookups excluded). */
  queries = 0;
  /** Answers from the fallback pool because no other pool was usable. */
  fallback = 0;
  /** NODATA + SOA: no usable pool and no fallback able to answer. */
  nodata = 0;
  // Made on the first answer counted: most of a big config's load balancers answer nothing for a long time.
  private poolCounts: Map<string, number> | null = null;
  private endpointCounts: Map<string, Map<string, number>> | null = null;

  /** Answers per pool name (filled from the cells when they are drained). */
  get pools(): ReadonlyMap<string, number> {
    return this.poolCounts ?? NO_COUNTS;
  }

  /** Answers that carried each endpoint: pool → endpoint → count (from the cells). */
  get endpoints(): ReadonlyMap<string, ReadonlyMap<string, number>> {
    return this.endpointCounts ?? NO_ENDPOINT_COUNTS;
  }

  addPool(pool: string, n: number): void {
    const m = (this.poolCounts ??= new Map());
    m.set(pool, (m.get(pool) ?? 0) + n);
  }

  addEndpoint(pool: string, endpoint: string, n: number): void {
    const byPool = (this.endpointCounts ??= new Map());
    let m = byPool.get(pool);
    if (!m) byPool.set(pool, (m = new Map()));
    m.set(endpoint, (m.get(endpoint) ?? 0) + n);
  }
}

/** Pending drained buckets kept for the control plane at most (an hour): older ones are dropped unread. */
const MAX_PENDING = 3600_000 / BUCKET_MS;

export class LbStatsRegistry {
  private readonly byName = new Map<string, LbCounters>();
  /** Live answer cells, incremented on the query path; see CellBlock. Replaced (copied) when it grows. */
  counts = new Float64Array(0);
  private readonly blocks: CellBlock[] = [];
  private readonly blockByKey = new Map<string, CellBlock>();
  /** The bucket the live cells are counting for. */
  private liveBucket = bucketOf(Date.now());
  private pending: AnswerDelta[] = [];
  private timer: NodeJS.Timeout | null = null;

  forLb(name: string): LbCounters {
    let c = this.byName.get(name);
    if (!c) {
      c = new LbCounters();
      this.byName.set(name, c);
    }
    return c;
  }

  /**
   * The cells of (lb, pool) with these endpoints, allocated on first use and shared by every runtime that has the
   * same pair with the same endpoints (a reload that changes nothing reuses them).
   */
  block(lb: string, pool: string, endpoints: readonly string[]): CellBlock {
    const key = `${lb}\u0000${pool}\u0000${endpoints.join('\u0000')}`;
    let b = this.blockByKey.get(key);
    if (b) return b;
    b = new CellBlock(lb, pool, [...endpoints], this.counts.length);
    const grown = new Float64Array(this.counts.length + b.size);
    grown.set(this.counts);
    this.counts = grown;
    this.blocks.push(b);
    this.blockByKey.set(key, b);
    return b;
  }

  /** Counters by load balancer (live: a status read every few seconds must not copy 10,000 entries). */
  get byLb(): ReadonlyMap<string, LbCounters> {
    return this.byName;
  }

  /**
   * Moves what the cells counted since the last drain into a pending delta (for the bucket they counted for) and
   * into the cumulative totals. Called at every bucket boundary by the rotation timer and before every read.
   */
  drain(now = Date.now()): void {
    const bucket = this.liveBucket;
    this.liveBucket = bucketOf(now);
    const counts = this.counts;
    const out: AnswerDeltaBlock[] = [];
    for (const b of this.blocks) {
      let cells: number[] | null = null;
      const c = this.forLb(b.lb);
      for (let slot = 0; slot <= b.endpoints.length; slot++) {
        let sum = 0;
        const base = b.offset + slot * REGION_COUNT;
        for (let r = 0; r < REGION_COUNT; r++) {
          const n = counts[base + r];
          if (n === 0) continue;
          counts[base + r] = 0;
          sum += n;
          (cells ??= []).push(slot * REGION_COUNT + r, n);
        }
        if (sum === 0) continue;
        if (slot === 0) c.addPool(b.pool, sum);
        else c.addEndpoint(b.pool, b.endpoints[slot - 1], sum);
      }
      if (cells) out.push([b.lb, b.pool, b.endpoints as string[], cells]);
    }
    if (out.length === 0) return;
    this.pending.push({ bucket, blocks: out });
    if (this.pending.length > MAX_PENDING) this.pending.splice(0, this.pending.length - MAX_PENDING);
  }

  /** Drains, then hands over (and forgets) every pending delta, oldest first. */
  takeDeltas(now = Date.now()): AnswerDelta[] {
    this.drain(now);
    const out = this.pending;
    this.pending = [];
    return out;
  }

  /** Drains at every bucket boundary, so that answers count in the bucket they were given in. */
  startRotation(): void {
    if (this.timer) return;
    const schedule = (): void => {
      const now = Date.now();
      this.timer = setTimeout(() => {
        this.drain();
        schedule();
      }, bucketOf(now) + BUCKET_MS - now + 1);
      this.timer.unref();
    };
    schedule();
  }

  stopRotation(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The counters as plain data (cluster workers send them to the primary), after a drain. */
  snapshot(): LbStatsSnapshot {
    this.drain();
    return [...this.byName].map(([name, c]) => [
      name,
      { queries: c.queries, fallback: c.fallback, nodata: c.nodata, pools: [...c.pools], endpoints: [...c.endpoints].map(([p, m]) => [p, [...m]]) },
    ]);
  }

  /** Adds another instance's counters to these. */
  add(s: LbStatsSnapshot): void {
    for (const [name, c] of s) {
      const t = this.forLb(name);
      t.queries += c.queries;
      t.fallback += c.fallback;
      t.nodata += c.nodata;
      for (const [p, n] of c.pools) t.addPool(p, n);
      for (const [p, list] of c.endpoints) for (const [e, n] of list) t.addEndpoint(p, e, n);
    }
  }
}

export type LbStatsSnapshot = [string, { queries: number; fallback: number; nodata: number; pools: [string, number][]; endpoints: [string, [string, number][]][] }][];

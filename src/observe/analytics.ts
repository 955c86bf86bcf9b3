// Load-balancing analytics in the control plane: what Cloudflare's Load Balancing Analytics shows (requests routed
// to each pool and endpoint over time, by region; pool health and latency over time), from the answer cells the data
// planes drain every 10 s (lb/stats.ts), in fixed memory.
// https://developers.cloudflare.com/load-balancing/reference/load-balancing-analytics/ ("Overview", "Latency")
//
// A series is one (load balancer, pool, endpoint, client region); endpoint null counts answers from the pool, an
// endpoint name counts answers that carried that endpoint (an equal-weight pool answers with all its eligible
// endpoints at once, so endpoint counts of a pool add up to more than its answers). Each series is one Uint32Array
// row holding three rings of buckets (TIERS): 10 s for the last hour, 1 min for 6 hours, 5 min for 24 hours. Every
// delta is added to all three, so each tier is complete for its span; a read takes the finest tier that covers it.
// Pools get rings of their health (the worst state sampled in the bucket) and mean RTT, sampled by the supervisor.
//
// Memory: ROW_SLOTS × 4 bytes per series (4,032 B), at most `maxSeries` series (default 16,384: 66 MB); a series
// with no answer for 24 h gives its row back. Answers for a series beyond the cap are counted in `dropped`.
import type { Config, PoolConfig } from '../config/types';
import { isMonitored } from '../health/targets';
import { ANALYTICS_REGIONS, BUCKET_MS, REGION_COUNT, type AnswerDelta } from '../lb/stats';
import type { Logger } from './log';
import { poolHealth, type StatusDeps } from './status';

export interface Tier {
  /** Bucket length, ms. */
  res: number;
  /** Buckets kept. */
  slots: number;
}

export const TIERS: readonly Tier[] = Object.freeze([
  { res: BUCKET_MS, slots: 360 }, // 1 h of 10-s buckets
  { res: 60_000, slots: 360 }, // 6 h of 1-min buckets
  { res: 300_000, slots: 288 }, // 24 h of 5-min buckets
]);

/** Where each tier's ring starts in a row. */
const TIER_OFFSET: readonly number[] = TIERS.map((_, i) => TIERS.slice(0, i).reduce((n, t) => n + t.slots, 0));
export const ROW_SLOTS = TIERS.reduce((n, t) => n + t.slots, 0);
/** The span of the coarsest tier: what the store remembers. */
export const RETENTION_MS = TIERS[TIERS.length - 1].res * TIERS[TIERS.length - 1].slots;
export const DEFAULT_MAX_SERIES = 16_384;
/** Points a read may return per series. */
export const MAX_POINTS = 2000;

/** Pool states in the health rings, worst last; 0 means no sample. */
const STATES = ['', 'healthy', 'unknown', 'degraded', 'critical', 'disabled'] as const;
export type SampledState = Exclude<(typeof STATES)[number], ''>;
const STATE_CODE = new Map<string, number>(STATES.map((s, i) => [s, i]));

export interface PoolSample {
  pool: string;
  state: SampledState;
  /** Average RTT EWMA of the pool's healthy endpoints, null without data. */
  rttMs: number | null;
}

export interface AnalyticsQuery {
  lb?: readonly string[];
  pool?: readonly string[];
  endpoint?: readonly string[];
  region?: readonly string[];
  /** ms since the epoch; since inclusive, until exclusive. */
  since: number;
  until: number;
  /** Point length, ms (a multiple of the tier's bucket); 0: the tier's bucket. */
  step: number;
  /** Dimensions to keep; the others are summed over. Without `endpoint`, only pool answers are read. */
  groupBy: readonly Dimension[];
}

export type Dimension = 'load_balancer' | 'pool' | 'endpoint' | 'region';
export const DIMENSIONS: readonly Dimension[] = ['load_balancer', 'pool', 'endpoint', 'region'];

export interface AnalyticsSeries {
  load_balancer?: string;
  pool?: string;
  endpoint?: string | null;
  region?: string;
  total: number;
  values: number[];
}

export interface AnalyticsResult {
  since: string;
  until: string;
  /** Seconds per point. */
  step: number;
  /** Start of each point, seconds since the epoch. */
  time: number[];
  series: AnalyticsSeries[];
  pools: { pool: string; state: (SampledState | null)[]; rtt_ms: (number | null)[] }[];
}

export class AnalyticsQueryError extends Error {}

/** A ring set per series or pool: the bucket each slot holds now, per tier. */
class Clock {
  readonly starts = TIERS.map((t) => new Float64Array(t.slots).fill(-1));
}

export class AnalyticsStore {
  /** New series beyond this many are not kept (server.analytics.max_series; lowering it drops nothing kept). */
  maxSeries: number;
  private readonly keys = new Map<string, number>();
  private readonly lb: string[] = [];
  private readonly pool: string[] = [];
  private readonly endpoint: (string | null)[] = [];
  private readonly region: number[] = [];
  private readonly rows: (Uint32Array | null)[] = [];
  private readonly lastSeen: number[] = [];
  private readonly free: number[] = [];
  private readonly clock = new Clock();
  private readonly pools = new Map<string, { state: Uint8Array; rttSum: Float32Array; rttN: Uint16Array; lastSeen: number }>();
  private readonly poolClock = new Clock();
  /** Answers not stored because the series cap was reached. */
  dropped = 0;
  /** Deltas refused as malformed or out of range (a bug or a hostile worker message). */
  rejected = 0;

  constructor(opts: { maxSeries?: number } = {}) {
    this.maxSeries = Math.max(0, opts.maxSeries ?? DEFAULT_MAX_SERIES);
  }

  get seriesCount(): number {
    return this.keys.size;
  }

  /** Bytes held by the rings (series and pools), for /api/status. */
  get bytes(): number {
    let n = 0;
    for (const r of this.rows) if (r) n += r.byteLength;
    n += this.pools.size * ROW_SLOTS * (1 + 4 + 2);
    return n;
  }

  /** Adds the answers the data planes drained. Malformed parts are skipped and counted in `rejected`. */
  ingest(deltas: readonly AnswerDelta[], now = Date.now()): void {
    for (const d of deltas) {
      if (!Number.isSafeInteger(d.bucket) || d.bucket % BUCKET_MS !== 0 || d.bucket > now + BUCKET_MS || d.bucket < now - RETENTION_MS) {
        this.rejected++;
        continue;
      }
      for (const [lb, pool, endpoints, cells] of d.blocks) {
        const size = (1 + endpoints.length) * REGION_COUNT;
        for (let i = 0; i + 1 < cells.length; i += 2) {
          const idx = cells[i];
          const n = cells[i + 1];
          if (!Number.isInteger(idx) || idx < 0 || idx >= size || !Number.isFinite(n) || n <= 0) {
            this.rejected++;
            continue;
          }
          const slot = Math.floor(idx / REGION_COUNT);
          const id = this.seriesId(lb, pool, slot === 0 ? null : endpoints[slot - 1], idx % REGION_COUNT);
          if (id < 0) {
            this.dropped += n;
            continue;
          }
          this.lastSeen[id] = Math.max(this.lastSeen[id], d.bucket);
          const row = this.rows[id] as Uint32Array;
          for (let t = 0; t < TIERS.length; t++) {
            const k = this.slotFor(this.clock, t, d.bucket, this.clearSeriesSlot);
            if (k >= 0) row[TIER_OFFSET[t] + k] += n;
          }
        }
      }
    }
  }

  /** Records each pool's health and RTT at `now` (the bucket keeps the worst state and the mean RTT). */
  samplePools(samples: readonly PoolSample[], now = Date.now()): void {
    for (const s of samples) {
      let p = this.pools.get(s.pool);
      if (!p) {
        p = { state: new Uint8Array(ROW_SLOTS), rttSum: new Float32Array(ROW_SLOTS), rttN: new Uint16Array(ROW_SLOTS), lastSeen: now };
        this.pools.set(s.pool, p);
      }
      p.lastSeen = now;
      const code = STATE_CODE.get(s.state) ?? 0;
      for (let t = 0; t < TIERS.length; t++) {
        const k = this.slotFor(this.poolClock, t, now - (now % TIERS[t].res), this.clearPoolSlot);
        if (k < 0) continue;
        const i = TIER_OFFSET[t] + k;
        if (code > p.state[i]) p.state[i] = code;
        if (s.rttMs !== null && p.rttN[i] < 65535) {
          p.rttSum[i] += s.rttMs;
          p.rttN[i]++;
        }
      }
    }
  }

  /** Gives back the rows of series and pools idle for the whole retention. */
  evict(now = Date.now()): void {
    const horizon = now - RETENTION_MS;
    for (const [key, id] of this.keys) {
      if (this.lastSeen[id] >= horizon) continue;
      this.keys.delete(key);
      this.rows[id] = null;
      this.free.push(id);
    }
    for (const [name, p] of this.pools) if (p.lastSeen < horizon) this.pools.delete(name);
  }

  /** The answers matching `q`, as series of points. Throws AnalyticsQueryError for a query it cannot answer. */
  query(q: AnalyticsQuery, now = Date.now()): AnalyticsResult {
    if (!(q.until > q.since)) throw new AnalyticsQueryError('until must be after since');
    const t = this.tierFor(q, now);
    const tier = TIERS[t];
    const step = q.step === 0 ? tier.res : q.step;
    const start = q.since - (q.since % step);
    const points = Math.ceil((q.until - start) / step);
    if (points > MAX_POINTS) throw new AnalyticsQueryError(`${points} points per series: more than ${MAX_POINTS}; use a larger step`);
    const time = Array.from({ length: points }, (_, i) => (start + i * step) / 1000);
    // Endpoint rows are read when endpoints are grouped or filtered; pool rows (endpoint null) unless filtered.
    const byEndpoint = q.groupBy.includes('endpoint');
    const endpointRows = byEndpoint || q.endpoint !== undefined;
    const poolRows = q.endpoint === undefined;
    const match = (list: readonly string[] | undefined, v: string | null) => list === undefined || (v !== null && list.includes(v));
    const groups = new Map<string, AnalyticsSeries>();
    for (const id of this.keys.values()) {
      const ep = this.endpoint[id];
      if (ep === null ? !poolRows : !endpointRows) continue;
      const region = ANALYTICS_REGIONS[this.region[id]];
      if (!match(q.lb, this.lb[id]) || !match(q.pool, this.pool[id]) || !match(q.region, region)) continue;
      if (ep !== null && !match(q.endpoint, ep)) continue;
      const labels: Omit<AnalyticsSeries, 'total' | 'values'> = {};
      if (q.groupBy.includes('load_balancer')) labels.load_balancer = this.lb[id];
      if (q.groupBy.includes('pool')) labels.pool = this.pool[id];
      if (byEndpoint) labels.endpoint = ep;
      if (q.groupBy.includes('region')) labels.region = region;
      const key = JSON.stringify(labels);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { ...labels, total: 0, values: new Array<number>(points).fill(0) }));
      this.readInto(this.clock, this.rows[id] as Uint32Array, t, start, q.until, step, g);
    }
    const series = [...groups.values()].filter((g) => g.total > 0).sort((a, b) => b.total - a.total);
    const pools: AnalyticsResult['pools'] = [];
    for (const [name, p] of this.pools) {
      if (q.pool !== undefined && !q.pool.includes(name)) continue;
      pools.push({ pool: name, ...this.readPool(p, t, start, q.until, step, points) });
    }
    pools.sort((a, b) => a.pool.localeCompare(b.pool));
    return { since: new Date(start).toISOString(), until: new Date(q.until).toISOString(), step: step / 1000, time, series, pools };
  }

  /** The finest tier that still holds `since` and whose bucket divides the step. */
  private tierFor(q: AnalyticsQuery, now: number): number {
    for (let t = 0; t < TIERS.length; t++) {
      const tier = TIERS[t];
      // "The last hour" is this tier's span even though its oldest bucket has partly moved out of the ring.
      if (q.since < now - tier.slots * tier.res) continue;
      if (q.step !== 0 && q.step % tier.res !== 0) continue;
      return t;
    }
    if (q.since < now - RETENTION_MS) throw new AnalyticsQueryError(`since is more than ${RETENTION_MS / 3600_000} h ago: analytics are kept ${RETENTION_MS / 3600_000} h`);
    throw new AnalyticsQueryError(`step must be a multiple of ${TIERS.map((x) => `${x.res / 1000} s`).join(', ')} (the bucket that holds since)`);
  }

  private readInto(clock: Clock, row: Uint32Array, t: number, start: number, until: number, step: number, g: AnalyticsSeries): void {
    const tier = TIERS[t];
    const starts = clock.starts[t];
    for (let b = start; b < until; b += tier.res) {
      const k = (b / tier.res) % tier.slots;
      if (starts[k] !== b) continue;
      const n = row[TIER_OFFSET[t] + k];
      if (n === 0) continue;
      g.values[Math.floor((b - start) / step)] += n;
      g.total += n;
    }
  }

  private readPool(p: { state: Uint8Array; rttSum: Float32Array; rttN: Uint16Array }, t: number, start: number, until: number, step: number, points: number): { state: (SampledState | null)[]; rtt_ms: (number | null)[] } {
    const tier = TIERS[t];
    const starts = this.poolClock.starts[t];
    const worst = new Array<number>(points).fill(0);
    const sum = new Array<number>(points).fill(0);
    const n = new Array<number>(points).fill(0);
    for (let b = start; b < until; b += tier.res) {
      const k = (b / tier.res) % tier.slots;
      if (starts[k] !== b) continue;
      const i = TIER_OFFSET[t] + k;
      const at = Math.floor((b - start) / step);
      if (p.state[i] > worst[at]) worst[at] = p.state[i];
      sum[at] += p.rttSum[i];
      n[at] += p.rttN[i];
    }
    return {
      state: worst.map((c) => (c === 0 ? null : (STATES[c] as SampledState))),
      rtt_ms: sum.map((s, i) => (n[i] === 0 ? null : Math.round((s / n[i]) * 100) / 100)),
    };
  }

  /**
   * The slot of `bucket` in tier `t`, clearing it first when it still holds an older bucket; -1 when the slot
   * already moved on to a newer one (`bucket` fell out of this tier).
   */
  private slotFor(clock: Clock, t: number, bucket: number, clear: (t: number, k: number) => void): number {
    const tier = TIERS[t];
    const b = bucket - (bucket % tier.res);
    const k = (b / tier.res) % tier.slots;
    const starts = clock.starts[t];
    if (starts[k] === b) return k;
    if (starts[k] > b) return -1;
    clear(t, k);
    starts[k] = b;
    return k;
  }

  private readonly clearSeriesSlot = (t: number, k: number): void => {
    const i = TIER_OFFSET[t] + k;
    for (const row of this.rows) if (row) row[i] = 0;
  };

  private readonly clearPoolSlot = (t: number, k: number): void => {
    const i = TIER_OFFSET[t] + k;
    for (const p of this.pools.values()) {
      p.state[i] = 0;
      p.rttSum[i] = 0;
      p.rttN[i] = 0;
    }
  };

  /** The id of a series, made on first use; -1 when the cap is reached. */
  private seriesId(lb: string, pool: string, endpoint: string | null, region: number): number {
    const key = `${lb}\u0000${pool}\u0000${endpoint ?? ''}\u0000${endpoint === null ? 0 : 1}\u0000${region}`;
    const known = this.keys.get(key);
    if (known !== undefined) return known;
    if (this.keys.size >= this.maxSeries) return -1;
    const id = this.free.pop() ?? this.rows.length;
    this.keys.set(key, id);
    this.lb[id] = lb;
    this.pool[id] = pool;
    this.endpoint[id] = endpoint;
    this.region[id] = region;
    this.rows[id] = new Uint32Array(ROW_SLOTS);
    this.lastSeen[id] = 0;
    return id;
  }
}

// ---- the HTTP query ------------------------------------------------------------------------------------------

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86400_000 };

/**
 * A time parameter: ISO 8601, seconds since the epoch, or relative to now as a negative number of minutes
 * ("-60", as in Cloudflare's analytics API) or with a unit ("-15m", "-1h", "-30s").
 */
function parseTime(name: string, v: string, now: number): number {
  const rel = /^-(\d{1,9})([smhd]?)$/.exec(v);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2] || 'm'];
  if (/^\d{1,12}$/.test(v)) return Number(v) * 1000;
  if (/^\d{4}-\d{2}-\d{2}T/.test(v)) {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return t;
  }
  throw new AnalyticsQueryError(`${name}: ${JSON.stringify(v)} is not a time (ISO 8601, seconds since the epoch, or relative like -60 (minutes), -15m, -1h)`);
}

function list(params: URLSearchParams, name: string): string[] | undefined {
  const all = params.getAll(name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  return all.length === 0 ? undefined : all;
}

/** The query of GET /api/analytics: lb, pool, endpoint, region (comma lists), since, until, step, group_by. */
export function parseAnalyticsQuery(params: URLSearchParams, now = Date.now()): AnalyticsQuery {
  const since = params.get('since');
  const until = params.get('until');
  const step = params.get('step');
  let stepMs = 0;
  if (step !== null && step !== '') {
    const m = /^(\d{1,7})([smh]?)$/.exec(step);
    if (!m || Number(m[1]) === 0) throw new AnalyticsQueryError(`step: ${JSON.stringify(step)} is not a duration (seconds, or with a unit: 10s, 5m, 1h)`);
    stepMs = Number(m[1]) * UNIT_MS[m[2] || 's'];
  }
  const groupBy = list(params, 'group_by') ?? [...DIMENSIONS];
  for (const d of groupBy) {
    if (!(DIMENSIONS as readonly string[]).includes(d)) throw new AnalyticsQueryError(`group_by: unknown dimension ${JSON.stringify(d)} (${DIMENSIONS.join(', ')})`);
  }
  const region = list(params, 'region')?.map((r) => (r === 'unknown' ? r : r.toUpperCase()));
  for (const r of region ?? []) {
    if (!ANALYTICS_REGIONS.includes(r)) throw new AnalyticsQueryError(`region: unknown region ${JSON.stringify(r)} (${ANALYTICS_REGIONS.join(', ')})`);
  }
  return {
    lb: list(params, 'lb')?.map((n) => n.toLowerCase().replace(/\.$/, '')),
    pool: list(params, 'pool'),
    endpoint: list(params, 'endpoint'),
    region,
    since: since !== null && since !== '' ? parseTime('since', since, now) : now - 3600_000,
    until: until !== null && until !== '' ? parseTime('until', until, now) : now + 1,
    step: stepMs,
    groupBy: groupBy as Dimension[],
  };
}

// ---- the feed: the supervisor's side ----------------------------------------------------------------------

/** How often the feed gathers the data planes' answer cells and samples pool health. */
export const COLLECT_MS = 5000;

/**
 * Keeps the store fed: gathers what the data planes drained (every read of their counters drains them, so every
 * read goes through collect()), samples pool health every COLLECT_MS, and gives idle series back hourly.
 */
export class AnalyticsFeed<S extends { analytics: readonly AnswerDelta[] }> {
  readonly store = new AnalyticsStore();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** The data planes' counters (drains their answer cells). */
    private readonly stats: () => Promise<S>,
    /** The running state, null before the first config serves. */
    private readonly status: () => StatusDeps | null,
    private readonly log: Logger,
  ) {}

  async collect(): Promise<S> {
    const s = await this.stats();
    this.store.ingest(s.analytics);
    return s;
  }

  /** GET /api/analytics: a malformed query is refused before the data planes are asked. */
  async answer(params: URLSearchParams): Promise<AnalyticsResult> {
    const q = parseAnalyticsQuery(params);
    await this.collect();
    return this.store.query(q);
  }

  /** For /api/status and the metrics. */
  describe(): { series: number; max_series: number; bytes: number; dropped_answers: number } {
    return { series: this.store.seriesCount, max_series: this.store.maxSeries, bytes: this.store.bytes, dropped_answers: this.store.dropped };
  }

  start(): void {
    let ticks = 0;
    this.timer = setInterval(() => {
      this.collect().catch((err: unknown) => this.log.warn('analytics: cannot gather the counters', { err: String(err) }));
      const deps = this.status();
      if (deps) this.store.samplePools(poolSamples(deps));
      if (++ticks % (3600_000 / COLLECT_MS) === 0) this.store.evict();
    }, COLLECT_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * The pools of a config worth sampling. An unmonitored pool's state never changes ("unknown", no RTT): rings for it
 * would hold nothing, and 10,000 of them cost 70 MB and a pause to allocate. Listed once per config, so that a
 * sample every 5 s of a config without monitors walks nothing.
 */
const sampledPools = new WeakMap<Config, readonly PoolConfig[]>();

function sampledPoolsOf(config: Config): readonly PoolConfig[] {
  let pools = sampledPools.get(config);
  if (!pools) {
    pools = [...config.pools.values()].filter(isMonitored);
    sampledPools.set(config, pools);
  }
  return pools;
}

export function poolSamples(deps: StatusDeps): PoolSample[] {
  const out: PoolSample[] = [];
  for (const pool of sampledPoolsOf(deps.runtime.config)) {
    const h = poolHealth(deps, pool);
    out.push({ pool: pool.name, state: pool.enabled ? h.state : 'disabled', rttMs: h.rttMs });
  }
  return out;
}

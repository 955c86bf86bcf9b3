// The analytics store (observe/analytics.ts) and the answer cells it is fed from (lb/stats.ts), without a server:
// deltas land in the bucket they were drained for, in every tier; reads filter and group; memory is bounded.
import { ANALYTICS_REGIONS, BUCKET_MS, LbStatsRegistry, REGION_COUNT, regionIndexOf, type AnswerDelta } from '../../src/lb/stats';
import { AnalyticsQueryError, AnalyticsStore, parseAnalyticsQuery, ROW_SLOTS, type AnalyticsQuery } from '../../src/observe/analytics';

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0); // a multiple of every tier's bucket
const WEU = regionIndexOf('WEU');
const UNKNOWN = regionIndexOf(null);

function q(over: Partial<AnalyticsQuery> = {}): AnalyticsQuery {
  return { since: T0 - 3600_000, until: T0 + 60_000, step: 0, groupBy: ['load_balancer', 'pool', 'endpoint', 'region'], ...over };
}

describe('answer cells (lb/stats.ts)', () => {
  test('a drain moves the cells into a delta for the bucket they counted for, and into the totals', () => {
    const reg = new LbStatsRegistry();
    const b = reg.block('www.example.com', 'eu', ['fra-1', 'fra-2']);
    expect(b.size).toBe(3 * REGION_COUNT);
    reg.drain(T0 + 1); // the live bucket is now T0
    reg.counts[b.offset + WEU] += 3; // three answers from eu for WEU clients
    reg.counts[b.offset + REGION_COUNT * 1 + WEU] += 3; // each carried fra-1
    reg.counts[b.offset + REGION_COUNT * 2 + WEU] += 1; // and one fra-2
    reg.drain(T0 + BUCKET_MS + 2); // the rotation at the next boundary
    reg.counts[b.offset + UNKNOWN] += 1;
    const deltas = reg.takeDeltas(T0 + BUCKET_MS + 5000);
    expect(deltas).toEqual([
      { bucket: T0, blocks: [['www.example.com', 'eu', ['fra-1', 'fra-2'], [WEU, 3, REGION_COUNT + WEU, 3, 2 * REGION_COUNT + WEU, 1]]] },
      { bucket: T0 + BUCKET_MS, blocks: [['www.example.com', 'eu', ['fra-1', 'fra-2'], [UNKNOWN, 1]]] },
    ]);
    expect(reg.takeDeltas(T0 + BUCKET_MS + 6000)).toEqual([]);
    const c = reg.forLb('www.example.com');
    expect([...c.pools]).toEqual([['eu', 4]]);
    expect([...(c.endpoints.get('eu') ?? [])]).toEqual([['fra-1', 3], ['fra-2', 1]]);
    expect(reg.counts.every((n) => n === 0)).toBe(true);
  });

  test('blocks are shared by equal (lb, pool, endpoints) and kept when the array grows', () => {
    const reg = new LbStatsRegistry();
    const a = reg.block('a.example', 'p', ['x']);
    reg.counts[a.offset] = 5;
    const b = reg.block('b.example', 'p', ['x', 'y']);
    expect(reg.block('a.example', 'p', ['x'])).toBe(a);
    expect(reg.block('a.example', 'p', ['y'])).not.toBe(a); // endpoints changed: new cells
    expect(b.offset).toBe(a.size);
    expect(reg.counts[a.offset]).toBe(5);
  });

  test('snapshot and add carry the per-endpoint totals (cluster workers → primary)', () => {
    const w = new LbStatsRegistry();
    const b = w.block('lb', 'p', ['e1']);
    w.counts[b.offset + WEU] = 2;
    w.counts[b.offset + REGION_COUNT + WEU] = 2;
    w.forLb('lb').queries = 2;
    const sum = new LbStatsRegistry();
    sum.add(w.snapshot());
    sum.add(w.snapshot());
    expect(sum.forLb('lb').queries).toBe(4);
    expect(sum.forLb('lb').pools.get('p')).toBe(4);
    expect(sum.forLb('lb').endpoints.get('p')?.get('e1')).toBe(4);
  });

  test('regions: the 13 Cloudflare codes and "unknown"', () => {
    expect(ANALYTICS_REGIONS).toHaveLength(14);
    expect(ANALYTICS_REGIONS[UNKNOWN]).toBe('unknown');
    expect(regionIndexOf('NOPE')).toBe(UNKNOWN);
  });
});

describe('AnalyticsStore', () => {
  const delta = (bucket: number, cells: number[], lb = 'www.example.com', pool = 'eu', endpoints = ['fra-1', 'fra-2']): AnswerDelta => ({ bucket, blocks: [[lb, pool, endpoints, cells]] });

  test('counts land in their bucket, per pool, endpoint and region, and add up across tiers', () => {
    const s = new AnalyticsStore();
    s.ingest([delta(T0, [WEU, 3, REGION_COUNT + WEU, 3]), delta(T0 + BUCKET_MS, [UNKNOWN, 2, 2 * REGION_COUNT + UNKNOWN, 2])], T0 + 15_000);
    const r = s.query(q({ since: T0, until: T0 + 30_000 }), T0 + 15_000);
    expect(r.step).toBe(10);
    expect(r.time).toEqual([T0 / 1000, T0 / 1000 + 10, T0 / 1000 + 20]);
    const find = (endpoint: string | null, region: string) => r.series.find((x) => x.endpoint === endpoint && x.region === region);
    expect(find(null, 'WEU')?.values).toEqual([3, 0, 0]);
    expect(find('fra-1', 'WEU')?.values).toEqual([3, 0, 0]);
    expect(find(null, 'unknown')?.values).toEqual([0, 2, 0]);
    expect(find('fra-2', 'unknown')?.values).toEqual([0, 2, 0]);
    // Grouped by pool only: pool answers, summed over regions; one-minute step from the 10-s tier.
    const byPool = s.query(q({ since: T0, until: T0 + 60_000, step: 60_000, groupBy: ['pool'] }), T0 + 15_000);
    expect(byPool.series).toEqual([{ pool: 'eu', total: 5, values: [5] }]);
    // 24 h back: the 5-minute tier holds the same answers.
    const day = s.query(q({ since: T0 - 20 * 3600_000, until: T0 + 300_000, groupBy: ['region'] }), T0 + 15_000);
    expect(day.step).toBe(300);
    expect(day.series.map((x) => [x.region, x.total])).toEqual([['WEU', 3], ['unknown', 2]]);
  });

  test('filters: lb, pool, endpoint, region', () => {
    const s = new AnalyticsStore();
    s.ingest([delta(T0, [WEU, 1, REGION_COUNT + WEU, 1]), delta(T0, [UNKNOWN, 4, REGION_COUNT + UNKNOWN, 4], 'api.example.com', 'us', ['iad-1'])], T0);
    const total = (over: Partial<AnalyticsQuery>) => s.query(q(over), T0).series.reduce((n, x) => n + x.total, 0);
    expect(total({ groupBy: ['pool'] })).toBe(5);
    expect(total({ groupBy: ['pool'], lb: ['api.example.com'] })).toBe(4);
    expect(total({ groupBy: ['pool'], pool: ['eu'] })).toBe(1);
    expect(total({ groupBy: ['pool'], region: ['unknown'] })).toBe(4);
    expect(total({ groupBy: ['pool'], endpoint: ['iad-1'] })).toBe(4); // endpoint rows only
    expect(s.query(q({ endpoint: ['fra-1'] }), T0).series.map((x) => x.endpoint)).toEqual(['fra-1']);
  });

  test('a slot reused a tier-span later starts from zero; a bucket older than the slot is not written', () => {
    const s = new AnalyticsStore();
    s.ingest([delta(T0, [WEU, 7])], T0);
    const later = T0 + 3600_000; // the same slot of the 10-s ring
    s.ingest([delta(later, [WEU, 1])], later);
    expect(s.query(q({ since: later, until: later + BUCKET_MS, groupBy: ['pool'] }), later).series[0].values).toEqual([1]);
    s.ingest([delta(T0, [WEU, 100])], later + 1); // late: the 10-s slot moved on; coarser tiers still take it
    expect(s.query(q({ since: later, until: later + BUCKET_MS, groupBy: ['pool'] }), later).series[0].values).toEqual([1]);
    expect(s.query(q({ since: T0, until: T0 + 300_000, step: 300_000, groupBy: ['pool'] }), later + 1).series[0].values).toEqual([107]);
  });

  test('malformed or out-of-range deltas are refused and counted; the series cap is kept', () => {
    const s = new AnalyticsStore({ maxSeries: 2 });
    s.ingest([{ bucket: T0 + 1, blocks: [] }, delta(T0 - 48 * 3600_000, [WEU, 1]), delta(T0, [9999, 1, WEU, -1, WEU, Number.NaN])], T0);
    expect(s.rejected).toBe(5);
    s.ingest([delta(T0, [WEU, 1, UNKNOWN, 1, REGION_COUNT + WEU, 5])], T0);
    expect(s.seriesCount).toBe(2);
    expect(s.dropped).toBe(5);
    expect(s.bytes).toBe(2 * ROW_SLOTS * 4);
  });

  test('idle series give their rows back after 24 h', () => {
    const s = new AnalyticsStore();
    s.ingest([delta(T0, [WEU, 1])], T0);
    s.evict(T0 + 23 * 3600_000);
    expect(s.seriesCount).toBe(1);
    s.evict(T0 + 25 * 3600_000);
    expect(s.seriesCount).toBe(0);
  });

  test('pool health: the worst state of a bucket and the mean RTT', () => {
    const s = new AnalyticsStore();
    s.samplePools([{ pool: 'eu', state: 'healthy', rttMs: 10 }], T0 + 1000);
    s.samplePools([{ pool: 'eu', state: 'critical', rttMs: 20 }], T0 + 6000);
    s.samplePools([{ pool: 'eu', state: 'healthy', rttMs: null }], T0 + 12_000);
    const r = s.query(q({ since: T0, until: T0 + 20_000 }), T0 + 12_000);
    expect(r.pools).toEqual([{ pool: 'eu', state: ['critical', 'healthy'], rtt_ms: [15, null] }]);
  });

  test('parseAnalyticsQuery: times, steps, lists, and clear errors', () => {
    const now = T0 + 5000;
    const p = parseAnalyticsQuery(new URLSearchParams('lb=WWW.Example.com.&pool=eu,us&region=weu&since=-60&until=2026-11-30T12:00:00Z&step=1m&group_by=pool,region'), now);
    expect(p).toEqual({ lb: ['www.example.com'], pool: ['eu', 'us'], endpoint: undefined, region: ['WEU'], since: now - 3600_000, until: T0, step: 60_000, groupBy: ['pool', 'region'] });
    expect(parseAnalyticsQuery(new URLSearchParams('since=-15m'), now).since).toBe(now - 900_000);
    expect(parseAnalyticsQuery(new URLSearchParams(`since=${T0 / 1000}`), now).since).toBe(T0);
    for (const bad of ['since=yesterday', 'step=0', 'step=5x', 'group_by=colour', 'region=MARS']) {
      expect(() => parseAnalyticsQuery(new URLSearchParams(bad), now)).toThrow(AnalyticsQueryError);
    }
    const s = new AnalyticsStore();
    expect(() => s.query(q({ since: T0 - 48 * 3600_000, until: T0 }), T0)).toThrow(/kept 24 h/);
    expect(() => s.query(q({ step: 7000 }), T0)).toThrow(/multiple of/);
    expect(() => s.query(q({ since: T0, until: T0 }), T0)).toThrow(/after since/);
  });
});

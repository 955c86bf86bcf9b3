// Load-balancing analytics end to end, on an in-process server with its status API on 127.0.0.1:0:
//   - /api/analytics counts exactly the queries sent, per pool, endpoint and client region, in the 10-s bucket they
//     were answered in (and the next bucket starts from zero);
//   - the server's own lookups are not client queries: the addresses of MX targets in ADDITIONAL and the background
//     resolution of hostname endpoints from our zones count nowhere (steerdns_lb_queries_total, pool selections,
//     analytics); before the fix an MX target's LB counted queries no client sent;
//   - per-endpoint answers in /metrics; /api/overview; query errors as 400 in the API's shape.
import { until } from '../helpers/endpoints';
import { api, metricValue, request } from '../helpers/http';
import { GEOIP_CITY, query, sleep, startServer, type TestServer } from '../helpers/server';
import type { AnalyticsResult } from '../../src/observe/analytics';
import type { Overview } from '../../src/observe/overview';

const BUCKET = 10_000;

const CONFIG = `
server:
  listen: ["127.0.0.1:0"]
  http: "127.0.0.1:0"
  pop: { code: AMS, country: NL }
  geoip: { database: ${GEOIP_CITY} }
  analytics: { max_series: 5000 }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: "@", type: MX, value: "10 mx-a.example.com." }
pools:
  eu: { origins: [ { name: fra-1, address: 192.0.2.10 }, { name: fra-2, address: 192.0.2.11 } ] }
  ap: { origins: [ { name: nrt-1, address: 192.0.2.20, weight: 0.7 }, { name: nrt-2, address: 192.0.2.21, weight: 0.3 } ] }
  mail:
    origins:
      - { name: mx-a, address: mx-a.example.com, priority: 10 }
      - { name: mx-b, address: mx-b.example.com, priority: 20 }
load_balancers:
  - name: www.example.com
    steering_policy: geo
    default_pools: [eu, ap]
    region_pools: { NEAS: [ap, eu] }
    location_strategy: { prefer_ecs: always, mode: resolver_ip }
  - { name: mail.example.com, default_pools: [mail] }
  - { name: mx-a.example.com, default_pools: [eu] }
  - { name: mx-b.example.com, default_pools: [ap] }
`;

/** Waits for the next bucket (none of the traffic so far is in it) and `minMs` into it; returns its start. */
async function freshBucket(minMs = 300): Promise<number> {
  const next = Date.now() - (Date.now() % BUCKET) + BUCKET;
  await sleep(next + minMs - Date.now());
  return next;
}

function series(r: AnalyticsResult, lb: string, pool: string, endpoint: string | null, region: string): number[] | undefined {
  return r.series.find((s) => s.load_balancer === lb && s.pool === pool && s.endpoint === endpoint && s.region === region)?.values;
}

describe('analytics and client-query counting', () => {
  let srv: TestServer | null = null;
  afterEach(async () => {
    await srv?.stop();
    srv = null;
  });

  test('counts equal the queries sent, per pool, endpoint and region, in their bucket; internal lookups count nowhere', async () => {
    srv = await startServer(CONFIG);
    const hp = srv.server.statusPort;
    const dns = srv.port;
    // The hostname endpoints mx-a/mx-b resolve from our zones (internal lookups through the mx-a/mx-b LBs).
    await until('mail endpoints resolved', async () => (await query(dns, 'mail.example.com', { type: 'MX' })).packet.answers?.length ?? 0, (n) => n === 2, 5000);
    // Everything so far was not this test's counted traffic: note the counters, then wait for a fresh bucket.
    const metrics0 = (await request(hp, '/metrics')).body;
    const bucket = await freshBucket();

    for (let i = 0; i < 5; i++) await query(dns, 'www.example.com', { ecs: '81.2.69.0/24' }); // GB → WEU → eu
    for (let i = 0; i < 4; i++) await query(dns, 'www.example.com', { ecs: '1.0.16.0/24' }); // JP → NEAS → ap
    for (let i = 0; i < 3; i++) await query(dns, 'www.example.com'); // 127.0.0.1: not in GeoIP → the PoP, NL → WEU
    for (let i = 0; i < 2; i++) {
      const mx = await query(dns, 'mail.example.com', { type: 'MX' }); // off → not located; ADDITIONAL: mx-a, mx-b
      expect((mx.packet.additionals ?? []).filter((a) => a.type === 'A').length).toBe(3); // eu's two, one of ap's
    }
    const apex = await query(dns, 'example.com', { type: 'MX' }); // a static MX whose target is an LB: ADDITIONAL only
    expect((apex.packet.additionals ?? []).some((a) => a.type === 'A' && a.name === 'mx-a.example.com')).toBe(true);
    expect(Date.now() - bucket).toBeLessThan(BUCKET); // all in one bucket (~15 queries take milliseconds)

    const r = await api<AnalyticsResult>(hp, `/api/analytics?since=${bucket / 1000}&until=${(bucket + BUCKET) / 1000}`);
    expect(r.step).toBe(10);
    expect(r.time).toEqual([bucket / 1000]);
    expect(series(r, 'www.example.com', 'eu', null, 'WEU')).toEqual([8]);
    expect(series(r, 'www.example.com', 'eu', 'fra-1', 'WEU')).toEqual([8]); // equal weights: every answer has both
    expect(series(r, 'www.example.com', 'eu', 'fra-2', 'WEU')).toEqual([8]);
    expect(series(r, 'www.example.com', 'ap', null, 'NEAS')).toEqual([4]);
    const nrt = (series(r, 'www.example.com', 'ap', 'nrt-1', 'NEAS')?.[0] ?? 0) + (series(r, 'www.example.com', 'ap', 'nrt-2', 'NEAS')?.[0] ?? 0);
    expect(nrt).toBe(4); // unequal weights: one endpoint per answer
    expect(series(r, 'mail.example.com', 'mail', null, 'unknown')).toEqual([2]);
    expect(series(r, 'mail.example.com', 'mail', 'mx-a', 'unknown')).toEqual([2]);
    // Nothing for the MX targets' load balancers: those answers were ADDITIONAL, or the server's own lookups.
    expect(r.series.filter((s) => s.load_balancer === 'mx-a.example.com' || s.load_balancer === 'mx-b.example.com')).toEqual([]);
    expect(r.series.reduce((n, s) => n + (s.endpoint === null ? s.total : 0), 0)).toBe(14);

    const metrics = (await request(hp, '/metrics')).body;
    const delta = (name: string, labels: Record<string, string>) => metricValue(metrics, name, labels) - metricValue(metrics0, name, labels);
    expect(delta('steerdns_lb_queries_total', { load_balancer: 'www.example.com' })).toBe(12);
    expect(delta('steerdns_lb_queries_total', { load_balancer: 'mail.example.com' })).toBe(2);
    expect(delta('steerdns_pool_selections_total', { load_balancer: 'www.example.com', pool: 'eu' })).toBe(8);
    expect(delta('steerdns_origin_answers_total', { load_balancer: 'www.example.com', pool: 'eu', origin: 'fra-1' })).toBe(8);
    expect(delta('steerdns_origin_answers_total', { load_balancer: 'mail.example.com', pool: 'mail', origin: 'mx-b' })).toBe(2);
    // The regression: an MX target's LB counted the ADDITIONAL addresses and the hostname refreshes as queries.
    for (const lb of ['mx-a.example.com', 'mx-b.example.com']) {
      expect(metricValue(metrics, 'steerdns_lb_queries_total', { load_balancer: lb })).toBe(0);
      expect(metricValue(metrics, 'steerdns_pool_selections_total', { load_balancer: lb })).toBe(0);
    }

    // The next bucket starts from zero; the drain at the boundary kept the first bucket's answers in it.
    await sleep(bucket + BUCKET + 300 - Date.now());
    await query(dns, 'www.example.com', { ecs: '81.2.69.0/24' });
    const two = await api<AnalyticsResult>(hp, `/api/analytics?since=${bucket / 1000}&until=${(bucket + 2 * BUCKET) / 1000}&group_by=pool`);
    expect(two.series.find((s) => s.pool === 'eu')?.values).toEqual([8, 1]);
    // Coarser steps sum the buckets (a one-minute step reads the same 10-s tier).
    const minute = await api<AnalyticsResult>(hp, `/api/analytics?since=-10m&step=60&group_by=load_balancer&lb=www.example.com`);
    expect(minute.series[0].total).toBe(13);
  });

  test('/api/overview, the analytics limit in /api/status, and query errors as 400', async () => {
    srv = await startServer(CONFIG);
    const hp = srv.server.statusPort;
    const ov = await api<Overview>(hp, '/api/overview');
    expect(ov.load_balancers.map((l) => l.name)).toEqual(['www.example.com', 'mail.example.com', 'mx-a.example.com', 'mx-b.example.com']);
    expect(ov.load_balancers[0]).toMatchObject({ health: 'healthy', steering_policy: 'geo', pools: ['eu', 'ap'], region_pools: { NEAS: ['ap', 'eu'] } });
    expect(ov.pools.find((p) => p.name === 'eu')).toMatchObject({ healthy: true, monitored: false, healthy_origins: 2, origins: [{ name: 'fra-1', address: '192.0.2.10' }, { name: 'fra-2' }] });
    expect(ov.regions.WEU).toBe('Western Europe');
    for (const [q, msg] of [['since=soon', /since/], ['step=7', /multiple of/], ['group_by=colour', /group_by/], ['since=-3000', /kept 24 h/]] as const) {
      const r = await request(hp, `/api/analytics?${q}`);
      expect(r.status).toBe(400);
      const body = JSON.parse(r.body) as { success: boolean; errors: { message: string }[] };
      expect(body.success).toBe(false);
      expect(body.errors[0].message).toMatch(msg);
    }
    expect((await request(hp, '/api/analytics/x')).status).toBe(404);
    const status = await api<{ analytics: { series: number; max_series: number } }>(hp, '/api/status');
    expect(status.analytics.max_series).toBe(5000); // server.analytics.max_series
  });
});

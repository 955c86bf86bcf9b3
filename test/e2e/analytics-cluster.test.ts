// Analytics with `server.workers: 2` on the real CLI process (`node dist/cli.js serve`; `npm test` builds first):
// both workers answer, ship their drained answer cells to the primary with their counters, and the primary's
// /api/analytics and /metrics count every query exactly once, per pool, endpoint and region.
import { api, metricValue, request } from '../helpers/http';
import { GEOIP_CITY, query, sleep, spawnServer, writeConfig, type ProcessServer } from '../helpers/server';
import type { AnalyticsResult } from '../../src/observe/analytics';
import type { Overview } from '../../src/observe/overview';

const CONFIG = `
server:
  listen: ["127.0.0.1:0"]
  http: "127.0.0.1:0"
  workers: 2
  pop: { code: AMS, country: NL }
  geoip: { database: ${GEOIP_CITY} }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records: [ { name: ns1, type: A, value: 192.0.2.53 } ]
pools:
  eu: { origins: [ { name: fra-1, address: 192.0.2.10 }, { name: fra-2, address: 192.0.2.11 } ] }
  us: { origins: [ { name: iad-1, address: 192.0.2.30 } ] }
load_balancers:
  - name: www.example.com
    steering_policy: geo
    default_pools: [eu, us]
    region_pools: { WNAM: [us, eu] }
    location_strategy: { prefer_ecs: always, mode: pop }
`;

/** The status API's port, from the "steerdns started" line. */
function httpPort(s: ProcessServer): number {
  for (const line of s.stderr().split('\n')) {
    if (!line.includes('"steerdns started"')) continue;
    return Number((JSON.parse(line) as { http: string }).http.split(':').pop());
  }
  throw new Error('no start line');
}

describe('analytics in a cluster', () => {
  let srv: ProcessServer | null = null;
  afterEach(async () => {
    await srv?.stop();
    srv = null;
  });

  test('the primary counts every worker\'s answers exactly once', async () => {
    srv = await spawnServer(writeConfig(CONFIG), 20000);
    const hp = httpPort(srv);
    // Wait until both workers serve (readiness), then send from many source ports so both get queries.
    for (let i = 0; i < 200 && (await request(hp, '/readyz')).status !== 200; i++) await sleep(50);
    const N = 60;
    await Promise.all(Array.from({ length: N }, (_, i) => query(srv!.port, 'www.example.com', { ecs: i % 3 === 0 ? '216.160.83.0/24' : '81.2.69.0/24', timeoutMs: 3000 })));
    const r = await api<AnalyticsResult>(hp, '/api/analytics?since=-5m&group_by=pool,endpoint,region');
    const get = (pool: string, endpoint: string | null, region: string) => r.series.find((s) => s.pool === pool && s.endpoint === endpoint && s.region === region)?.total ?? 0;
    expect(get('eu', null, 'WEU')).toBe(40);
    expect(get('eu', 'fra-1', 'WEU')).toBe(40);
    expect(get('eu', 'fra-2', 'WEU')).toBe(40);
    expect(get('us', null, 'WNAM')).toBe(20);
    expect(get('us', 'iad-1', 'WNAM')).toBe(20);
    const metrics = (await request(hp, '/metrics')).body;
    expect(metricValue(metrics, 'steerdns_lb_queries_total', { load_balancer: 'www.example.com' })).toBe(N);
    expect(metricValue(metrics, 'steerdns_origin_answers_total', { pool: 'eu', origin: 'fra-2' })).toBe(40);
    // Asked again, nothing is counted twice.
    const again = await api<AnalyticsResult>(hp, '/api/analytics?since=-5m&group_by=pool');
    expect(again.series.reduce((n, s) => n + s.total, 0)).toBe(N);
    const ov = await api<Overview>(hp, '/api/overview');
    expect(ov.load_balancers[0]).toMatchObject({ name: 'www.example.com', health: 'healthy' });
    const page = await request(hp, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>steerdns status</title>');
  });
});

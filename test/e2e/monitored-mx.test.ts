// Monitored hostname endpoints inside our own zones (issue 11): the usual MX setup, a pool of mx1.<zone> and
// mx2.<zone> behind a monitor. The probes must resolve those names as the answers do — from our own zones — not
// through the system resolver, which does not know them ("DNS Unknown Host" for every endpoint, the pool critical,
// and the fallback serving dead mail servers). A down in-zone MX target leaves the MX set; back, it returns.
import * as http from 'node:http';
import { openEndpoints, until, type Endpoint } from '../helpers/endpoints';
import { query, startServer, type TestServer } from '../helpers/server';

const INTERVAL_S = 1;

function mxTargets(p: Awaited<ReturnType<typeof query>>['packet']): string[] {
  return (p.answers ?? []).filter((a) => a.type === 'MX').map((a) => (a.data as { exchange: string }).exchange).sort();
}

function getJson(port: number, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

let endpoints: Endpoint[] = [];
let s: TestServer | null = null;
afterAll(async () => {
  if (s) await s.stop();
  await Promise.all(endpoints.map((e) => e.stop()));
});

test('an MX pool of in-zone names with a monitor: probes resolve them from our zones; a down target leaves the set', async () => {
  endpoints = await openEndpoints(['127.0.21.1', '127.0.21.2']);
  const [mx1, mx2] = endpoints;
  s = await startServer(`
server: { listen: ["127.0.0.1:0"], http: "127.0.0.1:0" }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 127.0.21.53 }
      - { name: mx1, type: A, value: ${mx1.address} }
      - { name: mx2, type: A, value: ${mx2.address} }
monitors:
  web: { type: http, port: ${mx1.port}, path: /health, interval: ${INTERVAL_S}, timeout: 1, retries: 0 }
pools:
  MX: { monitor: web, origins: [ { name: mx1, address: mx1.example.com, priority: 10 }, { name: mx2, address: mx2.example.com, priority: 20 } ] }
load_balancers:
  - { name: mail.example.com, default_pools: [MX] }
`);
  const srv = s;
  const hp = srv.server.statusPort;
  const mx = async () => mxTargets((await query(srv.port, 'mail.example.com', { type: 'MX' })).packet);
  // Both healthy: both in the set, and the probes reached both (through our zones' addresses).
  const healthy = (h: unknown): boolean => ((h as { result: { origins: { healthy: boolean }[] } }).result.origins ?? []).filter((o) => o.healthy).length === 2;
  await until('both probed healthy', () => getJson(hp, '/api/pools/MX/health'), healthy, 5000);
  expect(await mx()).toEqual(['mx1.example.com', 'mx2.example.com']);
  expect(mx1.answered.length).toBeGreaterThan(0);
  expect(mx2.answered.length).toBeGreaterThan(0);
  expect(JSON.stringify(await getJson(hp, '/api/pools/MX/health'))).not.toContain('DNS Unknown Host');
  // mx2 fails its monitor: it leaves the MX set (no fallback to every endpoint).
  mx2.status = 500;
  await until('mx2 left the MX set', () => mx(), (t) => t.join() === 'mx1.example.com', (INTERVAL_S + 2) * 1000);
  mx2.status = 200;
  await until('mx2 back', () => mx(), (t) => t.length === 2, (INTERVAL_S + 2) * 1000);
}, 30000);

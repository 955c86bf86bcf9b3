// One judge of pool usability (issue 10): steering, the status API and the metrics read the same decision. A pool
// whose only endpoint is a hostname that does not resolve (a name of our own zone without addresses) cannot answer:
// steering goes to the next pool, and /api/pools and steerdns_pool_healthy say the pool is not usable, with the
// endpoint down for "DNS Unknown Host" — before, the status API called that pool usable.
import * as http from 'node:http';
import { answers, query, sleep, startServer, type TestServer } from '../helpers/server';

const YAML = `
server: { listen: ["127.0.0.1:0"], http: "127.0.0.1:0" }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: ghost, type: TXT, value: "a name with no address" }
pools:
  GHOST: { origins: [ { name: g1, address: ghost.example.com } ] }
  REAL: { origins: [ { name: r1, address: 192.0.2.10 } ] }
load_balancers:
  - { name: www.example.com, default_pools: [GHOST, REAL] }
`;

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

let s: TestServer;
beforeAll(async () => {
  s = await startServer(YAML);
});
afterAll(() => s.stop());

test('a pool whose hostname endpoint does not resolve: steering skips it, and the status API and metrics agree', async () => {
  // The first resolution of the name happens beside the query path; give it a moment.
  for (let i = 0; i < 20 && s.server.hostnames.describe('ghost.example.com')?.resolvedAt == null; i++) await sleep(50);
  const r = await query(s.port, 'www.example.com');
  expect(answers(r.packet, 'A')).toEqual(['192.0.2.10']);
  const hp = s.server.statusPort;
  const pool = JSON.parse(await get(hp, '/api/pools/GHOST/health')) as { result: Record<string, unknown> };
  const text = JSON.stringify(pool.result);
  expect(text).toContain('DNS Unknown Host');
  const view = JSON.parse(await get(hp, '/api/pools/GHOST')) as { result: { usable?: boolean; healthy?: boolean } };
  expect(JSON.stringify(view.result)).not.toMatch(/"usable":\s*true/);
  const metrics = await get(hp, '/metrics');
  expect(metrics).toMatch(/steerdns_pool_healthy\{pool="GHOST"\} 0/);
  expect(metrics).toMatch(/steerdns_pool_healthy\{pool="REAL"\} 1/);
});

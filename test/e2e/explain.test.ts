// `steerdns explain`: the decision trace for failover, geo with ECS, rules and the fallback pool.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { GEOIP_CITY, ROOT, writeConfig } from '../helpers/server';

const CLI = path.join(ROOT, 'dist', 'cli.js');

function explain(config: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'explain', '-c', config, ...args], { timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as NodeJS.ErrnoException & { code?: number }).code as unknown as number) ?? 1 : 0, out: stdout, err: stderr });
    });
  });
}

const YAML = `
server:
  listen: ["127.0.0.1:0"]
  http: null
  pop: { code: LAX, country: US, region: WNAM, latitude: 34.05, longitude: -118.24 }
  geoip: { database: ${GEOIP_CITY} }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
pools:
  P1: { origins: [ { name: a1, address: 192.0.2.1 }, { name: a2, address: 192.0.2.2 } ] }
  P2: { origins: [ { name: b1, address: 198.51.100.1 } ] }
  P3: { enabled: false, origins: [ { name: c1, address: 203.0.113.1 } ] }
  V6: { origins: [ { name: v6, address: "2001:db8::1" } ] }
  FB: { origins: [ { name: f1, address: 192.0.2.100 } ] }
  FBOFF: { enabled: false, origins: [ { name: f2, address: 192.0.2.101 } ] }
load_balancers:
  - { name: failover.example.com, steering_policy: "off", default_pools: [P3, P1, P2], fallback_pool: FB }
  - name: geo.example.com
    steering_policy: geo
    default_pools: [P1]
    country_pools: { GB: [P2] }
    location_strategy: { prefer_ecs: always, mode: pop }
  - name: rules.example.com
    default_pools: [P1]
    rules:
      - { name: six, condition: "dns.qry.type == 28", overrides: { default_pools: [V6], ttl: 10 } }
      - { name: never, condition: "dns.qry.name == \\"other.example.com\\"", overrides: { ttl: 99 } }
  - { name: fallback.example.com, default_pools: [P3], fallback_pool: FB }
  - { name: nothing.example.com, default_pools: [P3], fallback_pool: FBOFF }
`;

let config: string;
beforeAll(() => {
  config = writeConfig(YAML);
});

test('failover: a disabled pool is skipped with its reason, the next one is chosen, all equal-weight endpoints answered', async () => {
  const r = await explain(config, ['--name', 'failover.example.com', '--type', 'A', '--resolver', '192.0.2.53']);
  expect(r.code).toBe(0);
  expect(r.out).toContain('steering policy: off');
  expect(r.out).toMatch(/P3: disabled \(pool enabled: false\)/);
  expect(r.out).toMatch(/P1: chosen/);
  expect(r.out).not.toMatch(/P2: /); // never reached
  expect(r.out).toContain('chosen pool: P1');
  expect(r.out).toContain('TTL 30, ECS scope /0');
  expect(r.out).toMatch(/failover\.example\.com\.\t30\tIN\tA\t192\.0\.2\.1/);
  expect(r.out).toMatch(/failover\.example\.com\.\t30\tIN\tA\t192\.0\.2\.2/);
});

test('geo with ECS: location from the ECS address, country list, scope = the GeoIP network prefix', async () => {
  const r = await explain(config, ['--name', 'geo.example.com', '--type', 'A', '--resolver', '192.0.2.53', '--ecs', '81.2.69.0/24']);
  expect(r.code).toBe(0);
  expect(r.out).toContain('location: from the ECS address: country GB-ENG');
  expect(r.out).toContain('candidates from country_pools.GB');
  expect(r.out).toContain('chosen pool: P2');
  expect(r.out).toContain('ECS scope /24');
  expect(r.out).toMatch(/ecs=ipv4\/24\/scope 24/);
  // Without ECS the PoP decides: US has no country list → default pools.
  const pop = await explain(config, ['--name', 'geo.example.com', '--type', 'A', '--resolver', '192.0.2.53']);
  expect(pop.out).toContain('location: from this PoP: country US');
  expect(pop.out).toContain('chosen pool: P1');
});

test('rules: which matched, what they override, and the resulting TTL and pool', async () => {
  const r = await explain(config, ['--name', 'rules.example.com', '--type', 'AAAA', '--resolver', '192.0.2.53']);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/MATCH six \(priority 0\) overrides default_pools, ttl/);
  expect(r.out).toMatch(/no\s+never/);
  expect(r.out).toContain('chosen pool: V6');
  expect(r.out).toMatch(/rules\.example\.com\.\t10\tIN\tAAAA\t2001:db8::1/);
  const a = await explain(config, ['--name', 'rules.example.com', '--type', 'A', '--resolver', '192.0.2.53']);
  expect(a.out).toMatch(/no\s+six/);
  expect(a.out).toContain('chosen pool: P1');
});

test('fallback: no usable pool → the fallback pool, health ignored; fallback disabled → NODATA with the SOA', async () => {
  const r = await explain(config, ['--name', 'fallback.example.com', '--type', 'A', '--resolver', '192.0.2.53']);
  expect(r.out).toMatch(/fallback pool FB: used/);
  expect(r.out).toMatch(/192\.0\.2\.100/);
  const n = await explain(config, ['--name', 'nothing.example.com', '--type', 'A', '--resolver', '192.0.2.53']);
  expect(n.out).toMatch(/fallback pool FBOFF: not usable/);
  expect(n.out).toContain('NODATA with the zone SOA');
  expect(n.out).toMatch(/;; AUTHORITY:\nexample\.com\.\t60\tIN\tSOA/);
});

test('bad input gets a clear message and exit 2', async () => {
  const t = await explain(config, ['--name', 'geo.example.com', '--type', 'BOGUS']);
  expect(t.code).toBe(2);
  expect(t.err).toContain('unknown query type');
  const e = await explain(config, ['--name', 'geo.example.com', '--ecs', 'not-a-cidr']);
  expect(e.code).toBe(2);
  expect(e.err).toContain('is not a CIDR prefix');
});

// `steerdns import cloudflare`, round trip: the Cloudflare documentation's API examples (test/fixtures/cloudflare,
// origins on 127.0.0.x) become a YAML that `check` accepts and that a spawned server answers as the Cloudflare
// config describes: random steering over the default pools, the disabled pool never answered, a pool whose origin
// fails its monitor taken out.
import { readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { query, ROOT, spawnServer, tmpDir, type ProcessServer } from '../helpers/server';
import { ensureBuilt, steerdns } from './run';

beforeAll(ensureBuilt, 120000);

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'cloudflare');
const dir = tmpDir('steerdns-import-');

/** Health endpoints of the two monitored pools' origins (127.0.0.72 and .73), on one port; `alive` switches them. */
const alive: Record<string, boolean> = { '127.0.0.72': true, '127.0.0.73': true };
const servers: http.Server[] = [];
let port = 0;
let server: ProcessServer | null = null;

beforeAll(async () => {
  for (const host of Object.keys(alive)) {
    const s = http.createServer((req, res) => {
      const up = alive[host] && req.url === '/health';
      res.writeHead(up ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(up ? 'alive\n' : 'down\n');
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    servers.push(s);
  }
  writeFileSync(path.join(dir, 'monitors.json'), readFileSync(path.join(FIXTURES, 'monitors.json'), 'utf8').replace('"__PORT__"', String(port)));
});

afterAll(async () => {
  await server?.stop();
  for (const s of servers) s.close();
});

const args = () => [
  'import', 'cloudflare',
  '--load-balancers', path.join(FIXTURES, 'load_balancers.json'),
  '--pools', path.join(FIXTURES, 'pools.json'),
  '--monitors', path.join(dir, 'monitors.json'),
];

test('the report: what was dropped (proxied-only), changed and not mapped, exactly', async () => {
  const r = await steerdns(args());
  expect(r.code).toBe(0);
  expect(r.stderr).toBe(`imported 2 load balancers, 6 pools, 2 monitors in zone example.com
dropped (no effect on DNS-only answers):
  monitor login-page-monitor (":monitor-id"): probe_zone (applies Cloudflare proxy settings to probes)
  pool secondary-dc: notification_email (Cloudflare e-mail alerts; steerdns has notifications.webhooks)
  load balancer lb.example.com: session_affinity, session_affinity_attributes, session_affinity_ttl (proxied only)
  load balancer lb.example.com: proxied: true (steerdns answers DNS-only: clients now reach the origins directly, without Cloudflare's proxy)
  load balancer www.example.com: adaptive_routing, session_affinity, session_affinity_attributes, session_affinity_ttl (proxied only); networks (Cloudflare network placement)
  load balancer www.example.com: proxied: true (steerdns answers DNS-only: clients now reach the origins directly, without Cloudflare's proxy)
changed:
  load balancer lb.example.com: steering_policy "random_steering" → "random" (the API's examples spell it so by mistake)
not mapped:
  pool eu-london: origin lhr-private is on a private network (virtual_network_id); left out
  load balancer www.example.com fallback_pool: pool "fallback_pool" is not in the pools input; the reference is left out
  load balancer www.example.com rule "route the path /testing to testing datacenter.": fixed_response answers HTTP requests, which a DNS-only load balancer never sees; the rule is left out
`);
  const config = parse(r.stdout) as Record<string, unknown>;
  // IDs became names, references by ID became references by name.
  expect(Object.keys(config.pools as object)).toEqual(['primary-dc-1', 'secondary-dc', 'tertiary-dc', 'us-west', 'eu-london', 'eu-backup']);
  expect(Object.keys(config.monitors as object)).toEqual(['login-page-monitor', 'origin-health']);
  const lbs = config.load_balancers as Record<string, unknown>[];
  expect(lbs[0]).toEqual({
    description: 'Load Balancer for lb.example.com',
    name: 'lb.example.com',
    enabled: true,
    ttl: 30,
    fallback_pool: 'primary-dc-1',
    default_pools: ['primary-dc-1', 'secondary-dc', 'tertiary-dc'],
    steering_policy: 'random',
    random_steering: { pool_weights: { 'us-west': 0.3, 'secondary-dc': 0.5 }, default_weight: 0.2 },
  });
  expect(lbs[1]).toMatchObject({
    name: 'www.example.com',
    steering_policy: 'dynamic_latency',
    country_pools: { GB: ['eu-london'], US: ['us-west', 'tertiary-dc'] },
    pop_pools: { LAX: ['us-west', 'secondary-dc'], LHR: ['eu-london', 'eu-backup'], SJC: ['tertiary-dc'] },
    rules: [],
  });
  expect((config.pools as Record<string, Record<string, unknown>>)['primary-dc-1'].monitor).toBe('origin-health');
});

test('check accepts the result; a server of it answers as the Cloudflare config describes', async () => {
  const out = path.join(dir, 'imported.yaml');
  const r = await steerdns([...args(), '-o', out]);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe('');
  const c = await steerdns(['check', '-c', out]);
  expect(c.code).toBe(0);
  expect(c.stdout).toBe(`${out}: OK: 1 zone, 0 records, 2 load balancers, 6 pools, 6 endpoints, 2 monitors, 2 warnings\n`);

  // Served on a free loopback port, status API off; everything else as imported.
  const config = parse(readFileSync(out, 'utf8')) as Record<string, Record<string, unknown>>;
  config.server = { listen: ['127.0.0.1:0'], http: null };
  const served = path.join(dir, 'served.yaml');
  writeFileSync(served, stringify(config));
  server = await spawnServer(served, 20000);
  const answers = async (name: string, n: number): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const a = await query(server!.port, name, { type: 'A' });
      for (const rr of a.packet.answers ?? []) seen.add(String((rr as { data: unknown }).data));
    }
    return seen;
  };
  /** Waits until every answer comes from `want` (monitors probe every second). */
  const settle = async (name: string, want: string[]) => {
    const deadline = Date.now() + 15000;
    let seen = new Set<string>();
    while (Date.now() < deadline) {
      seen = await answers(name, 20);
      if ([...seen].every((a) => want.includes(a)) && seen.size > 0) return seen;
      await new Promise((res) => setTimeout(res, 200));
    }
    return seen;
  };
  // primary-dc-1 is disabled: random steering draws from secondary-dc (0.5) and tertiary-dc (default 0.2).
  const both = await settle('lb.example.com', ['127.0.0.72', '127.0.0.73']);
  expect([...both].every((a) => a === '127.0.0.72' || a === '127.0.0.73')).toBe(true);
  const www = await settle('www.example.com', ['127.0.0.72', '127.0.0.73']);
  expect([...www].every((a) => a === '127.0.0.72' || a === '127.0.0.73')).toBe(true);
  // secondary-dc's origin fails its monitor: only tertiary-dc answers, for both load balancers.
  alive['127.0.0.72'] = false;
  expect([...(await settle('lb.example.com', ['127.0.0.73']))]).toEqual(['127.0.0.73']);
  expect([...(await settle('www.example.com', ['127.0.0.73']))]).toEqual(['127.0.0.73']);
}, 60000);

test('argument mistakes: a missing --load-balancers, a file that is not JSON (exit 2)', async () => {
  const usage = 'usage: steerdns import cloudflare --load-balancers FILE [--pools FILE] [--monitors FILE] [--zone NAME]... [-o FILE]\n';
  expect(await steerdns(['import', 'cloudflare'])).toEqual({ code: 2, stdout: '', stderr: `steerdns import cloudflare: missing --load-balancers FILE\n${usage}` });
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, '{ nope');
  const r = await steerdns(['import', 'cloudflare', '--load-balancers', bad]);
  expect(r.code).toBe(2);
  expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^steerdns import cloudflare: --load-balancers: ${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not JSON \\(`));
  expect(await steerdns(['import'])).toEqual({ code: 2, stdout: '', stderr: 'steerdns import: import needs a command: cloudflare\nusage: steerdns import <command> [options]\n' });
  expect((await steerdns(['import', '--help'])).stdout).toContain('\ncommands:\n  cloudflare  Cloudflare Load Balancing API objects');
});

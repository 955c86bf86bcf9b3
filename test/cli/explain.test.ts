// `steerdns explain` through the real binary: hostname endpoints resolved as the server resolves them (names in
// the config's own zones; no other name is used here, so no query leaves the process), the precise reason when a
// load balancer sits at the name but does not serve the type, and a disabled one.
import { writeConfig } from '../helpers/server';
import { ensureBuilt, steerdns } from './run';

beforeAll(ensureBuilt, 120000);

const YAML = `server: { listen: ["127.0.0.1:0"], http: null, pop: { code: AMS, country: NL } }
zones:
  - name: lb.example.com
    soa: { serial: 1 }
    ns: [ns1.lb.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: mx-b, type: A, value: 192.0.2.21 }
      - { name: off, type: TXT, value: "static" }
pools:
  mail:
    origins:
      - { name: mx-a, address: mx-a.lb.example.com, priority: 10 }
      - { name: mx-b, address: mx-b.lb.example.com, priority: 20 }
  eu: { origins: [ { name: fra-1, address: 192.0.2.10 } ] }
load_balancers:
  - { name: lb.example.com, default_pools: [mail] }
  - { name: mx-a.lb.example.com, default_pools: [eu] }
  - { name: off.lb.example.com, enabled: false, default_pools: [eu] }
`;

let config: string;
beforeAll(() => {
  config = writeConfig(YAML);
});

test('MX at a load balancer with hostname endpoints: the names resolve from our zones and the pool is chosen, not the fallback', async () => {
  const r = await steerdns(['explain', '-c', config, '--name', 'lb.example.com', '--type', 'MX']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const out = r.stdout.split('\n');
  expect(out.slice(0, 16)).toEqual([
    'query: lb.example.com MX from resolver 127.0.0.1',
    'health: every monitored endpoint assumed up (--health assume-up)',
    'PoP: AMS (country NL, region WEU)',
    'hostname mx-a.lb.example.com: 192.0.2.10 (from our zones)',
    'hostname mx-b.lb.example.com: 192.0.2.21 (from our zones)',
    '',
    'load balancer lb.example.com',
    '  rules: none',
    '  steering policy: off (steering_policy "" runs as off)',
    '  location: not used by this policy',
    '  candidates from default_pools (failover order):',
    '    mail: chosen',
    '  chosen pool: mail',
    '  endpoints: mx-a (mx-a.lb.example.com), mx-b (mx-b.lb.example.com)',
    '  TTL 30, ECS scope /0',
    '  outcome: 2 records from pool "mail" (equal weights: all eligible endpoints)',
  ]);
  // (The traces after it are the ADDITIONAL section's A/AAAA look-ups of the targets.)
  expect(out[16]).toBe('');
  expect(r.stdout).toContain('lb.example.com.\t30\tIN\tMX\t10 mx-a.lb.example.com.\nlb.example.com.\t30\tIN\tMX\t20 mx-b.lb.example.com.\n');
});

test('TXT at a load balancer\'s name: says the LB is there but does not serve TXT', async () => {
  const r = await steerdns(['explain', '-c', config, '--name', 'mx-a.lb.example.com', '--type', 'TXT']);
  expect(r.code).toBe(0);
  expect(r.stdout.split('\n').slice(3, 6)).toEqual([
    '',
    'load balancer mx-a.lb.example.com is at this name but does not serve TXT queries (it answers A and AAAA (MX and SRV only when a pool has hostname endpoints)): the answer comes from the static TXT records at the name, else NODATA',
    '',
  ]);
  const mxsrv = await steerdns(['explain', '-c', config, '--name', 'lb.example.com', '--type', 'TXT']);
  expect(mxsrv.stdout).toContain('\nload balancer lb.example.com is at this name but does not serve TXT queries (it answers A, AAAA, MX and SRV): the answer comes from the static TXT records at the name, else NODATA\n');
});

test('a disabled load balancer, and a name without one', async () => {
  const off = await steerdns(['explain', '-c', config, '--name', 'off.lb.example.com', '--type', 'A']);
  expect(off.stdout).toContain('\nload balancer off.lb.example.com is disabled (enabled: false): the name answers from its static records, as if there were no load balancer\n');
  const none = await steerdns(['explain', '-c', config, '--name', 'ns1.lb.example.com', '--type', 'A']);
  expect(none.stdout).toContain('\nno load balancer answers this name: static zone data or a negative answer\n');
  expect(none.stdout).toContain('ns1.lb.example.com.\t300\tIN\tA\t192.0.2.53');
});

test('argument values: an unknown type, a resolver that is not an address, an ECS that is not a prefix (exit 2)', async () => {
  const usage = 'usage: steerdns explain -c FILE --name NAME [--type TYPE] [--resolver IP] [--ecs CIDR] [--health live|assume-up] [--state-file FILE]\n';
  expect(await steerdns(['explain', '-c', config, '--name', 'lb.example.com', '--type', 'BOGUS'])).toEqual({ code: 2, stdout: '', stderr: `steerdns explain: unknown query type "BOGUS"\n${usage}` });
  expect(await steerdns(['explain', '-c', config, '--name', 'lb.example.com', '--resolver', 'here'])).toEqual({ code: 2, stdout: '', stderr: `steerdns explain: --resolver "here" is not an IP address\n${usage}` });
  expect(await steerdns(['explain', '-c', config, '--name', 'lb.example.com', '--ecs', '10.0.0.0/40'])).toEqual({ code: 2, stdout: '', stderr: `steerdns explain: --ecs: "10.0.0.0/40": the prefix length must be 0 to 32 for IPv4\n${usage}` });
  expect(await steerdns(['explain', '-c', config, '--name', 'lb.example.com', '--ecs', '81.2.69.1/24'])).toEqual({ code: 2, stdout: '', stderr: `steerdns explain: --ecs: 81.2.69.1/24 has host bits set (the network is 81.2.69.0/24)\n${usage}` });
});

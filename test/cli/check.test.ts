// `steerdns check` through the real binary: every problem of a file in one pass, sorted by position; a summary on
// success; --format json; --print; the RFC 1123 rule for all-numeric names; "did you mean" for relative names that
// read as absolute; the CAP_NET_BIND_SERVICE hint for privileged ports.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { ROOT, tmpDir } from '../helpers/server';
import { ensureBuilt, steerdns } from './run';

beforeAll(ensureBuilt, 120000);

const dir = tmpDir('steerdns-check-');
chmodSync(dir, 0o755); // read by an unprivileged user in the port test
const file = (name: string, text: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, text, { mode: 0o644 });
  return p;
};
const check = (args: string[]) => steerdns(['check', ...args], { cwd: dir });

test('the example config: a summary on stdout, nothing on stderr, exit 0', async () => {
  expect(await steerdns(['check', '-c', 'config/example.yaml'])).toEqual({
    code: 0,
    stdout: 'config/example.yaml: OK: 1 zone, 7 records, 6 load balancers, 4 pools, 9 endpoints, 0 monitors, 0 warnings\n',
    stderr: '',
  });
});

// Eleven mistakes of every stage — YAML duplicate key, unknown keys, bad values, dangling references, record values,
// rule expressions, regions, a typo'd address — and two warnings: all in one pass, in line order.
const MANY = `server:
  listn: ["127.0.0.1:0"]
  http: null
  edns_udp_size: big
zones:
  - name: lb.example.com
    ns: [ns1.lb.example.com]
    records:
      - { name: www, type: A, value: 999.1.1.1 }
      - { name: "@", type: MX, value: "10 mail.example.com" }
      - { name: x, type: A, value: 192.0.2.1 }
monitors:
  web: { type: http, timeout: 2, interval: 1 }
pools:
  p1:
    monitor: wbe
    origins: [ { address: 192.0.2.313 }, { address: 127.0.0.1 } ]
  p2:
    minimum_origins: lots
    origins: [ { address: 127.0.0.2 } ]
load_balancers:
  - name: www.lb.example.com
    default_pools: [p1, p2, p3]
    rules:
      - { name: r, condition: "ip.src in {10.0.0.0/33}" }
  - name: api.lb.example.com
    default_pools: [p2]
    region_pools: { MARS: [p2] }
    rules:
      - { name: r2, condition: "dns.qry.nmae == 1" }
  - name: api.lb.example.com
`;

test('a file with many mistakes: all of them in one pass, sorted by position, then the count; exit 1', async () => {
  file('many.yaml', MANY);
  const r = await check(['-c', 'many.yaml']);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n')).toEqual([
    'many.yaml:2:3: unknown key "listn" (did you mean "listen"?)',
    'many.yaml:4:18: expected an integer from 512 to 4096, got "big"',
    'many.yaml:9:38: A www: "999.1.1.1" is not an IPv4 address',
    'many.yaml:10:40: warning: MX @: "mail.example.com" is relative to the zone, so it names mail.example.com.lb.example.com. (did you mean "mail.example.com."?)',
    'many.yaml:13:8: timeout (2 s) must not exceed interval (1 s)',
    'many.yaml:16:14: pool "p1" refers to unknown monitor "wbe" (did you mean "web"?)',
    'many.yaml:17:27: "192.0.2.313" is not a valid IP address, and an all-numeric name is not a hostname (RFC 1123 §2.1)',
    'many.yaml:19:22: expected an integer from 1 to 10000, got "lots"',
    'many.yaml:23:29: load balancer "www.lb.example.com" default_pools refers to unknown pool "p3" (did you mean "p1"?)',
    'many.yaml:25:43: rule "r": invalid CIDR: "10.0.0.0/33": the prefix length must be 0 to 32 for IPv4',
    'many.yaml:28:21: unknown region "MARS" (regions: EEU, ENAM, ME, NAF, NEAS, NSAM, OC, SAF, SAS, SEAS, SSAM, WEU, WNAM)',
    'many.yaml:30:7: warning: Cloudflare documents custom rules as incompatible with geo steering; steerdns applies them before geo steering, so "api.lb.example.com" may behave differently if ported back',
    'many.yaml:30:33: rule "r2": unknown field "dns.qry.nmae"; did you mean "dns.qry.name"?',
    'many.yaml:31:5: missing required key "default_pools"',
    'many.yaml: 12 errors, 2 warnings',
    '',
  ]);
});

test('a duplicate key hides nothing: the other problems are reported beside it', async () => {
  file('dup.yaml', `server: { http: null }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: www, type: A, value: 192.0.2.1 }
      - { name: www, type: A, value: 192.0.2.300 }
pools:
  p1: { origins: [ { address: 192.0.2.10 } ] }
  p1: { origins: [ { address: 192.0.2.11 } ] }
load_balancers:
  - { name: lb.example.com, default_pools: [p2] }
`);
  const r = await check(['-c', 'dup.yaml']);
  expect(r.code).toBe(1);
  expect(r.stderr.split('\n')).toEqual([
    'dup.yaml:7:38: A www: "192.0.2.300" is not an IPv4 address',
    'dup.yaml:10:3: duplicate key "p1"',
    'dup.yaml:12:45: load balancer "lb.example.com" default_pools refers to unknown pool "p2" (did you mean "p1"?)',
    'dup.yaml: 3 errors',
    '',
  ]);
});

test('record values, names outside the zone, dangling references (an absolute path shown as given)', async () => {
  const records = file('records.yaml', `server: { http: null }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: www, type: A, value: 999.1.1.1 }
      - { name: www.other.org., type: A, value: 192.0.2.1 }
      - { name: mx, type: MX, value: "10 mail", ttl: 60 }
      - { name: mx, type: MX, value: "20" }
`);
  const r = await check(['-c', records]);
  expect(r.code).toBe(1);
  expect(r.stderr.split('\n')).toEqual([
    `${records}:6:38: A www: "999.1.1.1" is not an IPv4 address`,
    `${records}:7:17: "www.other.org." is outside the zone "example.com" (names are relative to the zone unless they end with ".")`,
    `${records}:9:17: warning: records of one RRset (mx MX) have different TTLs; using the lowest`,
    `${records}:9:39: MX mx: expected "<preference> <exchange>", got "20"`,
    `${records}: 3 errors, 1 warning`,
    '',
  ]);
});

test('warnings only: exit 0, warnings on stderr, the summary counts them', async () => {
  file('warn.yaml', `server: { http: null }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: x.example.com, type: A, value: 192.0.2.1 }
`);
  expect(await check(['-c', 'warn.yaml'])).toEqual({
    code: 0,
    stdout: 'warn.yaml: OK: 1 zone, 1 record, 0 load balancers, 0 pools, 0 endpoints, 0 monitors, 1 warning\n',
    stderr: 'warn.yaml:6:17: warning: "x.example.com" is relative to the zone, so it names x.example.com.example.com. (did you mean "x.example.com."?)\n',
  });
});

test('a missing file', async () => {
  expect(await check(['-c', 'does-not-exist.yaml'])).toEqual({
    code: 1,
    stdout: '',
    stderr: 'does-not-exist.yaml:1:1: cannot read config: ENOENT\ndoes-not-exist.yaml: 1 error\n',
  });
});

test('--format json: every problem with its position and severity, the summary; same exit codes', async () => {
  file('dup.json.yaml', readFileSync(path.join(dir, 'dup.yaml'), 'utf8'));
  const bad = await check(['-c', 'dup.json.yaml', '--format', 'json']);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toBe('');
  expect(JSON.parse(bad.stdout)).toEqual({
    file: 'dup.json.yaml',
    valid: false,
    errors: 3,
    warnings: 0,
    problems: [
      { file: 'dup.json.yaml', line: 7, col: 38, severity: 'error', message: 'A www: "192.0.2.300" is not an IPv4 address' },
      { file: 'dup.json.yaml', line: 10, col: 3, severity: 'error', message: 'duplicate key "p1"' },
      { file: 'dup.json.yaml', line: 12, col: 45, severity: 'error', message: 'load balancer "lb.example.com" default_pools refers to unknown pool "p2" (did you mean "p1"?)' },
    ],
    summary: null,
  });
  const good = await check(['-c', 'warn.yaml', '--format', 'json']);
  expect(good.code).toBe(0);
  expect(JSON.parse(good.stdout)).toEqual({
    file: 'warn.yaml',
    valid: true,
    errors: 0,
    warnings: 1,
    problems: [{ file: 'warn.yaml', line: 6, col: 17, severity: 'warning', message: '"x.example.com" is relative to the zone, so it names x.example.com.example.com. (did you mean "x.example.com."?)' }],
    summary: { zones: 1, records: 1, load_balancers: 0, pools: 0, endpoints: 0, monitors: 0, warnings: 1 },
  });
});

test('--print: the effective config with every default, which checks the same and prints the same again', async () => {
  const r = await steerdns(['check', '-c', 'config/example.yaml', '--print']);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  expect(r.stdout.split('\n')[0]).toBe('# config/example.yaml as steerdns reads it, defaults filled in (steerdns check --print)');
  const printed = parse(r.stdout) as Record<string, Record<string, unknown>>;
  // Defaults the example does not write are there.
  expect(printed.server.edns_udp_size).toBe(1232);
  expect(printed.server.tcp).toEqual({ idle_timeout: 10, max_connections: 1024, max_connections_per_client: 64 });
  expect(printed.server.listen).toEqual(['127.0.0.1:5353']);
  expect(printed.server.geoip).toEqual({ database: [path.join(ROOT, 'geoip', 'test', 'city.mmdb')] });
  const zone = (printed.zones as unknown as Record<string, unknown>[])[0];
  expect(zone.soa).toEqual({ mname: 'ns1.lb.example.com', rname: 'hostmaster.example.com', serial: null, refresh: 10800, retry: 3600, expire: 604800, minimum: 60, ttl: 3600 });
  const lbs = printed.load_balancers as unknown as Record<string, unknown>[];
  expect(lbs[1]).toMatchObject({ name: 'near.lb.example.com', ttl: 30, fallback_pool: null, location_strategy: { prefer_ecs: 'proximity', mode: 'pop' } });
  // The printed file is a config of its own: same summary, same print (but for the first line).
  const again = file('printed.yaml', r.stdout);
  expect(await check(['-c', again])).toEqual({ code: 0, stdout: `${again}: OK: 1 zone, 7 records, 6 load balancers, 4 pools, 9 endpoints, 0 monitors, 0 warnings\n`, stderr: '' });
  const second = await check(['-c', again, '--print']);
  expect(second.stdout.split('\n').slice(1)).toEqual(r.stdout.split('\n').slice(1));
  // With errors nothing is printed but the problems.
  const bad = await check(['-c', 'dup.yaml', '--print']);
  expect(bad.code).toBe(1);
  expect(bad.stdout).toBe('');
});

test('all-numeric dotted names are never hostnames (RFC 1123 §2.1): endpoints, NS names, load balancers', async () => {
  file('numeric.yaml', `server: { http: null }
zones:
  - name: example.com
    ns: [ns1.example.com, 10.0.0.300]
pools:
  p1: { origins: [ { address: 192.0.2.313 }, { address: 1.2.3.4.5 }, { address: host.123 }, { address: 1a.example.com } ] }
`);
  const r = await check(['-c', 'numeric.yaml']);
  expect(r.stderr.split('\n')).toEqual([
    'numeric.yaml:4:27: "10.0.0.300" is not a valid IP address, and an all-numeric name is not a hostname (RFC 1123 §2.1)',
    'numeric.yaml:6:31: "192.0.2.313" is not a valid IP address, and an all-numeric name is not a hostname (RFC 1123 §2.1)',
    'numeric.yaml:6:57: "1.2.3.4.5" is not a valid IP address, and an all-numeric name is not a hostname (RFC 1123 §2.1)',
    'numeric.yaml:6:81: "host.123" is neither an IP address nor a hostname',
    'numeric.yaml: 4 errors',
    '',
  ]);
});

test('a relative name in an MX, SRV or CNAME value that ends in a zone\'s (or its parent\'s) name: "did you mean …."', async () => {
  file('relative.yaml', `server: { http: null }
zones:
  - name: lb.example.com
    ns: [ns1.lb.example.com]
    records:
      - { name: "@", type: MX, values: ["10 mail.example.com", "20 mail", "30 mail.lb.example.com.", "40 mx.other.org"] }
      - { name: _sip._udp, type: SRV, value: "10 5 5060 sip.other.org" }
      - { name: docs, type: CNAME, value: www.lb.example.com }
      - { name: alias, type: CNAME, value: www.eu }
  - name: other.org
    ns: [ns1.other.org]
`);
  const r = await check(['-c', 'relative.yaml']);
  expect(r.code).toBe(0);
  expect(r.stderr.split('\n')).toEqual([
    'relative.yaml:6:42: warning: MX @: "mail.example.com" is relative to the zone, so it names mail.example.com.lb.example.com. (did you mean "mail.example.com."?)',
    'relative.yaml:6:103: warning: MX @: "mx.other.org" is relative to the zone, so it names mx.other.org.lb.example.com. (did you mean "mx.other.org."?)',
    'relative.yaml:7:47: warning: SRV _sip._udp: "sip.other.org" is relative to the zone, so it names sip.other.org.lb.example.com. (did you mean "sip.other.org."?)',
    'relative.yaml:8:43: warning: CNAME docs: "www.lb.example.com" is relative to the zone, so it names www.lb.example.com.lb.example.com. (did you mean "www.lb.example.com."?)',
    '',
  ]);
  expect(r.stdout).toBe('relative.yaml: OK: 2 zones, 7 records, 0 load balancers, 0 pools, 0 endpoints, 0 monitors, 4 warnings\n');
});

const PRIVILEGED = `server: { listen: ["127.0.0.1:53", "127.0.0.1:5353"], http: "127.0.0.1:80" }
zones:
  - { name: example.com, ns: [ns1.example.com] }
`;
const HINT = 'privileged (below 1024) and this user (uid 65534) cannot bind it: run serve as root or give node the CAP_NET_BIND_SERVICE capability (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE, as in deploy/steerdns.service; otherwise setcap cap_net_bind_service=+ep on the node binary)';

const asRoot = process.getuid?.() === 0;
(asRoot ? test : test.skip)('a privileged port for a user who cannot bind it: a hint about CAP_NET_BIND_SERVICE (none for root)', async () => {
  const f = file('privileged.yaml', PRIVILEGED);
  const nobody = await steerdns(['check', '-c', f], { uid: 65534, gid: 65534, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  expect(nobody).toEqual({
    code: 0,
    stdout: `${f}: OK: 1 zone, 0 records, 0 load balancers, 0 pools, 0 endpoints, 0 monitors, 2 warnings\n`,
    stderr: `${f}:1:21: warning: listen port 53 is ${HINT}\n${f}:1:62: warning: http port 80 is ${HINT}\n`,
  });
  const root = await steerdns(['check', '-c', f]);
  expect(root).toEqual({ code: 0, stdout: `${f}: OK: 1 zone, 0 records, 0 load balancers, 0 pools, 0 endpoints, 0 monitors, 0 warnings\n`, stderr: '' });
});

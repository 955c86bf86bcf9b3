// `steerdns check -c FILE` as a process (dist/ must be built: `npm test` builds first): `file:line:col: message`
// per problem on stderr, exit 1 on errors, exit 0 on a good file (the shipped example included).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, tmpDir } from '../helpers/server';

const CLI = path.join(ROOT, 'dist', 'cli.js');

function check(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'check', ...args], { cwd, timeout: 20000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const dir = tmpDir('steerdns-check-');
const file = (name: string, text: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('the example config passes', async () => {
  const r = await check(['-c', 'config/example.yaml']);
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('config/example.yaml: OK\n');
  expect(r.code).toBe(0);
});

test('schema errors: each on its own line as file:line:col: message, then a count; exit 1', async () => {
  const f = file('schema.yaml', `server:
  listn: ["127.0.0.1:0"]
  edns_udp_size: big
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: c, type: CNAME, value: a, vaule: b }
`);
  const r = await check(['-c', 'schema.yaml'], dir);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n')).toEqual([
    'schema.yaml:2:3: unknown key "listn" (did you mean "listen"?)',
    'schema.yaml:3:18: expected an integer from 512 to 4096, got "big"',
    'schema.yaml:8:43: unknown key "vaule" (did you mean "value"?)',
    'schema.yaml: 3 errors',
    '',
  ]);
  expect(f).toContain('schema.yaml');
});

test('bad record values, names outside the zone, dangling references (absolute path shown as given)', async () => {
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
    `${records}: 3 errors`,
    '',
  ]);
  const refs = file('refs.yaml', `server: { http: null }
zones:
  - name: example.com
    ns: [ns1.example.com]
monitors:
  webb: { type: http }
pools:
  p1:
    monitor: web
    origins: [ { address: 192.0.2.10 } ]
load_balancers:
  - { name: lb.example.com, default_pools: [p2] }
  - { name: lb.example.net, default_pools: [p1] }
`);
  const q = await check(['-c', refs]);
  expect(q.code).toBe(1);
  expect(q.stderr.split('\n')).toEqual([
    `${refs}:9:14: pool "p1" refers to unknown monitor "web" (did you mean "webb"?)`,
    `${refs}:12:45: load balancer "lb.example.com" default_pools refers to unknown pool "p2" (did you mean "p1"?)`,
    `${refs}:13:13: load balancer "lb.example.net" is not inside any configured zone (example.com)`,
    `${refs}: 3 errors`,
    '',
  ]);
});

test('warnings only: exit 0 and counted', async () => {
  const f = file('warn.yaml', `server: { http: null }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: x.example.com, type: A, value: 192.0.2.1 }
`);
  const r = await check(['-c', f]);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6:17: warning: `));
  expect(r.stdout).toBe(`${f}: OK (1 warning)\n`);
});

test('a missing file and a missing -c', async () => {
  const r = await check(['-c', 'does-not-exist.yaml'], dir);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('does-not-exist.yaml:1:1: cannot read config: ENOENT');
  const u = await check([]);
  expect(u.code).toBe(2);
  expect(u.stderr).toContain('check needs -c FILE');
});

// `steerdns check` on the shared-health settings (dist/ must be built: `npm test` builds first): the block, the
// store URL, probe_source and check_regions, each problem at its file:line:col.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, tmpDir } from '../helpers/server';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const dir = tmpDir('steerdns-check-shared-');

function check(name: string, text: string): Promise<{ code: number; stdout: string; stderr: string }> {
  writeFileSync(path.join(dir, name), text);
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'check', '-c', name], { cwd: dir, timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const REST = `zones:
  - name: example.com
    ns: [ns1.example.com]
monitors:
  web: { type: http, port: 8080 }
pools:
  a: { monitor: web, check_regions: [WEU, ENAM], origins: [{ address: 127.0.0.21 }] }
`;

test('a good block passes', async () => {
  const r = await check('good.yaml', `server:
  http: null
  pop: { code: AMS, country: NL }
  probe_source: ["127.0.0.11", "::1"]
  shared_health: { url: "redis://:secret@127.0.0.1:6379/1", key_prefix: "dns:", ttl: 30, grace: 10 }
${REST}`);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
});

test('a bad store URL is a clear error at its position, without the password', async () => {
  const r = await check('url.yaml', `server:
  http: null
  pop: { code: AMS, country: NL }
  shared_health:
    url: "redis://user:hunter2@cache.example:99999"
${REST}`);
  expect(r.code).toBe(1);
  expect(r.stderr.split('\n')[0]).toBe('url.yaml:5:11: "redis://user:[redacted]@cache.example:99999" is not a URL: write redis://[user:password@]host[:port][/db] or rediss:// for TLS');
  const s = await check('scheme.yaml', `server:
  http: null
  pop: { code: AMS, country: NL }
  shared_health: { url: "memcached://127.0.0.1:11211", grace: -1, unknown: 1 }
${REST}`);
  expect(s.code).toBe(1);
  expect(s.stderr.split('\n').slice(0, 3)).toEqual([
    'scheme.yaml:4:26: unsupported store "memcached://": use redis:// or rediss:// (TLS)',
    'scheme.yaml:4:63: -1 is out of range: expected a number from 0 to 86400',
    'scheme.yaml:4:67: unknown key "unknown"',
  ]);
  const db = await check('db.yaml', `server:
  http: null
  pop: { code: AMS, country: NL }
  shared_health: { url: "redis://127.0.0.1/cache" }
${REST}`);
  expect(db.stderr.split('\n')[0]).toBe('db.yaml:4:26: "/cache" is not a database number (redis://host:6379/0)');
});

test('shared health needs a region for this PoP; check_regions needs real region codes', async () => {
  const r = await check('region.yaml', `server:
  http: null
  pop: { code: AMS }
  shared_health: { url: "redis://127.0.0.1" }
zones:
  - name: example.com
    ns: [ns1.example.com]
monitors:
  web: { type: http, port: 8080 }
pools:
  a: { monitor: web, check_regions: [WEU, XEU], origins: [{ address: 127.0.0.21 }] }
`);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('region.yaml:11:43: pool "a": unknown region "XEU" in check_regions (regions: EEU, ENAM, ME, NAF, NEAS, NSAM, OC, SAF, SAS, SEAS, SSAM, WEU, WNAM)');
  expect(r.stderr).toContain('region.yaml:4:18: shared_health names this instance by its PoP code and region: set server.pop.region, or server.pop.country to derive it');
});

test('check_regions without shared health is a warning; two probe sources of one family are an error', async () => {
  const w = await check('warn.yaml', `server:
  http: null
${REST}`);
  expect(w.code).toBe(0);
  expect(w.stderr).toBe('warn.yaml:9:37: warning: pool "a": check_regions chooses which vantage points vote on health when server.shared_health is set; without it this server is the only vantage point and check_regions has no effect\n');
  const p = await check('source.yaml', `server:
  http: null
  probe_source: [127.0.0.1, 127.0.0.2]
${REST}`);
  expect(p.code).toBe(1);
  expect(p.stderr.split('\n')[0]).toBe('source.yaml:3:17: probe_source has two IPv4 addresses; give at most one per family');
});

test('the three PoP examples (config/pops) pass', async () => {
  for (const pop of ['ams', 'iad', 'sin']) {
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, [CLI, 'check', '-c', `config/pops/${pop}.yaml`], { cwd: ROOT, timeout: 20000 }, (err, stdout, stderr) => {
        resolve({ code: err ? 1 : 0, out: stdout + stderr });
      });
    });
    expect(r).toEqual({ code: 0, out: `config/pops/${pop}.yaml: OK: 1 zone, 3 records, 1 load balancer, 3 pools, 3 endpoints, 1 monitor, 0 warnings\n` });
  }
});

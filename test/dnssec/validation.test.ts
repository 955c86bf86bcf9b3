// Validation by independent validators (issue 15, "Done when"): delv (BIND) with the zone's trust anchor, and
// Unbound resolving through steerdns with the trust anchor that `steerdns dnssec ds` prints. Static, load-balanced
// (several ECS clients), MX with ADDITIONAL, a CNAME into a load balancer, a wildcard, NXDOMAIN and NODATA. Then
// Unbound's SERVFAIL when the signatures do not hold: damaged in transit, or made by a key the parent never saw.
// Needs `npm run build` (the server's config thread and the CLI run from dist/).
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { GEOIP_CITY, ROOT, startServer, tmpDir, type TestServer } from '../helpers/server';
import { delv, dig, dsLinesOf, Proxy, Unbound } from './validators';

const ZONE = 'lb.example.com';
const CLI = path.join(ROOT, 'dist', 'cli.js');

function yaml(keyDir: string): string {
  return `
server:
  listen: ["127.0.0.1:0"]
  http: null
  pop: { code: AMS, country: NL }
  geoip: { database: ${GEOIP_CITY} }
zones:
  - name: ${ZONE}
    ns: [ns1.${ZONE}]
    dnssec: { key_directory: ${keyDir} }
    records:
      - { name: ns1, type: A, value: 127.0.0.1 }
      - { name: www, type: A, value: 192.0.2.80 }
      - { name: "@", type: MX, value: "10 mail" }
      - { name: mail, type: A, value: 192.0.2.25 }
      - { name: mail, type: AAAA, value: "2001:db8::25" }
      - { name: alias, type: CNAME, value: geo }
      - { name: "*.wild", type: A, value: 192.0.2.99 }
      - { name: txt, type: TXT, value: "hello" }
pools:
  eu: { origins: [ { name: eu1, address: 192.0.2.10 }, { name: eu2, address: 192.0.2.11 }, { name: eu6, address: "2001:db8:e::1" } ] }
  us: { origins: [ { name: us1, address: 198.51.100.10 }, { name: us6, address: "2001:db8:a::1" } ] }
  ap: { origins: [ { name: ap1, address: 203.0.113.10 }, { name: ap6, address: "2001:db8:c::1" } ] }
load_balancers:
  - name: geo.${ZONE}
    steering_policy: geo
    default_pools: [eu, us, ap]
    country_pools: { JP: [ap], US: [us] }
    location_strategy: { prefer_ecs: always, mode: pop }
`;
}

const cli = (...args: string[]): string => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

const CLIENTS: [string, string, string][] = [
  // ECS subnet, the A the geo pools give it, the AAAA
  ['81.2.69.0/24', '192.0.2.10', '2001:db8:e::1'],
  ['1.0.16.0/24', '203.0.113.10', '2001:db8:c::1'],
  ['216.160.83.0/24', '198.51.100.10', '2001:db8:a::1'],
];

describe('signed answers validate', () => {
  let srv: TestServer;
  let ds: string[];
  let configPath: string;
  let keyDir: string;
  let proxy: Proxy;
  let unbound: Unbound;

  beforeAll(async () => {
    const dir = tmpDir();
    keyDir = path.join(dir, 'keys');
    configPath = path.join(dir, 'steerdns.yaml');
    writeFileSync(configPath, yaml(keyDir));
    cli('dnssec', 'keygen', '--zone', ZONE, '-c', configPath);
    ds = dsLinesOf(cli('dnssec', 'ds', '--zone', ZONE, '-c', configPath));
    expect(ds).toHaveLength(1);
    srv = await startServer(yaml(keyDir));
    proxy = await Proxy.start(srv.port);
    unbound = await Unbound.start(srv.port, ds, { ecs: true });
  }, 60000);

  afterAll(async () => {
    await unbound?.stop();
    await proxy?.close();
    await srv?.stop();
  });

  test.each([
    ['www', 'A', '192.0.2.80'],
    ['@', 'MX', '10 mail.lb.example.com.'],
    ['txt', 'TXT', '"hello"'],
    ['anything.wild', 'A', '192.0.2.99'],
    ['@', 'DNSKEY', '257 3 13'],
    ['mail', 'A', '192.0.2.25'],
    ['mail', 'AAAA', '2001:db8::25'],
  ])('delv: %s %s is fully validated', async (name, type, expected) => {
    const fqdn = name === '@' ? ZONE : `${name}.${ZONE}`;
    const r = await delv(srv.port, fqdn, type, ds, ZONE);
    expect(r.out).toContain('; fully validated');
    expect(r.answers.join('\n')).toContain(expected);
  });

  test('MX: the targets\' A and AAAA in ADDITIONAL, each with its RRSIG (the same RRsets delv validates above)', async () => {
    const r = await dig(srv.port, ZONE, 'MX', ['+norec']);
    expect(r.answer.map((l) => l.split(' ')[3])).toEqual(['MX', 'RRSIG']);
    const add = r.additional.filter((l) => !l.startsWith(';') && !l.includes('OPT'));
    expect(add.map((l) => l.split(' ').slice(0, 5).join(' '))).toEqual([
      'mail.lb.example.com. 300 IN A 192.0.2.25',
      'mail.lb.example.com. 300 IN RRSIG A',
      'mail.lb.example.com. 300 IN AAAA 2001:db8::25',
      'mail.lb.example.com. 300 IN RRSIG AAAA',
    ]);
  });

  test('delv: the load balancer for several ECS clients, A and AAAA, and a CNAME into it', async () => {
    for (const [ecs, a, aaaa] of CLIENTS) {
      proxy.ecs = ecs;
      const ra = await delv(proxy.port, `geo.${ZONE}`, 'A', ds, ZONE);
      expect(ra.validated).toBe(true);
      expect(ra.answers.join('\n')).toContain(a);
      const r6 = await delv(proxy.port, `geo.${ZONE}`, 'AAAA', ds, ZONE);
      expect(r6.validated).toBe(true);
      expect(r6.answers.join('\n')).toContain(aaaa);
      const rc = await delv(proxy.port, `alias.${ZONE}`, 'A', ds, ZONE);
      expect(rc.validated).toBe(true);
      expect(rc.answers.join('\n')).toMatch(new RegExp(`alias\\.lb\\.example\\.com\\..*CNAME.*geo\\.lb\\.example\\.com\\.[\\s\\S]*${a.replace(/\./g, '\\.')}`));
    }
    proxy.ecs = null;
  });

  test('delv: NXDOMAIN and NODATA are validated negative answers', async () => {
    const nx = await delv(srv.port, `nope.${ZONE}`, 'A', ds, ZONE);
    expect(nx.out).toMatch(/; negative response, fully validated/);
    const nodata = await delv(srv.port, `www.${ZONE}`, 'TXT', ds, ZONE);
    expect(nodata.out).toMatch(/; negative response, fully validated/);
    const lbNodata = await delv(srv.port, `geo.${ZONE}`, 'MX', ds, ZONE);
    expect(lbNodata.out).toMatch(/; negative response, fully validated/);
  });

  test('Unbound: AD on static, MX with its ADDITIONAL, wildcard, CNAME into the load balancer, NXDOMAIN, NODATA', async () => {
    const www = await unbound.query(`www.${ZONE}`, 'A');
    expect(www.status).toBe('NOERROR');
    expect(www.flags).toContain('ad');
    expect(www.answer.join('\n')).toContain('192.0.2.80');

    const mx = await unbound.query(ZONE, 'MX');
    expect(mx.flags).toContain('ad');
    expect(mx.answer.join('\n')).toContain('MX 10 mail.lb.example.com.');
    const aaaa = await unbound.query(`mail.${ZONE}`, 'AAAA');
    expect(aaaa.flags).toContain('ad');

    const wild = await unbound.query(`x.wild.${ZONE}`, 'A');
    expect(wild.flags).toContain('ad');
    expect(wild.answer.join('\n')).toContain('192.0.2.99');

    const nx = await unbound.query(`nope.${ZONE}`, 'A');
    // Compact denial: NOERROR without data, authenticated (a resolver that reads NXNAME may say NXDOMAIN).
    expect(['NOERROR', 'NXDOMAIN']).toContain(nx.status);
    expect(nx.answer).toEqual([]);
    expect(nx.flags).toContain('ad');
    const nodata = await unbound.query(`www.${ZONE}`, 'TXT');
    expect(nodata.status).toBe('NOERROR');
    expect(nodata.flags).toContain('ad');
  });

  test('Unbound: the load balancer per ECS client (subnet cache), A and AAAA, and through the CNAME', async () => {
    for (const [ecs, a, aaaa] of CLIENTS) {
      const r = await unbound.query(`geo.${ZONE}`, 'A', [`+subnet=${ecs}`]);
      expect(r.flags).toContain('ad');
      expect(r.answer.join('\n')).toContain(a);
      const r6 = await unbound.query(`geo.${ZONE}`, 'AAAA', [`+subnet=${ecs}`]);
      expect(r6.flags).toContain('ad');
      expect(r6.answer.join('\n')).toContain(aaaa);
      const c = await unbound.query(`alias.${ZONE}`, 'A', [`+subnet=${ecs}`]);
      expect(c.flags).toContain('ad');
      expect(c.answer.join('\n')).toContain(a);
    }
  });

  test('Unbound: SERVFAIL when the signatures are damaged on the way', async () => {
    const bad = await Unbound.start(proxy.port, ds);
    try {
      proxy.corrupt = true;
      const r = await bad.query(`www.${ZONE}`, 'A');
      expect(r.status).toBe('SERVFAIL');
      proxy.corrupt = false;
      await bad.flush(ZONE);
      const ok = await bad.query(`www.${ZONE}`, 'A');
      expect(ok.status).toBe('NOERROR');
      expect(ok.flags).toContain('ad');
    } finally {
      proxy.corrupt = false;
      await bad.stop();
    }
  });

  test('Unbound: SERVFAIL once the key on disk is swapped for one whose DS the parent does not have', async () => {
    const fresh = await Unbound.start(srv.port, ds);
    try {
      const before = await fresh.query(`txt.${ZONE}`, 'TXT');
      expect(before.flags).toContain('ad');
      for (const f of readdirSync(keyDir)) rmSync(path.join(keyDir, f));
      cli('dnssec', 'keygen', '--zone', ZONE, '-c', configPath);
      expect(await srv.reload()).toBe(true);
      await fresh.flush(ZONE);
      const after = await fresh.query(`txt.${ZONE}`, 'TXT');
      expect(after.status).toBe('SERVFAIL');
      // delv agrees: no chain from the anchor to the new key.
      const d = await delv(srv.port, `txt.${ZONE}`, 'TXT', ds, ZONE);
      expect(d.validated).toBe(false);
    } finally {
      await fresh.stop();
    }
  });

});

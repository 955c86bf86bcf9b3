// Design §2.6–2.7: MX and SRV answers from load balancers whose pools have hostname endpoints, steered A/AAAA in
// ADDITIONAL for targets that are our own LB names (also behind static MX records), and hostname endpoints
// answering A queries with addresses, never a CNAME (names inside our zones resolved internally, `localhost`
// through /etc/hosts).
import { answers, ecsOf, query, rcodeOf, startServer, type TestServer } from '../helpers/server';
import {
  aaOf, additionalAddrs, addrs, authorityTypes, bulk, countBy, expectFit, fixture, mustReload, repeat, sorted, ttls, waitFor,
} from './lb-helpers';

const RECORDS = [
  'name: mx1, type: A, value: 192.0.2.25',
  'name: mx2, type: A, value: 192.0.2.26',
  'name: mx2, type: AAAA, value: "2001:db8::26"',
  'name: sip1, type: A, value: 192.0.2.35',
  'name: sip2, type: A, value: 192.0.2.36',
  'name: app, type: A, value: 192.0.2.77',
  'name: "@", type: MX, value: "10 www.example.com."',
  'name: static-srv, type: SRV, value: "1 1 443 smtp.example.com."',
  'name: h1, type: A, value: 192.0.2.5',
  'name: h2, type: A, values: [192.0.2.5, 192.0.2.6]',
];

const POOLS: Record<string, string> = {
  P1: '{ origins: [ { name: a1, address: 192.0.2.1 }, { name: a2, address: 192.0.2.2 } ] }',
  P2: '{ origins: [ { name: b1, address: 198.51.100.1 } ] }',
  MXP: '{ origins: [ { name: mx1, address: mx1.example.com, priority: 10 }, { name: mx2, address: mx2.example.com, priority: 20 } ] }',
  MXU: '{ origins: [ { name: mx1, address: mx1.example.com, priority: 10, weight: 1 }, { name: mx2, address: mx2.example.com, priority: 20, weight: 0.5 } ] }',
  MXLB: '{ origins: [ { name: smtp, address: smtp.example.com, priority: 5 } ] }',
  SRVP: '{ origins: [ { name: sip1, address: sip1.example.com, port: 5060, priority: 10, weight: 1 }, { name: sip2, address: sip2.example.com, port: 5061, priority: 20, weight: 1 } ] }',
  SRVU: '{ origins: [ { name: sip1, address: sip1.example.com, port: 5060, priority: 10, weight: 0.5 }, { name: sip2, address: sip2.example.com, port: 5061, priority: 20, weight: 1 } ] }',
  HOST: '{ origins: [ { name: app, address: app.example.com }, { name: lo, address: localhost } ] }',
  CHAIN: '{ origins: [ { name: www, address: www.example.com } ] }',
  DUP: '{ origins: [ { name: h1, address: h1.example.com }, { name: h2, address: h2.example.com }, { name: ip, address: 192.0.2.6 } ] }',
};

const LBS = [
  'name: mail.example.com, default_pools: [MXP]',
  'name: mailu.example.com, default_pools: [MXU]',
  'name: mailsteer.example.com, default_pools: [MXLB]',
  'name: _sip._tcp.example.com, default_pools: [SRVP]',
  'name: _sipu._tcp.example.com, default_pools: [SRVU]',
  'name: app-lb.example.com, default_pools: [HOST]',
  'name: chain.example.com, default_pools: [CHAIN]',
  'name: dup.example.com, default_pools: [DUP]',
  'name: www.example.com, default_pools: [P1], steering_policy: geo, country_pools: { GB: [P2] }, location_strategy: { prefer_ecs: always }',
  'name: smtp.example.com, default_pools: [P1], steering_policy: geo, country_pools: { GB: [P2] }, location_strategy: { prefer_ecs: always }',
];

let s: TestServer;
beforeAll(async () => {
  s = await startServer(fixture({ records: RECORDS, pools: POOLS, lbs: LBS }));
});
afterAll(async () => {
  await s.stop();
});

describe('MX and SRV from load balancers', () => {
  test('MX at an LB name → MX records for the endpoints (preference = priority), TTL 30, targets\' addresses in ADDITIONAL', async () => {
    const r = await query(s.port, 'mail.example.com', { type: 'MX' });
    expect(rcodeOf(r.packet)).toBe('NOERROR');
    expect(aaOf(r.packet)).toBe(true);
    expect(answers(r.packet, 'MX')).toEqual(['10 mx1.example.com', '20 mx2.example.com']);
    expect(ttls(r.packet)).toEqual([30, 30]);
    expect(additionalAddrs(r.packet)).toEqual(['mx1.example.com A 192.0.2.25', 'mx2.example.com A 192.0.2.26', 'mx2.example.com AAAA 2001:db8::26']);
  });

  test('MX with unequal weights → one MX per answer, weighted', async () => {
    const rs = await bulk(s.port, repeat({ name: 'mailu.example.com', type: 'MX' }, 3000));
    for (const p of rs) expect(answers(p, 'MX')).toHaveLength(1);
    expectFit(countBy(rs, (p) => answers(p, 'MX')[0]), ['10 mx1.example.com', '20 mx2.example.com'], [2 / 3, 1 / 3]);
  });

  test('an MX target that is itself an LB: its addresses in ADDITIONAL are steered for the same client', async () => {
    const gb = await query(s.port, 'mailsteer.example.com', { type: 'MX', ecs: '81.2.69.0/24' });
    expect(answers(gb.packet, 'MX')).toEqual(['5 smtp.example.com']);
    expect(additionalAddrs(gb.packet)).toEqual(['smtp.example.com A 198.51.100.1']);
    expect(ecsOf(gb.packet)?.scopePrefixLength).toBe(24);
    const jp = await query(s.port, 'mailsteer.example.com', { type: 'MX', ecs: '1.0.16.0/24' });
    expect(additionalAddrs(jp.packet)).toEqual(['smtp.example.com A 192.0.2.1', 'smtp.example.com A 192.0.2.2']);
  });

  test('SRV at an LB name → priority, weight (= endpoint weight × 100), port, target; addresses in ADDITIONAL', async () => {
    const r = await query(s.port, '_sip._tcp.example.com', { type: 'SRV' });
    expect(rcodeOf(r.packet)).toBe('NOERROR');
    expect(answers(r.packet, 'SRV')).toEqual(['10 100 5060 sip1.example.com', '20 100 5061 sip2.example.com']);
    expect(ttls(r.packet)).toEqual([30, 30]);
    expect(additionalAddrs(r.packet)).toEqual(['sip1.example.com A 192.0.2.35', 'sip2.example.com A 192.0.2.36']);
  });

  test('SRV with unequal weights → one SRV per answer carrying weight 50 or 100', async () => {
    const rs = await bulk(s.port, repeat({ name: '_sipu._tcp.example.com', type: 'SRV' }, 3000));
    for (const p of rs) expect(answers(p, 'SRV')).toHaveLength(1);
    expectFit(countBy(rs, (p) => answers(p, 'SRV')[0]), ['10 50 5060 sip1.example.com', '20 100 5061 sip2.example.com'], [1 / 3, 2 / 3]);
  });

  test('SRV at an LB whose endpoints have no port → NODATA; MX at an LB of address endpoints → NODATA', async () => {
    const srv = await query(s.port, 'mail.example.com', { type: 'SRV' });
    expect(rcodeOf(srv.packet)).toBe('NOERROR');
    expect(srv.packet.answers ?? []).toEqual([]);
    expect(authorityTypes(srv.packet)).toEqual(['SOA']);
    const mx = await query(s.port, 'www.example.com', { type: 'MX' });
    expect(mx.packet.answers ?? []).toEqual([]);
    expect(authorityTypes(mx.packet)).toEqual(['SOA']);
  });

  test('a static MX whose target is an LB name gets steered additional addresses', async () => {
    const gb = await query(s.port, 'example.com', { type: 'MX', ecs: '81.2.69.0/24' });
    expect(answers(gb.packet, 'MX')).toEqual(['10 www.example.com']);
    expect(ttls(gb.packet)).toEqual([300]);
    expect(additionalAddrs(gb.packet)).toEqual(['www.example.com A 198.51.100.1']);
    expect(ecsOf(gb.packet)?.scopePrefixLength).toBe(24);
    const plain = await query(s.port, 'example.com', { type: 'MX' });
    expect(additionalAddrs(plain.packet)).toEqual(['www.example.com A 192.0.2.1', 'www.example.com A 192.0.2.2']);
  });

  test('a static SRV whose target is an LB name gets steered additional addresses', async () => {
    const gb = await query(s.port, 'static-srv.example.com', { type: 'SRV', ecs: '81.2.69.0/24' });
    expect(answers(gb.packet, 'SRV')).toEqual(['1 1 443 smtp.example.com']);
    expect(additionalAddrs(gb.packet)).toEqual(['smtp.example.com A 198.51.100.1']);
  });
});

describe('hostname endpoints for A/AAAA', () => {
  test('A at an LB with hostname endpoints → their addresses (in-zone name and localhost), never a CNAME', async () => {
    const r = await query(s.port, 'app-lb.example.com');
    expect((r.packet.answers ?? []).map((a) => a.type)).toEqual(['A', 'A']);
    expect(sorted(addrs(r.packet))).toEqual(['127.0.0.1', '192.0.2.77']);
    expect(ttls(r.packet)).toEqual([30, 30]);
  });

  test('AAAA at an LB with hostname endpoints: addresses only (no CNAME)', async () => {
    const r = await query(s.port, 'app-lb.example.com', { type: 'AAAA' });
    expect(rcodeOf(r.packet)).toBe('NOERROR');
    expect((r.packet.answers ?? []).every((a) => a.type === 'AAAA')).toBe(true);
  });

  test('A at an LB whose hostname endpoint is another of our LB names → that LB\'s addresses', async () => {
    const r = await query(s.port, 'chain.example.com');
    expect((r.packet.answers ?? []).map((a) => a.type)).toEqual(['A', 'A']);
    expect(sorted(addrs(r.packet))).toEqual(['192.0.2.1', '192.0.2.2']);
  });

  test('endpoints sharing an address (two hostnames, or a hostname and an IP) give one record per address', async () => {
    const r = await query(s.port, 'dup.example.com');
    expect(sorted(addrs(r.packet))).toEqual(['192.0.2.5', '192.0.2.6']);
  });

  test('MX at an LB with hostname endpoints resolving outside our zones (localhost): target only, no additional', async () => {
    const r = await query(s.port, 'app-lb.example.com', { type: 'MX' });
    expect(answers(r.packet, 'MX')).toEqual(['10 app.example.com', '10 localhost']);
    expect(additionalAddrs(r.packet)).toEqual(['app.example.com A 192.0.2.77']);
  });

  test('a changed in-zone address is followed after a reload', async () => {
    const records = RECORDS.map((r) => (r.startsWith('name: app,') ? 'name: app, type: A, value: 192.0.2.78' : r));
    await mustReload(s, fixture({ records, pools: POOLS, lbs: LBS }));
    const r = await waitFor(() => query(s.port, 'app-lb.example.com'), (x) => addrs(x.packet).includes('192.0.2.78'), 5000);
    expect(sorted(addrs(r.packet))).toEqual(['127.0.0.1', '192.0.2.78']);
    await mustReload(s, fixture({ records: RECORDS, pools: POOLS, lbs: LBS }));
  });
});

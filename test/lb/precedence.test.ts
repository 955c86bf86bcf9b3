// Seed §9.7 (T48–T50) and design §2.3: load-balanced names versus static records — same-name precedence,
// wildcard LBs, other types still served, a static CNAME hidden, disabled load balancers.
import { ecsOf, flagOf, GEOIP_CITY, query, rcodeOf, startServer, type TestServer } from '../helpers/server';
import { aaOf, addrs, authorityTypes, BASE_POOLS, POP, sorted, ttls, type Packet } from './lb-helpers';

const pools = Object.entries({
  ...BASE_POOLS,
  GEO: '{ origins: [ { name: g1, address: 192.0.2.91 } ] }',
}).map(([k, v]) => `  ${k}: ${v}`).join('\n');

const YAML = `
server: { listen: ["127.0.0.1:0"], http: null, pop: ${POP}, geoip: { database: "${GEOIP_CITY}" } }
zones:
  - name: example.com
    ns: [ns1.example.com]
    soa: { minimum: 60, ttl: 3600 }
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: x, type: A, value: 192.0.2.50 }
      - { name: x, type: AAAA, value: "2001:db8::50" }
      - { name: x, type: TXT, value: "static text at an LB name" }
      - { name: x, type: MX, value: "10 mx.example.net." }
      - { name: y, type: A, value: 192.0.2.51 }
      - { name: "*", type: A, value: 192.0.2.52 }
      - { name: c, type: CNAME, value: elsewhere.example.net. }
      - { name: alias, type: CNAME, value: geo.example.com. }
  - name: example.org
    ns: [ns1.example.org]
    soa: { minimum: 60, ttl: 3600 }
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: dis, type: A, value: 192.0.2.60 }
      - { name: cn, type: CNAME, value: lb.example.org. }
pools:
${pools}
load_balancers:
  - { name: x.example.com, default_pools: [P2] }
  - { name: "*.example.com", default_pools: [P3] }
  - { name: c.example.com, default_pools: [P1] }
  - { name: geo.example.com, default_pools: [P1], steering_policy: geo, country_pools: { GB: [GEO] }, location_strategy: { prefer_ecs: always } }
  - { name: dis.example.org, enabled: false, default_pools: [P1] }
  - { name: gone.example.org, enabled: false, default_pools: [P1] }
  - { name: lb.example.org, default_pools: [P1] }
  - { name: cn.example.org, enabled: false, default_pools: [P2] }
`;

let s: TestServer;
beforeAll(async () => {
  s = await startServer(YAML);
});
afterAll(async () => {
  await s.stop();
});

const answerTypes = (p: Packet) => (p.answers ?? []).map((a) => a.type);

describe('§9.7 precedence and disabled LB', () => {
  test('T48 static A x + LB x → the LB answer; the static A is not used (and load warns)', async () => {
    const r = await query(s.port, 'x.example.com');
    expect(rcodeOf(r.packet)).toBe('NOERROR');
    expect(flagOf(r.raw, 'aa')).toBe(true);
    expect(addrs(r.packet)).toEqual(['198.51.100.1']);
    expect(ttls(r.packet)).toEqual([30]);
    expect(s.logs.some((l) => l.includes('x.example.com') && l.includes('takes precedence'))).toBe(true);
  });

  test('T49 static A y + LB *.example.com → the static y (more specific); z → the LB answer', async () => {
    const y = await query(s.port, 'y.example.com');
    expect(addrs(y.packet)).toEqual(['192.0.2.51']);
    expect(ttls(y.packet)).toEqual([300]);
    const z = await query(s.port, 'z.example.com');
    expect(addrs(z.packet)).toEqual(['203.0.113.1']);
    expect(ttls(z.packet)).toEqual([30]);
    expect(z.packet.answers![0].name).toBe('z.example.com'); // synthesized owner = the name asked
  });

  test('T49 static A *.example.com + LB *.example.com → the LB answer (equally specific)', async () => {
    for (const name of ['z.example.com', 'anything.example.com', 'a.b.example.com']) {
      const r = await query(s.port, name);
      expect(addrs(r.packet)).toEqual(['203.0.113.1']);
      expect(r.packet.answers![0].name).toBe(name);
    }
  });

  test('wildcard LB: not below an existing name (RFC 4592), other types NODATA, AA set', async () => {
    const below = await query(s.port, 'q.y.example.com');
    expect(rcodeOf(below.packet)).toBe('NXDOMAIN');
    const txt = await query(s.port, 'z.example.com', { type: 'TXT' });
    expect(rcodeOf(txt.packet)).toBe('NOERROR');
    expect(aaOf(txt.packet)).toBe(true);
    expect(txt.packet.answers ?? []).toEqual([]);
    expect(authorityTypes(txt.packet)).toEqual(['SOA']);
  });

  test('static records of other types at an LB name are still served (TXT, MX); static AAAA is hidden by the LB', async () => {
    const txt = await query(s.port, 'x.example.com', { type: 'TXT' });
    expect(answerTypes(txt.packet)).toEqual(['TXT']);
    expect(String((txt.packet.answers![0] as { data: Buffer[] }).data[0])).toBe('static text at an LB name');
    const mx = await query(s.port, 'x.example.com', { type: 'MX' });
    expect(answerTypes(mx.packet)).toEqual(['MX']);
    // The LB serves AAAA at x; its pool has no IPv6 endpoint → NODATA, not the static AAAA.
    const six = await query(s.port, 'x.example.com', { type: 'AAAA' });
    expect(rcodeOf(six.packet)).toBe('NOERROR');
    expect(six.packet.answers ?? []).toEqual([]);
    expect(authorityTypes(six.packet)).toEqual(['SOA']);
  });

  test('a static CNAME at an LB name is hidden for every type (load warns)', async () => {
    const a = await query(s.port, 'c.example.com');
    expect(answerTypes(a.packet)).toEqual(['A', 'A']);
    expect(sorted(addrs(a.packet))).toEqual(['192.0.2.1', '192.0.2.2']);
    for (const type of ['TXT', 'CNAME']) {
      const r = await query(s.port, 'c.example.com', { type });
      expect(rcodeOf(r.packet)).toBe('NOERROR');
      expect(r.packet.answers ?? []).toEqual([]);
    }
    expect(s.logs.some((l) => l.includes('c.example.com') && l.includes('static CNAME'))).toBe(true);
  });

  test('a static CNAME pointing at an LB name: the chain ends in the steered answer (ECS honoured)', async () => {
    const r = await query(s.port, 'alias.example.com', { ecs: '81.2.69.0/24' });
    expect(answerTypes(r.packet)).toEqual(['CNAME', 'A']);
    expect(addrs(r.packet)).toEqual(['192.0.2.91']);
    expect(ecsOf(r.packet)?.scopePrefixLength).toBe(24);
    const plain = await query(s.port, 'alias.example.com');
    expect(sorted(addrs(plain.packet))).toEqual(['192.0.2.1', '192.0.2.2']);
  });

  test('names match case-insensitively and the question is echoed as asked', async () => {
    const r = await query(s.port, 'X.Example.COM');
    expect(r.packet.questions![0].name).toBe('X.Example.COM');
    expect(addrs(r.packet)).toEqual(['198.51.100.1']);
  });

  test('T50 disabled LB with a static A → the static record (zone TTL)', async () => {
    const r = await query(s.port, 'dis.example.org');
    expect(addrs(r.packet)).toEqual(['192.0.2.60']);
    expect(ttls(r.packet)).toEqual([300]);
  });

  test('T50 disabled LB without static records → as if no LB: NXDOMAIN with the SOA', async () => {
    const r = await query(s.port, 'gone.example.org');
    expect(rcodeOf(r.packet)).toBe('NXDOMAIN');
    expect(aaOf(r.packet)).toBe(true);
    expect(authorityTypes(r.packet)).toEqual(['SOA']);
    expect(sorted(addrs((await query(s.port, 'lb.example.org')).packet))).toEqual(['192.0.2.1', '192.0.2.2']);
  });

  test('T50 a disabled LB leaves a static CNAME at its name in place (followed into an enabled LB)', async () => {
    const r = await query(s.port, 'cn.example.org');
    expect(answerTypes(r.packet)).toEqual(['CNAME', 'A', 'A']);
    expect(sorted(addrs(r.packet))).toEqual(['192.0.2.1', '192.0.2.2']);
  });

  test('T50 a disabled LB under a wildcard LB leaves the name to the wildcard', async () => {
    const yaml = YAML.replace('- { name: x.example.com, default_pools: [P2] }', '- { name: x.example.com, enabled: false, default_pools: [P2] }');
    expect(yaml).not.toBe(YAML);
    expect(await s.reload(yaml)).toBe(true);
    // x has static records: they are served again (the exact name beats the wildcard).
    expect(addrs((await query(s.port, 'x.example.com')).packet)).toEqual(['192.0.2.50']);
    expect(addrs((await query(s.port, 'x.example.com', { type: 'AAAA' })).packet, 'AAAA')).toEqual(['2001:db8::50']);
    expect(await s.reload(YAML)).toBe(true);
    expect(addrs((await query(s.port, 'x.example.com')).packet)).toEqual(['198.51.100.1']);
  });
});

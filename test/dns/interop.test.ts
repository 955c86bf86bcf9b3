// dig (BIND) and kdig (Knot) against the server, over UDP and TCP, with ECS, NSID and +norec; their text output
// is parsed and the sections asserted.
import { startServer, TestServer } from '../helpers/server';
import { dig, rdataOf } from './tools';

const YAML = `
server: { listen: ["127.0.0.1:0"], http: null, nsid: interop-1, identity: interop-id }
zones:
  - name: example.com
    soa: { mname: ns1.example.com, rname: hostmaster.example.com, ttl: 3600, minimum: 60, serial: 42 }
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, values: [192.0.2.1, 192.0.2.2] }
      - { name: www, type: AAAA, value: "2001:db8::1" }
      - { name: "@", type: MX, value: "10 mail" }
      - { name: mail, type: A, value: 192.0.2.25 }
      - { name: alias, type: CNAME, value: www }
      - { name: "@", type: TXT, value: '"v=spf1 -all"' }
      - { name: sub, type: NS, value: ns.sub }
      - { name: ns.sub, type: A, value: 192.0.2.99 }
pools:
  p1: { origins: [ { address: 192.0.2.10 } ] }
load_balancers:
  - { name: lb.example.com, default_pools: [p1] }
`;

let s: TestServer;
beforeAll(async () => {
  s = await startServer(YAML);
});
afterAll(async () => {
  await s.stop();
});

const TOOLS = ['dig', 'kdig'] as const;

describe.each(TOOLS)('%s', (tool) => {
  test.each([['UDP', []], ['TCP', ['+tcp']]] as const)('A over %s with +norec: qr aa, two answers, no rd/ra', async (transport, extra) => {
    const r = await dig(tool, s.port, ['www.example.com', 'A', '+norec', '+bufsize=1232', ...extra]);
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toEqual(['aa', 'qr']);
    expect(r.transport).toBe(transport);
    expect(r.counts).toEqual({ query: 1, answer: 2, authority: 0, additional: 1 });
    expect(r.answer.map((x) => `${x.name} ${x.ttl} ${x.klass} ${x.type} ${x.data}`).sort()).toEqual([
      'www.example.com 300 IN A 192.0.2.1', 'www.example.com 300 IN A 192.0.2.2',
    ]);
    expect(r.udpSize).toBe(1232);
  });

  test('RD is copied when set; RA never', async () => {
    const r = await dig(tool, s.port, ['www.example.com', 'AAAA']);
    expect(r.flags).toEqual(['aa', 'qr', 'rd']);
    expect(rdataOf(r.answer, 'AAAA')).toEqual(['2001:db8::1']);
  });

  test('+subnet (IPv4 and IPv6 /56) is echoed with scope 0 for static data', async () => {
    const v4 = await dig(tool, s.port, ['www.example.com', 'A', '+subnet=198.51.100.0/24']);
    expect(v4.subnet).toBe('198.51.100.0/24/0');
    expect(v4.counts.answer).toBe(2);
    const v6 = await dig(tool, s.port, ['www.example.com', 'A', '+subnet=2001:db8:1200::/56', '+tcp']);
    expect(v6.subnet).toBe('2001:db8:1200::/56/0');
    expect(v6.status).toBe('NOERROR');
  });

  test('+nsid', async () => {
    const r = await dig(tool, s.port, ['www.example.com', 'A', '+nsid']);
    expect(r.nsid).toBe('interop-1');
    const none = await dig(tool, s.port, ['www.example.com', 'A']);
    expect(none.nsid).toBeNull();
  });

  test('MX with the exchange address in ADDITIONAL', async () => {
    const r = await dig(tool, s.port, ['example.com', 'MX', '+norec']);
    expect(rdataOf(r.answer, 'MX')).toEqual(['10 mail.example.com.']);
    expect(r.additional.map((x) => `${x.name} ${x.type} ${x.data}`)).toEqual(['mail.example.com A 192.0.2.25']);
  });

  test('CNAME followed in the answer', async () => {
    const r = await dig(tool, s.port, ['alias.example.com', 'A']);
    expect(r.answer.map((x) => `${x.name} ${x.type} ${x.data}`)).toEqual([
      'alias.example.com CNAME www.example.com.', 'www.example.com A 192.0.2.1', 'www.example.com A 192.0.2.2',
    ]);
  });

  test('NXDOMAIN with the SOA (negative TTL 60) in AUTHORITY', async () => {
    const r = await dig(tool, s.port, ['nope.example.com', 'A']);
    expect(r.status).toBe('NXDOMAIN');
    expect(r.flags).toContain('aa');
    expect(r.answer).toEqual([]);
    expect(r.authority.map((x) => `${x.name} ${x.ttl} ${x.type} ${x.data}`)).toEqual([
      'example.com 60 SOA ns1.example.com. hostmaster.example.com. 42 10800 3600 604800 60',
    ]);
  });

  test('referral: no aa, NS in AUTHORITY, glue in ADDITIONAL', async () => {
    const r = await dig(tool, s.port, ['host.sub.example.com', 'A', '+norec']);
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toEqual(['qr']);
    expect(r.authority.map((x) => `${x.name} ${x.type} ${x.data}`)).toEqual(['sub.example.com NS ns.sub.example.com.']);
    expect(r.additional.map((x) => `${x.name} ${x.type} ${x.data}`)).toEqual(['ns.sub.example.com A 192.0.2.99']);
  });

  test('REFUSED outside our zones', async () => {
    const r = await dig(tool, s.port, ['www.example.net', 'A']);
    expect(r.status).toBe('REFUSED');
    expect(r.flags).not.toContain('aa');
  });

  test('ANY → HINFO "RFC8482"', async () => {
    const r = await dig(tool, s.port, ['www.example.com', 'ANY']);
    expect(r.answer.map((x) => `${x.type} ${x.data}`)).toEqual(['HINFO "RFC8482" ""']);
  });

  test('CH TXT id.server', async () => {
    const r = await dig(tool, s.port, ['id.server', 'CH', 'TXT']);
    expect(r.answer.map((x) => `${x.klass} ${x.type} ${x.data}`)).toEqual(['CH TXT "interop-id"']);
  });

  test('load-balanced name', async () => {
    const r = await dig(tool, s.port, ['lb.example.com', 'A']);
    expect(r.answer.map((x) => `${x.ttl} ${x.data}`)).toEqual(['30 192.0.2.10']);
  });

  test('AXFR over TCP is refused', async () => {
    const out = await dig(tool, s.port, ['example.com', 'AXFR']).catch((e: Error) => e.message);
    const text = typeof out === 'string' ? out : out.stdout + out.stderr;
    // dig: "; Transfer failed." (exit 0); kdig: "server replied with error 'REFUSED'" (exit 1).
    expect(text).toMatch(tool === 'dig' ? /; Transfer failed\./ : /server replied with error 'REFUSED'/);
    expect(text).not.toMatch(/www\.example\.com\.\s+\d+\s+IN\s+A/);
  });
});

// The authority over the wire: the real server in this process on a loopback port, queried by Node's own
// resolver (c-ares, an independent client) where it can express the question, and by hand-built packets
// otherwise. Every raw response is decoded by dns-packet AND dns2, which must agree (oracle.ts).
import { Resolver } from 'node:dns/promises';
import { startServer, tcpExchange, TestServer } from '../helpers/server';
import { dataOf, decodeBoth, lines, Norm, rcodeName } from './oracle';
import { COOKIE, ecsFor, ecsOption, EdnsOpt, NSID, rawQuery, RawQuery, udpMaybe } from './packets';

const LONG_TXT = 'v=DKIM1; k=rsa; p=' + 'A'.repeat(582); // 600 bytes → 255 + 255 + 90

const YAML = `
server: { listen: ["127.0.0.1:0"], http: null, identity: ident-1, nsid: nsid-1, edns_udp_size: 1232 }
zones:
  - name: example.com
    soa: { mname: ns1.example.com, rname: hostmaster.example.com, ttl: 3600, minimum: 60, serial: 2024010101 }
    ns: [ns1.example.com, ns2.example.net]
    default_ttl: 300
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: ns1, type: AAAA, value: "2001:db8::53" }
      - { name: www, type: A, values: [192.0.2.1, 192.0.2.2] }
      - { name: www, type: AAAA, value: "2001:db8::1", ttl: 120 }
      - { name: "@", type: MX, values: ["10 mail", "20 mx.example.net."] }
      - { name: "@", type: TXT, value: "v=spf1 -all" }
      - { name: "@", type: CAA, values: ['0 issue "letsencrypt.org"', '0 iodef "mailto:sec@example.com"'] }
      - { name: mail, type: A, value: 192.0.2.25 }
      - { name: mail, type: AAAA, value: "2001:db8::25" }
      - { name: _sip._tcp, type: SRV, values: ["10 60 5060 sip", "20 0 5061 sip.example.net."] }
      - { name: sip, type: A, value: 192.0.2.26 }
      - { name: txt, type: TXT, values: ['"hello" "world"', '"second"'] }
      - { name: long, type: TXT, value: "${LONG_TXT}" }
      - { name: ptr, type: PTR, value: host.example.net. }
      - { name: a.b.c, type: A, value: 192.0.2.30 }
      - { name: "*.wild", type: A, value: 192.0.2.77 }
      - { name: "*.wild", type: TXT, value: "wild" }
      - { name: exists.wild, type: A, value: 192.0.2.78 }
      - { name: x.ent.wild, type: A, value: 192.0.2.79 }
      - { name: sub, type: NS, values: [ns.sub, ns.elsewhere.net.] }
      - { name: ns.sub, type: A, value: 192.0.2.99 }
      - { name: ns.sub, type: AAAA, value: "2001:db8::99" }
      - { name: chain1, type: CNAME, value: chain2 }
      - { name: chain2, type: CNAME, value: www }
      - { name: tolb, type: CNAME, value: lb }
      - { name: out, type: CNAME, value: www.example.net. }
      - { name: tonx, type: CNAME, value: nothere }
      - { name: toorg, type: CNAME, value: www.example.org. }
      - { name: toorgnx, type: CNAME, value: nothere.example.org. }
      - { name: tosub, type: CNAME, value: host.sub }
      - { name: toent, type: CNAME, value: c }
      - { name: "*.wc", type: CNAME, value: www }
      - { name: loop1, type: CNAME, value: loop2 }
      - { name: loop2, type: CNAME, value: loop1 }
      - { name: self, type: CNAME, value: self }
      - { name: intoloop, type: CNAME, value: loop2 }
      - { name: "*.wl", type: CNAME, value: z.wl }
      - { name: towild, type: CNAME, value: host.wild }
      - { name: h1, type: CNAME, value: h2 }
      - { name: h2, type: CNAME, value: h3 }
      - { name: h3, type: CNAME, value: h4 }
      - { name: h4, type: CNAME, value: h5 }
      - { name: h5, type: CNAME, value: h6 }
      - { name: h6, type: CNAME, value: h7 }
      - { name: h7, type: CNAME, value: h8 }
      - { name: h8, type: CNAME, value: h9 }
      - { name: h9, type: CNAME, value: h10 }
      - { name: h10, type: A, value: 192.0.2.110 }
      - { name: lbmx, type: MX, value: "5 lb" }
  - name: example.org
    soa: { ttl: 30, minimum: 300, serial: 7 }
    ns: [ns1.example.com]
    records:
      - { name: www, type: A, value: 198.51.100.1 }
  - name: wildzone.test
    ns: [ns1.example.com]
    records:
      - { name: "*", type: MX, value: "10 mail" }
      - { name: mail, type: A, value: 192.0.2.125 }
      - { name: www, type: A, value: 192.0.2.126 }
pools:
  p1: { origins: [ { address: 192.0.2.10 }, { address: 192.0.2.11 }, { address: "2001:db8::10" } ] }
load_balancers:
  - { name: lb.example.com, default_pools: [p1] }
`;

const TYPE: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DS: 43, IXFR: 251, AXFR: 252, ANY: 255, CAA: 257 };

let s: TestServer;
let resolver: Resolver;
beforeAll(async () => {
  s = await startServer(YAML);
  resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${s.port}`]);
});
afterAll(async () => {
  await s.stop();
});

let nextId = 100;
interface Ask extends Omit<RawQuery, 'questions' | 'opt'> {
  klass?: number;
  opt?: RawQuery['opt'];
  dns2?: boolean;
  tcp?: boolean;
}

/** One question as raw bytes over UDP (or TCP), decoded by both oracles; the ID must come back. */
async function ask(name: string, type: string | number, o: Ask = {}): Promise<Norm> {
  const id = (nextId++ & 0xffff) || 1;
  const pkt = rawQuery({ ...o, id, questions: [{ name, type: typeof type === 'number' ? type : TYPE[type], klass: o.klass ?? 1 }], opt: o.opt });
  let raw: Buffer;
  if (o.tcp) [raw] = await tcpExchange(s.port, [pkt]);
  else {
    const r = await udpMaybe(s.port, pkt, 2000);
    if (!r) throw new Error(`no answer to ${name} ${type}`);
    raw = r;
  }
  const n = decodeBoth(raw, { dns2: o.dns2 });
  expect(n.id).toBe(id);
  expect(n.qr).toBe(true);
  expect(n.ra).toBe(false);
  return n;
}

async function rejects(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
  return 'resolved';
}

const SOA_EXAMPLE_COM = 'example.com SOA ns1.example.com hostmaster.example.com 2024010101 10800 3600 604800 60';

/** A negative answer: rcode, no answers, exactly the zone SOA in AUTHORITY with TTL min(SOA TTL, minimum). */
function expectNegative(n: Norm, rcode: 'NXDOMAIN' | 'NOERROR', soa = SOA_EXAMPLE_COM, ttl = 60): void {
  expect(rcodeName(n)).toBe(rcode);
  expect(n.aa).toBe(true);
  expect(n.answer).toEqual([]);
  expect(lines(n.authority)).toEqual([soa]);
  expect(n.authority[0].ttl).toBe(ttl);
  expect(n.additional).toEqual([]);
}

describe('static types (Node resolver + both decoders)', () => {
  test('A and AAAA with TTLs, AA set', async () => {
    expect((await resolver.resolve4('www.example.com', { ttl: true })).sort((x, y) => x.address.localeCompare(y.address))).toEqual([
      { address: '192.0.2.1', ttl: 300 }, { address: '192.0.2.2', ttl: 300 },
    ]);
    expect(await resolver.resolve6('www.example.com', { ttl: true })).toEqual([{ address: '2001:db8::1', ttl: 120 }]);
    const n = await ask('www.example.com', 'A');
    expect(rcodeName(n)).toBe('NOERROR');
    expect(n.aa).toBe(true);
    expect(lines(n.answer)).toEqual(['www.example.com A 192.0.2.1', 'www.example.com A 192.0.2.2']);
    expect(n.authority).toEqual([]);
  });

  test('MX with A/AAAA of the in-zone exchange in ADDITIONAL (none for the out-of-zone one)', async () => {
    // Node 24's resolver adds a `type` field to each record; compare the fields every supported Node returns.
    expect((await resolver.resolveMx('example.com')).map(({ exchange, priority }) => ({ exchange, priority })).sort((x, y) => x.priority - y.priority)).toEqual([
      { exchange: 'mail.example.com', priority: 10 }, { exchange: 'mx.example.net', priority: 20 },
    ]);
    const n = await ask('example.com', 'MX');
    expect(lines(n.answer)).toEqual(['example.com MX 10 mail.example.com', 'example.com MX 20 mx.example.net']);
    expect(lines(n.additional)).toEqual(['mail.example.com A 192.0.2.25', 'mail.example.com AAAA 2001:db8::25']);
  });

  test('SRV with additional A for the in-zone target', async () => {
    expect((await resolver.resolveSrv('_sip._tcp.example.com')).map(({ name, port, priority, weight }) => ({ name, port, priority, weight })).sort((x, y) => x.priority - y.priority)).toEqual([
      { name: 'sip.example.com', port: 5060, priority: 10, weight: 60 },
      { name: 'sip.example.net', port: 5061, priority: 20, weight: 0 },
    ]);
    const n = await ask('_sip._tcp.example.com', 'SRV');
    expect(lines(n.additional)).toEqual(['sip.example.com A 192.0.2.26']);
  });

  test('TXT: several strings per record, several records; long text split into 255-byte strings', async () => {
    expect((await resolver.resolveTxt('txt.example.com')).sort()).toEqual([['hello', 'world'], ['second']]);
    const long = await resolver.resolveTxt('long.example.com');
    expect(long).toHaveLength(1);
    expect(long[0].map((x) => x.length)).toEqual([255, 255, 90]);
    expect(long[0].join('')).toBe(LONG_TXT);
    // 650 bytes: too big for UDP without EDNS (TC, nothing partial), fine with EDNS or over TCP.
    const udp = await ask('long.example.com', 'TXT');
    expect([udp.tc, udp.answer.length]).toEqual([true, 0]);
    for (const n of [await ask('long.example.com', 'TXT', { opt: {} }), await ask('long.example.com', 'TXT', { tcp: true })]) {
      expect(n.tc).toBe(false);
      expect(JSON.parse(n.answer[0].data).map((x: string) => x.length)).toEqual([255, 255, 90]);
    }
    expect(await resolver.resolveTxt('example.com')).toEqual([['v=spf1 -all']]);
  });

  test('CAA', async () => {
    const caa = await resolver.resolveCaa('example.com');
    expect(caa).toEqual(expect.arrayContaining([
      expect.objectContaining({ critical: 0, issue: 'letsencrypt.org' }),
      expect.objectContaining({ critical: 0, iodef: 'mailto:sec@example.com' }),
    ]));
    const n = await ask('example.com', 'CAA');
    expect(lines(n.answer)).toEqual(['example.com CAA 0 iodef "mailto:sec@example.com"', 'example.com CAA 0 issue "letsencrypt.org"']);
  });

  test('PTR', async () => {
    expect(await resolver.resolvePtr('ptr.example.com')).toEqual(['host.example.net']);
  });

  test('apex NS and SOA from the zone block; A/AAAA of in-zone name servers in ADDITIONAL', async () => {
    expect((await resolver.resolveNs('example.com')).sort()).toEqual(['ns1.example.com', 'ns2.example.net']);
    expect(await resolver.resolveSoa('example.com')).toEqual({
      nsname: 'ns1.example.com', hostmaster: 'hostmaster.example.com', serial: 2024010101, refresh: 10800, retry: 3600, expire: 604800, minttl: 60,
    });
    const ns = await ask('example.com', 'NS');
    expect(ns.aa).toBe(true);
    expect(lines(ns.additional)).toEqual(['ns1.example.com A 192.0.2.53', 'ns1.example.com AAAA 2001:db8::53']);
    const soa = await ask('example.com', 'SOA');
    expect(lines(soa.answer)).toEqual([SOA_EXAMPLE_COM]);
    expect(soa.answer[0].ttl).toBe(3600); // the full SOA TTL when asked for
  });

  test('CNAME asked directly: only the CNAME, not followed', async () => {
    expect(await resolver.resolveCname('chain1.example.com')).toEqual(['chain2.example.com']);
    const n = await ask('chain1.example.com', 'CNAME');
    expect(lines(n.answer)).toEqual(['chain1.example.com CNAME chain2.example.com']);
  });

  test('the question is echoed with the client case (0x20); the answer matches case-insensitively', async () => {
    const n = await ask('wWw.eXaMpLe.CoM', 'A');
    expect(n.question).toEqual([{ name: 'wWw.eXaMpLe.CoM', type: 'A', klass: 1 }]);
    expect(n.answer.map((r) => r.name)).toEqual(['wWw.eXaMpLe.CoM', 'wWw.eXaMpLe.CoM']);
    expect(dataOf(n.answer, 'A')).toEqual(['192.0.2.1', '192.0.2.2']);
    const m = await ask('EXAMPLE.COM', 'MX');
    expect(m.question[0].name).toBe('EXAMPLE.COM');
    expect(lines(m.additional)).toHaveLength(2);
  });
});

describe('negative answers', () => {
  test('NXDOMAIN: SOA in AUTHORITY, TTL = min(SOA TTL, minimum)', async () => {
    expect(await rejects(resolver.resolve4('nx.example.com'))).toBe('ENOTFOUND');
    expectNegative(await ask('nx.example.com', 'A'), 'NXDOMAIN');
    expectNegative(await ask('deep.nx.example.com', 'TXT'), 'NXDOMAIN');
    // example.org: SOA ttl 30 < minimum 300 → 30.
    expectNegative(await ask('nx.example.org', 'A'), 'NXDOMAIN', 'example.org SOA ns1.example.com hostmaster.example.org 7 10800 3600 604800 300', 30);
  });

  test('NODATA: NOERROR, no answer, SOA', async () => {
    expect(await rejects(resolver.resolveTxt('www.example.com'))).toBe('ENODATA');
    expectNegative(await ask('www.example.com', 'TXT'), 'NOERROR');
    expectNegative(await ask('www.example.com', 'CAA'), 'NOERROR');
    expectNegative(await ask('www.example.com', 65), 'NOERROR');
  });

  test('empty non-terminals are NODATA, not NXDOMAIN', async () => {
    expect(await rejects(resolver.resolve4('b.c.example.com'))).toBe('ENODATA');
    expectNegative(await ask('b.c.example.com', 'A'), 'NOERROR');
    expectNegative(await ask('c.example.com', 'A'), 'NOERROR');
    expectNegative(await ask('c.example.com', 'ANY'), 'NOERROR');
    expect(lines((await ask('a.b.c.example.com', 'A')).answer)).toEqual(['a.b.c.example.com A 192.0.2.30']);
    expectNegative(await ask('x.b.c.example.com', 'A'), 'NXDOMAIN');
  });
});

// expectNegative compares the whole SOA line; example.org's serial comes from the file's mtime, so compare loosely.
function soaOwner(n: Norm): string {
  return n.authority.map((r) => `${r.name} ${r.type}`).join();
}

describe('wildcards (RFC 4592)', () => {
  test('a name below the wildcard\'s parent is synthesized, owner = the name asked', async () => {
    expect(await resolver.resolve4('anything.wild.example.com')).toEqual(['192.0.2.77']);
    const n = await ask('Anything.wild.example.com', 'A');
    expect(n.aa).toBe(true);
    expect(n.answer.map((r) => `${r.name} ${r.type} ${r.data}`)).toEqual(['Anything.wild.example.com A 192.0.2.77']);
    expect(await resolver.resolveTxt('other.wild.example.com')).toEqual([['wild']]);
  });

  test('several labels below the closest encloser still match', async () => {
    expect(lines((await ask('a.b.wild.example.com', 'A')).answer)).toEqual(['a.b.wild.example.com A 192.0.2.77']);
  });

  test('a type the wildcard does not have → NODATA', async () => {
    expectNegative(await ask('anything.wild.example.com', 'AAAA'), 'NOERROR');
  });

  test('an existing name is not synthesized; a wildcard does not match below an existing name', async () => {
    expect(lines((await ask('exists.wild.example.com', 'A')).answer)).toEqual(['exists.wild.example.com A 192.0.2.78']);
    expectNegative(await ask('exists.wild.example.com', 'TXT'), 'NOERROR'); // not the wildcard's TXT
    expectNegative(await ask('x.exists.wild.example.com', 'A'), 'NXDOMAIN');
  });

  test('an empty non-terminal blocks the wildcard: ent.wild exists (ENT) → NODATA, and below it → NXDOMAIN', async () => {
    expectNegative(await ask('ent.wild.example.com', 'A'), 'NOERROR');
    expectNegative(await ask('y.ent.wild.example.com', 'A'), 'NXDOMAIN');
  });

  test('the wildcard does not match its own parent (an ENT)', async () => {
    expectNegative(await ask('wild.example.com', 'A'), 'NOERROR');
  });

  test('asking for the wildcard name itself returns its data', async () => {
    expect(lines((await ask('*.wild.example.com', 'A')).answer)).toEqual(['*.wild.example.com A 192.0.2.77']);
  });

  test('a wildcard at the apex (*.wildzone.test MX) covers only names that do not exist', async () => {
    const soa = (n: Norm) => n.authority.map((r) => `${r.name} ${r.type} ${r.ttl}`);
    const n = await ask('nonexistent.wildzone.test', 'MX');
    expect(lines(n.answer)).toEqual(['nonexistent.wildzone.test MX 10 mail.wildzone.test']);
    expect(lines(n.additional)).toEqual(['mail.wildzone.test A 192.0.2.125']);
    const a = await ask('deep.nonexistent.wildzone.test', 'A'); // matches the wildcard, which has no A
    expect([rcodeName(a), a.answer.length, soa(a)]).toEqual(['NOERROR', 0, ['wildzone.test SOA 60']]);
    const www = await ask('www.wildzone.test', 'MX'); // www exists: no synthesis
    expect([rcodeName(www), www.answer.length, soa(www)]).toEqual(['NOERROR', 0, ['wildzone.test SOA 60']]);
    const apex = await ask('wildzone.test', 'MX'); // nor at the apex
    expect([rcodeName(apex), apex.answer.length]).toEqual(['NOERROR', 0]);
  });

  test('a wildcard CNAME is synthesized with the asked owner and followed', async () => {
    const n = await ask('foo.wc.example.com', 'A');
    expect(n.answer.map((r) => `${r.name} ${r.type} ${r.data}`)).toEqual([
      'foo.wc.example.com CNAME www.example.com', 'www.example.com A 192.0.2.1', 'www.example.com A 192.0.2.2',
    ]);
  });
});

describe('CNAME chains', () => {
  test('followed inside our zones', async () => {
    expect((await resolver.resolve4('chain1.example.com')).sort()).toEqual(['192.0.2.1', '192.0.2.2']);
    const n = await ask('chain1.example.com', 'A');
    expect(n.aa).toBe(true);
    expect(n.answer.map((r) => `${r.name} ${r.type} ${r.data}`)).toEqual([
      'chain1.example.com CNAME chain2.example.com', 'chain2.example.com CNAME www.example.com', 'www.example.com A 192.0.2.1', 'www.example.com A 192.0.2.2',
    ]);
    const aaaa = await ask('chain1.example.com', 'AAAA');
    expect(lines(aaaa.answer)).toEqual(['chain1.example.com CNAME chain2.example.com', 'chain2.example.com CNAME www.example.com', 'www.example.com AAAA 2001:db8::1']);
  });

  test('to a load-balanced name', async () => {
    const n = await ask('tolb.example.com', 'A');
    expect(lines(n.answer)).toEqual(['lb.example.com A 192.0.2.10', 'lb.example.com A 192.0.2.11', 'tolb.example.com CNAME lb.example.com']);
    expect(n.answer.filter((r) => r.type === 'A').every((r) => r.ttl === 30)).toBe(true);
    expect(lines((await ask('tolb.example.com', 'AAAA')).answer)).toEqual(['lb.example.com AAAA 2001:db8::10', 'tolb.example.com CNAME lb.example.com']);
  });

  test('to another of our zones', async () => {
    expect(lines((await ask('toorg.example.com', 'A')).answer)).toEqual(['toorg.example.com CNAME www.example.org', 'www.example.org A 198.51.100.1']);
    const nx = await ask('toorgnx.example.com', 'A');
    expect(rcodeName(nx)).toBe('NXDOMAIN');
    expect(lines(nx.answer)).toEqual(['toorgnx.example.com CNAME nothere.example.org']);
    expect(soaOwner(nx)).toBe('example.org SOA'); // the SOA of the zone where the chain ended
    expect(nx.authority[0].ttl).toBe(30);
  });

  test('leaving our zones: the CNAME alone, NOERROR, the resolver continues', async () => {
    const n = await ask('out.example.com', 'A');
    expect(rcodeName(n)).toBe('NOERROR');
    expect(n.aa).toBe(true);
    expect(lines(n.answer)).toEqual(['out.example.com CNAME www.example.net']);
    expect(n.authority).toEqual([]);
  });

  test('to a name that does not exist: RCODE NXDOMAIN (RFC 6604) with the CNAME and the SOA', async () => {
    const n = await ask('tonx.example.com', 'A');
    expect(rcodeName(n)).toBe('NXDOMAIN');
    expect(lines(n.answer)).toEqual(['tonx.example.com CNAME nothere.example.com']);
    expect(lines(n.authority)).toEqual([SOA_EXAMPLE_COM]);
  });

  test('to an empty non-terminal: NOERROR/NODATA with the CNAME', async () => {
    const n = await ask('toent.example.com', 'A');
    expect(rcodeName(n)).toBe('NOERROR');
    expect(lines(n.answer)).toEqual(['toent.example.com CNAME c.example.com']);
    expect(lines(n.authority)).toEqual([SOA_EXAMPLE_COM]);
  });

  test('into a delegation: the CNAME, no referral data of the child', async () => {
    const n = await ask('tosub.example.com', 'A');
    expect(rcodeName(n)).toBe('NOERROR');
    expect(lines(n.answer)).toEqual(['tosub.example.com CNAME host.sub.example.com']);
  });

  test('loops are detected: each CNAME once, then stop', async () => {
    const loop = await ask('loop1.example.com', 'A');
    expect(rcodeName(loop)).toBe('NOERROR');
    expect(loop.answer.map((r) => `${r.name} ${r.type} ${r.data}`)).toEqual(['loop1.example.com CNAME loop2.example.com', 'loop2.example.com CNAME loop1.example.com']);
    const self = await ask('self.example.com', 'A');
    expect(self.answer.map((r) => `${r.name} ${r.type} ${r.data}`)).toEqual(['self.example.com CNAME self.example.com']);
    // Entering the loop from outside: in → loop2 → loop1 → (loop2 again: stop).
    const into = await ask('intoloop.example.com', 'A');
    expect(into.answer.map((r) => r.name)).toEqual(['intoloop.example.com', 'loop2.example.com', 'loop1.example.com']);
    // A wildcard CNAME whose target is again covered by the wildcard.
    const wl = await ask('q.wl.example.com', 'A');
    expect(wl.answer.map((r) => `${r.name} ${r.type} ${r.data}`)).toEqual(['q.wl.example.com CNAME z.wl.example.com', 'z.wl.example.com CNAME z.wl.example.com']);
  });

  test('a chain into a wildcard: synthesized with the target as owner', async () => {
    const n = await ask('towild.example.com', 'A');
    expect(n.answer.map((r) => `${r.name} ${r.type} ${r.data}`)).toEqual(['towild.example.com CNAME host.wild.example.com', 'host.wild.example.com A 192.0.2.77']);
  });

  test('a chain of 9 CNAMEs is cut after 8 (no A); 8 CNAMEs plus the A from h2', async () => {
    const n = await ask('h1.example.com', 'A');
    expect(n.answer.map((r) => r.type)).toEqual(Array(8).fill('CNAME'));
    expect(n.answer[7].data).toBe('h9.example.com');
    const m = await ask('h3.example.com', 'A');
    expect(m.answer.map((r) => r.type)).toEqual([...Array(7).fill('CNAME'), 'A']);
    expect(m.answer[7]).toMatchObject({ name: 'h10.example.com', data: '192.0.2.110' });
  });

  test('MX at a static name pointing at an LB name gets the LB addresses in ADDITIONAL', async () => {
    const n = await ask('lbmx.example.com', 'MX');
    expect(lines(n.answer)).toEqual(['lbmx.example.com MX 5 lb.example.com']);
    expect(lines(n.additional)).toEqual(['lb.example.com A 192.0.2.10', 'lb.example.com A 192.0.2.11', 'lb.example.com AAAA 2001:db8::10']);
  });
});

describe('delegations', () => {
  const referral = ['sub.example.com NS ns.elsewhere.net', 'sub.example.com NS ns.sub.example.com'];
  const glue = ['ns.sub.example.com A 192.0.2.99', 'ns.sub.example.com AAAA 2001:db8::99'];

  test.each(['host.sub.example.com', 'deep.host.sub.example.com', 'sub.example.com', 'ns.sub.example.com'])('%s A → referral, AA=0, glue', async (name) => {
    const n = await ask(name, 'A');
    expect(rcodeName(n)).toBe('NOERROR');
    expect(n.aa).toBe(false);
    expect(n.answer).toEqual([]);
    expect(lines(n.authority)).toEqual(referral);
    expect(lines(n.additional)).toEqual(glue);
  });

  test('NS at the cut is a referral too; ANY below the cut as well', async () => {
    for (const [name, type] of [['sub.example.com', 'NS'], ['x.sub.example.com', 'ANY'], ['x.sub.example.com', 'MX']] as const) {
      const n = await ask(name, type);
      expect(n.aa).toBe(false);
      expect(lines(n.authority)).toEqual(referral);
    }
  });

  test('DS at the cut is answered by the parent (AA, NODATA here); DS below the cut is a referral', async () => {
    expectNegative(await ask('sub.example.com', 'DS'), 'NOERROR');
    const n = await ask('x.sub.example.com', 'DS');
    expect(n.aa).toBe(false);
    expect(lines(n.authority)).toEqual(referral);
  });
});

describe('the question itself', () => {
  test('outside every zone → REFUSED, not authoritative, no data', async () => {
    expect(await rejects(resolver.resolve4('www.example.net'))).toBe('EREFUSED');
    for (const name of ['www.example.net', 'com', '.', 'example.com.evil']) {
      const n = await ask(name === '.' ? '' : name, 'A');
      expect(rcodeName(n)).toBe('REFUSED');
      expect(n.aa).toBe(false);
      expect(n.answer).toEqual([]);
      expect(n.authority).toEqual([]);
    }
  });

  test('ANY → RFC 8482 HINFO "RFC8482" at existing names; NXDOMAIN elsewhere', async () => {
    const n = await ask('www.example.com', 'ANY');
    expect(n.aa).toBe(true);
    expect(n.answer.map((r) => `${r.name} ${r.type} ${r.data}`)).toEqual(['www.example.com HINFO ["RFC8482",""]']);
    expect(lines((await ask('example.com', 'ANY')).answer)).toEqual(['example.com HINFO ["RFC8482",""]']);
    expect(lines((await ask('lb.example.com', 'ANY')).answer)).toEqual(['lb.example.com HINFO ["RFC8482",""]']);
    expectNegative(await ask('a.x.exists.wild.example.com', 'ANY'), 'NXDOMAIN');
    expectNegative(await ask('nx.example.com', 'ANY'), 'NXDOMAIN');
  });

  test('AXFR and IXFR → REFUSED over UDP and TCP', async () => {
    for (const type of ['AXFR', 'IXFR']) {
      expect(rcodeName(await ask('example.com', type))).toBe('REFUSED');
      expect(rcodeName(await ask('example.com', type, { tcp: true }))).toBe('REFUSED');
    }
  });

  test.each([1, 2, 4, 5])('opcode %i → NOTIMP with the question echoed', async (op) => {
    const n = await ask('www.example.com', 'A', { flags: op << 11 });
    expect(rcodeName(n)).toBe('NOTIMP');
    expect(n.opcode).toBe(op);
    expect(n.question).toEqual([{ name: 'www.example.com', type: 'A', klass: 1 }]);
    expect(n.answer).toEqual([]);
  });

  test('NOTIMP to a query with OPT carries our OPT (RFC 6891 §7), NSID included when asked', async () => {
    const n = await ask('www.example.com', 'A', { flags: 4 << 11, opt: { udpSize: 4096, options: [NSID] } });
    expect(rcodeName(n)).toBe('NOTIMP');
    expect(n.opt).toEqual({ udpSize: 1232, version: 0, dnssecOk: false, extendedRcode: 0, ecs: null });
    expect(n.nsid).toBe('nsid-1');
  });

  test('FORMERR for a malformed ECS option carries our OPT, without ECS (RFC 6891 §7)', async () => {
    const n = await ask('www.example.com', 'A', { opt: { options: [{ code: 8, data: Buffer.alloc(2) }] } });
    expect(rcodeName(n)).toBe('FORMERR');
    expect(n.opt).toEqual({ udpSize: 1232, version: 0, dnssecOk: false, extendedRcode: 0, ecs: null });
  });

  test('FORMERR for a structurally malformed OPT (an option overrunning it) carries no OPT', async () => {
    // OPT with RDLENGTH 3: an option header cut in the middle.
    const badOpt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 3, 0, 8, 0]);
    const n = await ask('www.example.com', 'A', { extraAdditional: [badOpt] });
    expect(rcodeName(n)).toBe('FORMERR');
    expect(n.opt).toBeNull();
  });

  test('QDCOUNT 0 or 2 → FORMERR (ID echoed)', async () => {
    const zero = await udpMaybe(s.port, rawQuery({ id: 777, questions: [], qdcount: 0 }), 2000);
    const z = decodeBoth(zero!);
    expect([z.id, rcodeName(z), z.question.length]).toEqual([777, 'FORMERR', 0]);
    const two = await udpMaybe(s.port, rawQuery({ id: 778, questions: [{ name: 'www.example.com', type: 1 }, { name: 'mail.example.com', type: 1 }] }), 2000);
    const t = decodeBoth(two!);
    expect([t.id, rcodeName(t), t.answer.length]).toEqual([778, 'FORMERR', 0]);
  });

  test('a response (QR=1) and a runt packet get no answer', async () => {
    expect(await udpMaybe(s.port, rawQuery({ flags: 0x8000 }), 300)).toBeNull();
    expect(await udpMaybe(s.port, Buffer.from([1, 2, 3]), 300)).toBeNull();
  });

  test('QTYPE OPT → FORMERR; meta types (e.g. MAILB 253, TKEY 249) → NOTIMP', async () => {
    expect(rcodeName(await ask('www.example.com', 41))).toBe('FORMERR');
    expect(rcodeName(await ask('www.example.com', 253))).toBe('NOTIMP');
    expect(rcodeName(await ask('www.example.com', 249))).toBe('NOTIMP');
  });

  test('class CH: id.server and hostname.bind TXT give the identity; anything else REFUSED', async () => {
    for (const name of ['id.server', 'hostname.bind', 'ID.Server']) {
      const n = await ask(name, 'TXT', { klass: 3 });
      expect(rcodeName(n)).toBe('NOERROR');
      expect(n.answer).toEqual([{ name, type: 'TXT', klass: 3, ttl: 0, data: '["ident-1"]' }]);
    }
    expect(rcodeName(await ask('version.bind', 'TXT', { klass: 3 }))).toBe('REFUSED');
    expect(rcodeName(await ask('id.server', 'A', { klass: 3 }))).toBe('REFUSED');
    expect(rcodeName(await ask('www.example.com', 'A', { klass: 3 }))).toBe('REFUSED');
  });

  test.each([2, 4, 254, 255])('class %i → REFUSED', async (klass) => {
    const n = await ask('www.example.com', 'A', { klass });
    expect(rcodeName(n)).toBe('REFUSED');
    expect(n.answer).toEqual([]);
  });
});

describe('EDNS', () => {
  test('OPT answered with our payload size (1232), version 0, DO copied', async () => {
    const n = await ask('www.example.com', 'A', { opt: { udpSize: 4096, do: true } });
    expect(n.opt).toEqual({ udpSize: 1232, version: 0, dnssecOk: true, extendedRcode: 0, ecs: null });
    expect(lines(n.answer)).toHaveLength(2);
    expect((await ask('www.example.com', 'A', { opt: { udpSize: 512 } })).opt?.dnssecOk).toBe(false);
  });

  test('EDNS version 1 → BADVERS (extended RCODE in the OPT), no data', async () => {
    const n = await ask('www.example.com', 'A', { opt: { version: 1 } });
    expect(n.rcode).toBe(16);
    expect(n.raw.readUInt16BE(2) & 0xf).toBe(0);
    expect(n.opt?.extendedRcode).toBe(1);
    expect(n.opt?.version).toBe(0);
    expect(n.answer).toEqual([]);
    // Even for a name outside our zones: the version check comes first.
    expect((await ask('www.example.net', 'A', { opt: { version: 2 } })).rcode).toBe(16);
  });

  test('NSID returned when asked (configured here)', async () => {
    expect((await ask('www.example.com', 'A', { opt: { options: [NSID] } })).nsid).toBe('nsid-1');
    expect((await ask('www.example.com', 'A', { opt: {} })).nsid).toBeNull();
    // Even on negative and refused answers.
    expect((await ask('www.example.net', 'A', { opt: { options: [NSID] } })).nsid).toBe('nsid-1');
  });

  test('ECS echoed with scope 0 for static data, IPv4 and IPv6', async () => {
    const v4 = await ask('www.example.com', 'A', { opt: { options: [ecsFor([198, 51, 100, 0], 24)] } });
    expect(v4.opt?.ecs).toEqual({ family: 1, source: 24, scope: 0, ip: '198.51.100.0' });
    expect(lines(v4.answer)).toHaveLength(2);
    const v6 = await ask('www.example.com', 'AAAA', { opt: { options: [ecsFor([0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56], 56)] } , dns2: false });
    expect(v6.opt?.ecs).toEqual({ family: 2, source: 56, scope: 0, ip: '2001:db8:1234:5600::' });
    const zero = await ask('example.com', 'MX', { opt: { options: [ecsOption(1, 0, Buffer.alloc(0))] } });
    expect(zero.opt?.ecs).toEqual({ family: 1, source: 0, scope: 0, ip: '0.0.0.0' });
  });

  test('unknown options are ignored (not echoed); a cookie is answered with one', async () => {
    const unknown: EdnsOpt = { code: 65001, data: Buffer.from('xyz') };
    const n = await ask('www.example.com', 'A', { opt: { options: [unknown] } });
    expect(rcodeName(n)).toBe('NOERROR');
    expect(n.raw.subarray(n.raw.length - 2)).toEqual(Buffer.from([0, 0])); // OPT RDLENGTH 0
    const c = await ask('www.example.com', 'A', { opt: { options: [COOKIE, unknown] } });
    expect(rcodeName(c)).toBe('NOERROR');
    // OPT RDATA: just the COOKIE option, our server cookie after the client's (RFC 7873 §5.2.3).
    const rdata = c.raw.subarray(c.raw.length - 28);
    expect(rdata.readUInt16BE(0)).toBe(10);
    expect(rdata.readUInt16BE(2)).toBe(24);
    expect(rdata.subarray(4, 12)).toEqual(COOKIE.data);
    expect(rdata[12]).toBe(1); // version 1 (RFC 9018)
  });

  test('malformed ECS → FORMERR, question echoed', async () => {
    for (const e of [ecsOption(1, 24, Buffer.from([198, 51, 100, 0])), ecsOption(1, 23, Buffer.from([198, 51, 101])), ecsOption(3, 0, Buffer.alloc(0)), ecsOption(1, 40, Buffer.alloc(5))]) {
      const n = await ask('www.example.com', 'A', { opt: { options: [e] } });
      expect(rcodeName(n)).toBe('FORMERR');
      expect(n.question).toEqual([{ name: 'www.example.com', type: 'A', klass: 1 }]);
      expect(n.answer).toEqual([]);
    }
  });
});

describe('a server without identity or NSID', () => {
  let plain: TestServer;
  beforeAll(async () => {
    plain = await startServer(YAML.replace('identity: ident-1, nsid: nsid-1, edns_udp_size: 1232', 'edns_udp_size: 1400'));
  });
  afterAll(async () => {
    await plain.stop();
  });

  test('CH id.server → REFUSED; NSID not sent; our payload size is the configured one', async () => {
    const ch = decodeBoth((await udpMaybe(plain.port, rawQuery({ questions: [{ name: 'id.server', type: 16, klass: 3 }] }), 2000))!);
    expect(rcodeName(ch)).toBe('REFUSED');
    const n = decodeBoth((await udpMaybe(plain.port, rawQuery({ opt: { options: [NSID] } }), 2000))!);
    expect(n.nsid).toBeNull();
    expect(n.opt?.udpSize).toBe(1400);
  });
});

describe('nested zones: the deepest zone holding a name answers for it', () => {
  // The parent delegates child.parent.test and has glue under it; the child zone is configured here as well.
  const NESTED = `
server: { listen: ["127.0.0.1:0"], http: null }
zones:
  - name: parent.test
    soa: { mname: ns1.parent.test, rname: hostmaster.parent.test, minimum: 60, serial: 1 }
    ns: [ns1.parent.test]
    records:
      - { name: ns1, type: A, value: 192.0.2.1 }
      - { name: child, type: NS, value: ns.child }
      - { name: ns.child, type: A, value: 192.0.2.2 }
      - { name: deep.only.child, type: A, value: 192.0.2.3 }
  - name: child.parent.test
    soa: { mname: ns1.parent.test, rname: hostmaster.parent.test, minimum: 60, serial: 2 }
    ns: [ns1.parent.test]
    records:
      - { name: www, type: A, value: 192.0.2.4 }
`;
  const CHILD_SOA = 'child.parent.test SOA ns1.parent.test hostmaster.parent.test 2 10800 3600 604800 60';
  let nested: TestServer;
  beforeAll(async () => {
    nested = await startServer(NESTED);
  });
  afterAll(async () => {
    await nested.stop();
  });
  const askNested = async (name: string, type: number): Promise<Norm> => {
    const r = await udpMaybe(nested.port, rawQuery({ id: 7, questions: [{ name, type, klass: 1 }] }), 2000);
    if (!r) throw new Error(`no answer to ${name}`);
    return decodeBoth(r);
  };

  test('a name of the child zone, and the child apex, come from the child', async () => {
    const www = await askNested('www.child.parent.test', TYPE.A);
    expect(www.aa).toBe(true);
    expect(lines(www.answer)).toEqual(['www.child.parent.test A 192.0.2.4']);
    expect(lines((await askNested('child.parent.test', TYPE.SOA)).answer)).toEqual([CHILD_SOA]);
  });

  test('names that exist only in the parent (glue under the cut) are NXDOMAIN from the child, not referrals', async () => {
    for (const name of ['ns.child.parent.test', 'deep.only.child.parent.test', 'only.child.parent.test']) {
      const n = await askNested(name, TYPE.A);
      expect([name, rcodeName(n), n.aa]).toEqual([name, 'NXDOMAIN', true]);
      expect(lines(n.authority)).toEqual([CHILD_SOA]);
    }
  });
});

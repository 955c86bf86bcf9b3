// EDNS payload size and truncation (RFC 1035 §4.2.1, RFC 6891 §6.2.5, RFC 2181 §9): whole RRsets only, TC=1,
// OPT kept; clients (dig, kdig, c-ares) retry over TCP and get everything.
import { Resolver } from 'node:dns/promises';
import { startServer, tcpExchange, TestServer } from '../helpers/server';
import { decodeBoth, Norm } from './oracle';
import { NSID, ecsFor, rawQuery, RawQuery, udpMaybe } from './packets';
import { dig } from './tools';

const ips = (n: number, third: number): string => Array.from({ length: n }, (_, i) => `10.${third}.${i >> 8}.${i & 255}`).join(', ');
const TXT = Array.from({ length: 8 }, (_, i) => `"${String.fromCharCode(97 + i).repeat(255)}"`).join(' ');

const YAML = `
server: { listen: ["127.0.0.1:0"], http: null, nsid: trunc-test }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: many40, type: A, values: [${ips(40, 40)}] }
      - { name: many100, type: A, values: [${ips(100, 100)}] }
      - { name: bigtxt, type: TXT, value: '${TXT}' }
`;

let s: TestServer;
beforeAll(async () => {
  s = await startServer(YAML);
});
afterAll(async () => {
  await s.stop();
});

async function udp(name: string, type: number, o: Omit<RawQuery, 'questions'> = {}, check: { dns2?: boolean } = {}): Promise<Norm> {
  const raw = await udpMaybe(s.port, rawQuery({ ...o, questions: [{ name, type }] }), 2000);
  if (!raw) throw new Error('no answer');
  return decodeBoth(raw, check);
}

describe('over UDP', () => {
  test('without EDNS: 40 A records (673 bytes) do not fit 512 → TC=1, no partial RRset, ≤ 512 bytes', async () => {
    const n = await udp('many40.example.com', 1);
    expect(n.raw.length).toBeLessThanOrEqual(512);
    expect(n.tc).toBe(true);
    expect(n.aa).toBe(true);
    expect(n.answer).toEqual([]);
    expect(n.question).toEqual([{ name: 'many40.example.com', type: 'A', klass: 1 }]);
    expect(n.opt).toBeNull();
  });

  test('with EDNS 4096 the client gets up to our maximum (1232): 40 records fit', async () => {
    const n = await udp('many40.example.com', 1, { opt: { udpSize: 4096 } });
    expect(n.tc).toBe(false);
    expect(n.answer).toHaveLength(40);
    expect(n.opt?.udpSize).toBe(1232);
  });

  test('with EDNS 4096 and 100 records (1645 bytes): TC within 1232 bytes, OPT (with NSID and ECS) kept', async () => {
    // dns2 3.0.0 loses the OPT when NSID precedes another option (oracle.ts); dns-packet checks it alone.
    const n = await udp('many100.example.com', 1, { opt: { udpSize: 4096, options: [NSID, ecsFor([192, 0, 2, 0], 24)] } }, { dns2: false });
    expect(n.raw.length).toBeLessThanOrEqual(1232);
    expect(n.tc).toBe(true);
    expect(n.answer).toEqual([]);
    expect(n.opt).toMatchObject({ udpSize: 1232, ecs: { family: 1, source: 24, scope: 0, ip: '192.0.2.0' } });
    expect(n.nsid).toBe('trunc-test');
  });

  test('EDNS payload sizes below 512 count as 512', async () => {
    for (const size of [0, 100, 511, 512]) {
      const n = await udp('many40.example.com', 1, { opt: { udpSize: size } });
      expect([size, n.tc, n.raw.length <= 512]).toEqual([size, true, true]);
    }
    // We still advertise our own size, and a small answer goes through for such a client.
    const n = await udp('ns1.example.com', 1, { opt: { udpSize: 100 } });
    expect([n.opt?.udpSize, n.tc, n.answer.length]).toEqual([1232, false, 1]);
  });

  test('a big TXT RRset (2 KB) is truncated over UDP even with EDNS', async () => {
    const n = await udp('bigtxt.example.com', 16, { opt: { udpSize: 4096 } });
    expect([n.tc, n.answer.length, n.raw.length <= 1232]).toEqual([true, 0, true]);
  });

  test('small answers are not truncated', async () => {
    const n = await udp('ns1.example.com', 1);
    expect([n.tc, n.answer.length]).toEqual([false, 1]);
  });
});

describe('over TCP nothing is truncated', () => {
  test('100 A records and the 2 KB TXT', async () => {
    const [a, t] = await tcpExchange(s.port, [rawQuery({ id: 1, questions: [{ name: 'many100.example.com', type: 1 }] }), rawQuery({ id: 2, questions: [{ name: 'bigtxt.example.com', type: 16 }], opt: { udpSize: 512 } })]);
    const na = decodeBoth(a);
    expect([na.id, na.tc, na.answer.length]).toEqual([1, false, 100]);
    expect(a.length).toBe(33 + 4 + 100 * 16); // "many100" is 4 bytes longer than "www"
    const nt = decodeBoth(t);
    expect([nt.id, nt.tc, nt.answer.length]).toEqual([2, false, 1]);
    expect(JSON.parse(nt.answer[0].data)).toHaveLength(8);
  });
});

describe('clients retry over TCP', () => {
  test('Node (c-ares) gets all 100 records', async () => {
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`127.0.0.1:${s.port}`]);
    expect(await r.resolve4('many100.example.com')).toHaveLength(100);
    expect((await r.resolveTxt('bigtxt.example.com'))[0]).toHaveLength(8);
  });

  test.each(['dig', 'kdig'] as const)('%s +noedns: TC over UDP, retried over TCP, 100 answers', async (tool) => {
    const r = await dig(tool, s.port, ['many100.example.com', 'A', '+noedns']);
    expect(r.retriedTcp).toBe(true);
    expect(r.transport).toBe('TCP');
    expect(r.status).toBe('NOERROR');
    expect(r.flags).not.toContain('tc');
    expect(r.counts.answer).toBe(100);
    expect(r.answer).toHaveLength(100);
  });

  test.each(['dig', 'kdig'] as const)('%s +bufsize=4096 (server max 1232): retried over TCP', async (tool) => {
    const r = await dig(tool, s.port, ['many100.example.com', 'A', '+bufsize=4096']);
    expect(r.retriedTcp).toBe(true);
    expect(r.counts.answer).toBe(100);
  });

  test.each(['dig', 'kdig'] as const)('%s with EDNS: 40 records come over UDP without retry', async (tool) => {
    const r = await dig(tool, s.port, ['many40.example.com', 'A', '+bufsize=1232']);
    expect(r.retriedTcp).toBe(false);
    expect(r.transport).toBe('UDP');
    expect(r.counts.answer).toBe(40);
    expect(r.udpSize).toBe(1232);
  });

  test.each(['dig', 'kdig'] as const)('%s +ignore shows the truncated UDP answer itself', async (tool) => {
    const r = await dig(tool, s.port, ['bigtxt.example.com', 'TXT', '+ignore', '+bufsize=4096']);
    expect(r.flags).toContain('tc');
    expect(r.counts.answer).toBe(0);
    expect(r.udpSize).toBe(1232);
  });
});

// DNS over TCP (RFC 7766, RFC 1035 §4.2.2): framing, pipelining, split writes, idle timeout, connection caps.
import { sleep, startServer, tcpExchange, TestServer } from '../helpers/server';
import { decodeBoth, lines, rcodeName } from './oracle';
import { rawQuery } from './packets';
import { Client, frame } from './tcp-client';

const ZONE = `
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, value: 192.0.2.1 }
      - { name: mail, type: A, value: 192.0.2.25 }
`;

const q = (id: number, name = 'www.example.com', type = 1): Buffer => rawQuery({ id, questions: [{ name, type }] });

describe('framing and pipelining (idle timeout 0.5 s)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(`server: { listen: ["127.0.0.1:0"], http: null, tcp: { idle_timeout: 0.5 } }\n${ZONE}`);
  });
  afterAll(async () => {
    await s.stop();
  });

  test('30 pipelined queries in one write are answered in order with matching IDs', async () => {
    const names = ['www.example.com', 'mail.example.com', 'nx.example.com'];
    const msgs = Array.from({ length: 30 }, (_, i) => q(1000 + i, names[i % 3]));
    const out = await tcpExchange(s.port, msgs);
    expect(out).toHaveLength(30);
    out.forEach((raw, i) => {
      const n = decodeBoth(raw);
      expect(n.id).toBe(1000 + i);
      expect(n.question[0].name).toBe(names[i % 3]);
      expect(rcodeName(n)).toBe(i % 3 === 2 ? 'NXDOMAIN' : 'NOERROR');
    });
  });

  test('queries written one byte at a time (prefix split too) and several per segment', async () => {
    const c = new Client(s.port);
    await c.connected;
    const bytes = Buffer.concat([frame(q(1)), frame(q(2, 'mail.example.com'))]);
    for (const b of bytes) {
      c.sock.write(Buffer.from([b]));
      await sleep(1);
    }
    // The next two: split in the middle of the second length prefix.
    const more = Buffer.concat([frame(q(3)), frame(q(4, 'mail.example.com'))]);
    const cut = frame(q(3)).length + 1;
    c.sock.write(more.subarray(0, cut));
    await sleep(20);
    c.sock.write(more.subarray(cut));
    const got = await c.waitFor(4);
    expect(got.map((m) => decodeBoth(m).id)).toEqual([1, 2, 3, 4]);
    expect(lines(decodeBoth(got[1]).answer)).toEqual(['mail.example.com A 192.0.2.25']);
    c.destroy();
  });

  test('junk frames: empty, runt, a response, a header with QDCOUNT 0 — the connection keeps serving', async () => {
    const c = new Client(s.port);
    await c.connected;
    const response = q(9);
    response[2] |= 0x80; // QR
    const noQuestion = rawQuery({ id: 20, questions: [], qdcount: 0 });
    c.sock.write(Buffer.concat([frame(Buffer.alloc(0)), frame(Buffer.from([1, 2, 3, 4, 5])), frame(response), frame(noQuestion), frame(q(21))]));
    const got = await c.waitFor(2);
    expect(got.map((m) => [decodeBoth(m).id, rcodeName(decodeBoth(m))])).toEqual([[20, 'FORMERR'], [21, 'NOERROR']]);
    expect(c.closed).toBe(false);
    c.destroy();
  });

  test('a query followed by a half-close (FIN) is still answered', async () => {
    const c = new Client(s.port);
    await c.connected;
    c.sock.end(frame(q(31)));
    const got = await c.waitFor(1);
    expect(got.map((m) => decodeBoth(m).id)).toEqual([31]);
  });

  test('idle connections are closed after idle_timeout (0.5 s), with or without a query', async () => {
    const silent = new Client(s.port);
    await silent.connected;
    const t0 = Date.now();
    const used = new Client(s.port);
    await used.connected;
    used.sock.write(frame(q(41)));
    expect((await used.waitFor(1)).length).toBe(1);
    const t1 = Date.now();
    expect(await silent.waitClosed()).toBe(true);
    expect(await used.waitClosed()).toBe(true);
    expect(silent.closedAt - t0).toBeGreaterThanOrEqual(400);
    expect(silent.closedAt - t0).toBeLessThan(1500);
    expect(used.closedAt - t1).toBeGreaterThanOrEqual(400);
    expect(used.closedAt - t1).toBeLessThan(1500);
  });

  test('a connection that stops in the middle of a frame is closed by the idle timeout, and forgotten', async () => {
    const c = new Client(s.port);
    await c.connected;
    c.sock.write(Buffer.concat([Buffer.from([0x01, 0x00]), Buffer.alloc(10)])); // announces 256 bytes, sends 10
    expect(await c.waitClosed()).toBe(true);
    expect(c.messages).toEqual([]);
    await sleep(50);
    expect(s.plane.tcpConnections).toBe(0);
  });
});

describe('a client that sends but never reads', () => {
  let s: TestServer;
  beforeAll(async () => {
    const many = Array.from({ length: 100 }, (_, i) => `10.0.0.${i}`).join(', ');
    s = await startServer(`server: { listen: ["127.0.0.1:0"], http: null }\n${ZONE}      - { name: many, type: A, values: [${many}] }\n`);
  });
  afterAll(async () => {
    await s.stop();
  });

  test('is disconnected once its unread answers pass the cap, and the server keeps serving', async () => {
    const c = new Client(s.port);
    await c.connected;
    c.sock.pause(); // never read
    const one = frame(q(1, 'many.example.com'));
    // 20 000 answers of 1.6 KB = 32 MB: far beyond the socket buffers plus the 1 MB cap.
    c.sock.write(Buffer.concat(Array.from({ length: 20_000 }, () => one)));
    const deadline = Date.now() + 5000;
    while (!(s.plane.queryStats.tcpRejected.get('slow_reader') ?? 0) && Date.now() < deadline) await sleep(20);
    expect(s.plane.queryStats.tcpRejected.get('slow_reader')).toBe(1);
    c.destroy();
    await sleep(50);
    expect(s.plane.tcpConnections).toBe(0);
    const [r] = await tcpExchange(s.port, [q(2)]);
    expect(lines(decodeBoth(r).answer)).toEqual(['www.example.com A 192.0.2.1']);
  });
});

describe('connection limits', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(`server: { listen: ["127.0.0.1:0"], http: null, tcp: { idle_timeout: 20, max_connections: 5, max_connections_per_client: 3 } }\n${ZONE}`);
  });
  afterAll(async () => {
    await s.stop();
  });

  async function works(c: Client, id: number): Promise<boolean> {
    await c.connected.catch(() => undefined);
    if (c.closed) return false;
    c.sock.write(frame(q(id)));
    const got = await c.waitFor(1, 1500);
    return got.length === 1 && decodeBoth(got[0]).id === id;
  }

  test('max_connections_per_client (per /24) and max_connections are enforced, and slots come back', async () => {
    const a = [new Client(s.port), new Client(s.port), new Client(s.port)];
    for (const [i, c] of a.entries()) expect(await works(c, 100 + i)).toBe(true);
    // The 4th from 127.0.0.1 is refused: closed without an answer.
    const extra = new Client(s.port);
    expect(await works(extra, 200)).toBe(false);
    expect(await extra.waitClosed()).toBe(true);
    // 127.0.0.2 is another address of the same /24: it shares the cap with 127.0.0.1.
    const sibling = new Client(s.port, '127.0.0.2');
    expect(await works(sibling, 250)).toBe(false);
    expect(s.plane.queryStats.tcpRejected.get('per_client')).toBe(2);
    // Another /24 still gets in (per-client cap, not global).
    const b1 = new Client(s.port, '127.0.1.1');
    const b2 = new Client(s.port, '127.0.1.2');
    expect(await works(b1, 300)).toBe(true);
    expect(await works(b2, 301)).toBe(true);
    expect(s.plane.tcpConnections).toBe(5);
    // Global cap of 5 reached: a third network is refused too.
    const c1 = new Client(s.port, '127.0.2.1');
    expect(await works(c1, 400)).toBe(false);
    // Closing one of the first three frees a slot for 127.0.0.0/24.
    a[0].destroy();
    await sleep(100);
    const again = new Client(s.port, '127.0.0.3');
    expect(await works(again, 500)).toBe(true);
    for (const c of [...a, b1, b2, again]) c.destroy();
    await sleep(100);
    expect(s.plane.tcpConnections).toBe(0);
    // And all limits are free again.
    const fresh = [new Client(s.port), new Client(s.port), new Client(s.port)];
    for (const [i, c] of fresh.entries()) expect(await works(c, 600 + i)).toBe(true);
    for (const c of fresh) c.destroy();
  });
});

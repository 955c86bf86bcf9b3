// Slowloris over DNS/TCP: clients that trickle bytes must not hold connection slots. The idle timeout counts from
// the last complete, answered query (RFC 7766 §6.2.3), a frame must arrive within 2 s of its first byte, and the
// per-client cap counts a whole /24 (IPv4) or /56 (IPv6), so many addresses of one network cannot take every slot.
import { clientPrefix } from '../../src/dns/server/tcp';
import { sleep, startServer, TestServer } from '../helpers/server';
import { decodeBoth, lines } from './oracle';
import { rawQuery } from './packets';
import { Client, frame } from './tcp-client';

const ZONE = `
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, value: 192.0.2.1 }
`;

const q = (id: number): Buffer => rawQuery({ id, questions: [{ name: 'www.example.com', type: 1 }] });
const rejected = (s: TestServer, reason: string): number => s.plane.queryStats.tcpRejected.get(reason) ?? 0;

/** Sends `bytes()` every `everyMs` until the connection closes or `stop()` is called. */
function trickle(c: Client, bytes: () => Buffer, everyMs: number): () => void {
  const timer = setInterval(() => {
    if (c.closed) clearInterval(timer);
    else c.sock.write(bytes());
  }, everyMs);
  return () => clearInterval(timer);
}

/** Opens a connection and asks one query: false when the server refused the connection or did not answer. */
async function answered(port: number, localAddress: string, id: number): Promise<boolean> {
  const c = new Client(port, localAddress);
  await c.connected.catch(() => undefined);
  if (c.closed) return false;
  c.sock.write(frame(q(id)));
  const got = await c.waitFor(1, 3000);
  c.destroy();
  return got.length === 1 && decodeBoth(got[0]).id === id && lines(decodeBoth(got[0]).answer)[0] === 'www.example.com A 192.0.2.1';
}

describe('idle timeout counts complete queries, not bytes (idle_timeout 1 s)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(`server: { listen: ["127.0.0.1:0"], http: null, tcp: { idle_timeout: 1 } }\n${ZONE}`);
  });
  afterAll(async () => {
    await s.stop();
  });

  test('a client that keeps sending frames that get no answer is closed after the timeout', async () => {
    const before = rejected(s, 'idle');
    const c = new Client(s.port);
    await c.connected;
    const t0 = Date.now();
    // A complete 3-byte frame every 100 ms: too short for a DNS header, so never answered.
    const stop = trickle(c, () => frame(Buffer.from([1, 2, 3])), 100);
    const closed = await c.waitClosed(6000);
    stop();
    expect(closed).toBe(true);
    expect(c.closedAt - t0).toBeGreaterThanOrEqual(900);
    expect(c.messages).toEqual([]);
    expect(rejected(s, 'idle')).toBe(before + 1);
  });

  test('a client that keeps asking is not closed, however long it stays', async () => {
    const c = new Client(s.port);
    await c.connected;
    for (let i = 0; i < 8; i++) {
      c.sock.write(frame(q(i)));
      await sleep(300);
    }
    expect(c.closed).toBe(false);
    expect(c.messages.map((m) => decodeBoth(m).id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // And once it stops asking, the timeout applies.
    expect(await c.waitClosed(6000)).toBe(true);
  });
});

describe('trickled frames (idle_timeout 8 s, partial frames 2 s)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(`server: { listen: ["127.0.0.1:0"], http: null, tcp: { idle_timeout: 8, max_connections: 100, max_connections_per_client: 64 } }\n${ZONE}`);
  });
  afterAll(async () => {
    await s.stop();
  });

  test('a frame announced as 65535 bytes and sent one byte at a time is closed well before idle_timeout', async () => {
    const before = rejected(s, 'partial_frame');
    const c = new Client(s.port);
    await c.connected;
    const t0 = Date.now();
    c.sock.write(Buffer.from([0xff, 0xff]));
    const stop = trickle(c, () => Buffer.from([0]), 200);
    const closed = await c.waitClosed(7000);
    stop();
    expect(closed).toBe(true);
    expect(c.closedAt - t0).toBeGreaterThanOrEqual(1900);
    expect(c.closedAt - t0).toBeLessThan(7000);
    expect(rejected(s, 'partial_frame')).toBe(before + 1);
  });

  test('a query split over several writes within the limit is answered, and a new frame gets its own 2 s', async () => {
    const c = new Client(s.port);
    await c.connected;
    const bytes = Buffer.concat([frame(q(1)), frame(q(2))]);
    // Each frame takes about 1 s to arrive (within 2 s), the two 2.1 s in all.
    const half = frame(q(1)).length;
    const cuts = [0, 1, 10, half - 1, half, half + 1, half + 10, bytes.length - 1, bytes.length];
    for (let i = 1; i < cuts.length; i++) {
      c.sock.write(bytes.subarray(cuts[i - 1], cuts[i]));
      if (i < cuts.length - 1) await sleep(300);
    }
    const got = await c.waitFor(2);
    expect(got.map((m) => decodeBoth(m).id)).toEqual([1, 2]);
    expect(c.closed).toBe(false);
    c.destroy();
  });

  test('trickling clients from 40 addresses of one /24 cannot take every slot; they are closed while trickling', async () => {
    const tricklers: Client[] = [];
    const stops: (() => void)[] = [];
    // 100 connections (the global cap) from 127.0.0.1 … 127.0.0.40: only 64 get in (one /24).
    for (let i = 0; i < 100; i++) {
      const c = new Client(s.port, `127.0.0.${1 + (i % 40)}`);
      tricklers.push(c);
      c.connected
        .then(() => {
          c.sock.write(Buffer.from([0xff, 0xff]));
          stops.push(trickle(c, () => Buffer.from([0]), 300));
        })
        .catch(() => undefined);
    }
    await sleep(500);
    // A client from another network gets a slot and its answer while they trickle.
    expect(await answered(s.port, '127.0.1.1', 77)).toBe(true);
    await sleep(100);
    expect(s.plane.tcpConnections).toBe(64);
    expect(rejected(s, 'per_client')).toBe(36);
    // And all of them are closed although they keep sending.
    const deadline = Date.now() + 7000;
    while (s.plane.tcpConnections > 0 && Date.now() < deadline) await sleep(100);
    for (const stop of stops) stop();
    expect(s.plane.tcpConnections).toBe(0);
    expect(tricklers.filter((c) => !c.closed)).toEqual([]);
    expect(await answered(s.port, '127.0.0.1', 78)).toBe(true);
  });
});

describe('clientPrefix: the network per-client caps count under', () => {
  test('IPv4 /24, IPv4-mapped IPv6 as IPv4', () => {
    expect(clientPrefix('127.0.0.1')).toBe(clientPrefix('127.0.0.40'));
    expect(clientPrefix('127.0.0.1')).not.toBe(clientPrefix('127.0.1.1'));
    expect(clientPrefix('::ffff:192.0.2.7')).toBe(clientPrefix('192.0.2.200'));
    expect(clientPrefix('192.0.2.7')).toBe('192.0.2.0/24');
  });

  test('IPv6 /56, whatever the spelling', () => {
    expect(clientPrefix('2001:db8:1:2ff::1')).toBe(clientPrefix('2001:db8:1:200:aaaa:bbbb:cccc:dddd'));
    expect(clientPrefix('2001:db8:1:2ff::1')).not.toBe(clientPrefix('2001:db8:1:300::1'));
    expect(clientPrefix('2001:0db8:0000:0000::')).toBe(clientPrefix('2001:db8::ff:1'));
    expect(clientPrefix('2001:db8::')).not.toBe(clientPrefix('2001:db9::'));
    expect(clientPrefix('::1')).toBe(clientPrefix('::2'));
    expect(clientPrefix('fe80::1%eth0')).toBe(clientPrefix('fe80::2'));
    expect(clientPrefix('64:ff9b::192.0.2.1')).toBe(clientPrefix('64:ff9b::1'));
    expect(clientPrefix('1:2:3:4:5:6:7:8')).toBe('1:2:3:0/56');
    expect(clientPrefix('1:2:3:4ff:5:6:7:8')).toBe('1:2:3:4/56');
  });
});

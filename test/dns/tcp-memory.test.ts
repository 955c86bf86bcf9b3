// Memory held for TCP clients that do not read their answers. The encoder writes every response into a shared
// 256 KB slab and hands out a view of it; a view waiting in a socket queue would keep its whole slab alive, so a
// client that never reads, asking a small query now and then while other traffic rolls slabs, could pin one slab
// per answer. The listener copies answers out, counts the real bytes it holds, caps them per connection and
// for the whole process.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tcpQueueBudget } from '../../src/dns/server/tcp';
import { sleep, startServer, TestServer } from '../helpers/server';
import { decodeBoth } from './oracle';
import { rawQuery } from './packets';
import { Client, frame } from './tcp-client';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

function arrayBuffersAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

// A TXT answer of ~30 KB: eight of them fill more than the part of a slab the encoder uses before starting a new
// one (it keeps room for a 64 KB TCP message), so every round of eight starts at least one new slab.
const BIG = Array.from({ length: 120 }, (_, i) => `"${String(i).padStart(3, '0')}${'x'.repeat(247)}"`).join(' ');
const CONFIG = `server: { listen: ["127.0.0.1:0"], http: null, tcp: { idle_timeout: 60 } }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, value: 192.0.2.1 }
      - { name: big, type: TXT, value: '${BIG}' }
`;

const small = frame(rawQuery({ id: 1, questions: [{ name: 'www.example.com', type: 1 }] }));
const big = frame(rawQuery({ id: 2, questions: [{ name: 'big.example.com', type: 16 }] }));
const rejected = (s: TestServer, reason: string): number => s.plane.queryStats.tcpRejected.get(reason) ?? 0;

/** Waits for the transient charges of answers written at once to go (their write callbacks), then reads the budget. */
async function settledQueue(): Promise<number> {
  await sleep(30);
  return tcpQueueBudget.used;
}

/**
 * A client that never reads (paused) sends `query` in batches until the server holds answers for it in the
 * process: its kernel buffers (both ends) are full. Returns false if that never happened.
 */
async function fillUntilQueued(c: Client, query: Buffer, batch: number, baseline: number): Promise<boolean> {
  for (let i = 0; i < 400 && !c.closed; i++) {
    c.sock.write(Buffer.concat(Array.from({ length: batch }, () => query)));
    if ((await settledQueue()) > baseline) return true;
  }
  return false;
}

/**
 * A reading client sends `n` big queries and waits for the answers (then lets go of them, so that the test's own
 * memory does not grow): at least one new encoder slab per 8.
 */
async function rollSlabs(b: Client, n: number): Promise<void> {
  b.messages.length = 0;
  b.sock.write(Buffer.concat(Array.from({ length: n }, () => big)));
  await b.waitFor(n, 5000);
  expect(b.messages).toHaveLength(n);
  // dns-packet only: dns2 3.0.0 takes ~50 ms to decode this 30 KB answer, and this runs 150 times (oracle.ts).
  expect(decodeBoth(b.messages[0], { dns2: false }).answer).toHaveLength(1);
  expect(b.messages.every((m) => m.length === b.messages[0].length)).toBe(true);
  b.messages.length = 0;
}

describe('a client that never reads, while other traffic flows', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(CONFIG);
  });
  afterAll(async () => {
    await s.stop();
  });

  test('its queued answers do not pin encoder slabs; it is closed once their real bytes pass 1 MB', async () => {
    const slow = new Client(s.port);
    await slow.connected;
    slow.sock.pause();
    const reader = new Client(s.port, '127.0.1.1');
    await reader.connected;
    await rollSlabs(reader, 1);

    const baseline = await settledQueue();
    expect(await fillUntilQueued(slow, small, 2000, baseline)).toBe(true);
    expect(slow.closed).toBe(false);
    const before = arrayBuffersAfterGc();

    // 150 rounds: one small query from the slow client, then enough answers to the reader to start a new slab.
    // Were each of the slow client's answers a view of its slab, 150 slabs (37 MB) would stay alive.
    for (let i = 0; i < 150; i++) {
      slow.sock.write(small);
      await rollSlabs(reader, 8);
    }
    const after = arrayBuffersAfterGc();
    expect(slow.closed).toBe(false);
    expect(after - before).toBeLessThan(8 * 1024 * 1024);
    expect(await settledQueue()).toBeLessThan(baseline + 256 * 1024);

    // Now big answers: the slow client is closed once what the server holds for it passes 1 MB, not before.
    let most = 0;
    const slowReaders = rejected(s, 'slow_reader');
    for (let i = 0; i < 100 && !slow.closed; i++) {
      slow.sock.write(big);
      most = Math.max(most, await settledQueue());
    }
    await slow.waitClosed(3000);
    expect(slow.closed).toBe(true);
    expect(rejected(s, 'slow_reader')).toBe(slowReaders + 1);
    expect(most - baseline).toBeGreaterThan(900 * 1024);
    expect(most - baseline).toBeLessThanOrEqual(1024 * 1024);
    // Everything it held is given back, and the reader was served throughout.
    expect(await settledQueue()).toBe(baseline);
    await rollSlabs(reader, 8);
    reader.destroy();
  });

  test('past the process-wide budget, the connection whose queue would grow is closed; others are served', async () => {
    const limit = tcpQueueBudget.limit;
    tcpQueueBudget.limit = 600 * 1024;
    try {
      const baseline = await settledQueue();
      const first = new Client(s.port, '127.0.2.1');
      const second = new Client(s.port, '127.0.3.1');
      const reader = new Client(s.port, '127.0.4.1');
      await Promise.all([first.connected, second.connected, reader.connected]);
      first.sock.pause();
      second.sock.pause();
      // The first queues ~400 KB (under its own 1 MB cap and the 600 KB budget) and stays.
      expect(await fillUntilQueued(first, big, 8, baseline)).toBe(true);
      for (let i = 0; i < 30 && (await settledQueue()) - baseline < 400 * 1024; i++) first.sock.write(big);
      expect((await settledQueue()) - baseline).toBeGreaterThanOrEqual(400 * 1024);
      // The second fills its kernel buffers, then its queue meets the budget: it is the one closed.
      const budgetClosed = rejected(s, 'queue_budget');
      await fillUntilQueued(second, big, 8, await settledQueue());
      for (let i = 0; i < 30 && !second.closed; i++) {
        second.sock.write(big);
        await settledQueue();
      }
      expect(await second.waitClosed(3000)).toBe(true);
      expect(rejected(s, 'queue_budget')).toBe(budgetClosed + 1);
      expect(first.closed).toBe(false);
      expect(tcpQueueBudget.used).toBeLessThanOrEqual(tcpQueueBudget.limit);
      // A client that reads is still answered.
      await rollSlabs(reader, 2);
      for (const c of [first, second, reader]) c.destroy();
      await sleep(100);
      expect(tcpQueueBudget.used).toBe(baseline);
    } finally {
      tcpQueueBudget.limit = limit;
    }
  });
});

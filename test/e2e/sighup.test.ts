// SIGHUP under load, on the real CLI process: a resolver-like client sends ~2000 UDP queries/s (each with a
// timeout and one retry); a good changed file is applied (the answer switches once, atomically), a broken file
// is rejected with file:line:col in the log while the previous config keeps serving; no query is lost.
// SIGTERM exits 0. Needs dist/ (`npm test` builds first).
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import * as dnsPacket from 'dns-packet';
import { sleep, spawnServer, writeConfig } from '../helpers/server';
import { rawQuery } from '../dns/packets';

const config = (value: string, extra = ''): string => `
server: { listen: ["127.0.0.1:0"], http: null, log: { level: info } }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, value: ${value} }
${extra}`;

const GOOD_OLD = config('192.0.2.1');
const GOOD_NEW = config('192.0.2.2');
// Line 9, column 40: a bad IPv4 value (the rest of the file is the new config).
const BROKEN = config('192.0.2.3', '      - { name: bad, type: A, value: 300.1.1.1 }\n');

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

interface Pending {
  sentAt: number;
  retried: boolean;
  answer: string | null;
}

test('SIGHUP with a good file, then a broken one, under 2000 queries/s: nothing lost, one atomic switch', async () => {
  const configPath = writeConfig(GOOD_OLD);
  const srv = await spawnServer(configPath);
  const pid = srv.child.pid!;
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  try {
    const pending = new Map<number, Pending>();
    const arrivals: string[] = []; // answers in arrival order (first answer per query only)
    const bad: string[] = [];
    sock.on('message', (m) => {
      let p: dnsPacket.DecodedPacket;
      try {
        p = dnsPacket.decode(m);
      } catch (e) {
        bad.push(`undecodable: ${(e as Error).message}`);
        return;
      }
      const q = pending.get(p.id ?? -1);
      if (!q || q.answer !== null) return; // a late duplicate after a retry
      const answers = (p.answers ?? []).map((a) => `${a.type} ${String((a as { data: unknown }).data)}`);
      if ((p as unknown as { rcode: string }).rcode !== 'NOERROR' || answers.length !== 1) bad.push(`id ${p.id}: ${(p as unknown as { rcode: string }).rcode} ${answers.join(',')}`);
      q.answer = answers.join(',');
      arrivals.push(q.answer);
    });

    const send = (id: number) => sock.send(rawQuery({ id, questions: [{ name: 'www.example.com', type: 1 }] }), srv.port, '127.0.0.1');
    let nextId = 1;
    const rssBefore = rssKb(pid);
    const t0 = Date.now();
    const lost: number[] = [];
    let retries = 0;
    // Retry after 300 ms without an answer; lost after a further 700 ms.
    const watchdog = setInterval(() => {
      const now = Date.now();
      for (const [id, q] of pending) {
        if (q.answer !== null) continue;
        if (!q.retried && now - q.sentAt > 300) {
          q.retried = true;
          q.sentAt = now;
          retries++;
          send(id);
        } else if (q.retried && now - q.sentAt > 700 && !lost.includes(id)) {
          lost.push(id);
        }
      }
    }, 20);

    const phases: { at: number; action: () => void; done: boolean }[] = [
      { at: 1200, action: () => { writeFileSync(configPath, GOOD_NEW); srv.child.kill('SIGHUP'); }, done: false },
      { at: 2400, action: () => { writeFileSync(configPath, BROKEN); srv.child.kill('SIGHUP'); }, done: false },
    ];
    // 2000 queries/s for 3.6 s, paced by the clock (a slow timer tick sends a bigger batch).
    while (Date.now() - t0 < 3600) {
      const elapsed = Date.now() - t0;
      for (const ph of phases) if (!ph.done && elapsed >= ph.at) { ph.done = true; ph.action(); }
      const due = Math.min(Math.floor(elapsed * 2), nextId - 1 + 200);
      while (nextId - 1 < due) {
        const id = nextId++;
        pending.set(id, { sentAt: Date.now(), retried: false, answer: null });
        send(id);
      }
      await sleep(4);
    }
    const sent = nextId - 1;
    // Let the last queries (and their retries) finish.
    for (let i = 0; i < 100 && [...pending.values()].some((q) => q.answer === null) && lost.length === 0; i++) await sleep(20);
    clearInterval(watchdog);
    const unanswered = [...pending.entries()].filter(([, q]) => q.answer === null).map(([id]) => id);

    expect(sent).toBeGreaterThan(6000);
    expect(bad).toEqual([]);
    expect(lost).toEqual([]);
    expect(unanswered).toEqual([]);
    expect(arrivals).toHaveLength(sent);
    // Exactly one switch, old → new, and never back (the broken file changed nothing).
    const first = arrivals.indexOf('A 192.0.2.2');
    expect(first).toBeGreaterThan(0);
    expect(arrivals.slice(0, first).every((a) => a === 'A 192.0.2.1')).toBe(true);
    expect(arrivals.slice(first).every((a) => a === 'A 192.0.2.2')).toBe(true);
    // The switch happened around the first SIGHUP, well before the second one.
    expect(first).toBeGreaterThan(sent * 0.2);
    expect(first).toBeLessThan(sent * 0.6);
    expect(retries).toBeLessThan(sent * 0.01);

    const log = srv.stderr();
    expect(log).toContain('"config reloaded"');
    expect(log).toContain(`${configPath}:9:38: A bad: \\"300.1.1.1\\" is not an IPv4 address`);
    expect(log).toContain('reload failed: the previous config keeps serving');
    expect(rssKb(pid) - rssBefore).toBeLessThan(64 * 1024);

    // SIGTERM with a TCP connection open (one query answered on it): the server closes it and exits 0.
    const conn = net.connect({ host: '127.0.0.1', port: srv.port });
    const answered = new Promise<Buffer>((resolve) => conn.once('data', (d: Buffer) => resolve(d)));
    const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
    conn.on('error', () => undefined);
    const m = rawQuery({ id: 9999, questions: [{ name: 'www.example.com', type: 1 }] });
    conn.write(Buffer.concat([Buffer.from([0, m.length]), m]));
    const d = await answered;
    expect(dnsPacket.decode(d.subarray(2)).id).toBe(9999);
    const t = Date.now();
    expect(await srv.stop('SIGTERM')).toBe(0);
    await closed;
    expect(Date.now() - t).toBeLessThan(3000);
  } finally {
    sock.close();
    expect(await srv.stop('SIGTERM')).toBe(0);
  }
});

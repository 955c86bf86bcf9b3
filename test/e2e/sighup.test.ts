// SIGHUP under load, on the real CLI process: a resolver-like client sends ~2000 UDP queries/s (each with a
// timeout and one retry); a good changed file is applied (the answer switches once, atomically), a broken file
// is rejected with file:line:col in the log while the previous config keeps serving; no query is lost.
// SIGTERM exits 0. Needs dist/ (`npm test` builds first).
import * as net from 'node:net';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as dnsPacket from 'dns-packet';
import { QueryStream } from '../helpers/query-stream';
import { rcodeOf, spawnServer, writeConfig } from '../helpers/server';
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

test('SIGHUP with a good file, then a broken one, under 2000 queries/s: nothing lost, one atomic switch', async () => {
  const configPath = writeConfig(GOOD_OLD);
  const srv = await spawnServer(configPath);
  const pid = srv.child.pid!;
  const stream = await QueryStream.open({
    port: srv.port,
    nameOf: () => 'www.example.com',
    // Retry after 300 ms without an answer; lost after a further 700 ms.
    retryAfterMs: 300,
    lostAfterMs: 700,
    answerOf: (p) => (p.answers ?? []).map((a) => `${a.type} ${String((a as { data: unknown }).data)}`).join(','),
    check: (p, _name, answer) => (rcodeOf(p) !== 'NOERROR' || (p.answers ?? []).length !== 1 ? [`id ${p.id}: ${rcodeOf(p)} ${answer}`] : []),
  });
  try {
    const rssBefore = rssKb(pid);
    // 2000 queries/s for 3.6 s, paced by the clock (a slow timer tick sends a bigger batch).
    const { sent, lost, unanswered, retries } = await stream.run({
      durationMs: 3600,
      drainMs: 2000,
      phases: [
        { at: 1200, action: () => { writeFileSync(configPath, GOOD_NEW); srv.child.kill('SIGHUP'); } },
        { at: 2400, action: () => { writeFileSync(configPath, BROKEN); srv.child.kill('SIGHUP'); } },
      ],
    });
    const arrivals = stream.arrivals.map((a) => a.answer); // answers in arrival order (first answer per query only)

    expect(sent).toBeGreaterThan(2000); // the client is paced by the clock; a loaded machine sends fewer
    expect(stream.bad).toEqual([]);
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
    stream.close();
    expect(await srv.stop('SIGTERM')).toBe(0);
  }
});

/** The nice value of each thread of a process (Linux: field 19 of /proc/PID/task/TID/stat). */
function threadNices(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), Number(fields[16]));
  }
  return out;
}

test('the thread that loads configs yields the CPU to the one that answers (Linux: nice +10)', async () => {
  if (!existsSync('/proc/thread-self')) return; // per-thread nice is Linux's
  const configPath = writeConfig(GOOD_OLD);
  const srv = await spawnServer(configPath);
  const pid = srv.child.pid!;
  try {
    // The loading thread starts with the first reload.
    srv.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !srv.stderr().includes('"config reloaded"'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(srv.stderr()).toContain('"config reloaded"');
    const nices = threadNices(pid);
    const main = nices.get(pid) ?? 0; // 0 unless the test itself runs under `nice`
    if (main + 10 > 19) return; // capped at 19: nothing to tell apart
    expect([...nices.values()].filter((n) => n === main + 10)).toHaveLength(1);
  } finally {
    expect(await srv.stop('SIGTERM')).toBe(0);
  }
});

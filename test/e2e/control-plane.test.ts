// The control plane under bad reloads, in both modes (issues 10 and 11): a reload whose new listen address cannot
// be bound fails as a whole and the old sockets keep answering; a SIGHUP with the file missing, or with a file the
// parser cannot take (nested 5,000 levels deep), keeps the old config serving; in cluster mode the same holds with
// two workers under load, and a worker killed with SIGKILL is replaced without a query lost.
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as net from 'node:net';
import { renameSync, writeFileSync } from 'node:fs';
import { QueryStream } from '../helpers/query-stream';
import { aOf, until } from '../helpers/endpoints';
import { rcodeOf, sleep, spawnServer, startServer, writeConfig, type ProcessServer } from '../helpers/server';

const config = (value: string, o: { listen?: string[]; workers?: number; http?: boolean } = {}): string => `
server:
  listen: ${JSON.stringify(o.listen ?? ['127.0.0.1:0'])}
  http: ${o.http ? '"127.0.0.1:0"' : 'null'}
  workers: ${o.workers ?? 1}
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, value: ${value} }
`;

/** A YAML document nested `depth` block mappings deep (the parser's worst case). */
function deepYaml(depth: number): string {
  let out = config('192.0.2.9').trimEnd() + '\nextra:\n';
  for (let i = 0; i < depth; i++) out += `${' '.repeat(i + 1)}k${i}:\n`;
  return `${out}${' '.repeat(depth + 1)}v\n`;
}

/**
 * Holds a UDP and a TCP socket on one free port of 127.0.0.1, so that nobody else can bind it. The UDP port is free
 * for UDP only: when TCP has it (another test's connection), another port is tried.
 */
async function holdPort(): Promise<{ port: number; release: () => Promise<void> }> {
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const port = udp.address().port;
    const tcp = net.createServer();
    const bound = await new Promise<boolean>((resolve, reject) => {
      tcp.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' && attempt < 20 ? resolve(false) : reject(err)));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      continue;
    }
    let released: Promise<void> | null = null;
    const release = (): Promise<void> => (released ??= new Promise<void>((resolve) => tcp.close(() => udp.close(() => resolve()))));
    return { port, release };
  }
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

async function metric(port: number, name: string): Promise<number> {
  const text = (await get(port, '/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

function statusPortOf(srv: ProcessServer): number {
  const line = srv.stderr().split('\n').find((l) => l.includes('"steerdns started"'));
  return Number((JSON.parse(line ?? '{}') as { http?: string }).http?.split(':').pop());
}

test('single process: a reload to an address that cannot be bound fails whole; the old socket answers; log, metric and /api/status say so', async () => {
  const held = await holdPort();
  const s = await startServer(config('192.0.2.1', { http: true }));
  try {
    const port = s.port;
    expect(await aOf(port, 'www.example.com')).toEqual(['192.0.2.1']);
    // The new file changes the answer AND adds a listen address that is taken: nothing of it may apply.
    expect(await s.reload(config('192.0.2.2', { http: true, listen: ['127.0.0.1:0', `127.0.0.1:${held.port}`] }))).toBe(false);
    expect(await aOf(port, 'www.example.com')).toEqual(['192.0.2.1']);
    expect(s.plane.boundPorts.map((b) => b.port)).toEqual([port]);
    expect(s.logs.some((l) => l.includes('reload failed') && l.includes(String(held.port)))).toBe(true);
    const hp = s.server.statusPort;
    expect(await metric(hp, 'steerdns_config_last_reload_successful')).toBe(0);
    const status = JSON.parse((await get(hp, '/api/status')).body) as { result: { last_reload_successful: boolean; last_reload_error: string } };
    expect(status.result.last_reload_successful).toBe(false);
    expect(status.result.last_reload_error).toContain(String(held.port));
    // Once the address is free, the same file applies.
    await held.release();
    expect(await s.reload()).toBe(true);
    expect(await aOf(port, 'www.example.com')).toEqual(['192.0.2.2']);
    expect(await aOf(held.port, 'www.example.com')).toEqual(['192.0.2.2']);
    expect(await metric(hp, 'steerdns_config_last_reload_successful')).toBe(1);
  } finally {
    await s.stop();
    await held.release();
  }
}, 30000);

test('single process (CLI): SIGHUP with the file missing, then nested 5,000 levels deep, keeps the old config serving', async () => {
  const configPath = writeConfig(config('192.0.2.1'));
  const srv = await spawnServer(configPath);
  try {
    renameSync(configPath, `${configPath}.away`);
    srv.child.kill('SIGHUP');
    await until('the failed reload logged', () => Promise.resolve(srv.stderr()), (e) => /reload failed.*ENOENT/.test(e), 10000);
    expect(await aOf(srv.port, 'www.example.com')).toEqual(['192.0.2.1']);
    writeFileSync(configPath, deepYaml(5000));
    srv.child.kill('SIGHUP');
    await until('the second failed reload', () => Promise.resolve(srv.stderr().split('\n').filter((l) => l.includes('reload failed')).length), (n) => n === 2, 15000);
    expect(await aOf(srv.port, 'www.example.com')).toEqual(['192.0.2.1']);
    writeFileSync(configPath, config('192.0.2.2'));
    srv.child.kill('SIGHUP');
    await until('the good reload', () => aOf(srv.port, 'www.example.com'), (a) => a.join() === '192.0.2.2', 10000);
    expect(srv.child.exitCode).toBeNull();
  } finally {
    const t = setTimeout(() => console.log('STOP HANG', srv.stderr()), 8000);
    expect(await srv.stop()).toBe(0);
    clearTimeout(t);
  }
}, 40000);

test('workers: 2 under load: missing file, deep file, unbindable address and a killed worker lose no query; a good reload then applies', async () => {
  const held = await holdPort();
  const configPath = writeConfig(config('192.0.2.1', { workers: 2, http: true }));
  const srv = await spawnServer(configPath, 20000);
  const hp = statusPortOf(srv);
  const workers = async (): Promise<{ pid: number; listening: boolean }[]> =>
    (JSON.parse((await get(hp, '/api/status')).body) as { result: { workers: { pid: number; listening: boolean }[] } }).result.workers;
  const failures = (): number => srv.stderr().split('\n').filter((l) => l.includes('reload failed')).length;
  const stream = await QueryStream.open({
    port: srv.port,
    nameOf: () => 'www.example.com',
    // Like a resolver: retry after 400 ms without an answer; lost after a further 1000 ms.
    retryAfterMs: 400,
    lostAfterMs: 1000,
    answerOf: (p) => (p.answers ?? []).map((a) => String((a as { data: unknown }).data)).join(','),
    check: (p, _name, answer) => (rcodeOf(p) !== 'NOERROR' || !['192.0.2.1', '192.0.2.2'].includes(answer) ? [`id ${p.id}: ${rcodeOf(p)} ${answer}`] : []),
    recvBufferSize: 4 * 1024 * 1024,
  });
  try {
    await until('/readyz', () => get(hp, '/readyz'), (r) => r.status === 200, 10000);
    const before = await workers();
    expect(before.map((w) => w.listening)).toEqual([true, true]);
    const hup = (text: string | null): void => {
      if (text === null) renameSync(configPath, `${configPath}.away`);
      else writeFileSync(configPath, text);
      srv.child.kill('SIGHUP');
    };
    // The steps run one after the other (each reload logged before the next), while the stream runs throughout.
    const steps = (async () => {
      await sleep(500);
      hup(null);
      await until('the missing-file reload failed', () => Promise.resolve(failures()), (n) => n === 1, 15000);
      hup(deepYaml(5000));
      await until('the deep-file reload failed', () => Promise.resolve(failures()), (n) => n === 2, 15000);
      hup(config('192.0.2.2', { workers: 2, http: true, listen: ['127.0.0.1:0', `127.0.0.1:${held.port}`] }));
      await until('the unbindable reload failed', () => Promise.resolve(failures()), (n) => n === 3, 15000);
      await sleep(500);
      process.kill(before[0].pid, 'SIGKILL');
      await until('a replacement listening', () => workers(), (w) => w.length === 2 && w.every((x) => x.listening) && !w.some((x) => x.pid === before[0].pid), 15000);
      await sleep(500);
      hup(config('192.0.2.2', { workers: 2, http: true }));
      await until('the good reload', () => Promise.resolve(srv.stderr()), (e) => e.includes('"config reloaded"'), 15000);
      await sleep(1000);
    })();
    let stepsDone = false;
    const stepsResult = steps.finally(() => (stepsDone = true));
    const { sent, lost, unanswered } = await stream.run({ durationMs: 60000, drainMs: 3000, phases: [], until: () => stepsDone });
    await stepsResult;
    if (lost.length > 0 || unanswered.length > 0) {
      const dropped = await get(hp, '/metrics').then((r) => r.body.split('\n').filter((l) => l.startsWith('steerdns_dropped') || l.startsWith('steerdns_queries_total')).join('\n'), () => '');
      console.log(`sent ${sent}, received ${stream.received}, lost ${lost.length} from id ${lost[0]}, unanswered ${unanswered.length}\n${dropped}\n${srv.stderr()}`);
    }
    expect(stream.bad).toEqual([]);
    expect(lost).toEqual([]);
    expect(unanswered).toEqual([]);
    expect(sent).toBeGreaterThan(500);
    // The three bad reloads changed nothing; the good one at the end switched every worker.
    const arrivals = stream.arrivals.map((a) => a.answer);
    const firstNew = arrivals.indexOf('192.0.2.2');
    expect(firstNew).toBeGreaterThan(arrivals.length / 2);
    expect(arrivals.slice(firstNew + 300).every((a) => a === '192.0.2.2')).toBe(true);
    expect(srv.stderr()).toContain('worker exited unexpectedly');
    expect(await metric(hp, 'steerdns_config_reloads_total{result="failure"}')).toBe(3);
    for (let i = 0; i < 10; i++) expect(await aOf(srv.port, 'www.example.com')).toEqual(['192.0.2.2']);
  } finally {
    stream.close();
    await srv.stop();
    await held.release();
  }
}, 120000);

afterAll(() => sleep(10));

// `server.workers: 2` end to end on the real CLI process (`node dist/cli.js serve`; `npm test` builds first): two
// cluster workers share the DNS sockets, the primary runs the monitors (HTTP endpoints on 127.0.13.x) and the
// status API.
//   - answers over UDP and TCP;
//   - both workers answer (TCP connections are mapped to the worker process that holds them through /proc), and
//     /metrics on the primary sums both workers' counters exactly;
//   - a health change made by the primary's monitors reaches both workers within one interval (+ probe time);
//   - two SIGHUPs with a changed file under ~2000 queries/s (each query with a timeout and one retry): every
//     query is answered, the answers switch, and load-balanced answers never drop to the fallback pool.
import * as http from 'node:http';
import * as net from 'node:net';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import * as dnsPacket from 'dns-packet';
import { aOf, openEndpoints, until, wwwPoolYaml, ZONE } from '../helpers/endpoints';
import { QueryStream } from '../helpers/query-stream';
import { answers, buildQuery, rcodeOf, spawnServer, tcpExchange, writeConfig, type ProcessServer } from '../helpers/server';

// ---- processes and sockets through /proc -----------------------------------------------------------------------

/** Child processes of `pid` (the cluster workers of the primary). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a - b);
}

/** Socket inodes held open by `pid`. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** Inode of the server side of the TCP connection 127.0.0.1:serverPort ⇄ 127.0.0.1:clientPort. */
function serverSideInode(serverPort: number, clientPort: number): string | null {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    if (f[1].endsWith(`:${hex(serverPort)}`) && f[2].endsWith(`:${hex(clientPort)}`)) return f[9];
  }
  return null;
}

interface Conn {
  sock: net.Socket;
  answer: string[];
}

/** Opens `n` TCP connections, asks `name` A once on each and keeps them open. */
async function openConns(port: number, name: string, n: number): Promise<Conn[]> {
  return Promise.all(
    Array.from({ length: n }, () =>
      new Promise<Conn>((resolve, reject) => {
        const sock = net.connect({ host: '127.0.0.1', port });
        let buf = Buffer.alloc(0);
        const timer = setTimeout(() => reject(new Error('TCP answer timeout')), 3000);
        sock.on('error', reject);
        sock.on('connect', () => {
          const m = buildQuery(name);
          sock.write(Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]));
        });
        sock.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            clearTimeout(timer);
            resolve({ sock, answer: answers(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))), 'A') });
          }
        });
      }),
    ),
  );
}

/** Which worker holds each connection (by its server-side socket inode). */
function ownerOf(conns: Conn[], dnsPort: number, workers: number[]): number[] {
  const held = new Map(workers.map((w) => [w, socketInodes(w)]));
  return conns.map((c) => {
    const inode = serverSideInode(dnsPort, c.sock.localPort!);
    const owner = workers.find((w) => inode !== null && held.get(w)!.has(inode));
    return owner ?? -1;
  });
}

async function closeConns(conns: Conn[]): Promise<void> {
  await Promise.all(conns.map((c) => new Promise<void>((r) => {
    c.sock.once('close', () => r());
    c.sock.end();
  })));
}

/** System-wide UDP datagrams dropped because a socket's receive buffer was full. */
function udpRcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf('RcvbufErrors')]);
}

// ---- HTTP and metrics -----------------------------------------------------------------------------------------

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Samples of a Prometheus text page (the full format is checked in ops-status.test.ts). */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

async function metric(port: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const r = await get(port, '/metrics');
  expect(r.status).toBe(200);
  return samples(r.body)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

const WITHIN_MS = 2000; // interval 1 s + probe time (timeout 1 s)

const config = (port: number, a: string, b: string, ver: string, interval = 1): string => `
server: { listen: ["127.0.0.1:0"], http: "127.0.0.1:0", workers: 2 }
${ZONE}
      - { name: ver, type: A, value: ${ver} }
${wwwPoolYaml(port, [a, b], { interval, timeout: 1 })}`;

test('server.workers: 2 — UDP/TCP answers, /metrics sums both workers, health reaches both, reload under load loses nothing', async () => {
  const endpoints = await openEndpoints(['127.0.13.2', '127.0.13.3']);
  const [e1, e2] = endpoints;
  const both = [e1.address, e2.address];
  const configPath = writeConfig(config(e1.port, e1.address, e2.address, '192.0.2.1'));
  let srv: ProcessServer | null = null;
  try {
    srv = await spawnServer(configPath, 15000);
    const s = srv;
    const dns = s.port;
    expect(dns).toBeGreaterThan(0);
    // The first "steerdns started" is a worker's (real port); the primary's line carries the status API port.
    const primaryLine = await until(
      'the primary start line',
      () => Promise.resolve(s.stderr().split('\n').find((l) => l.includes('"steerdns started"') && l.includes('"role":"primary"'))),
      (l) => l !== undefined,
      10000,
    );
    const hp = Number((JSON.parse(primaryLine!) as { http: string }).http.split(':').pop());
    expect(hp).toBeGreaterThan(0);
    await until('/readyz', () => get(hp, '/readyz'), (r) => r.status === 200, 1000 + WITHIN_MS);
    const workers = childPids(s.child.pid!);
    expect(workers).toHaveLength(2);
    const status = JSON.parse((await get(hp, '/api/status')).body) as { result: { role: string; workers: { pid: number; listening: boolean }[] } };
    expect(status.result.role).toBe('primary');
    expect(status.result.workers.map((w) => [w.pid, w.listening]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(workers.map((p) => [p, true]));

    // Answers over UDP and TCP.
    await until('primary pool', () => aOf(dns, 'www.example.com'), (a) => a.join() === both.join(), WITHIN_MS);
    expect(await aOf(dns, 'ver.example.com')).toEqual(['192.0.2.1']);
    const tcp = await tcpExchange(dns, [buildQuery('www.example.com'), buildQuery('ver.example.com')]);
    expect(tcp.map((r) => answers(dnsPacket.decode(r), 'A'))).toEqual([both, ['192.0.2.1']]);

    // /metrics sums both workers: 10 TCP connections (spread over the workers: see which worker holds which)
    // and 40 UDP queries.
    const q0 = { udp: await metric(hp, 'steerdns_queries_total', { transport: 'udp' }), tcp: await metric(hp, 'steerdns_queries_total', { transport: 'tcp' }) };
    const sel0 = await metric(hp, 'steerdns_pool_selections_total', { load_balancer: 'www.example.com', pool: 'P1' });
    const conns = await openConns(dns, 'www.example.com', 10);
    expect(conns.map((c) => c.answer)).toEqual(Array(10).fill(both));
    const owners = ownerOf(conns, dns, workers);
    expect(owners.filter((o) => o === -1)).toEqual([]);
    expect(new Set(owners).size).toBe(2); // both workers answered some
    expect(await until('tcp gauge', () => metric(hp, 'steerdns_tcp_connections'), (n) => n === 10, 2000)).toBe(10);
    await closeConns(conns);
    for (let i = 0; i < 40; i++) expect(await aOf(dns, 'www.example.com')).toEqual(both);
    expect((await metric(hp, 'steerdns_queries_total', { transport: 'tcp' })) - q0.tcp).toBe(10);
    expect((await metric(hp, 'steerdns_queries_total', { transport: 'udp' })) - q0.udp).toBe(40);
    expect((await metric(hp, 'steerdns_pool_selections_total', { load_balancer: 'www.example.com', pool: 'P1' })) - sel0).toBe(50);

    // A health change from the primary's monitors reaches both workers.
    const flipped = Date.now();
    e1.status = 500;
    await until('e1 dropped', () => aOf(dns, 'www.example.com'), (a) => a.join() === e2.address, WITHIN_MS);
    expect(Date.now() - flipped).toBeLessThan(WITHIN_MS);
    const after = await openConns(dns, 'www.example.com', 8);
    const afterOwners = ownerOf(after, dns, workers);
    await closeConns(after);
    expect(new Set(afterOwners).size).toBe(2);
    expect(after.map((c) => c.answer)).toEqual(Array(8).fill([e2.address]));
    for (let i = 0; i < 20; i++) expect(await aOf(dns, 'www.example.com')).toEqual([e2.address]);
    e1.status = 200;
    await until('e1 back', () => aOf(dns, 'www.example.com'), (a) => a.join() === both.join(), WITHIN_MS);
    const back = await openConns(dns, 'www.example.com', 8);
    await closeConns(back);
    expect(back.map((c) => c.answer)).toEqual(Array(8).fill(both));

    // Reload under load: ~2000 queries/s for 4 s, alternating ver (a static record the reloads change) and www
    // (load-balanced: must stay on P1 through the reloads); SIGHUP at 1.2 s and 2.6 s. The second reload also
    // changes the monitor's interval: a new target key whose state is carried over, in the workers too.
    const stream = await QueryStream.open({
      port: dns,
      nameOf: (id) => (id % 2 === 0 ? 'www.example.com' : 'ver.example.com'),
      // Like a resolver: retry after 500 ms without an answer; lost after a further 1000 ms.
      retryAfterMs: 500,
      lostAfterMs: 1000,
      answerOf: (p) => answers(p, 'A').join(','),
      check: (p, name, answer) => {
        const problems: string[] = [];
        if (rcodeOf(p) !== 'NOERROR') problems.push(`id ${p.id}: ${rcodeOf(p)}`);
        if (name === 'ver.example.com') {
          if (!['192.0.2.1', '192.0.2.2', '192.0.2.3'].includes(answer)) problems.push(`ver: ${answer}`);
        } else if (answer !== both.join(',')) problems.push(`www: ${answer}`);
        return problems;
      },
      recvBufferSize: 4 * 1024 * 1024, // a resolver-sized buffer: a stall of this process must not drop answers
    });
    const reloadTo = (ver: string, interval: number) => (): void => {
      writeFileSync(configPath, config(e1.port, e1.address, e2.address, ver, interval));
      s.child.kill('SIGHUP');
    };
    const rcv0 = udpRcvbufErrors();
    try {
      const { sent, lost, unanswered, retries } = await stream.run({
        durationMs: 4000,
        drainMs: 3000,
        phases: [
          { at: 1200, action: reloadTo('192.0.2.2', 1) },
          { at: 2600, action: reloadTo('192.0.2.3', 2) },
        ],
      });
      const verArrivals = stream.arrivals.filter((a) => a.name === 'ver.example.com').map((a) => a.answer);

      expect(sent).toBeGreaterThan(2000); // paced by the clock; a loaded machine sends fewer
      expect(stream.bad).toEqual([]);
      // On failure the diagnostics tell a server drop (dropped counter) from a full socket buffer on this host.
      const diagnostics = { sent, retries, rcvbufErrors: udpRcvbufErrors() - rcv0, serverDropped: await metric(hp, 'steerdns_dropped_packets_total'), loadavg: readFileSync('/proc/loadavg', 'utf8').trim() };
      expect({ lost, unanswered, ...diagnostics }).toEqual({ lost: [], unanswered: [], ...diagnostics });
      expect(retries).toBeLessThan(sent * 0.01);
      // The answers switched: old, then the first change, then the second.
      const first2 = verArrivals.indexOf('192.0.2.2');
      const first3 = verArrivals.indexOf('192.0.2.3');
      expect(first2).toBeGreaterThan(0);
      expect(first3).toBeGreaterThan(first2);
      expect(verArrivals[0]).toBe('192.0.2.1');
      expect(verArrivals[verArrivals.length - 1]).toBe('192.0.2.3');
      // Each worker switches on its own reload message: old and new may interleave briefly, never for long.
      expect(verArrivals.slice(first3 + 300).every((a) => a === '192.0.2.3')).toBe(true);
      await until('both reloads logged', () => Promise.resolve(s.stderr().split('\n').filter((l) => l.includes('"config reloaded"') && l.includes('"workers":2')).length), (n) => n === 2, 5000);
    } finally {
      stream.close();
    }
    for (let i = 0; i < 10; i++) expect(await aOf(dns, 'ver.example.com')).toEqual(['192.0.2.3']);
    const final = await openConns(dns, 'ver.example.com', 6);
    await closeConns(final);
    expect(final.map((c) => c.answer)).toEqual(Array(6).fill(['192.0.2.3']));
    expect(await metric(hp, 'steerdns_config_reloads_total', { result: 'success' })).toBe(2);

    // SIGTERM: exit 0, workers gone.
    expect(await s.stop('SIGTERM')).toBe(0);
    srv = null;
    await until('workers gone', () => Promise.resolve(workers.filter((w) => existsSync(`/proc/${w}`))), (l) => l.length === 0, 5000);
  } finally {
    if (srv) await srv.stop('SIGKILL');
    await Promise.all(endpoints.map((e) => e.stop()));
  }
}, 60000);

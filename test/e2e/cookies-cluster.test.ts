// `server.workers: 2` (the real CLI process; `npm test` builds first): both workers issue and accept the same server
// cookies, because the primary picks the random secret once and hands it to every worker with the config. A
// cookie learned from one worker is echoed as valid by the other (TCP connections are mapped to the worker that
// holds them through /proc, so the test knows both were asked).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import { rawQuery } from '../dns/packets';
import { spawnServer, udpExchange, writeConfig, type ProcessServer } from '../helpers/server';

function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

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

function serverSideInode(serverPort: number, clientPort: number): string | null {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 10 && f[1].endsWith(`:${hex(serverPort)}`) && f[2].endsWith(`:${hex(clientPort)}`)) return f[9];
  }
  return null;
}

/** The COOKIE option data of a response (the OPT record is last). */
function cookieOf(r: Buffer): string {
  const i = r.lastIndexOf(Buffer.from([0x00, 0x0a, 0x00, 0x18]));
  return i < 0 ? '' : r.subarray(i + 4, i + 28).toString('hex');
}

/** Asks once over a new TCP connection and keeps it open; resolves the response and the socket. */
function askTcp(port: number, pkt: Buffer): Promise<{ sock: net.Socket; answer: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error('TCP answer timeout')), 3000);
    sock.on('error', reject);
    sock.on('connect', () => sock.write(Buffer.concat([Buffer.from([pkt.length >> 8, pkt.length & 0xff]), pkt])));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        resolve({ sock, answer: buf.subarray(2, 2 + buf.readUInt16BE(0)) });
      }
    });
  });
}

test('two workers share the cookie secret: a cookie from one is valid at the other', async () => {
  const configPath = writeConfig(`
server: { listen: ["127.0.0.1:0"], http: null, workers: 2 }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
`);
  let srv: ProcessServer | null = null;
  try {
    srv = await spawnServer(configPath, 15000);
    const port = srv.port;
    const client = Buffer.from('0011223344556677', 'hex');
    const first = await udpExchange(port, rawQuery({ questions: [{ name: 'ns1.example.com', type: 1 }], opt: { options: [{ code: 10, data: client }] } }));
    const cookie = cookieOf(first);
    expect(cookie).toHaveLength(48);
    // Wait until both workers listen (the first start line is the first worker's).
    const workers = childPids(srv.child.pid!);
    expect(workers).toHaveLength(2);
    const pkt = rawQuery({ questions: [{ name: 'ns1.example.com', type: 1 }], opt: { options: [{ code: 10, data: Buffer.from(cookie, 'hex') }] } });
    const conns = await Promise.all(Array.from({ length: 16 }, () => askTcp(port, pkt)));
    const held = new Map(workers.map((w) => [w, socketInodes(w)]));
    const owners = conns.map((c) => workers.find((w) => held.get(w)!.has(serverSideInode(port, c.sock.localPort!) ?? '')) ?? -1);
    expect(new Set(owners)).toEqual(new Set(workers));
    // A valid, recent cookie is echoed as it came; another secret would have issued a different one.
    expect(conns.map((c) => cookieOf(c.answer))).toEqual(new Array(16).fill(cookie));
    for (const c of conns) c.sock.destroy();
  } finally {
    await srv?.stop();
  }
}, 30000);

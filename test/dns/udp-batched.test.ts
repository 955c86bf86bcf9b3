// The batched UDP listener (native recvmmsg/sendmmsg module) with the real query handler: dig and dgram clients
// over IPv4 and IPv6, bursts that arrive as batches, the error paths, SO_REUSEPORT, and the build script's
// fallback when there is no compiler. The socket tests skip only when the module could not be built.
import { execFile, spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfigText } from '../../src/config/load';
import { QueryContext } from '../../src/dns/context';
import { handleQuery } from '../../src/dns/handler';
import { BATCHED_UDP_MODULE, BatchedUdpListener, loadBatchedUdp, type UdpBatchBinding } from '../../src/dns/server/udp-batched';
import type { Responder, TransportEvents } from '../../src/dns/server/types';
import { noHostnames } from '../../src/lb/views';
import { createLogger } from '../../src/observe/log';
import { buildRuntime } from '../../src/runtime';
import { ROOT, tmpDir } from '../helpers/server';
import { decodeBoth } from './oracle';
import { rawQuery, udpMaybe } from './packets';
import { parseTool, run } from './tools';

const ips = (n: number, third: number): string => Array.from({ length: n }, (_, i) => `10.${third}.${i >> 8}.${i & 255}`).join(', ');
const YAML = `
server: { listen: ["127.0.0.1:0"], http: null }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }
      - { name: www, type: A, value: 192.0.2.1 }
      - { name: www, type: AAAA, value: "2001:db8::1" }
      - { name: "*.w", type: A, value: 192.0.2.7 }
      - { name: many40, type: A, values: [${ips(40, 40)}] }
`;

/** One query context for the tests' responders (the real data plane keeps one per plane). */
const ctx = new QueryContext();

function makeResponder(): Responder {
  const { config, problems } = loadConfigText(YAML, 'batched.yaml', path.join(tmpDir(), 'batched.yaml'));
  if (!config) throw new Error(problems.map((p) => p.message).join('\n'));
  const { runtime } = buildRuntime(config, { store: null, hostnames: noHostnames });
  if (!runtime) throw new Error('no runtime');
  return (pkt, remote, transport) => handleQuery(ctx, runtime, pkt, remote, transport);
}

type Events = TransportEvents & { drops: string[] };
function events(): Events {
  const drops: string[] = [];
  return { drops, dropped: (_t, r) => void drops.push(r), tcpRejected: () => undefined };
}

const log = createLogger('error', () => undefined);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await sleep(10);
}

// Every listener a test opens is closed after it, pass or fail (an open socket would keep jest from exiting).
const opened: BatchedUdpListener[] = [];
function listener(host: string, port: number, respond: Responder, ev: TransportEvents = events(), binding?: UdpBatchBinding): BatchedUdpListener {
  const l = new BatchedUdpListener({ host, port, family: host.includes(':') ? 6 : 4 }, respond, ev, log, binding);
  opened.push(l);
  return l;
}
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
  for (const sock of sockets.splice(0)) {
    try {
      sock.close();
    } catch {
      // closed by the test already
    }
  }
});

const loaded = loadBatchedUdp();
if (!loaded.binding) console.warn(`batched UDP socket tests skipped: ${loaded.reason}`);
const withModule = loaded.binding ? describe : describe.skip;

interface Client {
  sock: dgram.Socket;
  port: number;
  got: Buffer[];
}

/** `n` client sockets on `host`, or on host(i) for each. */
async function clients(n: number, host: string | ((i: number) => string)): Promise<Client[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) => new Promise<Client>((resolve) => {
      const at = typeof host === 'string' ? host : host(i);
      const sock = dgram.createSocket(at.includes(':') ? 'udp6' : 'udp4');
      sockets.push(sock);
      const c: Client = { sock, port: 0, got: [] };
      sock.on('message', (m) => c.got.push(m));
      sock.bind({ address: at, port: 0 }, () => {
        sock.setRecvBufferSize(1024 * 1024);
        c.port = sock.address().port;
        resolve(c);
      });
    })),
  );
}

withModule('BatchedUdpListener with the real handler', () => {
  const real = makeResponder();
  // The source address the Responder was given, per question name.
  const remotes = new Map<string, string>();
  const respond: Responder = (pkt, remote, t) => {
    const out = real(pkt, remote, t);
    remotes.set(ctx.outcome.qname, remote);
    return out;
  };
  let ev: Events;
  let v4: BatchedUdpListener;
  let v6: BatchedUdpListener;
  beforeAll(async () => {
    ev = events();
    // Shared by the tests of this block: not in `opened`, closed in afterAll.
    v4 = new BatchedUdpListener({ host: '127.0.0.1', port: 0, family: 4 }, respond, ev, log);
    v6 = new BatchedUdpListener({ host: '::1', port: 0, family: 6 }, respond, ev, log);
    await v4.start();
    await v6.start();
  });
  afterAll(async () => {
    await v4.close();
    await v6.close();
  });

  test('dig over IPv4 and IPv6 (::1)', async () => {
    const a = parseTool((await run('dig', ['@127.0.0.1', '-p', String(v4.port), '+time=2', '+tries=2', 'www.example.com', 'A'])).stdout);
    expect([a.status, a.flags.includes('aa'), a.answer.map((r) => r.data)]).toEqual(['NOERROR', true, ['192.0.2.1']]);
    const b = parseTool((await run('dig', ['@::1', '-p', String(v6.port), '+time=2', '+tries=2', 'www.example.com', 'AAAA'])).stdout);
    expect([b.status, b.answer.map((r) => r.data)]).toEqual(['NOERROR', ['2001:db8::1']]);
    const c = parseTool((await run('dig', ['@::1', '-p', String(v6.port), '+time=2', '+tries=2', 'nope.example.com', 'A'])).stdout);
    expect([c.status, c.authority.map((r) => r.type)]).toEqual(['NXDOMAIN', ['SOA']]);
  });

  test.each([
    ['IPv4', '127.0.0.1'],
    ['IPv6', '::1'],
  ])('a burst over %s arrives in batches; every answer goes to the socket that asked, with its own question', async (_f, host) => {
    const listener = host === '::1' ? v6 : v4;
    const before = listener.stats();
    // IPv4 clients on 16 different loopback addresses: the Responder must get each one's own address.
    const from = (i: number): string => (host === '::1' ? '::1' : `127.0.${1 + (i >> 3)}.${1 + i * 7}`);
    const cs = await clients(16, from);
    const perClient = 40;
    // All sent in one tick: the listener, on this same thread, finds them queued together.
    cs.forEach((c, ci) => {
      for (let q = 0; q < perClient; q++) {
        const id = ci * perClient + q + 1;
        c.sock.send(rawQuery({ id, questions: [{ name: `q${id}.c${c.port}.w.example.com`, type: 1 }] }), listener.port, host);
      }
    });
    await until(() => cs.every((c) => c.got.length >= perClient));
    const after = listener.stats();
    for (const c of cs) c.sock.close();
    cs.forEach((c, ci) => {
      const seen = c.got.map((raw) => {
        const n = decodeBoth(raw);
        expect(n.answer.map((r) => `${r.type} ${r.data}`)).toEqual(['A 192.0.2.7']);
        return `${n.id} ${n.question[0].name}`;
      });
      const want = Array.from({ length: perClient }, (_, q) => ci * perClient + q + 1).map((id) => `${id} q${id}.c${c.port}.w.example.com`);
      expect(seen.sort()).toEqual(want.sort());
      const asked = Array.from({ length: perClient }, (_, q) => remotes.get(`q${ci * perClient + q + 1}.c${c.port}.w.example.com`));
      expect(new Set(asked)).toEqual(new Set([from(ci)]));
    });
    expect(after.received - before.received).toBe(16 * perClient);
    expect(after.sent - before.sent).toBe(16 * perClient);
    expect(after.maxBatch).toBeGreaterThan(1);
    expect(after.batches - before.batches).toBeLessThan(16 * perClient);
  });

  test('truncation at 512 bytes without EDNS; the full answer with EDNS', async () => {
    const plain = await udpMaybe(v4.port, rawQuery({ questions: [{ name: 'many40.example.com', type: 1 }] }), 2000);
    expect(plain).not.toBeNull();
    const n = decodeBoth(plain!);
    expect([n.tc, n.answer.length, plain!.length <= 512]).toEqual([true, 0, true]);
    const big = await udpMaybe(v4.port, rawQuery({ questions: [{ name: 'many40.example.com', type: 1 }], opt: { udpSize: 4096 } }), 2000);
    const e = decodeBoth(big!);
    expect([e.tc, e.answer.length]).toEqual([false, 40]);
  });

  test('a datagram from source port 0 (raw socket) is dropped and counted; service goes on', async () => {
    const q = rawQuery({ id: 0x0d0d, questions: [{ name: 'www.example.com', type: 1 }] });
    const py = `
import socket, struct, sys
port = int(sys.argv[1]); payload = bytes.fromhex(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
s.sendto(struct.pack('!HHHH', 0, port, 8 + len(payload), 0) + payload, ('127.0.0.1', 0))
`;
    const before = ev.drops.filter((d) => d === 'source port 0').length;
    const err = await new Promise<Error | null>((resolve) => execFile('python3', ['-c', py, String(v4.port), q.toString('hex')], (e) => resolve(e)));
    if (err) {
      // No raw sockets here: the same path is driven through the shared memory in the unit test below.
      expect(String(err)).toMatch(/Permission|Operation not permitted|python3/);
      return;
    }
    await until(() => ev.drops.filter((d) => d === 'source port 0').length > before);
    expect(ev.drops.filter((d) => d === 'source port 0').length).toBe(before + 1);
    expect(await udpMaybe(v4.port, q, 2000)).not.toBeNull();
  });

  test('bad input: oversized, empty and junk datagrams get no answer, are counted, and service goes on', async () => {
    const before = ev.drops.length;
    const s = await clients(1, '127.0.0.1');
    const c = s[0];
    c.sock.send(Buffer.alloc(5000, 0x41), v4.port, '127.0.0.1'); // larger than a receive slot
    c.sock.send(Buffer.alloc(0), v4.port, '127.0.0.1');
    c.sock.send(Buffer.from([1, 2, 3]), v4.port, '127.0.0.1');
    await until(() => ev.drops.length >= before + 3);
    expect(ev.drops.slice(before).sort()).toEqual(['not a query', 'not a query', 'too large']);
    expect(v4.stats().truncated).toBeGreaterThanOrEqual(1);
    c.sock.send(rawQuery({ id: 77, questions: [{ name: 'www.example.com', type: 1 }] }), v4.port, '127.0.0.1');
    await until(() => c.got.length > 0);
    c.sock.close();
    expect(c.got.map((m) => decodeBoth(m).id)).toEqual([77]);
  });
});

withModule('BatchedUdpListener lifecycle and error paths', () => {
  const respond = makeResponder();
  const www = rawQuery({ id: 9, questions: [{ name: 'www.example.com', type: 1 }] });

  test('close() releases the port at once: dgram and a new listener can bind it', async () => {
    const l = listener('127.0.0.1', 0, respond, events());
    await l.start();
    const port = l.port;
    expect(await udpMaybe(port, www, 2000)).not.toBeNull();
    await l.close();
    await l.close(); // idempotent
    const d = dgram.createSocket('udp4');
    sockets.push(d);
    await new Promise<void>((resolve, reject) => {
      d.once('error', reject);
      d.bind({ address: '127.0.0.1', port, exclusive: true }, () => resolve());
    });
    await new Promise<void>((resolve) => d.close(() => resolve()));
    const again = listener('127.0.0.1', port, respond);
    await again.start();
    expect(decodeBoth((await udpMaybe(port, www, 2000))!).id).toBe(9);
    await again.close();
    expect(await udpMaybe(port, www, 300)).toBeNull();
  });

  test('a port in use is a rejected start() with the errno code, not a crash', async () => {
    const a = listener('127.0.0.1', 0, respond, events());
    await a.start();
    const b = listener('127.0.0.1', a.port, respond, events());
    await expect(b.start()).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    const bad = listener('localhost', 0, respond, events());
    await expect(bad.start()).rejects.toThrow(/not an IPv4 address/);
    await a.close();
  });

  test('two listeners with reusePort on one port both receive, and every query is answered', async () => {
    const a = listener('127.0.0.1', 0, respond, events());
    await a.start({ reusePort: true });
    const b = listener('127.0.0.1', a.port, respond, events());
    await b.start({ reusePort: true });
    // Without reusePort the port stays taken.
    const c = listener('127.0.0.1', a.port, respond, events());
    await expect(c.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // The kernel picks a socket per source address and port: 64 sources all landing on one has p = 2^-63.
    const cs = await clients(64, '127.0.0.1');
    cs.forEach((cl, i) => cl.sock.send(rawQuery({ id: i + 1, questions: [{ name: 'www.example.com', type: 1 }] }), a.port, '127.0.0.1'));
    await until(() => cs.every((cl) => cl.got.length === 1));
    for (const cl of cs) cl.sock.close();
    expect(cs.map((cl, i) => cl.got.map((m) => decodeBoth(m).id)[0] === i + 1).every(Boolean)).toBe(true);
    const ra = a.stats().received;
    const rb = b.stats().received;
    expect([ra > 0, rb > 0, ra + rb]).toEqual([true, true, 64]);
    await a.close();
    await b.close();
  });

  test('port 0, a throwing Responder, an oversized answer: dropped and counted (driven through the shared memory)', async () => {
    const ev = events();
    let mode: 'throw' | 'huge' | 'ok' = 'ok';
    const responder: Responder = (pkt, remote, t) => {
      if (mode === 'throw') throw new Error('bug');
      if (mode === 'huge') return new Uint8Array(5000);
      return respond(pkt, remote, t);
    };
    const l = listener('127.0.0.1', 0, responder, ev);
    await l.start();
    const inner = l as unknown as { onBatch(n: number): void; ports: Int32Array; recvLen: Int32Array; sendLen: Int32Array; families: Int32Array; bytes: Uint8Array };
    const put = (port: number) => {
      // Datagram 0: www.example.com A from 127.0.0.1:port, written where the module would write it.
      inner.bytes.set(www, 0);
      inner.recvLen[0] = www.length;
      inner.families[0] = 4;
      inner.ports[0] = port;
      inner.sendLen[0] = 0;
    };
    put(0);
    inner.onBatch(1);
    expect([ev.drops, inner.sendLen[0]]).toEqual([['source port 0'], 0]);
    mode = 'throw';
    put(5353);
    expect(() => inner.onBatch(1)).not.toThrow();
    mode = 'huge';
    put(5353);
    inner.onBatch(1);
    expect([ev.drops, inner.sendLen[0]]).toEqual([['source port 0', 'internal error', 'answer too large'], 0]);
    mode = 'ok';
    put(5353);
    inner.onBatch(1);
    expect(inner.sendLen[0]).toBeGreaterThan(12);
    inner.sendLen[0] = 0; // not a real batch: nothing for the module to send
    await l.close();
  });

  test('send failures the module counts after a batch are reported as drops at the next one', async () => {
    const binding = loaded.binding!;
    // A binding whose batches end with an impossible answer length in slot 0: the module must refuse to send it.
    const wrapped: UdpBatchBinding = {
      layout: binding.layout,
      close: (h) => binding.close(h),
      open: (family, host, port, reuse, onBatch) => {
        let sendLen = new Int32Array(0);
        const s = binding.open(family, host, port, reuse, (n) => {
          onBatch(n);
          sendLen[0] = binding.layout.sendSlot + 1;
        });
        sendLen = new Int32Array(s.memory, binding.layout.sendLen, binding.layout.batch);
        return s;
      },
    };
    const ev = events();
    const l = listener('127.0.0.1', 0, respond, ev, wrapped);
    await l.start();
    expect(await udpMaybe(l.port, www, 300)).toBeNull();
    expect(l.stats().sendErrors).toBe(1);
    expect(ev.drops).toEqual([]);
    expect(await udpMaybe(l.port, www, 300)).toBeNull();
    expect(ev.drops).toEqual(['send failed']);
    await l.close();
    expect(ev.drops).toEqual(['send failed', 'send failed']);
  });

  test('the module sends only slots of the batch just received: a length past it goes nowhere', async () => {
    const binding = loaded.binding!;
    // onBatch writes a length into the slot after the batch, as a buggy caller might; the source address the
    // module still holds for that slot is from an earlier batch and must not get a datagram.
    const wrapped: UdpBatchBinding = {
      layout: binding.layout,
      close: (h) => binding.close(h),
      open: (family, host, port, reuse, onBatch) => {
        let sendLen = new Int32Array(0);
        const s = binding.open(family, host, port, reuse, (n) => {
          onBatch(n);
          if (n < binding.layout.batch) sendLen[n] = 12;
        });
        sendLen = new Int32Array(s.memory, binding.layout.sendLen, binding.layout.batch);
        return s;
      },
    };
    const l = listener('127.0.0.1', 0, respond, events(), wrapped);
    await l.start();
    const [a, b] = await clients(2, '127.0.0.1');
    a.sock.send(www, l.port, '127.0.0.1');
    a.sock.send(www, l.port, '127.0.0.1'); // same tick: one batch of 2
    await until(() => a.got.length >= 2);
    b.sock.send(www, l.port, '127.0.0.1'); // a batch of 1; slot 1 still holds a's address
    await until(() => b.got.length >= 1);
    await sleep(100);
    expect([a.got.length, b.got.length]).toEqual([2, 1]);
    expect(l.stats().sent).toBe(3);
  });

  test('a Responder that closes the listener mid-batch: no crash, nothing sent after, the port is free', async () => {
    let l: BatchedUdpListener | null = null;
    const closing: Responder = (pkt, remote, t) => {
      void l!.close();
      return respond(pkt, remote, t);
    };
    l = listener('127.0.0.1', 0, closing, events());
    await l.start();
    const port = l.port;
    expect(await udpMaybe(port, www, 300)).toBeNull();
    const again = listener('127.0.0.1', port, respond);
    await again.start();
    await again.close();
  });

  test('an exception out of the batch callback is counted by the module, not thrown into the loop', async () => {
    const binding = loaded.binding!;
    const s = binding.open(4, '127.0.0.1', 0, false, () => {
      throw new Error('escaped');
    });
    const stats = new Float64Array(s.memory, binding.layout.stats, binding.layout.statNames.length);
    const idx = binding.layout.statNames.indexOf('callbackErrors');
    try {
      expect(await udpMaybe(s.port, www, 200)).toBeNull();
      expect(await udpMaybe(s.port, www, 200)).toBeNull();
      expect(stats[idx]).toBe(2);
    } finally {
      binding.close(s.handle);
      binding.close(s.handle);
    }
  });

  test('process exit and worker termination with a socket open end cleanly (env cleanup hook)', () => {
    const script = `
      const m = { exports: {} };
      process.dlopen(m, ${JSON.stringify(BATCHED_UDP_MODULE)});
      m.exports.open(4, '127.0.0.1', 0, false, () => undefined);
    `;
    // exit: the open socket keeps the loop alive, so the child ends through process.exit with it open.
    const exit = spawnSync(process.execPath, ['-e', `${script}; setTimeout(() => process.exit(0), 50);`], { encoding: 'utf8', timeout: 15000 });
    expect([exit.status, exit.signal, exit.stderr]).toEqual([0, null, '']);
    // worker: a worker opens a socket on its own loop and is terminated with it open.
    const inWorker = `
      const { Worker } = require('node:worker_threads');
      const w = new Worker(${JSON.stringify(`const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(BATCHED_UDP_MODULE)});
        m.exports.open(4, '127.0.0.1', 0, false, () => undefined); require('node:worker_threads').parentPort.postMessage('open');`)}, { eval: true });
      w.on('message', () => setTimeout(() => w.terminate().then((code) => { console.log('terminated', code); process.exit(0); }), 50));
      w.on('error', (e) => { console.error(e); process.exit(1); });
    `;
    const worker = spawnSync(process.execPath, ['-e', inWorker], { encoding: 'utf8', timeout: 15000 });
    expect([worker.status, worker.signal, worker.stderr, worker.stdout.trim()]).toEqual([0, null, '', 'terminated 1']);
  });
});

describe('loadBatchedUdp and the build script', () => {
  test('a missing module is null with a reason, not an exception', () => {
    const r = loadBatchedUdp(path.join(tmpDir(), 'nope.node'));
    expect(r.binding).toBeNull();
    expect(r.reason).toMatch(process.platform === 'linux' ? /not built/ : /needs Linux/);
  });

  test('without a C compiler the build script says why in one line and exits 0', () => {
    const out = path.join(tmpDir(), 'udp_batch.node');
    // PATH holds only node's directory: no cc, gcc or anything else.
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-native.js'), '--out', out], {
      env: { PATH: path.dirname(process.execPath), CC: 'steerdns-no-such-cc' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toMatch(process.platform === 'linux' ? /^udp_batch: not built \(no C compiler: 'steerdns-no-such-cc' not found on PATH\)/ : /not built/);
    expect(existsSync(out)).toBe(false);
  });
});

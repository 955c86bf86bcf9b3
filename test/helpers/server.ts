// Test harness: the real server on loopback (in-process or as a child process), and independent clients.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as dnsPacket from 'dns-packet';
import type { DataPlane } from '../../src/server/data-plane';
import { LocalPlanes } from '../../src/server/planes';
import { Supervisor } from '../../src/server/supervisor';
import { createLogger, type Logger } from '../../src/observe/log';

export const ROOT = path.resolve(__dirname, '..', '..');
export const GEOIP_CITY = path.join(ROOT, 'geoip', 'test', 'city.mmdb');

export interface TestServer {
  server: Supervisor;
  /** The data plane in this process (listeners, query counters). */
  plane: DataPlane;
  port: number;
  configPath: string;
  logs: string[];
  /** Rewrites the config file and reloads; resolves with whether the new config serves. */
  reload(yaml?: string): Promise<boolean>;
  stop(): Promise<void>;
}

export function tmpDir(prefix = 'steerdns-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Writes `yaml` into a temp dir (listen defaults to 127.0.0.1:0 when the YAML has no server.listen). */
export function writeConfig(yaml: string, dir = tmpDir()): string {
  const file = path.join(dir, 'steerdns.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** Starts the server in this process on a free loopback port. The YAML should listen on 127.0.0.1:0. */
export async function startServer(yaml: string, opts: { logLevel?: 'debug' | 'info' | 'warn' | 'error' } = {}): Promise<TestServer> {
  const configPath = writeConfig(yaml);
  const logs: string[] = [];
  const logger: Logger = createLogger(opts.logLevel ?? 'info', (line) => logs.push(line));
  const server = new Supervisor({ configPath, logger });
  try {
    await server.start();
  } catch (e) {
    throw new Error(`server did not start: ${(e as Error).message}\n${logs.join('\n')}`);
  }
  const plane = (server.planes as LocalPlanes).plane;
  return {
    server,
    plane,
    port: plane.boundPorts[0].port,
    configPath,
    logs,
    reload: async (next?: string) => {
      if (next !== undefined) writeFileSync(configPath, next);
      return server.reload();
    },
    stop: () => server.stop(),
  };
}

export interface ProcessServer {
  child: ChildProcess;
  port: number;
  configPath: string;
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `node dist/cli.js serve -c FILE` (run `npm run build` first) and waits for its "started" log line. `env`: the
 * child's environment (Jest's process.env is the test's own copy, which spawn does not see when left out).
 */
export async function spawnServer(configPath: string, timeoutMs = 10000, extraArgs: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<ProcessServer> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'serve', '-c', configPath, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${err}`)), timeoutMs);
    const check = () => {
      for (const line of err.split('\n')) {
        if (!line.includes('"steerdns started"')) continue;
        const rec = JSON.parse(line) as { listen: string[] };
        clearTimeout(timer);
        resolve(Number(rec.listen[0].split(':').pop()));
        return;
      }
    };
    child.stderr!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${err}`));
    });
  });
  return {
    child,
    port,
    configPath,
    stderr: () => err,
    stop: (signal: NodeJS.Signals = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}

// ---- clients -----------------------------------------------------------------------------------------

let nextId = 1;

export interface QueryOptions {
  type?: dnsPacket.RecordType | string;
  klass?: string;
  /** ECS "a.b.c.d/len" or "2001:db8::/56". */
  ecs?: string;
  edns?: boolean;
  udpSize?: number;
  nsid?: boolean;
  /** Source address to send from (127.0.0.x to exercise resolver-IP geolocation). */
  from?: string;
  timeoutMs?: number;
}

export function buildQuery(name: string, o: QueryOptions = {}): Buffer {
  const id = (nextId++ & 0xffff) || 1;
  const options: dnsPacket.PacketOpt[] = [];
  if (o.ecs) {
    const [address, len] = o.ecs.split('/');
    options.push({ code: 'CLIENT_SUBNET', family: address.includes(':') ? 2 : 1, sourcePrefixLength: Number(len), scopePrefixLength: 0, ip: address } as unknown as dnsPacket.PacketOpt);
  }
  if (o.nsid) options.push({ code: 'NSID', data: Buffer.alloc(0) } as unknown as dnsPacket.PacketOpt); // dns-packet needs data for NSID
  const useEdns = o.edns ?? (o.ecs !== undefined || o.nsid === true || o.udpSize !== undefined);
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: 0,
    questions: [{ type: (o.type ?? 'A') as dnsPacket.RecordType, name, class: (o.klass ?? 'IN') as 'IN' }],
    additionals: useEdns ? [{ type: 'OPT', name: '.', udpPayloadSize: o.udpSize ?? 1232, flags: 0, options } as unknown as dnsPacket.Answer] : [],
  });
}

/** Sends raw bytes over UDP and returns the raw response (rejects on timeout). */
export function udpExchange(port: number, pkt: Buffer, o: { from?: string; timeoutMs?: number; host?: string } = {}): Promise<Buffer> {
  const host = o.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('UDP timeout'));
    }, o.timeoutMs ?? 2000);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(msg);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      sock.close();
      reject(e);
    });
    sock.bind({ address: o.from ?? (host.includes(':') ? '::1' : '127.0.0.1'), port: 0 }, () => sock.send(pkt, port, host));
  });
}

export interface Decoded {
  raw: Buffer;
  packet: dnsPacket.DecodedPacket;
}

export async function query(port: number, name: string, o: QueryOptions = {}): Promise<Decoded> {
  const raw = await udpExchange(port, buildQuery(name, o), { from: o.from, timeoutMs: o.timeoutMs });
  return { raw, packet: dnsPacket.decode(raw) };
}

/** Sends several messages on one TCP connection (pipelined) and collects as many responses. */
export function tcpExchange(port: number, msgs: Buffer[], o: { timeoutMs?: number; host?: string } = {}): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: o.host ?? '127.0.0.1', port });
    const out: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`TCP timeout after ${out.length}/${msgs.length} answers`));
    }, o.timeoutMs ?? 3000);
    sock.on('connect', () => {
      sock.write(Buffer.concat(msgs.map((m) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]))));
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        out.push(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
      }
      if (out.length >= msgs.length) {
        clearTimeout(timer);
        sock.end();
        resolve(out);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Runs dig (or kdig) and returns stdout. */
export function runTool(tool: 'dig' | 'kdig', args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { timeout: 10000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${tool} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Answer RDATA of the given type as strings, sorted (A/AAAA addresses, MX "pref exchange", …). */
export function answers(p: dnsPacket.DecodedPacket, type?: string): string[] {
  return (p.answers ?? [])
    .filter((a) => type === undefined || a.type === type)
    .map((a) => {
      const d = (a as { data: unknown }).data;
      if (typeof d === 'string') return d;
      if (a.type === 'MX') return `${(d as { preference: number }).preference} ${(d as { exchange: string }).exchange}`;
      if (a.type === 'SRV') {
        const s = d as { priority: number; weight: number; port: number; target: string };
        return `${s.priority} ${s.weight} ${s.port} ${s.target}`;
      }
      return JSON.stringify(d);
    })
    .sort();
}

export function rcodeOf(p: dnsPacket.DecodedPacket): string {
  return (p as unknown as { rcode: string }).rcode;
}

export function flagOf(raw: Buffer, flag: 'aa' | 'tc' | 'rd' | 'ra' | 'qr'): boolean {
  const bits = { qr: 0x8000, aa: 0x0400, tc: 0x0200, rd: 0x0100, ra: 0x0080 };
  return (raw.readUInt16BE(2) & bits[flag]) !== 0;
}

/** The ECS option of a response, if any. */
export function ecsOf(p: dnsPacket.DecodedPacket): { sourcePrefixLength: number; scopePrefixLength: number; ip: string } | null {
  const opt = (p.additionals ?? []).find((a) => a.type === 'OPT') as unknown as { options?: { code: number; sourcePrefixLength: number; scopePrefixLength: number; ip: string }[] } | undefined;
  const o = opt?.options?.find((x) => x.code === 8);
  return o ?? null;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// Independent DNSSEC validators for the tests: delv (BIND 9) as a validating stub with a trust anchor, and Unbound
// as a validating resolver on a loopback port that sends every query to steerdns (stub zones for the test zone and
// for the root: it never asks anything outside 127.0.0.1). Plus a UDP proxy that adds an ECS option to what delv
// sends (delv has no +subnet) or damages the signatures of what steerdns answers.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as dnsPacket from 'dns-packet';
import { sleep, tmpDir } from '../helpers/server';

export function exec(cmd: string, args: string[], timeoutMs = 20000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? ((err as unknown as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** DS records in presentation form ("name. IN DS tag alg type HEX") → parts. */
function parseDs(line: string): { name: string; tag: number; alg: number; digestType: number; digest: string } {
  const f = line.trim().split(/\s+/);
  const i = f.indexOf('DS');
  return { name: f[0], tag: Number(f[i + 1]), alg: Number(f[i + 2]), digestType: Number(f[i + 3]), digest: f.slice(i + 4).join('') };
}

/** The DS lines (not comments) of `steerdns dnssec ds` output. */
export function dsLinesOf(output: string): string[] {
  return output.split('\n').filter((l) => /\sIN DS\s/.test(l) && !l.startsWith(';'));
}

export interface DelvResult {
  validated: boolean;
  out: string;
  answers: string[];
}

/**
 * delv @127.0.0.1 -p port with `ds` as the only trust anchors, rooted at `anchorZone`. "fully validated" is what
 * delv prints for an answer (or a negative answer) whose whole chain checked out.
 */
export async function delv(port: number, name: string, type: string, ds: string[], anchorZone: string, opts: { tcp?: boolean } = {}): Promise<DelvResult> {
  const dir = tmpDir('steerdns-delv-');
  const anchors = ds.map(parseDs).map((d) => `  ${d.name} static-ds ${d.tag} ${d.alg} ${d.digestType} "${d.digest}";`).join('\n');
  const file = path.join(dir, 'anchors.conf');
  writeFileSync(file, `trust-anchors {\n${anchors}\n};\n`);
  const args = ['@127.0.0.1', '-p', String(port), '-a', file, `+root=${anchorZone}`, '+nomtrace', '+rtrace', name, type];
  if (opts.tcp) args.push('+tcp');
  const r = await exec('delv', args);
  const out = `${r.stdout}\n${r.stderr}`;
  return {
    validated: /; fully validated/.test(r.stdout),
    out,
    answers: r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';')),
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface DigResult {
  status: string;
  flags: string[];
  answer: string[];
  authority: string[];
  additional: string[];
  out: string;
}

export async function dig(port: number, name: string, type: string, extra: string[] = []): Promise<DigResult> {
  const r = await exec('dig', ['@127.0.0.1', '-p', String(port), '+dnssec', '+time=5', '+tries=1', ...extra, name, type]);
  const out = r.stdout;
  const section = (title: string): string[] => {
    const lines = out.split('\n');
    const i = lines.findIndex((l) => l.trim() === `;; ${title} SECTION:`);
    if (i < 0) return [];
    const res: string[] = [];
    for (let j = i + 1; j < lines.length && lines[j].trim() !== ''; j++) res.push(lines[j].trim().split(/\s+/).join(' '));
    return res;
  };
  return {
    status: /status: (\w+)/.exec(out)?.[1] ?? '',
    flags: (/;; flags: ([^;]*);/.exec(out)?.[1] ?? '').trim().split(/\s+/),
    answer: section('ANSWER'),
    authority: section('AUTHORITY'),
    additional: section('ADDITIONAL'),
    out: `${out}\n${r.stderr}`,
  };
}

export class Unbound {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly child: ChildProcess,
    private readonly log: () => string,
  ) {}

  /**
   * Unbound validating with `trustAnchors` (DS lines), resolving every name through steerdns on `steerPort`:
   * stub zones for the anchors' zones and for the root (so that not even root priming leaves), outgoing
   * interface 127.0.0.1, no IPv6.
   */
  static async start(steerPort: number, trustAnchors: string[], opts: { ecs?: boolean; zones?: string[] } = {}): Promise<Unbound> {
    const dir = tmpDir('steerdns-unbound-');
    const port = await freePort();
    const conf = path.join(dir, 'unbound.conf');
    const lines = [
      'server:',
      `  verbosity: ${process.env.UNBOUND_VERBOSITY ?? 1}`, // UNBOUND_VERBOSITY=4 to debug a test
      '  interface: 127.0.0.1',
      `  port: ${port}`,
      '  do-ip6: no',
      '  outgoing-interface: 127.0.0.1',
      '  do-not-query-localhost: no',
      '  access-control: 127.0.0.0/8 allow',
      '  username: ""',
      '  chroot: ""',
      `  directory: "${dir}"`,
      `  pidfile: "${dir}/unbound.pid"`,
      '  use-syslog: no',
      '  logfile: ""',
      '  log-servfail: yes',
      '  val-log-level: 2',
      '  qname-minimisation: no',
      '  harden-dnssec-stripped: yes',
      '  prefetch: no',
      '  minimal-responses: no',
      '  cache-min-ttl: 0',
      `  module-config: "${opts.ecs ? 'subnetcache ' : ''}validator iterator"`,
      ...trustAnchors.map((ds) => `  trust-anchor: "${ds.trim().split(/\s+/).filter((x) => x !== 'IN').join(' ')}"`),
      ...(opts.ecs ? ['  send-client-subnet: 127.0.0.1', '  client-subnet-always-forward: yes', '  max-client-subnet-ipv4: 24'] : []),
      'remote-control:',
      '  control-enable: yes',
      `  control-interface: "${dir}/unbound.ctl"`,
      '  control-use-cert: no',
      // The zones under test go to steerdns; so does the root (whose priming steerdns refuses): nothing leaves.
      ...[...new Set([...(opts.zones ?? trustAnchors.map((ds) => ds.trim().split(/\s+/)[0])), '.'])].flatMap((z) => ['stub-zone:', `  name: "${z}"`, `  stub-addr: 127.0.0.1@${steerPort}`]),
    ];
    writeFileSync(conf, `${lines.join('\n')}\n`);
    const check = await exec('unbound-checkconf', [conf]);
    if (check.code !== 0) throw new Error(`unbound-checkconf: ${check.stdout}${check.stderr}`);
    const child = spawn('unbound', ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const u = new Unbound(port, dir, child, () => log);
    for (let i = 0; i < 100; i++) {
      const r = await exec('unbound-control', ['-c', conf, 'status'], 5000);
      if (r.code === 0) return u;
      if (child.exitCode !== null) break;
      await sleep(100);
    }
    await u.stop();
    throw new Error(`unbound did not start:\n${log}`);
  }

  get logs(): string {
    return this.log();
  }

  query(name: string, type: string, extra: string[] = []): Promise<DigResult> {
    return dig(this.port, name, type, extra);
  }

  /** Empties the caches (unbound-control flush_zone + flush_bogus + flush_negative). */
  async flush(zone: string): Promise<void> {
    const conf = path.join(this.dir, 'unbound.conf');
    for (const args of [['flush_zone', zone], ['flush_bogus'], ['flush_negative'], ['flush_infra', 'all']]) {
      const r = await exec('unbound-control', ['-c', conf, ...args]);
      if (r.code !== 0) throw new Error(`unbound-control ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}

/**
 * A UDP proxy in front of steerdns: queries get an ECS option for `ecs` (when set); answers get every RRSIG
 * signature damaged (when `corrupt`). dns-packet re-encodes both ways.
 */
export class Proxy {
  ecs: string | null = null;
  corrupt = false;
  private constructor(private readonly sock: dgram.Socket, readonly port: number) {}

  static async start(target: number): Promise<Proxy> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const p = new Proxy(sock, (sock.address() as net.AddressInfo).port);
    sock.on('message', (msg, rinfo) => {
      const up = dgram.createSocket('udp4');
      up.on('message', (answer) => {
        up.close();
        sock.send(p.corrupt ? corruptSignatures(answer) : answer, rinfo.port, rinfo.address);
      });
      up.on('error', () => up.close());
      up.send(p.ecs === null ? msg : withEcs(msg, p.ecs), target, '127.0.0.1');
    });
    return p;
  }

  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }
}

function withEcs(query: Buffer, cidr: string): Buffer {
  const pkt = dnsPacket.decode(query);
  const [address, len] = cidr.split('/');
  const ecs = { code: 'CLIENT_SUBNET', family: address.includes(':') ? 2 : 1, sourcePrefixLength: Number(len), scopePrefixLength: 0, ip: address };
  let opt = (pkt.additionals ?? []).find((a) => a.type === 'OPT') as unknown as { options: unknown[] } | undefined;
  if (!opt) {
    opt = { options: [] };
    pkt.additionals = [...(pkt.additionals ?? []), { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, ...opt } as unknown as dnsPacket.Answer];
  }
  opt.options = [...(opt.options ?? []).filter((o) => (o as { code: unknown }).code !== 8 && (o as { code: unknown }).code !== 'CLIENT_SUBNET'), ecs];
  return dnsPacket.encode(pkt);
}

function corruptSignatures(answer: Buffer): Buffer {
  const pkt = dnsPacket.decode(answer);
  for (const section of [pkt.answers, pkt.authorities, pkt.additionals]) {
    for (const rr of section ?? []) {
      if (rr.type !== 'RRSIG') continue;
      const sig = (rr as unknown as { data: { signature: Buffer } }).data.signature;
      sig[sig.length - 1] ^= 0x01;
    }
  }
  return dnsPacket.encode(pkt);
}

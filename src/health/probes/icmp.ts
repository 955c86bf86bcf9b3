// ICMP echo probe through the system `ping` binary (Node has no raw sockets): `ping -n -c 1 -W <s>`, with `-6` for
// IPv6 (`-4` for IPv4) literals; a host name is left to ping to resolve. The RTT is parsed from `time=… ms`.
// One process per probe: fine for hundreds of icmp targets, not for tens of thousands (see README).
import { spawn } from 'node:child_process';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { failResult, passResult } from '../types';
import { sourceFor } from './source';
import type { ProbeContext, ProbeResult, ProbeTarget } from '../types';
import { probeAddress } from './resolve';

const MAX_OUTPUT = 16 * 1024;

/** Sends one echo request to `address` and waits up to `timeoutMs` for the reply. Never rejects. */
export function ping(address: string, timeoutMs: number, ctx: ProbeContext = {}): Promise<ProbeResult> {
  const family = isIP(address);
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const args = ['-n', '-c', '1', '-W', String(seconds)];
  if (family === 6) args.unshift('-6');
  else if (family === 4) args.unshift('-4');
  const source = sourceFor(ctx, address).localAddress;
  if (source !== undefined) args.push('-I', source);
  args.push(address);
  const command = ctx.pingCommand ?? 'ping';
  return new Promise<ProbeResult>((resolve) => {
    const t0 = performance.now();
    let out = '';
    let done = false;
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      resolve(r);
    };
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
    const collect = (d: Buffer): void => {
      if (out.length < MAX_OUTPUT) out += d.toString('latin1');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    // ping's own -W is whole seconds; our deadline is the monitor timeout, with a little slack for process start.
    const timer = setTimeout(() => {
      finish(failResult('No route to host error', `no ICMP echo reply from ${address} within ${timeoutMs} ms`));
    }, Math.max(1, timeoutMs) + 250);
    child.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' ? `"${command}" not found: this host cannot send ICMP echo requests` : `cannot run "${command}": ${err.message}`;
      finish(failResult('Monitor Config Error', why));
    });
    child.on('close', (code) => {
      const elapsed = performance.now() - t0;
      finish(interpretPing(code, out, address, timeoutMs, elapsed));
    });
  });
}

/** Turns ping's exit status and output into a ProbeResult (exported for tests). */
export function interpretPing(code: number | null, output: string, address: string, timeoutMs: number, elapsedMs = 0): ProbeResult {
  const text = output.toLowerCase();
  const rtt = /time[=<]\s*([\d.]+)\s*ms/.exec(output);
  if (code === 0 && rtt) {
    const ms = Number(rtt[1]);
    if (ms > timeoutMs) return failResult('No route to host error', `ICMP echo reply after ${ms} ms, over the ${timeoutMs} ms timeout`, ms);
    return passResult(ms, null, `ICMP echo reply in ${ms} ms`);
  }
  const firstLine = output.trim().split('\n').slice(-1)[0] ?? '';
  if (text.includes('operation not permitted') || text.includes('permission denied') || text.includes('socktype: sock_raw')) {
    return failResult('Monitor Config Error', `this host cannot send ICMP echo requests: ${firstLine}`);
  }
  if (text.includes('name or service not known') || text.includes('temporary failure in name resolution') || text.includes('unknown host') || text.includes('no address associated') || text.includes('bad address')) {
    return failResult('DNS Unknown Host', `cannot resolve ${address}: ${firstLine}`);
  }
  if (text.includes('net unreachable') || text.includes('network is unreachable')) return failResult('Network Unreachable', firstLine);
  if (text.includes('host unreachable') || text.includes('no route to host')) return failResult('No route to host error', firstLine);
  if (code === 1 || (code === 0 && !rtt)) {
    return failResult('No route to host error', `no ICMP echo reply from ${address} within ${timeoutMs} ms`);
  }
  if (code === null && elapsedMs > 0) return failResult('No route to host error', `ping ended without a reply after ${Math.round(elapsedMs)} ms`);
  return failResult('Other Failure', `ping exited with status ${code}: ${firstLine}`);
}

export function probeIcmp(target: ProbeTarget, timeoutMs: number, ctx: ProbeContext = {}): Promise<ProbeResult> {
  const address = probeAddress(target.address, ctx);
  if (address === null) return Promise.resolve(failResult('DNS Unknown Host', `${target.address} does not resolve`));
  return ping(address, timeoutMs, ctx);
}

let availability: Promise<{ ok: boolean; detail: string }> | null = null;

/**
 * Whether this host can send ICMP echo requests (for `check` and start-up): pings 127.0.0.1 once. The answer is
 * cached for the process (pass `refresh` to ask again).
 */
export function icmpAvailable(ctx: ProbeContext = {}, refresh = false): Promise<{ ok: boolean; detail: string }> {
  if (availability && !refresh) return availability;
  availability = ping('127.0.0.1', 2000, ctx).then((r) =>
    r.ok
      ? { ok: true, detail: `ICMP echo works (${ctx.pingCommand ?? 'ping'}, ${r.rttMs} ms to 127.0.0.1)` }
      : { ok: false, detail: `icmp_ping and udp_icmp monitors cannot work on this host: ${r.detail}` },
  );
  return availability;
}

// UDP-ICMP probe (https://developers.cloudflare.com/load-balancing/monitors/, "Supported protocols"): an ICMP echo first (no reply → down, with the ping's reason); then an empty
// datagram on a *connected* UDP socket, so the kernel hands an ICMP port unreachable back to us as ECONNREFUSED.
// Port unreachable → down. Silence, or any datagram back → up.
//
// How long silence must last: ICMP errors come back one round trip after the datagram, so we wait 10 × the echo
// RTT, at least 1 s, never past the monitor timeout. Waiting the whole timeout would hold a probe slot for
// seconds on every healthy UDP service without detecting anything more.
//
// Reason for a port unreachable: "Other Failure" (with the detail "ICMP port unreachable"). None of the §7.6
// headings describes it: "TCP connection failed" would send the operator looking at TCP, "No route to host" and
// "Network Unreachable" are wrong (the host answered), "Connection Reset by Peer" is a TCP RST.
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { failResult, passResult } from '../types';
import type { ProbeContext, ProbeResult, ProbeTarget } from '../types';
import { classifyError } from './errors';
import { sourceFor } from './source';
import { ping } from './icmp';
import { probeAddress } from './resolve';

export const MIN_UDP_WAIT_MS = 1000;

export async function probeUdpIcmp(target: ProbeTarget, timeoutMs: number, ctx: ProbeContext = {}): Promise<ProbeResult> {
  const port = target.port;
  if (port === null) return failResult('Monitor Config Error', 'udp_icmp monitor without a port');
  const t0 = performance.now();
  const answered = probeAddress(target.address, ctx);
  if (answered === null) return failResult('DNS Unknown Host', `${target.address} does not resolve`);
  const echo = await ping(answered, timeoutMs, ctx);
  if (!echo.ok) return echo;
  let address = answered;
  let family = isIP(address);
  if (family === 0) {
    try {
      const found = await lookup(address);
      address = found.address;
      family = found.family;
    } catch (err) {
      const c = classifyError(err, 'lookup');
      return failResult(c.reason, c.detail, echo.rttMs);
    }
  }
  const remaining = timeoutMs - (performance.now() - t0);
  const waitMs = Math.max(1, Math.min(remaining, Math.max(MIN_UDP_WAIT_MS, 10 * (echo.rttMs ?? 0))));
  return new Promise<ProbeResult>((resolve) => {
    let done = false;
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        sock.close();
      } catch {
        // already closed
      }
      resolve(r);
    };
    const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    let timer: NodeJS.Timeout | undefined;
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') {
        finish(failResult('Other Failure', `ICMP port unreachable for UDP port ${port} (ECONNREFUSED)`, echo.rttMs));
        return;
      }
      const c = classifyError(err, 'response');
      finish(failResult(c.reason, `UDP: ${c.detail}`, echo.rttMs));
    });
    sock.on('message', () => finish(passResult(echo.rttMs, null, `UDP port ${port} answered`)));
    const bindTo = sourceFor(ctx, address).localAddress;
    const connect = (): void => sock.connect(port, address, () => {
      if (done) return;
      timer = setTimeout(
        () => finish(passResult(echo.rttMs, null, `no ICMP port unreachable for UDP port ${port} within ${Math.round(waitMs)} ms`)),
        waitMs,
      );
      sock.send(Buffer.alloc(0), (err) => {
        if (err) sock.emit('error', err);
      });
    });
    if (bindTo === undefined) connect();
    else sock.bind({ address: bindTo, port: 0 }, connect);
  });
}

// TCP probe (https://developers.cloudflare.com/load-balancing/monitors/, "Supported protocols"): connect, then close. RTT = time to the completed handshake.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { failResult, passResult } from '../types';
import type { ProbeContext, ProbeResult, ProbeTarget } from '../types';
import { classifyError, classifyTimeout } from './errors';
import { probeLookup } from './resolve';
import type { ProbePhase } from './errors';
import { sourceFor } from './source';

export function probeTcp(target: ProbeTarget, timeoutMs: number, ctx: ProbeContext = {}): Promise<ProbeResult> {
  const port = target.port;
  if (port === null) return Promise.resolve(failResult('Monitor Config Error', 'tcp monitor without a port'));
  return new Promise<ProbeResult>((resolve) => {
    const t0 = performance.now();
    let phase: ProbePhase = net.isIP(target.address) === 0 ? 'lookup' : 'connect';
    let done = false;
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const lookup = probeLookup(ctx);
    const sock = net.connect({ host: target.address, port, ...sourceFor(ctx, target.address), ...(lookup ? { lookup: lookup as net.LookupFunction } : {}) });
    const timer = setTimeout(() => {
      const t = classifyTimeout(phase, timeoutMs, 'TCP');
      finish(failResult(t.reason, t.detail));
    }, Math.max(1, timeoutMs));
    sock.once('lookup', () => {
      phase = 'connect';
    });
    sock.once('connect', () => finish(passResult(performance.now() - t0, null, `connected to port ${port}`)));
    sock.on('error', (err) => {
      const c = classifyError(err, phase);
      finish(failResult(c.reason, c.detail));
    });
  });
}

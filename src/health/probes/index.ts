// One probe function per monitor type behind one interface, plus retries (a probe attempt = up to 1 + retries
// tries, failing only if all fail). A new monitor type is one file and one line in PROBES.
import type { MonitorType } from '../../config/types';
import { failResult } from '../types';
import type { ProbeContext, ProbeResult, ProbeTarget } from '../types';
import { errorMessage } from './errors';
import { probeHttp } from './http';
import { probeIcmp } from './icmp';
import { probeSmtp } from './smtp';
import { probeTcp } from './tcp';
import { probeUdpIcmp } from './udp_icmp';

/** One try against one target. Implementations never reject. */
export type ProbeFn = (target: ProbeTarget, timeoutMs: number, ctx?: ProbeContext) => Promise<ProbeResult>;

export const PROBES: Readonly<Record<MonitorType, ProbeFn>> = {
  http: probeHttp,
  https: probeHttp,
  tcp: probeTcp,
  smtp: probeSmtp,
  icmp_ping: probeIcmp,
  udp_icmp: probeUdpIcmp,
};

/** One try with the probe for the target's monitor type; a bug in a probe becomes "Other Failure", not a rejection. */
export async function probeOnce(target: ProbeTarget, timeoutMs: number, ctx: ProbeContext = {}): Promise<ProbeResult> {
  const fn = PROBES[target.monitor.type];
  if (!fn) return failResult('Monitor Config Error', `unknown monitor type "${String(target.monitor.type)}"`);
  try {
    return await fn(target, timeoutMs, ctx);
  } catch (err) {
    return failResult('Other Failure', `probe error: ${errorMessage(err)}`);
  }
}

export interface AttemptResult extends ProbeResult {
  /** Tries made (1 … 1 + retries). */
  tries: number;
}

/**
 * One probe attempt: tries again at once after a failure, up to `retries` more times; passes on the first
 * passing try, fails with the last try's result. A "Monitor Config Error" is not retried (it cannot change).
 */
export async function probeAttempt(
  target: ProbeTarget,
  timeoutMs: number,
  retries: number,
  ctx: ProbeContext = {},
  probe: ProbeFn = probeOnce,
): Promise<AttemptResult> {
  const max = 1 + Math.max(0, Math.floor(retries));
  let last: ProbeResult = failResult('Other Failure', 'no try made');
  for (let i = 1; i <= max; i++) {
    try {
      last = await probe(target, timeoutMs, ctx);
    } catch (err) {
      last = failResult('Other Failure', `probe error: ${errorMessage(err)}`);
    }
    if (last.ok || last.reason === 'Monitor Config Error') return { ...last, tries: i };
  }
  return { ...last, tries: max };
}

export { probeHttp, probeTcp, probeSmtp, probeIcmp, probeUdpIcmp };

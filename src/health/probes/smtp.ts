// SMTP probe (https://developers.cloudflare.com/load-balancing/monitors/, "Supported protocols"): connect, expect the 220 banner, `HELO <name>` → 250, `QUIT` → 221, close with FIN.
// Multi-line replies ("250-a", "250-b", "250 c") are read to their last line. RTT = time to the TCP connect.
import net from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { failResult, passResult } from '../types';
import type { ProbeContext, ProbeResult, ProbeTarget } from '../types';
import { classifyError, classifyTimeout } from './errors';
import { sourceFor } from './source';
import type { ProbePhase } from './errors';
import { probeLookup } from './resolve';

const MAX_REPLY_BYTES = 64 * 1024;

type Step = 'banner' | 'helo' | 'quit';
const EXPECT: Record<Step, number> = { banner: 220, helo: 250, quit: 221 };
const STEP_NAME: Record<Step, string> = { banner: 'greeting', helo: 'HELO', quit: 'QUIT' };

let defaultHelo: string | null = null;
function heloName(ctx: ProbeContext): string {
  if (ctx.heloName) return ctx.heloName;
  if (defaultHelo === null) {
    const h = os.hostname();
    defaultHelo = /^[A-Za-z0-9.-]+$/.test(h) && h !== '' ? h : 'steerdns.invalid';
  }
  return defaultHelo;
}

export function probeSmtp(target: ProbeTarget, timeoutMs: number, ctx: ProbeContext = {}): Promise<ProbeResult> {
  const port = target.port;
  if (port === null) return Promise.resolve(failResult('Monitor Config Error', 'smtp monitor without a port'));
  return new Promise<ProbeResult>((resolve) => {
    const t0 = performance.now();
    let phase: ProbePhase = net.isIP(target.address) === 0 ? 'lookup' : 'connect';
    let step: Step = 'banner';
    let rttMs: number | null = null;
    let lastCode: number | null = null;
    let buffered = '';
    let done = false;

    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy(); // closes the socket: FIN (RST only if the server left unread data behind)
      resolve(r);
    };
    const lookup = probeLookup(ctx);
    const sock = net.connect({ host: target.address, port, ...sourceFor(ctx, target.address), ...(lookup ? { lookup: lookup as net.LookupFunction } : {}) });
    sock.setEncoding('latin1');
    const timer = setTimeout(() => {
      const t = classifyTimeout(phase, timeoutMs, `SMTP ${STEP_NAME[step]}`);
      finish(failResult(t.reason, t.detail, rttMs, lastCode));
    }, Math.max(1, timeoutMs));

    sock.once('lookup', () => {
      phase = 'connect';
    });
    sock.once('connect', () => {
      phase = 'response';
      rttMs = performance.now() - t0;
    });
    sock.on('error', (err) => {
      const c = classifyError(err, phase);
      finish(failResult(c.reason, c.detail, rttMs, lastCode));
    });
    sock.on('end', () => {
      finish(failResult('Other Failure', `SMTP server closed the connection while waiting for the ${STEP_NAME[step]} reply`, rttMs, lastCode));
    });
    sock.on('data', (data: string) => {
      if (done) return;
      buffered += data;
      if (buffered.length > MAX_REPLY_BYTES) {
        finish(failResult('Other Failure', `SMTP ${STEP_NAME[step]} reply longer than ${MAX_REPLY_BYTES} bytes`, rttMs, lastCode));
        return;
      }
      for (;;) {
        const nl = buffered.indexOf('\n');
        if (nl < 0) return;
        const line = buffered.slice(0, nl).replace(/\r$/, '');
        buffered = buffered.slice(nl + 1);
        const m = /^(\d{3})(?:([ -])(.*))?$/.exec(line);
        if (!m) {
          finish(failResult('Other Failure', `not an SMTP reply: ${JSON.stringify(line.slice(0, 80))}`, rttMs, lastCode));
          return;
        }
        if (m[2] === '-') continue; // continuation line of a multi-line reply
        const code = Number(m[1]);
        lastCode = code;
        const expected = EXPECT[step];
        if (code !== expected) {
          const text = (m[3] ?? '').trim();
          finish(
            failResult('Response code mismatch error', `SMTP ${STEP_NAME[step]} answered ${code}${text ? ` "${text.slice(0, 80)}"` : ''}, expected ${expected}`, rttMs, code),
          );
          return;
        }
        if (step === 'banner') {
          step = 'helo';
          sock.write(`HELO ${heloName(ctx)}\r\n`);
        } else if (step === 'helo') {
          step = 'quit';
          sock.write('QUIT\r\n');
        } else {
          finish(passResult(rttMs, code, 'SMTP 220/250/221'));
          return;
        }
      }
    });
  });
}

// HTTP and HTTPS probes (https://developers.cloudflare.com/load-balancing/monitors/: fields and "Supported protocols").
//
// One fresh connection per try (no keep-alive: a pooled connection would hide a server that stopped accepting).
// The monitor timeout covers the whole try: connect, TLS, headers, body and every redirect hop. RTT is the time
// to the first response's headers. The body is read only when `expected_body` is set, and never past 10 KB.
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import type { MonitorConfig } from '../../config/types';
import { hostName, parseExpectedCodes } from '../targets';
import { failResult, passResult } from '../types';
import type { ProbeContext, ProbeResult, ProbeTarget } from '../types';
import { probeLookup } from './resolve';
import { classifyError, classifyTimeout, errorMessage } from './errors';
import { sourceFor } from './source';
import type { ProbePhase } from './errors';

export const BODY_LIMIT = 10 * 1024;
export const MAX_REDIRECTS = 10;
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

interface Hop {
  tls: boolean;
  /** Where to connect: the endpoint address, or a redirect target's host name. */
  connectHost: string;
  port: number;
  method: string;
  path: string;
  hostHeader: string;
  /** Name the certificate must carry, and the SNI when it is not an IP address. */
  verifyName: string;
}

type HopOutcome =
  | { kind: 'response'; status: number; location: string | null; rttMs: number; bodyMatched: boolean | null }
  | { kind: 'failure'; result: ProbeResult };

// Shared agents without keep-alive: every try opens (and closes) its own connection, but requests skip the cost of
// a new Agent each (~15 % of a probe's CPU). No TLS session cache: a resumed session skips certificate checks, and
// a probe must notice an expired or replaced certificate.
const httpAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const httpsAgent = new https.Agent({ keepAlive: false, maxSockets: Infinity, maxCachedSessions: 0 });

const codeMatchers = new WeakMap<MonitorConfig, Array<(code: number) => boolean> | null>();

function expectedCodes(monitor: MonitorConfig): Array<(code: number) => boolean> | null {
  let m = codeMatchers.get(monitor);
  if (m === undefined) {
    m = parseExpectedCodes(monitor.expected_codes);
    codeMatchers.set(monitor, m);
  }
  return m;
}

let cachedRoots: { extra: readonly string[]; all: string[] } | null = null;
function caList(extra: readonly string[] | undefined): string[] | undefined {
  if (!extra || extra.length === 0) return undefined;
  if (cachedRoots?.extra !== extra) cachedRoots = { extra, all: [...tls.rootCertificates, ...extra] };
  return cachedRoots.all;
}

export async function probeHttp(target: ProbeTarget, timeoutMs: number, ctx: ProbeContext = {}): Promise<ProbeResult> {
  const monitor = target.monitor;
  if (target.port === null) return failResult('Monitor Config Error', `${monitor.type} monitor without a port`);
  const codes = expectedCodes(monitor);
  if (codes === null) return failResult('Monitor Config Error', `expected_codes "${monitor.expected_codes}" cannot be parsed`);
  const needle = monitor.expected_body === null || monitor.expected_body === '' ? null : monitor.expected_body.toLowerCase();
  const started = performance.now();
  const deadline = started + timeoutMs;

  let hop: Hop = {
    tls: monitor.type === 'https',
    connectHost: target.address,
    port: target.port,
    method: (monitor.method || 'GET').toUpperCase(),
    path: monitor.path || '/',
    hostHeader: target.hostHeader,
    verifyName: target.host !== null ? hostName(target.host) : target.address,
  };
  let firstRtt: number | null = null;
  for (let hops = 0; ; hops++) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) {
      const t = classifyTimeout('response', timeoutMs);
      return failResult(t.reason, t.detail, firstRtt);
    }
    const out = await requestOnce(hop, target, remaining, timeoutMs, needle, ctx);
    if (out.kind === 'failure') {
      if (out.result.rttMs === null && firstRtt !== null) out.result.rttMs = firstRtt;
      return out.result;
    }
    if (firstRtt === null) firstRtt = out.rttMs;
    const status = out.status;
    if (monitor.follow_redirects && REDIRECT_CODES.has(status) && out.location !== null) {
      if (hops >= MAX_REDIRECTS) {
        return failResult('Response code mismatch error', `more than ${MAX_REDIRECTS} redirects (last ${status} to ${out.location})`, firstRtt, status);
      }
      const next = redirectHop(hop, status, out.location);
      if (typeof next === 'string') return failResult('HTTP Invalid Response', next, firstRtt, status);
      hop = next;
      continue;
    }
    if (!codes.some((match) => match(status))) {
      const via = hops > 0 ? ` after ${hops} redirect${hops > 1 ? 's' : ''}` : '';
      return failResult('Response code mismatch error', `HTTP ${status}${via}, expected ${monitor.expected_codes}`, firstRtt, status);
    }
    if (needle !== null && out.bodyMatched !== true) {
      return failResult('Response body mismatch error', `"${monitor.expected_body}" not found in the first ${BODY_LIMIT} bytes of the body`, firstRtt, status);
    }
    return passResult(firstRtt, status, hops > 0 ? `HTTP ${status} after ${hops} redirect${hops > 1 ? 's' : ''}` : `HTTP ${status}`);
  }
}

function defaultPort(isTls: boolean): number {
  return isTls ? 443 : 80;
}

/** The next hop of a redirect, or an error text. Relative Locations resolve against the current URL. */
function redirectHop(cur: Hop, status: number, location: string): Hop | string {
  let url: URL;
  try {
    url = new URL(location, `${cur.tls ? 'https' : 'http'}://${cur.hostHeader}${cur.path}`);
  } catch {
    return `redirect ${status} to an invalid Location "${location}"`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `redirect ${status} to unsupported scheme "${url.protocol}"`;
  const isTls = url.protocol === 'https:';
  const name = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  // A redirect to the same name (e.g. http → https on the same host) still probes this endpoint, not whatever the
  // name resolves to (which may well be this load balancer); another name is followed through DNS.
  const sameHost =
    name.toLowerCase() === hostName(cur.hostHeader).toLowerCase() || name.toLowerCase() === cur.connectHost.toLowerCase();
  const method = status === 303 || ((status === 301 || status === 302) && cur.method === 'POST') ? (cur.method === 'HEAD' ? 'HEAD' : 'GET') : cur.method;
  return {
    tls: isTls,
    connectHost: sameHost ? cur.connectHost : name,
    port: url.port === '' ? defaultPort(isTls) : Number(url.port),
    method,
    path: `${url.pathname || '/'}${url.search}`,
    hostHeader: url.host,
    verifyName: name,
  };
}

function requestOnce(
  hop: Hop,
  target: ProbeTarget,
  remainingMs: number,
  timeoutMs: number,
  needle: string | null,
  ctx: ProbeContext,
): Promise<HopOutcome> {
  return new Promise<HopOutcome>((resolve) => {
    const t0 = performance.now();
    let phase: ProbePhase = isIP(hop.connectHost) === 0 ? 'lookup' : 'connect';
    let done = false;
    let rttMs: number | null = null;
    let status: number | null = null;
    let res: http.IncomingMessage | null = null;

    const finish = (out: HopOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (res) res.destroy();
      req.destroy();
      resolve(out);
    };
    const fail = (reason: ReturnType<typeof classifyError>): void =>
      finish({ kind: 'failure', result: failResult(reason.reason, reason.detail, rttMs, status) });

    const headers: Record<string, string | string[]> = { Host: hop.hostHeader };
    for (const [name, values] of Object.entries(target.headers)) headers[name] = values.length === 1 ? values[0] : [...values];
    const sni = isIP(hop.verifyName) === 0 ? hop.verifyName : '';
    const options: https.RequestOptions = {
      host: hop.connectHost,
      port: hop.port,
      method: hop.method,
      path: hop.path,
      headers,
      agent: hop.tls ? httpsAgent : httpAgent,
      setHost: false,
      ...sourceFor(ctx, hop.connectHost),
    };
    const lookup = probeLookup(ctx);
    if (lookup) options.lookup = lookup as NonNullable<https.RequestOptions['lookup']>;
    if (hop.tls) {
      options.servername = sni;
      options.rejectUnauthorized = !target.monitor.allow_insecure;
      options.checkServerIdentity = (_host, cert) => tls.checkServerIdentity(hop.verifyName, cert);
      const ca = caList(ctx.ca);
      if (ca) options.ca = ca;
    }

    let req: http.ClientRequest;
    try {
      req = (hop.tls ? https : http).request(options);
    } catch (err) {
      resolve({ kind: 'failure', result: failResult('Monitor Config Error', `invalid request: ${errorMessage(err)}`) });
      return;
    }
    const timer = setTimeout(() => fail(classifyTimeout(phase, timeoutMs)), Math.max(1, remainingMs));

    req.on('socket', (sock) => {
      sock.once('lookup', () => {
        if (phase === 'lookup') phase = 'connect';
      });
      sock.once('connect', () => {
        phase = hop.tls ? 'tls' : 'response';
      });
      if (hop.tls) {
        sock.once('secureConnect', () => {
          phase = 'response';
        });
      }
    });
    req.on('error', (err) => fail(classifyError(err, phase)));
    req.on('response', (r) => {
      res = r;
      rttMs = performance.now() - t0;
      status = r.statusCode ?? 0;
      const loc = r.headers.location;
      const location = typeof loc === 'string' && loc !== '' ? loc : null;
      const response = { kind: 'response' as const, status, location, rttMs };
      // Only a final answer with a body check needs the body; redirects and code mismatches never do.
      const followable = target.monitor.follow_redirects && REDIRECT_CODES.has(status) && location !== null;
      if (needle === null || followable) {
        finish({ ...response, bodyMatched: null });
        return;
      }
      phase = 'body';
      let received = 0;
      const chunks: Buffer[] = [];
      const check = (): boolean => {
        const text = Buffer.concat(chunks).subarray(0, BODY_LIMIT).toString('utf8').toLowerCase();
        return text.includes(needle);
      };
      r.on('data', (chunk: Buffer) => {
        if (done) return;
        chunks.push(chunk);
        received += chunk.length;
        if (check()) finish({ ...response, bodyMatched: true });
        else if (received >= BODY_LIMIT) finish({ ...response, bodyMatched: false });
      });
      r.on('end', () => finish({ ...response, bodyMatched: false }));
      r.on('error', (err) => fail(classifyError(err, 'body')));
      r.on('aborted', () => fail({ reason: 'HTTP Invalid Response', detail: 'connection closed before the body was complete' }));
    });
    req.end();
  });
}

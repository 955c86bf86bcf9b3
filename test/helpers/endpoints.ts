// Health-checked origins for the end-to-end tests: one small HTTP server per loopback address, all on the same port
// (the monitor's `port`), DNS polling helpers for "the answer follows health", and the config fragments these tests
// share.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { answers, query, sleep } from './server';

// ---- endpoints --------------------------------------------------------------------------------------------------

export interface Answered {
  path: string;
  status: number;
  /** When the request arrived, and when the answer was sent. */
  receivedAt: number;
  at: number;
}

export class Endpoint {
  /** Status code of the next answers (taken when a request arrives). */
  status = 200;
  /** Delay before answering, per path (ms). */
  readonly delay = new Map<string, number>();
  /** While set, answers wait for it (e.g. to hold the first probe round). */
  hold: Promise<void> | null = null;
  /** Every request received (path and time), and every answer sent. */
  readonly received: { path: string; at: number }[] = [];
  readonly answered: Answered[] = [];
  private server: http.Server | null = null;

  constructor(
    readonly address: string,
    public port: number,
  ) {}

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const p = req.url ?? '/';
      const receivedAt = Date.now();
      this.received.push({ path: p, at: receivedAt });
      const status = this.status;
      const reply = (): void => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
        res.end(status === 200 ? 'ok\n' : 'broken\n');
        this.answered.push({ path: p, status, receivedAt, at: Date.now() });
      };
      const d = this.delay.get(p) ?? 0;
      const delayed = (): void => {
        if (d > 0) setTimeout(reply, d);
        else reply();
      };
      if (this.hold) void this.hold.then(delayed);
      else delayed();
    });
    server.on('clientError', (_e, sock) => sock.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** How many answers with `status` were sent at or after `since`. */
  answeredWith(status: number, since = 0): number {
    return this.answered.filter((a) => a.status === status && a.at >= since).length;
  }
}

/** Starts one endpoint per address on a common free port. */
export async function openEndpoints(addresses: string[]): Promise<Endpoint[]> {
  for (let attempt = 0; ; attempt++) {
    const first = new Endpoint(addresses[0], 0);
    await first.start();
    const all = [first];
    try {
      for (const a of addresses.slice(1)) {
        const e = new Endpoint(a, first.port);
        await e.start();
        all.push(e);
      }
      return all;
    } catch (err) {
      await Promise.all(all.map((e) => e.stop()));
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
    }
  }
}

// ---- DNS polling ------------------------------------------------------------------------------------------------

/** The A answer for `name`, sorted. */
export async function aOf(port: number, name: string): Promise<string[]> {
  return answers((await query(port, name, { timeoutMs: 1500 })).packet, 'A');
}

/** Polls `name` until its A answer equals `want`; returns the ms it took (throws with the last answer on timeout). */
export async function waitAnswer(port: number, name: string, want: string[], timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  const expected = [...want].sort().join(',');
  let last = '';
  for (;;) {
    last = (await aOf(port, name)).join(',');
    if (last === expected) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${name}: wanted [${expected}] within ${timeoutMs} ms, still [${last}]`);
    await sleep(20);
  }
}

/** Polls a synchronous condition every 20 ms. */
export async function waitFor(what: string, fn: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Polls `fn` every 25 ms until `ok` accepts its value, which it returns (throws with the last value on timeout). */
export async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await fn();
    if (ok(last)) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await sleep(25);
  }
}

// ---- config fragments -------------------------------------------------------------------------------------------

/** Address of the fallback pool FB. */
export const FALLBACK = '192.0.2.99';

/** The example.com zone with only its NS address (goes after the `server:` line). */
export const ZONE = `
zones:
  - name: example.com
    ns: [ns1.example.com]
    records:
      - { name: ns1, type: A, value: 192.0.2.53 }`;

/**
 * monitors/pools/load_balancers for www.example.com: pool P1 of origins e1 and e2 (the two addresses) under the HTTP
 * monitor `web` on `port` (retries 0), and the fallback pool FB.
 */
export function wwwPoolYaml(port: number, [a, b]: [string, string], o: { interval: number; timeout: number }): string {
  return `monitors:
  web: { type: http, port: ${port}, path: /health, interval: ${o.interval}, timeout: ${o.timeout}, retries: 0 }
pools:
  P1:
    monitor: web
    origins:
      - { name: e1, address: ${a} }
      - { name: e2, address: ${b} }
  FB: { origins: [ { name: fb, address: ${FALLBACK} } ] }
load_balancers:
  - { name: www.example.com, default_pools: [P1], fallback_pool: FB }
`;
}

// Shared pieces of the load-balancing e2e suites (test/lb/*.test.ts): the base fixture of the steering scenarios as YAML, a fast
// bulk UDP client, the chi-square check, and tiny HTTP health servers that tests flip between 200 and 500.
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { buildQuery, GEOIP_CITY, query, sleep, type QueryOptions, type TestServer } from '../helpers/server';

// ---- config --------------------------------------------------------------------------------------------

/** The scenarios' PoP: LAX, US, WNAM, 34.05,-118.24 (region set explicitly: US without a subdivision maps to ENAM). */
export const POP = '{ code: LAX, country: US, region: WNAM, latitude: 34.05, longitude: -118.24 }';

/** Seed §9 base pools (no monitors: health is ignored, every enabled endpoint is up). */
export const BASE_POOLS: Record<string, string> = {
  P1: '{ origins: [ { name: a1, address: 192.0.2.1, weight: 1 }, { name: a2, address: 192.0.2.2, weight: 1 } ] }',
  P2: '{ origins: [ { name: b1, address: 198.51.100.1, weight: 1 } ] }',
  P3: '{ origins: [ { name: c1, address: 203.0.113.1, weight: 1 } ] }',
  FB: '{ origins: [ { name: f1, address: 192.0.2.100, weight: 1 } ] }',
};

export const P1_ADDRS = ['192.0.2.1', '192.0.2.2'];
export const P2_ADDRS = ['198.51.100.1'];
export const P3_ADDRS = ['203.0.113.1'];
export const FB_ADDRS = ['192.0.2.100'];

/** Which base pool an A answer came from (by its first address). */
export function baseSource(addrs: string[]): string {
  const a = addrs[0];
  if (a === undefined) return 'none';
  if (P1_ADDRS.includes(a)) return 'P1';
  if (P2_ADDRS.includes(a)) return 'P2';
  if (P3_ADDRS.includes(a)) return 'P3';
  if (FB_ADDRS.includes(a)) return 'FB';
  return a;
}

export interface FixtureOptions {
  /** Pools as `NAME: <flow YAML>`; default BASE_POOLS. */
  pools?: Record<string, string>;
  /** Load balancers, each a flow mapping body without braces (e.g. `name: lb.example.com, default_pools: [P1]`). */
  lbs?: string[];
  /** Extra zone records, each a flow mapping body. */
  records?: string[];
  monitors?: Record<string, string>;
  /** Extra server keys, flow mapping body. */
  server?: string;
}

/** The §9 default load balancer. */
export const BASE_LB = 'name: lb.example.com, default_pools: [P1, P2, P3], fallback_pool: FB, steering_policy: "off"';

export function fixture(o: FixtureOptions = {}): string {
  const pools = o.pools ?? BASE_POOLS;
  const lbs = o.lbs ?? [BASE_LB];
  const lines = [
    `server: { listen: ["127.0.0.1:0"], http: null, pop: ${POP}, geoip: { database: "${GEOIP_CITY}" }${o.server ? `, ${o.server}` : ''} }`,
    'zones:',
    '  - name: example.com',
    '    ns: [ns1.example.com]',
    '    soa: { minimum: 60, ttl: 3600 }',
    '    records:',
    '      - { name: ns1, type: A, value: 192.0.2.53 }',
    ...(o.records ?? []).map((r) => `      - { ${r} }`),
  ];
  if (o.monitors && Object.keys(o.monitors).length > 0) {
    lines.push('monitors:');
    for (const [k, v] of Object.entries(o.monitors)) lines.push(`  ${k}: ${v}`);
  }
  lines.push('pools:');
  for (const [k, v] of Object.entries(pools)) lines.push(`  ${k}: ${v}`);
  lines.push('load_balancers:');
  for (const lb of lbs) lines.push(`  - { ${lb} }`);
  return `${lines.join('\n')}\n`;
}

/** Reloads and insists that the new config serves. */
export async function mustReload(s: TestServer, yaml: string): Promise<void> {
  const ok = await s.reload(yaml);
  if (!ok) throw new Error(`reload refused:\n${s.logs.slice(-10).join('\n')}`);
}

// ---- answers -------------------------------------------------------------------------------------------

export type Packet = dnsPacket.DecodedPacket;

/** A/AAAA addresses of the answer section, in answer order. */
export function addrs(p: Packet, type: 'A' | 'AAAA' = 'A'): string[] {
  return (p.answers ?? []).filter((a) => a.type === type).map((a) => (a as { data: string }).data);
}

export function sorted(list: string[]): string[] {
  return [...list].sort();
}

export function ttls(p: Packet): number[] {
  return (p.answers ?? []).map((a) => (a as { ttl?: number }).ttl ?? -1);
}

export function authorityTypes(p: Packet): string[] {
  return (p.authorities ?? []).map((a) => a.type);
}

export function authorityTtl(p: Packet): number {
  return ((p.authorities ?? [])[0] as { ttl?: number } | undefined)?.ttl ?? -1;
}

/** A/AAAA records of the additional section as "owner type address" (OPT left out), sorted. */
export function additionalAddrs(p: Packet): string[] {
  return (p.additionals ?? [])
    .filter((a) => a.type === 'A' || a.type === 'AAAA')
    .map((a) => `${a.name.toLowerCase()} ${a.type} ${(a as { data: string }).data}`)
    .sort();
}

export function aaOf(p: Packet): boolean {
  return ((p as unknown as { flags: number }).flags & 0x0400) !== 0;
}

/** Checks what every load-balanced answer carries: NOERROR, AA, and `ttl` on every answer record. */
export function checkLb(p: Packet, ttl = 30): Packet {
  const rcode = (p as unknown as { rcode: string }).rcode;
  if (rcode !== 'NOERROR') throw new Error(`expected NOERROR, got ${rcode}`);
  if (!aaOf(p)) throw new Error('expected AA=1');
  for (const t of ttls(p)) if (t !== ttl) throw new Error(`expected TTL ${ttl}, got ${t}`);
  return p;
}

// ---- bulk client ---------------------------------------------------------------------------------------

export interface BulkQuestion {
  name: string;
  type?: string;
  ecs?: string;
}

/**
 * Sends every question over one UDP socket (bound to `from`), keeping `window` in flight, and returns the decoded
 * responses in question order. Missing answers are re-sent (loopback UDP can drop under a burst).
 */
export async function bulk(port: number, questions: BulkQuestion[], o: { from?: string; window?: number } = {}): Promise<Packet[]> {
  const window = o.window ?? 64;
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: o.from ?? '127.0.0.1', port: 0 }, () => resolve());
  });
  const out: (Packet | undefined)[] = new Array(questions.length);
  const idOf = (i: number) => (i % 60000) + 1;
  let next = 0;
  let done = 0;
  const pending = new Map<number, { index: number; sentAt: number }>();
  const send = (i: number) => {
    const q = questions[i];
    const opts: QueryOptions = { type: q.type ?? 'A', ecs: q.ecs };
    const pkt = buildQuery(q.name, opts);
    pkt.writeUInt16BE(idOf(i), 0);
    pending.set(idOf(i), { index: i, sentAt: Date.now() });
    sock.send(pkt, port, '127.0.0.1');
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const fill = () => {
        while (pending.size < window && next < questions.length) send(next++);
        if (done === questions.length) resolve();
      };
      sock.on('message', (msg) => {
        const id = msg.readUInt16BE(0);
        const p = pending.get(id);
        if (!p) return;
        pending.delete(id);
        out[p.index] = dnsPacket.decode(msg);
        done++;
        fill();
      });
      const timer = setInterval(() => {
        const now = Date.now();
        for (const [, p] of pending) {
          if (now - p.sentAt > 500) {
            if (now - p.sentAt > 5000) {
              clearInterval(timer);
              reject(new Error(`no answer to question ${p.index}`));
              return;
            }
            const q = questions[p.index];
            const pkt = buildQuery(q.name, { type: q.type ?? 'A', ecs: q.ecs });
            pkt.writeUInt16BE(idOf(p.index), 0);
            sock.send(pkt, port, '127.0.0.1');
          }
        }
        if (done === questions.length) clearInterval(timer);
      }, 200);
      fill();
    });
  } finally {
    sock.close();
  }
  return out as Packet[];
}

/** The same question `n` times. */
export function repeat(q: BulkQuestion, n: number): BulkQuestion[] {
  return Array.from({ length: n }, () => q);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** One query from each source address (127.x.y.z): distinct resolvers. */
export function fromEach(port: number, sources: string[], name: string, o: QueryOptions = {}): Promise<Packet[]> {
  return mapLimit(sources, 128, async (from) => (await query(port, name, { ...o, from, timeoutMs: 3000 })).packet);
}

/** `n` distinct loopback resolver addresses 127.<base>.x.y (x, y in 1..250). */
export function loopbackSources(n: number, base = 20): string[] {
  const out: string[] = [];
  for (let x = 1; out.length < n; x++) for (let y = 1; y <= 250 && out.length < n; y++) out.push(`127.${base}.${x}.${y}`);
  return out;
}

export function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const it of items) m.set(key(it), (m.get(key(it)) ?? 0) + 1);
  return m;
}

// ---- statistics ----------------------------------------------------------------------------------------

/**
 * Chi-square critical values at p = 0.0001 by degrees of freedom (1-4): with a dozen distribution tests the
 * whole suite fails by chance about once in a thousand runs, while a weight off by a few percent at these
 * sample sizes fails every time.
 */
const CHI2_CRIT = [NaN, 15.137, 18.421, 21.108, 23.513];

/** Pearson's chi-square statistic of observed counts against expected probabilities. */
export function chiSquare(observed: number[], expectedP: number[]): number {
  const n = observed.reduce((a, b) => a + b, 0);
  let x = 0;
  observed.forEach((o, i) => {
    const e = n * expectedP[i];
    x += ((o - e) * (o - e)) / e;
  });
  return x;
}

/** Asserts a goodness of fit at p = 0.0001. `labels` are the categories in the same order as `p`. */
export function expectFit(counts: Map<string, number>, labels: string[], p: number[]): void {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const observed = labels.map((l) => counts.get(l) ?? 0);
  // No category outside the expected ones.
  expect(observed.reduce((a, b) => a + b, 0)).toBe(total);
  const x = chiSquare(observed, p);
  const crit = CHI2_CRIT[labels.length - 1];
  if (!(x < crit)) {
    throw new Error(`chi-square ${x.toFixed(2)} ≥ ${crit} (df ${labels.length - 1}): observed ${labels.map((l, i) => `${l}=${observed[i]}`).join(' ')}, expected ${labels.map((l, i) => `${l}=${(p[i] * total).toFixed(0)}`).join(' ')}`);
  }
}

// ---- health servers ------------------------------------------------------------------------------------

/**
 * One tiny HTTP server per loopback address, all on the same port, answering `GET /` with the status set per
 * address (default 200), optionally after a delay; `hang` never answers.
 */
export class HealthServers {
  readonly status = new Map<string, number>();
  readonly delay = new Map<string, number>();
  readonly hang = new Set<string>();
  private servers: http.Server[] = [];
  port = 0;

  static async start(addresses: string[]): Promise<HealthServers> {
    const h = new HealthServers();
    for (let attempt = 0; ; attempt++) {
      try {
        await h.listenAll(addresses);
        return h;
      } catch (e) {
        await h.close();
        h.servers = [];
        h.port = 0;
        if (attempt >= 5) throw e;
      }
    }
  }

  private async listenAll(addresses: string[]): Promise<void> {
    for (const addr of addresses) {
      const srv = http.createServer((req, res) => {
        req.resume();
        if (this.hang.has(addr)) return;
        const code = this.status.get(addr) ?? 200;
        const reply = () => {
          res.writeHead(code, { 'content-type': 'text/plain', connection: 'close' });
          res.end(code === 200 ? 'ok' : 'down');
        };
        const d = this.delay.get(addr) ?? 0;
        if (d > 0) setTimeout(reply, d);
        else reply();
      });
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(this.port, addr, () => resolve());
      });
      this.servers.push(srv);
      if (this.port === 0) this.port = (srv.address() as AddressInfo).port;
    }
  }

  set(addresses: string[], code: number): void {
    for (const a of addresses) this.status.set(a, code);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.closeAllConnections();
            s.close(() => resolve());
          }),
      ),
    );
  }
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs` with the last value). */
export async function waitFor<T>(fn: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 8000, stepMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last = await fn();
  while (!ok(last)) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await sleep(stepMs);
    last = await fn();
  }
  return last;
}

/** Health store status of the probe target for `address` (first matching key), 'unknown' when not probed yet. */
export function targetState(s: TestServer, address: string): { status: string; consecutiveUp: number; consecutiveDown: number } {
  for (const k of s.server.store.keys()) {
    if (k.startsWith(`http ${address}:`)) {
      const st = s.server.store.peek(k);
      if (st) return { status: st.status, consecutiveUp: st.consecutiveUp, consecutiveDown: st.consecutiveDown };
    }
  }
  return { status: 'absent', consecutiveUp: 0, consecutiveDown: 0 };
}

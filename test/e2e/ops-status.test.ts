// The operations surface end to end, real sockets only: the status API (server.http on 127.0.0.1:0) of an
// in-process server whose pools are probed over HTTP on 127.0.12.x, and webhook notifications received by a
// test HTTP server.
//   - /healthz; /readyz 503 before the first probe round, 200 after;
//   - bearer token: 401 (JSON, WWW-Authenticate) without or with a wrong token, 200 with it; probes stay open;
//   - /api/pools/NAME: endpoint health and failure reasons in Cloudflare wording; /api/load_balancers: health
//     healthy → degraded → critical and back; /api/monitors: per-target status; /api/events: exactly one event
//     per change (none while states stay), with the pool/origin/since_id/limit filters; 404/405 as JSON;
//   - /metrics parses as Prometheus text (every sample `name{labels} value`, every family with # HELP and # TYPE,
//     histograms consistent) and the counters move with traffic: queries, pool selections, fallback, probes,
//     config reloads (failure after a bad reload);
//   - a webhook receives the event JSON by POST on health changes, and the pool's notification_filter holds back
//     what it should.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { aOf, FALLBACK, openEndpoints, until, ZONE, type Endpoint } from '../helpers/endpoints';
import { query, sleep, startServer, type TestServer } from '../helpers/server';

// ---- HTTP client --------------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, path: string, o: { token?: string; method?: string; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    const req = http.request({ host: o.host ?? '127.0.0.1', port, path, method: o.method ?? 'GET', headers, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

interface ApiEnvelope<T> {
  success: boolean;
  errors: { code: number; message: string }[];
  messages: unknown[];
  result: T;
  result_info?: { count: number };
}

interface OriginView {
  name: string;
  address: string;
  healthy: boolean;
  status: string;
  failure_reason: string | null;
  response_code: number | null;
}
interface PoolView {
  name: string;
  healthy: boolean;
  state: string;
  healthy_origins: number;
  enabled_origins: number;
  origins: OriginView[];
}
interface LbView {
  name: string;
  health: 'healthy' | 'degraded' | 'critical';
  fallback_pool: string;
  pools: { name: string; state: string; usable: boolean }[];
}
interface MonitorView {
  id: string;
  type: string;
  targets: { address: string; port: number; status: string; failure_reason: string; used_by: { pool: string; origin: string }[] }[];
}
interface EventView {
  id: number;
  timestamp: string;
  pool: { name: string; healthy: boolean; changed: boolean };
  origins: { name: string; ip: string; healthy: boolean; failure_reason: string | null; response_code: number | null; changed: boolean }[];
  cause: { origin: string; from: string; to: string };
}

async function api<T>(port: number, path: string, token?: string): Promise<ApiEnvelope<T>> {
  const r = await request(port, path, { token });
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status} ${r.body}`);
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(r.body) as ApiEnvelope<T>;
  expect(body.success).toBe(true);
  return body;
}

// ---- Prometheus text format -----------------------------------------------------------------------------------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseLabels(text: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`bad labels: ${line}`);
    const name = text.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name "${name}": ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`label value not quoted: ${line}`);
    let j = eq + 2;
    let value = '';
    for (;;) {
      if (j >= text.length) throw new Error(`unterminated label value: ${line}`);
      const c = text[j];
      if (c === '\\') {
        const n = text[j + 1];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else throw new Error(`bad escape \\${n}: ${line}`);
        j += 2;
        continue;
      }
      if (c === '"') break;
      value += c;
      j++;
    }
    if (name in out) throw new Error(`duplicate label ${name}: ${line}`);
    out[name] = value;
    j++;
    if (j < text.length) {
      if (text[j] !== ',') throw new Error(`expected "," between labels: ${line}`);
      j++;
    }
    i = j;
  }
  return out;
}

// Values as Prometheus reads them (Go's strconv.ParseFloat): special values case-insensitively. prom-client 15
// writes NaN as "Nan" (an empty event-loop-lag histogram right after start), which Prometheus accepts.
function parseValue(v: string, line: string): number {
  const lower = v.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new Error(`bad value "${v}": ${line}`);
  return n;
}

/**
 * A strict reader of the Prometheus text exposition format (0.0.4): every non-comment line is
 * `name{labels} value [timestamp]`, every sample belongs to a family declared by # HELP and # TYPE (before its
 * samples), series are unique, and histogram buckets are cumulative with +Inf = _count.
 */
function parseProm(text: string): Sample[] {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: Sample[] = [];
  const series = new Set<string>();
  const familyOf = (name: string): string | null => {
    if (type.has(name)) return name;
    for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
      if (!name.endsWith(suffix)) continue;
      const base = name.slice(0, -suffix.length);
      const t = type.get(base);
      if (t === undefined) continue;
      if ((suffix === '_bucket' && t === 'histogram') || ((suffix === '_sum' || suffix === '_count') && (t === 'histogram' || t === 'summary'))) return base;
      if ((suffix === '_total' || suffix === '_created') && t === 'counter') return base;
    }
    return null;
  };
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) continue; // other comments are allowed
      const [, kind, name, rest] = m;
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name: ${line}`);
      if (samples.some((s) => familyOf(s.name) === name)) throw new Error(`${kind} after samples: ${line}`);
      if (kind === 'HELP') {
        if (help.has(name)) throw new Error(`duplicate HELP: ${line}`);
        help.set(name, rest);
      } else {
        if (type.has(name)) throw new Error(`duplicate TYPE: ${line}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad TYPE: ${line}`);
        type.set(name, rest);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const [, name, labelText, valueText] = m;
    const labels = labelText ? parseLabels(labelText, line) : {};
    const family = familyOf(name);
    if (family === null) throw new Error(`sample without # TYPE: ${line}`);
    if (!help.has(family)) throw new Error(`sample without # HELP: ${line}`);
    const id = `${name}{${Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',')}}`;
    if (series.has(id)) throw new Error(`duplicate series ${id}`);
    series.add(id);
    samples.push({ name, labels, value: parseValue(valueText, line) });
  }
  // Histograms: cumulative buckets per label set, +Inf bucket = _count.
  for (const [name, t] of type) {
    if (t !== 'histogram') continue;
    const groups = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${name}_bucket`)) {
      const { le: _le, ...rest } = s.labels;
      const k = JSON.stringify(rest);
      groups.set(k, [...(groups.get(k) ?? []), s]);
    }
    for (const [k, buckets] of groups) {
      for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
      const inf = buckets.find((b) => b.labels.le === '+Inf');
      const count = samples.find((s) => s.name === `${name}_count` && JSON.stringify(s.labels) === k);
      expect(inf).toBeDefined();
      expect(count?.value).toBe(inf?.value);
    }
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `labels`. */
function metric(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

async function scrape(port: number, token?: string): Promise<Sample[]> {
  const r = await request(port, '/metrics', { token });
  expect(r.status).toBe(200);
  expect(r.headers['content-type']).toMatch(/^text\/plain/);
  return parseProm(r.body);
}

const TOKEN = 's3cret-Token';
// interval 1 s, timeout 1 s: a change shows within one interval plus the probe time.
const WITHIN_MS = 2000;

describe('status API and metrics (in-process server, server.http on 127.0.0.1:0)', () => {
  let endpoints: Endpoint[] = [];
  let srv: TestServer | null = null;
  afterEach(async () => {
    for (const e of endpoints) e.hold = null;
    await srv?.stop();
    srv = null;
    await Promise.all(endpoints.map((e) => e.stop()));
    endpoints = [];
  });

  test('probes, token, pools/monitors/load_balancers/events views, errors, and Prometheus counters that move', async () => {
    endpoints = await openEndpoints(['127.0.12.2', '127.0.12.3', '127.0.12.4']);
    const [e1, e2, e3] = endpoints;
    // Hold the first probe round so that /readyz can be seen not ready.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    for (const e of endpoints) e.hold = gate;
    const yaml = `
server: { listen: ["127.0.0.1:0"], http: "127.0.0.1:0", http_token: "${TOKEN}" }
${ZONE}
monitors:
  web: { type: http, port: ${e1.port}, path: /health, interval: 1, timeout: 1, retries: 0 }
pools:
  P1:
    monitor: web
    origins:
      - { name: e1, address: ${e1.address} }
      - { name: e2, address: ${e2.address} }
  P2: { monitor: web, origins: [ { name: e3, address: ${e3.address} } ] }
  FB: { origins: [ { name: fb, address: ${FALLBACK} } ] }
load_balancers:
  - { name: www.example.com, default_pools: [P1, P2], fallback_pool: FB }
`;
    srv = await startServer(yaml);
    const s = srv;
    const hp = s.server.statusPort;
    const dns = s.port;
    expect(hp).toBeGreaterThan(0);

    // Liveness and readiness need no token.
    const healthz = await request(hp, '/healthz');
    expect([healthz.status, healthz.body]).toEqual([200, 'ok\n']);
    const notReady = await request(hp, '/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toBe('not ready: first round of health probes not done\n');
    release();
    for (const e of endpoints) e.hold = null;
    await until('/readyz 200', () => request(hp, '/readyz'), (r) => r.status === 200, 1000 + WITHIN_MS);
    expect((await request(hp, '/readyz')).body).toBe('ready\n');

    // Bearer token: /api and /metrics need it.
    for (const p of ['/api/pools', '/metrics', '/api/events']) {
      for (const token of [undefined, 'wrong', `${TOKEN}x`]) {
        const r = await request(hp, p, { token });
        expect(r.status).toBe(401);
        expect(r.headers['www-authenticate']).toBe('Bearer');
        expect(JSON.parse(r.body)).toEqual({ success: false, errors: [{ code: 401, message: 'missing or wrong bearer token' }], messages: [], result: null });
      }
    }
    const pools0 = await api<PoolView[]>(hp, '/api/pools', TOKEN);
    expect(pools0.result_info).toEqual({ count: 3 });
    expect(pools0.result.map((p) => [p.name, p.healthy, p.state])).toEqual([
      ['P1', true, 'healthy'],
      ['P2', true, 'healthy'],
      ['FB', true, 'unknown'], // unmonitored: usable, no health
    ]);
    expect((await api<LbView[]>(hp, '/api/load_balancers', TOKEN)).result[0]).toMatchObject({ name: 'www.example.com', health: 'healthy', fallback_pool: 'FB' });
    const monitors = await api<MonitorView[]>(hp, '/api/monitors', TOKEN);
    expect(monitors.result).toHaveLength(1);
    expect(monitors.result[0]).toMatchObject({ id: 'web', type: 'http' });
    expect(monitors.result[0].targets.map((t) => [t.address, t.port, t.status, t.failure_reason, t.used_by])).toEqual([
      [e1.address, e1.port, 'healthy', 'No failures', [{ pool: 'P1', origin: 'e1' }]],
      [e2.address, e1.port, 'healthy', 'No failures', [{ pool: 'P1', origin: 'e2' }]],
      [e3.address, e1.port, 'healthy', 'No failures', [{ pool: 'P2', origin: 'e3' }]],
    ]);
    // Start-up (unknown → healthy) is not an event.
    expect((await api<EventView[]>(hp, '/api/events', TOKEN)).result).toEqual([]);

    // Traffic moves the query and selection counters by exactly what was sent.
    const m0 = await scrape(hp, TOKEN);
    for (let i = 0; i < 20; i++) expect(await aOf(dns, 'www.example.com')).toEqual([e1.address, e2.address]);
    for (let i = 0; i < 5; i++) await query(dns, 'nope.example.com');
    const m1 = await scrape(hp, TOKEN);
    const delta = (a: Sample[], b: Sample[], name: string, labels: Record<string, string> = {}) => metric(b, name, labels) - metric(a, name, labels);
    expect(delta(m0, m1, 'steerdns_queries_total', { transport: 'udp', rcode: 'NOERROR', qtype: 'A' })).toBe(20);
    expect(delta(m0, m1, 'steerdns_queries_total', { transport: 'udp', rcode: 'NXDOMAIN', qtype: 'A' })).toBe(5);
    expect(delta(m0, m1, 'steerdns_lb_queries_total', { load_balancer: 'www.example.com' })).toBe(20);
    expect(delta(m0, m1, 'steerdns_pool_selections_total', { load_balancer: 'www.example.com', pool: 'P1' })).toBe(20);
    // The latency histogram times one query in 8: 25 queries → 3 or 4 samples.
    const timed = delta(m0, m1, 'steerdns_answer_duration_seconds_count');
    expect(timed).toBeGreaterThanOrEqual(3);
    expect(timed).toBeLessThanOrEqual(4);
    expect(metric(m1, 'steerdns_probes_total', { monitor: 'web', type: 'http', result: 'up', reason: 'No failures' })).toBeGreaterThanOrEqual(3);
    expect(metric(m1, 'steerdns_origin_healthy', { pool: 'P1', origin: 'e1' })).toBe(1);
    expect(metric(m1, 'steerdns_load_balancer_health', { load_balancer: 'www.example.com' })).toBe(2);
    expect(metric(m1, 'steerdns_config_reloads_total', { result: 'failure' })).toBe(0);
    expect(metric(m1, 'steerdns_process_resident_memory_bytes')).toBeGreaterThan(0); // default metrics, named once (not steerdns_process_process_…)
    expect(metric(m1, 'steerdns_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);

    const pool = async (name: string) => (await api<PoolView>(hp, `/api/pools/${name}`, TOKEN)).result;
    const lbHealth = async () => (await api<LbView>(hp, '/api/load_balancers/www.example.com', TOKEN)).result.health;
    const events = async (qs = '') => (await api<EventView[]>(hp, `/api/events${qs}`, TOKEN)).result;
    const origin = (p: PoolView, name: string) => p.origins.find((o) => o.name === name);

    // 1. e1 answers 500: P1 degraded (still usable), LB healthy, one event with the Cloudflare reason.
    e1.status = 500;
    const p1a = await until('e1 unhealthy', () => pool('P1'), (p) => origin(p, 'e1')?.healthy === false, WITHIN_MS);
    expect(origin(p1a, 'e1')).toMatchObject({ healthy: false, status: 'unhealthy', failure_reason: 'Response code mismatch error', response_code: 500 });
    expect(origin(p1a, 'e2')).toMatchObject({ healthy: true, failure_reason: 'No failures', response_code: 200 });
    expect(p1a).toMatchObject({ healthy: true, state: 'degraded', healthy_origins: 1, enabled_origins: 2 });
    expect(await lbHealth()).toBe('healthy');
    expect(await aOf(dns, 'www.example.com')).toEqual([e2.address]);

    // 2. e2 stops listening: P1 critical, LB degraded (P2 still usable), answers from P2.
    await e2.stop();
    const p1b = await until('e2 unhealthy', () => pool('P1'), (p) => origin(p, 'e2')?.healthy === false, WITHIN_MS);
    expect(origin(p1b, 'e2')).toMatchObject({ healthy: false, failure_reason: 'TCP connection failed', response_code: null });
    expect(p1b).toMatchObject({ healthy: false, state: 'critical', healthy_origins: 0 });
    expect(await lbHealth()).toBe('degraded');
    expect(await aOf(dns, 'www.example.com')).toEqual([e3.address]);

    // 3. e3 answers 500 too: every pool critical, LB critical, answers from the fallback pool.
    e3.status = 500;
    await until('LB critical', lbHealth, (h) => h === 'critical', WITHIN_MS);
    expect(await pool('P2')).toMatchObject({ healthy: false, state: 'critical' });
    const m2 = await scrape(hp, TOKEN);
    for (let i = 0; i < 10; i++) expect(await aOf(dns, 'www.example.com')).toEqual([FALLBACK]);
    const m3 = await scrape(hp, TOKEN);
    expect(delta(m2, m3, 'steerdns_fallback_total', { load_balancer: 'www.example.com' })).toBe(10);
    expect(delta(m2, m3, 'steerdns_pool_selections_total', { pool: 'FB' })).toBe(10);
    expect(delta(m2, m3, 'steerdns_pool_selections_total', { pool: 'P1' })).toBe(0);
    expect(metric(m3, 'steerdns_probes_total', { monitor: 'web', result: 'down', reason: 'Response code mismatch error' })).toBeGreaterThanOrEqual(2);
    expect(metric(m3, 'steerdns_probes_total', { monitor: 'web', result: 'down', reason: 'TCP connection failed' })).toBeGreaterThanOrEqual(1);
    expect(metric(m3, 'steerdns_load_balancer_health', { load_balancer: 'www.example.com' })).toBe(0);
    expect(metric(m3, 'steerdns_pool_healthy', { pool: 'P1' })).toBe(0);
    expect(metric(m3, 'steerdns_origin_healthy', { pool: 'P1', origin: 'e2' })).toBe(0);

    // Exactly one event per change, and none while the states stay (two more probe rounds).
    await sleep(2200);
    const ev = await events();
    expect(ev.map((e) => [e.pool.name, e.cause.origin, e.pool.healthy, e.pool.changed])).toEqual([
      ['P1', 'e1', true, false],
      ['P1', 'e2', false, true],
      ['P2', 'e3', false, true],
    ]);
    expect(ev.map((e) => e.id)).toEqual([1, 2, 3]);
    const changed = ev.map((e) => e.origins.filter((o) => o.changed));
    expect(changed).toEqual([
      [{ name: 'e1', ip: e1.address, enabled: true, healthy: false, failure_reason: 'Response code mismatch error', response_code: 500, changed: true }],
      [{ name: 'e2', ip: e2.address, enabled: true, healthy: false, failure_reason: 'TCP connection failed', response_code: null, changed: true }],
      [{ name: 'e3', ip: e3.address, enabled: true, healthy: false, failure_reason: 'Response code mismatch error', response_code: 500, changed: true }],
    ]);
    expect(ev.every((e) => !Number.isNaN(Date.parse(e.timestamp)))).toBe(true);

    // 4. Everything recovers: three more events, LB healthy again, answers from P1.
    e1.status = 200;
    e3.status = 200;
    await e2.start();
    await until('LB healthy', lbHealth, (h) => h === 'healthy', WITHIN_MS);
    await until('P1 healthy', () => pool('P1'), (p) => p.state === 'healthy', WITHIN_MS);
    expect(await aOf(dns, 'www.example.com')).toEqual([e1.address, e2.address]);
    await sleep(1200);
    const all = await events();
    expect(all).toHaveLength(6);
    expect(all.slice(3).map((e) => [e.pool.name, e.cause.origin, e.origins.find((o) => o.changed)?.healthy]).sort()).toEqual([
      ['P1', 'e1', true],
      ['P1', 'e2', true],
      ['P2', 'e3', true],
    ]);
    // Filters.
    expect((await events('?pool=P2')).map((e) => e.cause.origin)).toEqual(['e3', 'e3']);
    expect((await events('?origin=e2')).map((e) => e.id)).toEqual(all.filter((e) => e.cause.origin === 'e2').map((e) => e.id));
    expect((await events('?since_id=4')).map((e) => e.id)).toEqual([5, 6]);
    expect((await events('?limit=1')).map((e) => e.id)).toEqual([6]);

    // Errors are JSON too.
    const notFound = [
      ['/api/nope', 'no such endpoint: /api/nope'],
      ['/api/pools/NOPE', 'no pool "NOPE"'],
      ['/api/monitors/nope', 'no monitor "nope"'],
      ['/api/load_balancers/nope.example.com', 'no load balancer "nope.example.com"'],
      ['/elsewhere', 'no such endpoint: /elsewhere'],
    ];
    for (const [p, message] of notFound) {
      const r = await request(hp, p, { token: TOKEN });
      expect([p, r.status]).toEqual([p, 404]);
      expect(JSON.parse(r.body)).toEqual({ success: false, errors: [{ code: 404, message }], messages: [], result: null });
    }
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await request(hp, '/api/pools', { token: TOKEN, method });
      expect(r.status).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
      expect(JSON.parse(r.body)).toMatchObject({ success: false, errors: [{ code: 405 }] });
    }
    expect((await request(hp, '/api/pools', { token: TOKEN, method: 'HEAD' })).status).toBe(200);

    // A bad reload keeps the config serving and counts a failure; a good one counts a success.
    const m4 = await scrape(hp, TOKEN);
    expect(await s.reload(yaml.replace('interval: 1,', 'interval: 0,'))).toBe(false);
    expect(s.logs.some((l) => l.includes('reload failed: the previous config keeps serving'))).toBe(true);
    expect(await aOf(dns, 'www.example.com')).toEqual([e1.address, e2.address]);
    const m5 = await scrape(hp, TOKEN);
    expect(delta(m4, m5, 'steerdns_config_reloads_total', { result: 'failure' })).toBe(1);
    expect(delta(m4, m5, 'steerdns_config_reloads_total', { result: 'success' })).toBe(0);
    expect(metric(m5, 'steerdns_config_last_reload_successful')).toBe(0);
    expect(await s.reload(yaml)).toBe(true);
    const m6 = await scrape(hp, TOKEN);
    expect(delta(m5, m6, 'steerdns_config_reloads_total', { result: 'success' })).toBe(1);
    expect(metric(m6, 'steerdns_config_last_reload_successful')).toBe(1);
    // An unchanged reload is not a health change: no new event, no new unknown state.
    expect(await events()).toHaveLength(6);
    expect((await pool('P1')).state).toBe('healthy');
  }, 40000);

  test('webhook: the event is POSTed on a health change; notification_filter holds back what it filters', async () => {
    endpoints = await openEndpoints(['127.0.12.11', '127.0.12.12']);
    const [f1, f2] = endpoints;
    const posts: { method: string; url: string; headers: http.IncomingHttpHeaders; body: EventView }[] = [];
    const hook = http.createServer((req, res) => {
      let b = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (b += d));
      req.on('end', () => {
        posts.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: JSON.parse(b) as EventView });
        res.writeHead(204);
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.12.13', r));
    const hookPort = (hook.address() as AddressInfo).port;
    try {
      srv = await startServer(`
server: { listen: ["127.0.0.1:0"], http: "127.0.0.1:0" }
${ZONE}
monitors:
  web: { type: http, port: ${f1.port}, path: /, interval: 1, timeout: 1, retries: 0 }
pools:
  # Only "became unhealthy" for the endpoint; pool changes muted.
  PF:
    monitor: web
    notification_filter: { origin: { healthy: false }, pool: { disable: true } }
    origins: [ { name: f1, address: ${f1.address} } ]
  PG: { monitor: web, origins: [ { name: f2, address: ${f2.address} } ] }
  FB: { origins: [ { name: fb, address: ${FALLBACK} } ] }
load_balancers:
  - { name: f.example.com, default_pools: [PF], fallback_pool: FB }
  - { name: g.example.com, default_pools: [PG], fallback_pool: FB }
notifications:
  webhooks:
    - { name: ops, url: "http://127.0.12.13:${hookPort}/hook", headers: { X-Steer-Test: "yes" }, timeout: 2, max_attempts: 2 }
`);
      const hp = srv.server.statusPort;
      const dns = srv.port;
      const events = async () => (await api<EventView[]>(hp, '/api/events')).result;
      await until('f healthy', () => aOf(dns, 'f.example.com'), (a) => a.join() === f1.address, 1000 + WITHIN_MS);
      await until('g healthy', () => aOf(dns, 'g.example.com'), (a) => a.join() === f2.address, 1000 + WITHIN_MS);

      // f1 down → event 1, posted (origin became unhealthy).
      f1.status = 500;
      await until('event 1', events, (e) => e.length === 1, WITHIN_MS);
      await until('post 1', () => Promise.resolve(posts.length), (n) => n === 1, 2000);
      // f1 up → event 2, filtered (origin.healthy: false, pool muted).
      f1.status = 200;
      await until('event 2', events, (e) => e.length === 2, WITHIN_MS);
      // f2 down and up → events 3 and 4, both posted (PG has no filter).
      f2.status = 500;
      await until('event 3', events, (e) => e.length === 3, WITHIN_MS);
      f2.status = 200;
      const ev = await until('event 4', events, (e) => e.length === 4, WITHIN_MS);
      await until('post 3', () => Promise.resolve(posts.length), (n) => n >= 3, 2000);
      await sleep(500); // nothing else arrives
      expect(posts.map((p) => p.body.id)).toEqual([1, 3, 4]);
      expect(ev.map((e) => [e.id, e.pool.name, e.cause.origin, e.cause.to])).toEqual([
        [1, 'PF', 'f1', 'unhealthy'],
        [2, 'PF', 'f1', 'healthy'],
        [3, 'PG', 'f2', 'unhealthy'],
        [4, 'PG', 'f2', 'healthy'],
      ]);
      // The body is the event as the API shows it.
      expect(posts.map((p) => p.body)).toEqual([ev[0], ev[2], ev[3]]);
      for (const p of posts) {
        expect(p.method).toBe('POST');
        expect(p.url).toBe('/hook');
        expect(p.headers['content-type']).toBe('application/json');
        expect(p.headers['x-steer-test']).toBe('yes');
      }
      expect(posts[0].body.origins).toEqual([
        { name: 'f1', ip: f1.address, enabled: true, healthy: false, failure_reason: 'Response code mismatch error', response_code: 500, changed: true },
      ]);
      expect(posts[0].body.pool).toMatchObject({ name: 'PF', healthy: false, changed: true });
    } finally {
      hook.closeAllConnections();
      await new Promise<void>((r) => hook.close(() => r()));
    }
  }, 30000);
});

test('the exposition parser used above rejects what a Prometheus scraper would', () => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1",y="q\\"uote"} 3\n# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.5\nh_count 2\n';
  expect(parseProm(ok).map((s) => [s.name, s.labels, s.value])).toEqual([
    ['a_total', { x: '1', y: 'q"uote' }, 3],
    ['h_bucket', { le: '1' }, 1],
    ['h_bucket', { le: '+Inf' }, 2],
    ['h_sum', {}, 0.5],
    ['h_count', {}, 2],
  ]);
  const bad: [string, RegExp][] = [
    ['a 1\n', /without # TYPE/],
    ['# TYPE a gauge\na 1\n', /without # HELP/],
    ['# HELP a A.\n# TYPE a gauge\na{x=1} 1\n', /not quoted/],
    ['# HELP a A.\n# TYPE a gauge\na one\n', /bad value/],
    ['# HELP a A.\n# TYPE a gauge\na 1\na 2\n', /duplicate series/],
    ['# HELP a A.\n# TYPE a gauge\na 1\n# TYPE a gauge\n', /TYPE after samples|duplicate TYPE/],
    ['# HELP a A.\n# TYPE a gauge\na  1 2 3\n', /not a sample line/],
  ];
  for (const [text, err] of bad) expect(() => parseProm(text)).toThrow(err);
  expect(() => parseProm('# HELP h H.\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3\n')).toThrow();
});

// The files in deploy/ for Prometheus and Grafana, checked against the real thing:
//   - deploy/prometheus/steerdns-rules.yml passes `promtool check rules` and its unit tests (`promtool test rules`
//     replays series through every alert), and names only metrics the server exports;
//   - deploy/grafana/steerdns.json is a well-formed dashboard (unique panel ids, grid positions, a Prometheus
//     target on every panel), every query and variable names a metric that a running server's /metrics has, and
//     every query is valid PromQL (promtool parses them as recording rules).
// promtool comes from Debian's `prometheus` package (.ci/run installs it).
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { openEndpoints, type Endpoint } from '../helpers/endpoints';
import { request } from '../helpers/http';
import { query, ROOT, startServer, tmpDir, type TestServer } from '../helpers/server';

const RULES = path.join(ROOT, 'deploy', 'prometheus', 'steerdns-rules.yml');
const RULE_TESTS = path.join(ROOT, 'deploy', 'prometheus', 'steerdns-rules.test.yml');
const DASHBOARD = path.join(ROOT, 'deploy', 'grafana', 'steerdns.json');

function promtool(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, { timeout: 60000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('promtool not found: install Debian\'s "prometheus" package (.ci/run does)'));
        return;
      }
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

interface Target {
  expr: string;
  refId: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
}

/** Metric families of a /metrics body: name → type, from the # TYPE lines. */
function families(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1], m[2]);
  return out;
}

/** Whether `name` is a series of one of `fams` (histogram series carry _bucket, _sum and _count). */
function exported(fams: Map<string, string>, name: string): boolean {
  if (fams.has(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m !== null && fams.get(m[1]) === 'histogram';
}

const metricNames = (expr: string): string[] => [...new Set(expr.match(/\bsteerdns_[a-zA-Z0-9_]+/g) ?? [])];

/** Grafana's variables as PromQL would see them once Grafana substituted them. */
function substituted(expr: string): string {
  return expr.replace(/\$__rate_interval/g, '5m').replace(/\$__interval/g, '1m').replace(/\$\{?[a-z_]+\}?/g, '.*');
}

describe('Prometheus rules and Grafana dashboard', () => {
  let endpoints: Endpoint[] = [];
  let srv: TestServer | null = null;
  let fams = new Map<string, string>();

  beforeAll(async () => {
    // A server with every kind of series: a monitored pool (probes, RTT), load balancers that answered.
    endpoints = await openEndpoints(['127.0.15.2']);
    const [e] = endpoints;
    srv = await startServer(`server:
  listen: ["127.0.0.1:0"]
  http: "127.0.0.1:0"
zones:
  - name: example.com
    ns: [ns1.example.com]
    records: [ { name: ns1, type: A, value: 192.0.2.53 } ]
monitors:
  web: { type: http, port: ${e.port}, path: /, interval: 1, timeout: 1, retries: 0 }
pools:
  P1: { monitor: web, origins: [ { name: e1, address: ${e.address} } ] }
load_balancers:
  - { name: www.example.com, default_pools: [P1] }
`);
    for (let i = 0; i < 200 && !srv.server.readiness().ready; i++) await new Promise((r) => setTimeout(r, 25));
    await query(srv.port, 'www.example.com');
    const r = await request(srv.server.statusPort, '/metrics');
    expect(r.status).toBe(200);
    fams = families(r.body);
  });
  afterAll(async () => {
    await srv?.stop();
    await Promise.all(endpoints.map((e) => e.stop()));
  });

  test('promtool check rules, and the rules\' unit tests', async () => {
    const check = await promtool(['check', 'rules', RULES]);
    expect(check.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(check.code).toBe(0);
    const tests = await promtool(['test', 'rules', RULE_TESTS]);
    expect(tests.out).toMatch(/SUCCESS/);
    expect(tests.code).toBe(0);
  });

  test('the rules name only metrics the server exports', () => {
    const text = readFileSync(RULES, 'utf8');
    const exprs = [...text.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]);
    expect(exprs.length).toBeGreaterThanOrEqual(5);
    for (const e of exprs) {
      expect(metricNames(e).length).toBeGreaterThan(0);
      for (const n of metricNames(e)) expect({ metric: n, exported: exported(fams, n) }).toEqual({ metric: n, exported: true });
    }
  });

  test('the Grafana dashboard is well formed and every query names an exported metric', async () => {
    const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    expect(d.title).toBe('steerdns');
    expect(d.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(d.schemaVersion).toBeGreaterThanOrEqual(30);
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const exprs: string[] = [];
    for (const p of d.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      expect(p.gridPos.h).toBeGreaterThan(0);
      if (p.type === 'row') continue;
      expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length ?? 0).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        const names = metricNames(t.expr);
        expect({ panel: p.title, names: names.length > 0 }).toEqual({ panel: p.title, names: true });
        for (const n of names) expect({ panel: p.title, metric: n, exported: exported(fams, n) }).toEqual({ panel: p.title, metric: n, exported: true });
        exprs.push(t.expr);
      }
    }
    for (const v of d.templating.list) {
      if (v.type !== 'query') continue;
      for (const n of metricNames(v.definition ?? '')) expect({ variable: v.name, metric: n, exported: exported(fams, n) }).toEqual({ variable: v.name, metric: n, exported: true });
    }
    // Valid PromQL: promtool parses each query as the expression of a recording rule.
    const dir = tmpDir();
    const file = path.join(dir, 'dashboard-queries.yml');
    const rules = exprs.map((e, i) => `      - record: steerdns:dashboard_query_${i}\n        expr: ${JSON.stringify(substituted(e))}`).join('\n');
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
    const check = await promtool(['check', 'rules', file]);
    expect(check.out).toContain(`SUCCESS: ${exprs.length} rules found`);
  });
});

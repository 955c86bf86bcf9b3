// Shared health end to end: a real redis-server and three real steerdns processes (`node dist/cli.js serve`; `npm
// test` builds first), three vantage points in three regions, each probing from its own source address
// (server.probe_source 127.0.0.11/12/13) an HTTP origin on loopback that answers differently per caller. SJC runs
// two cluster workers: its primary publishes and aggregates, and pushes the global view to them.
//   - one of three vantage points failing leaves the pool in service on all three instances;
//   - two of three failing fail it over on all three within one interval plus the quorum delay, and the event
//     names the vantage points; recovery fails back everywhere;
//   - check_regions limits the voters: a pool voted on by WEU alone follows AMS only;
//   - killing Redis keeps every instance answering (last view, then local results) with 0 lost queries, and a
//     restarted Redis brings the shared view back.
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { aOf, until } from '../helpers/endpoints';
import { QueryStream } from '../helpers/query-stream';
import { TestRedis } from '../helpers/redis';
import { answers, rcodeOf, ROOT, sleep, spawnServer, writeConfig, type ProcessServer } from '../helpers/server';

jest.setTimeout(120_000);

const ORIGIN = '127.0.0.21';
const BACKUP = '127.0.0.22';
const VPS = [
  { pop: 'AMS', region: 'WEU', source: '127.0.0.11' },
  { pop: 'IAD', region: 'ENAM', source: '127.0.0.12' },
  { pop: 'SJC', region: 'WNAM', source: '127.0.0.13', workers: 2 },
] as const;
type Pop = (typeof VPS)[number]['pop'];

/** An HTTP origin that fails (503) for the probe source addresses in `failing`. */
class PerCallerOrigin {
  readonly failing = new Set<string>();
  readonly seen = new Map<string, number>();
  private server: http.Server | null = null;
  port = 0;

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const from = req.socket.remoteAddress ?? '';
      this.seen.set(from, (this.seen.get(from) ?? 0) + 1);
      const status = this.failing.has(from) ? 503 : 200;
      res.writeHead(status, { connection: 'close' });
      res.end(status === 200 ? 'ok\n' : 'no\n');
    });
    await new Promise<void>((resolve) => server.listen(0, ORIGIN, resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  fail(...pops: Pop[]): void {
    this.failing.clear();
    for (const p of pops) this.failing.add(VPS.find((v) => v.pop === p)!.source);
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

function configFor(vp: (typeof VPS)[number], redisUrl: string, originPort: number): string {
  return `server:
  listen: ["127.0.0.1:0"]
  http: "127.0.0.1:0"
  pop: { code: ${vp.pop}, region: ${vp.region} }
  probe_source: ${vp.source}
  workers: ${'workers' in vp ? vp.workers : 1}
  shared_health: { url: "${redisUrl}", key_prefix: "e2e:", grace: 2, poll_interval: 0.25, timeout: 0.5 }
zones:
  - name: example.com
    ns: [ns1.example.com]
    records: [{ name: ns1, type: A, value: 127.0.0.53 }]
monitors:
  web: { type: http, port: ${originPort}, path: /health, interval: 1, timeout: 0.5, retries: 0 }
pools:
  a: { monitor: web, origins: [{ name: o, address: ${ORIGIN} }] }
  weu: { monitor: web, check_regions: [WEU], origins: [{ name: o, address: ${ORIGIN} }] }
  b: { origins: [{ name: backup, address: ${BACKUP} }] }
load_balancers:
  - { name: www.example.com, default_pools: [a], fallback_pool: b }
  - { name: eu.example.com, default_pools: [weu], fallback_pool: b }
`;
}

interface Instance {
  vp: (typeof VPS)[number];
  proc: ProcessServer;
  http: number;
}

/** `steerdns explain --health live` with an instance's config: reads the shared view from Redis. */
function explainLive(i: Instance, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'explain', '-c', i.proc.configPath, '--name', name, '--type', 'A', '--health', 'live'], { timeout: 20000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function httpPortOf(proc: ProcessServer): number {
  for (const line of proc.stderr().split('\n')) {
    if (!line.includes('"steerdns started"')) continue;
    const rec = JSON.parse(line) as { http: string };
    return Number(rec.http.split(':').pop());
  }
  throw new Error('no "steerdns started" line');
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, timeout: 3000 }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function json<T>(port: number, path: string): Promise<T> {
  return (JSON.parse((await get(port, path)).body) as { result: T }).result;
}

/** The A answer for `name` on every instance, keyed by PoP. */
async function answersEverywhere(all: Instance[], name: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const i of all) out[i.vp.pop] = (await aOf(i.proc.port, name)).join(',');
  return out;
}

function everywhere(v: Record<string, string>, want: string): boolean {
  return Object.values(v).length === VPS.length && Object.values(v).every((a) => a === want);
}

describe('shared health: three vantage points, one Redis', () => {
  let redis: TestRedis;
  let origin: PerCallerOrigin;
  const all: Instance[] = [];

  beforeAll(async () => {
    redis = await TestRedis.start();
    origin = new PerCallerOrigin();
    await origin.start();
    for (const vp of VPS) {
      const proc = await spawnServer(writeConfig(configFor(vp, redis.url, origin.port)), 20000);
      all.push({ vp, proc, http: httpPortOf(proc) });
    }
    // Every instance on the global view, with fresh results from all three vantage points.
    for (const i of all) {
      await until(`${i.vp.pop} shared view of 3`, () => get(i.http, '/readyz'), (r) => r.status === 200 && r.body.includes('global view from 3 vantage point(s)'), 20000);
    }
    await until('www on a everywhere', () => answersEverywhere(all, 'www.example.com'), (v) => everywhere(v, ORIGIN), 10000);
  });

  afterAll(async () => {
    await Promise.all(all.map((i) => i.proc.stop()));
    await origin?.stop();
    await redis?.kill();
  });

  test('each vantage point probes from its own source address', () => {
    for (const vp of VPS) expect(origin.seen.get(vp.source) ?? 0).toBeGreaterThan(0);
  });

  test('one of three vantage points failing leaves the pool in service on all three', async () => {
    origin.fail('IAD');
    // IAD's own view turns unhealthy (pop_health shows it), the global view does not.
    await until(
      'IAD sees the origin fail',
      () => json<{ pop_health: Record<string, { healthy: boolean }> }>(all[0].http, '/api/pools/a/health'),
      (h) => h.pop_health.IAD?.healthy === false && h.pop_health.AMS?.healthy === true && h.pop_health.SJC?.healthy === true,
      10000,
    );
    // Several intervals and a whole ttl: www stays on a everywhere, at every sample.
    const end = Date.now() + 4000;
    while (Date.now() < end) {
      expect(await answersEverywhere(all, 'www.example.com')).toEqual({ AMS: ORIGIN, IAD: ORIGIN, SJC: ORIGIN });
      await sleep(100);
    }
    const pool = await json<{ healthy: boolean; pop_health: Record<string, { healthy: boolean; region: string; origins: Record<string, { healthy: boolean; failure_reason: string; response_code: number | null }>[] }> }>(all[1].http, '/api/pools/a/health');
    expect(pool.healthy).toBe(true);
    expect(pool.pop_health.IAD).toMatchObject({ healthy: false, region: 'ENAM' });
    expect(pool.pop_health.IAD.origins[0][ORIGIN]).toMatchObject({ healthy: false, failure_reason: 'Response code mismatch error', response_code: 503 });
  });

  test('two of three failing fail it over on all three within one interval plus the quorum delay; recovery fails back', async () => {
    const t0 = Date.now();
    origin.fail('IAD', 'AMS');
    await until('www on b everywhere', () => answersEverywhere(all, 'www.example.com'), (v) => everywhere(v, BACKUP), 10000);
    const tookMs = Date.now() - t0;
    // interval 1 s (AMS's next probe) + publish/read rounds of 0.25 s: generous for a loaded machine.
    expect(tookMs).toBeLessThan(6000);
    // The event log records the global change with the vantage points behind it.
    const events = await json<{ pool: { name: string; healthy: boolean }; vantage_points?: { pop: string; healthy: boolean }[]; regions?: { region: string; healthy: boolean }[] }[]>(all[2].http, '/api/events?pool=a');
    const last = events[events.length - 1];
    expect(last.pool).toMatchObject({ name: 'a', healthy: false });
    expect(last.vantage_points?.filter((v) => !v.healthy).map((v) => v.pop).sort()).toEqual(['AMS', 'IAD']);
    expect(last.regions?.filter((r) => r.healthy).map((r) => r.region)).toEqual(['WNAM']);
    // explain --health live reads the same global view from the store.
    const out = await explainLive(all[2], 'www.example.com');
    expect(out).toMatch(/health: shared view from redis:\/\/127\.0\.0\.1:\d+\/0: 3 vantage point\(s\) \(AMS\/WEU, IAD\/ENAM, SJC\/WNAM\)/);
    expect(out).toContain('chosen pool: b');

    origin.fail();
    await until('www back on a everywhere', () => answersEverywhere(all, 'www.example.com'), (v) => everywhere(v, ORIGIN), 10000);
  });

  test('check_regions limits the voters', async () => {
    // IAD and SJC fail: www (every region votes) fails over, eu (WEU alone votes) stays.
    origin.fail('IAD', 'SJC');
    await until('www on b everywhere', () => answersEverywhere(all, 'www.example.com'), (v) => everywhere(v, BACKUP), 10000);
    // eu stays (a starved host can delay a vantage point's round past its grace period, so that it decides alone
    // for a moment: the shared view must win again within the bound).
    await until('eu on a everywhere', () => answersEverywhere(all, 'eu.example.com'), (v) => everywhere(v, ORIGIN), 10000);
    // AMS alone fails: eu fails over everywhere, www (2 of 3 pass) stays.
    origin.fail('AMS');
    await until('eu on b everywhere', () => answersEverywhere(all, 'eu.example.com'), (v) => everywhere(v, BACKUP), 10000);
    await until('www on a everywhere', () => answersEverywhere(all, 'www.example.com'), (v) => everywhere(v, ORIGIN), 10000);
    const eu = await json<{ pop_health: Record<string, { voting: boolean }> }>(all[0].http, '/api/pools/weu/health');
    expect(eu.pop_health.AMS.voting).toBe(true);
    expect(eu.pop_health.IAD.voting).toBe(false);
    origin.fail();
    await until('eu back on a everywhere', () => answersEverywhere(all, 'eu.example.com'), (v) => everywhere(v, ORIGIN), 10000);
  });

  test('killing Redis: every instance keeps answering (last view, then local) with 0 lost queries; a restart restores the shared view', async () => {
    const streams = await Promise.all(
      all.map((i) =>
        QueryStream.open({
          port: i.proc.port,
          nameOf: (id) => (id % 2 === 0 ? 'www.example.com' : 'eu.example.com'),
          retryAfterMs: 500,
          lostAfterMs: 1000,
          answerOf: (p) => answers(p, 'A').join(','),
          check: (p, name, answer) => (rcodeOf(p) !== 'NOERROR' || (answer !== ORIGIN && answer !== BACKUP) ? [`${i.vp.pop} ${name}: ${rcodeOf(p)} [${answer}]`] : []),
        }),
      ),
    );
    const readyz = (i: Instance) => get(i.http, '/readyz');
    const script = async (): Promise<void> => {
      await sleep(500);
      await redis.kill();
      // First the last global view (grace 2 s), then this vantage point's own results.
      for (const i of all) await until(`${i.vp.pop} grace or local`, () => readyz(i), (r) => r.status === 200 && /keeping the last global view|own results/.test(r.body), 5000);
      for (const i of all) await until(`${i.vp.pop} local`, () => readyz(i), (r) => r.status === 200 && r.body.includes("this vantage point's own results"), 8000);
      // Local now: IAD's own failures decide for IAD alone.
      origin.fail('IAD');
      await until('IAD alone on b', () => answersEverywhere(all, 'www.example.com'), (v) => v.IAD === BACKUP && v.AMS === ORIGIN && v.SJC === ORIGIN, 8000);
      const metrics = (await get(all[1].http, '/metrics')).body;
      expect(metrics).toMatch(/steerdns_shared_health_mode\{mode="local"\} 1/);
      expect(metrics).toMatch(/steerdns_shared_health_store_up 0/);
      await redis.start();
      // Back to the shared view: IAD is outvoted again.
      for (const i of all) await until(`${i.vp.pop} shared again`, () => readyz(i), (r) => r.body.includes('global view from 3 vantage point(s)'), 15000);
      await until('www on a everywhere again', () => answersEverywhere(all, 'www.example.com'), (v) => everywhere(v, ORIGIN), 10000);
      origin.fail();
    };
    const [results] = await Promise.all([Promise.all(streams.map((s) => s.run({ durationMs: 20000, drainMs: 3000, perSecond: 150 }))), script()]);
    for (const s of streams) s.close();
    results.forEach((r, n) => {
      expect({ pop: all[n].vp.pop, lost: r.lost, unanswered: r.unanswered }).toEqual({ pop: all[n].vp.pop, lost: [], unanswered: [] });
      expect(r.sent).toBeGreaterThan(2000);
    });
    for (const s of streams) expect(s.bad).toEqual([]);
  });
});

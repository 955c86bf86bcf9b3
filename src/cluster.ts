// Multi-core: `server.workers: N` runs N cluster workers that share the DNS sockets and answer queries, while the
// primary runs the monitors and the status API, pushes health to the workers, and coordinates reloads.
//
// Messages (primary ⇄ worker, over the cluster IPC channel):
//   → {type:'start'|'reload', seq, text[, snapshot]}   config text the primary validated; the worker builds from
//                                          it (a reload carries the health of the new targets, see reload())
//   ← {type:'started'|'reloaded', seq, ok}
//   → {type:'health', snapshot}            states of targets that changed (or all, for a new worker)
//   → {type:'targets', keys}               the configured targets (workers drop the rest)
//   → {type:'stats', seq}  ← {type:'stats', seq, stats}   counters for /metrics
//   → {type:'shutdown'}
import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { SteerDnsServer, VERSION } from './app';
import { formatProblem, hasErrors, loadConfigText } from './config/load';
import type { Config } from './config/types';
import { HealthService } from './health/service';
import type { HealthSnapshot } from './health/store';
import { buildTargets } from './health/targets';
import { HostnameResolver } from './lb/hostnames';
import { LbCounters, LbStatsRegistry } from './lb/stats';
import { StatusHttpServer } from './observe/http';
import type { Logger } from './observe/log';
import { createMetrics, ProbeStats, type ReloadStats } from './observe/metrics';
import { QueryStats } from './observe/query-stats';
import { statusSummary } from './observe/status';
import { buildRuntime, GeoCache, type Runtime } from './runtime';

interface SerializedStats {
  queries: number[];
  truncated: number[];
  dropped: [string, number][];
  tcpRejected: [string, number][];
  latencyBuckets: number[];
  latencySum: number;
  latencyCount: number;
  tcpConnections: number;
  lbs: [string, { queries: number; fallback: number; nodata: number; pools: [string, number][] }][];
}

type ToWorker =
  | { type: 'start' | 'reload'; seq: number; text: string; snapshot?: HealthSnapshot }
  | { type: 'health'; snapshot: HealthSnapshot }
  | { type: 'targets'; keys: string[] }
  | { type: 'stats'; seq: number }
  | { type: 'shutdown' };

type FromWorker =
  | { type: 'started' | 'reloaded'; seq: number; ok: boolean; error?: string }
  | { type: 'stats'; seq: number; stats: SerializedStats };

// ---- worker ------------------------------------------------------------------------------------------

function serializeStats(server: SteerDnsServer): SerializedStats {
  const q = server.queryStats;
  return {
    queries: Array.from(q.queries),
    truncated: Array.from(q.truncated),
    dropped: [...q.dropped],
    tcpRejected: [...q.tcpRejected],
    latencyBuckets: Array.from(q.latencyBuckets),
    latencySum: q.latencySum,
    latencyCount: q.latencyCount,
    tcpConnections: server.tcpConnections,
    lbs: [...server.lbStats.entries()].map(([name, c]) => [name, { queries: c.queries, fallback: c.fallback, nodata: c.nodata, pools: [...c.pools] }]),
  };
}

export function runWorker(configPath: string, logger: Logger): number {
  const log = logger.child({ worker: cluster.worker?.id });
  const server = new SteerDnsServer({ configPath, logger: log, role: 'worker' });
  const send = (m: FromWorker) => process.send?.(m);
  // The primary decides about reloads and shutdown; group signals (Ctrl-C, SIGHUP to the group) are its business.
  process.on('SIGHUP', () => undefined);
  process.on('SIGINT', () => undefined);
  process.on('disconnect', () => {
    void server.stop().then(() => process.exit(0));
  });
  process.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'start':
        server.start(m.text).then(
          () => send({ type: 'started', seq: m.seq, ok: true }),
          (err: unknown) => send({ type: 'started', seq: m.seq, ok: false, error: String(err) }),
        );
        break;
      case 'reload':
        // Health of the new config's targets first (state carried over to changed keys), then the new runtime.
        if (m.snapshot) server.store.restore(m.snapshot, new Set(m.snapshot.targets.map((t) => t.key)));
        void server.reload(m.text).then((ok) => send({ type: 'reloaded', seq: m.seq, ok }));
        break;
      case 'health':
        server.store.restore(m.snapshot, new Set(m.snapshot.targets.map((t) => t.key)));
        break;
      case 'targets':
        server.store.retain(new Set(m.keys));
        break;
      case 'stats':
        send({ type: 'stats', seq: m.seq, stats: serializeStats(server) });
        break;
      case 'shutdown':
        void server.stop().then(() => process.exit(0));
        break;
    }
  });
  return -1;
}

// ---- primary -----------------------------------------------------------------------------------------

interface WorkerState {
  worker: Worker;
  listening: boolean;
}

class ClusterPrimary {
  private config!: Config;
  private text = '';
  private runtime!: Runtime;
  private readonly health: HealthService;
  private readonly hostnames: HostnameResolver;
  private readonly geoCache = new GeoCache();
  private readonly workers = new Map<number, WorkerState>();
  private readonly pending = new Map<number, (m: FromWorker) => void>();
  private seq = 0;
  private http: StatusHttpServer | null = null;
  /** The status API's bound port (server.http may say port 0), 0 when disabled. */
  private httpPort = 0;
  private stopping = false;
  private readonly restarts: number[] = [];
  private dirty = new Set<string>();
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly probeStats = new ProbeStats();
  private readonly reloads: ReloadStats = { reloads: 0, reloadFailures: 0, lastReloadSuccess: true, lastReloadAt: 0 };
  private readonly startedAt = Date.now();

  constructor(
    private readonly configPath: string,
    private readonly log: Logger,
  ) {
    this.health = new HealthService({
      logger: log.child({ component: 'health' }),
      scheduler: {
        onAttempt: (t, r, ms) => {
          this.probeStats.record(t.users[0]?.monitor ?? '?', t.monitor.type, r.ok, r.ok ? 'No failures' : r.reason, ms / 1000);
          this.markDirty(t.key, false); // RTT moved: workers need it for dynamic steering, batched
        },
      },
    });
    this.health.store.onTransition((t) => this.markDirty(t.key, true));
    this.hostnames = new HostnameResolver(() => undefined, log.child({ component: 'hostnames' }));
  }

  private readText(): string {
    return readFileSync(this.configPath, 'utf8');
  }

  /** Validates a config text by building a runtime from it; the primary keeps it for the status API. */
  private validate(text: string): { config: Config; runtime: Runtime } | null {
    const loaded = loadConfigText(text, this.configPath);
    const problems = [...loaded.problems];
    let runtime: Runtime | null = null;
    if (loaded.config) {
      const built = buildRuntime(loaded.config, { store: this.health.store, hostnames: this.hostnames, geoCache: this.geoCache, lbStats: new LbStatsRegistry() });
      problems.push(...built.problems);
      runtime = built.runtime;
    }
    for (const p of problems) (p.severity === 'error' ? this.log.error : this.log.warn).call(this.log, formatProblem(p), { kind: 'config' });
    if (!loaded.config || !runtime || hasErrors(problems)) return null;
    return { config: loaded.config, runtime };
  }

  async start(): Promise<void> {
    const text = this.readText();
    const v = this.validate(text);
    if (!v) throw new Error(`${this.configPath}: config has errors`);
    this.text = text;
    this.config = v.config;
    this.runtime = v.runtime;
    this.reloads.lastReloadAt = Date.now();
    await this.health.start(this.config);
    cluster.on('exit', (w, code, signal) => this.onExit(w, code, signal));
    await Promise.all(Array.from({ length: this.config.server.workers }, () => this.fork()));
    if (this.config.server.http) {
      const registry = createMetrics({
        queryStats: () => this.gatherStats().then((s) => s.query),
        lbStats: () => this.gatherStats().then((s) => s.lbs),
        probeStats: this.probeStats,
        reloads: this.reloads,
        status: () => ({ runtime: this.runtime, store: this.health.store }),
        tcpConnections: () => this.lastTcpConnections,
      });
      this.http = new StatusHttpServer({
        registry: () => Promise.resolve(registry),
        status: () => ({ runtime: this.runtime, store: this.health.store }),
        events: (q) => this.health.events.list(q),
        ready: () => this.readiness(),
        summary: () => this.summary(),
        token: () => this.config.server.http_token,
        log: this.log.child({ component: 'http' }),
      });
      this.httpPort = await this.http.start(this.config.server.http);
    }
    process.on('SIGHUP', () => {
      this.log.info('SIGHUP: reloading');
      void this.reload();
    });
    process.once('SIGTERM', () => void this.shutdown('SIGTERM'));
    process.once('SIGINT', () => void this.shutdown('SIGINT'));
    this.log.info('steerdns started', {
      role: 'primary',
      workers: this.config.server.workers,
      listen: this.config.server.listen.map((a) => `${a.family === 6 ? `[${a.host}]` : a.host}:${a.port}`),
      http: this.httpPort ? `${this.config.server.http?.host}:${this.httpPort}` : null,
      zones: this.config.zones.map((z) => z.name),
      load_balancers: this.config.load_balancers.length,
    });
  }

  private lastTcpConnections = 0;

  private fork(): Promise<void> {
    const worker = cluster.fork();
    const state: WorkerState = { worker, listening: false };
    this.workers.set(worker.id, state);
    worker.on('message', (m: FromWorker) => {
      const cb = this.pending.get(m.seq);
      if (cb) {
        this.pending.delete(m.seq);
        cb(m);
      }
    });
    return new Promise<void>((resolve, reject) => {
      worker.once('online', () => {
        const seq = ++this.seq;
        this.pending.set(seq, (m) => {
          if (m.type === 'started' && m.ok) {
            state.listening = true;
            worker.send({ type: 'targets', keys: buildTargets(this.config).map((t) => t.key) } satisfies ToWorker);
            worker.send({ type: 'health', snapshot: this.health.store.snapshot() } satisfies ToWorker);
            resolve();
          } else {
            reject(new Error(`worker ${worker.id} failed to start: ${m.type === 'started' ? m.error : ''}`));
          }
        });
        worker.send({ type: 'start', seq, text: this.text } satisfies ToWorker);
      });
    });
  }

  private onExit(w: Worker, code: number | null, signal: string | null): void {
    this.workers.delete(w.id);
    if (this.stopping) return;
    this.log.error('worker exited unexpectedly; starting a new one', { worker: w.id, code, signal });
    const now = Date.now();
    this.restarts.push(now);
    while (this.restarts.length && now - this.restarts[0] > 60000) this.restarts.shift();
    const delay = this.restarts.length > 5 ? 5000 : 200;
    setTimeout(() => {
      if (!this.stopping) this.fork().catch((err: unknown) => this.log.error('worker restart failed', { err: String(err) }));
    }, delay).unref();
  }

  private markDirty(key: string, urgent: boolean): void {
    this.dirty.add(key);
    if (urgent) {
      this.flush();
      return;
    }
    if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), 250);
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.dirty.size === 0) return;
    const snapshot = this.health.store.snapshot(this.dirty);
    this.dirty = new Set();
    this.broadcast({ type: 'health', snapshot });
  }

  private broadcast(m: ToWorker): void {
    for (const { worker, listening } of this.workers.values()) if (listening && worker.isConnected()) worker.send(m);
  }

  private request(worker: Worker, make: (seq: number) => ToWorker, timeoutMs: number): Promise<FromWorker | null> {
    return new Promise((resolve) => {
      const seq = ++this.seq;
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        resolve(null);
      }, timeoutMs);
      this.pending.set(seq, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      if (worker.isConnected()) worker.send(make(seq));
    });
  }

  private async reload(): Promise<void> {
    const text = this.readText();
    const v = this.validate(text);
    if (!v) {
      this.reloads.reloadFailures++;
      this.reloads.lastReloadSuccess = false;
      this.log.error('reload failed: the previous config keeps serving', { config: this.configPath });
      return;
    }
    this.text = text;
    this.config = v.config;
    this.runtime = v.runtime;
    await this.health.reload(v.config);
    // The snapshot goes with the reload: a target whose key changed only in scheduling fields (interval, timeout,
    // retries, consecutive_*) carried its state over in this store, and a worker that swapped in the new runtime
    // before the broadcast below would otherwise answer from the fallback pool for that target meanwhile.
    const snapshot = this.health.store.snapshot();
    const results = await Promise.all([...this.workers.values()].map((s) => this.request(s.worker, (seq) => ({ type: 'reload', seq, text, snapshot }), 10000)));
    this.broadcast({ type: 'targets', keys: buildTargets(v.config).map((t) => t.key) });
    this.broadcast({ type: 'health', snapshot: this.health.store.snapshot() });
    const failed = results.filter((r) => !r || r.type !== 'reloaded' || !r.ok).length;
    if (failed > 0) this.log.error('reload: some workers kept the previous config', { failed });
    this.reloads.reloads++;
    this.reloads.lastReloadSuccess = failed === 0;
    this.reloads.lastReloadAt = Date.now();
    this.log.info('config reloaded', { config: this.configPath, workers: results.length - failed });
  }

  private async gatherStats(): Promise<{ query: QueryStats; lbs: Map<string, LbCounters> }> {
    const replies = await Promise.all([...this.workers.values()].map((s) => this.request(s.worker, (seq) => ({ type: 'stats', seq }), 1000)));
    const query = new QueryStats();
    const lbs = new Map<string, LbCounters>();
    let tcp = 0;
    for (const r of replies) {
      if (!r || r.type !== 'stats') continue;
      const s = r.stats;
      s.queries.forEach((n, i) => (query.queries[i] += n));
      s.truncated.forEach((n, i) => (query.truncated[i] += n));
      for (const [k, n] of s.dropped) query.dropped.set(k, (query.dropped.get(k) ?? 0) + n);
      for (const [k, n] of s.tcpRejected) query.tcpRejected.set(k, (query.tcpRejected.get(k) ?? 0) + n);
      s.latencyBuckets.forEach((n, i) => (query.latencyBuckets[i] += n));
      query.latencySum += s.latencySum;
      query.latencyCount += s.latencyCount;
      tcp += s.tcpConnections;
      for (const [name, c] of s.lbs) {
        let t = lbs.get(name);
        if (!t) {
          t = new LbCounters();
          lbs.set(name, t);
        }
        t.queries += c.queries;
        t.fallback += c.fallback;
        t.nodata += c.nodata;
        for (const [p, n] of c.pools) t.pool(p).n += n;
      }
    }
    this.lastTcpConnections = tcp;
    return { query, lbs };
  }

  private readiness(): { ready: boolean; reason: string } {
    if (this.stopping) return { ready: false, reason: 'shutting down' };
    const listening = [...this.workers.values()].filter((w) => w.listening).length;
    if (listening < this.config.server.workers) return { ready: false, reason: `${listening}/${this.config.server.workers} workers listening` };
    if (!this.health.scheduler.isFirstRoundDone) return { ready: false, reason: 'first round of health probes not done' };
    return { ready: true, reason: '' };
  }

  private summary(): Record<string, unknown> {
    return {
      ...statusSummary({ role: 'primary', runtime: this.runtime, reloads: this.reloads, startedAt: this.startedAt, ready: this.readiness().ready, version: VERSION }),
      workers: [...this.workers.values()].map((w) => ({ id: w.worker.id, pid: w.worker.process.pid, listening: w.listening })),
      probe_targets: this.health.scheduler.stats().targets,
    };
  }

  private async shutdown(sig: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info(`${sig}: shutting down`);
    const exits = [...this.workers.values()].map(
      ({ worker }) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            worker.kill('SIGKILL');
            resolve();
          }, 5000);
          worker.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          if (worker.isConnected()) worker.send({ type: 'shutdown' } satisfies ToWorker);
          else worker.kill();
        }),
    );
    await Promise.all(exits);
    this.hostnames.stop();
    if (this.http) await this.http.close();
    await this.health.stop();
    this.log.info('steerdns stopped');
    process.exit(0);
  }
}

export async function runPrimary(configPath: string, logger: Logger): Promise<number> {
  const primary = new ClusterPrimary(configPath, logger);
  try {
    await primary.start();
  } catch (err) {
    logger.error('cannot start', { err: err instanceof Error ? err.message : String(err) });
    for (const id of Object.keys(cluster.workers ?? {})) cluster.workers?.[id]?.kill();
    return 1;
  }
  return -1;
}

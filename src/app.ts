// The running server: loads the config, builds the runtime, opens the DNS listeners, runs the monitors and the
// operations HTTP listener, and handles SIGHUP (atomic reload; a bad file keeps the old config serving) and
// SIGTERM/SIGINT (clean stop). As a cluster worker it serves DNS only and takes health from the primary.
import cluster from 'node:cluster';
import { performance } from 'node:perf_hooks';
import { formatProblem, hasErrors, loadConfigFile, loadConfigText, type LoadResult } from './config/load';
import type { Config, ListenAddress, Problem } from './config/types';
import { resolveInternally } from './dns/authority';
import { ClientInfo } from './dns/dynamic';
import { QueryContext } from './dns/context';
import { handleQuery } from './dns/handler';
import { TcpListener } from './dns/server/tcp';
import type { TransportEvents } from './dns/server/types';
import { UdpListener } from './dns/server/udp';
import type { EventQuery, HealthEvent } from './health/events';
import { HealthService } from './health/service';
import { HealthStore } from './health/store';
import { HostnameResolver } from './lb/hostnames';
import { LbStatsRegistry, type LbCounters } from './lb/stats';
import { StatusHttpServer } from './observe/http';
import { createLogger, type Logger } from './observe/log';
import { createMetrics, ProbeStats, type MetricsSource, type ReloadStats } from './observe/metrics';
import { QueryStats } from './observe/query-stats';
import { statusSummary, type StatusDeps } from './observe/status';
import { buildRuntime, GeoCache, type Runtime } from './runtime';
import { formatIp } from './util/ip';

export type Role = 'single' | 'worker';

export interface ServerOptions {
  configPath: string;
  logger?: Logger;
  /** Install SIGHUP/SIGTERM/SIGINT handlers (the CLI does; in-process tests don't). */
  signals?: boolean;
  /** 'worker': DNS only, sockets shared through the cluster primary, health pushed by the primary. */
  role?: Role;
}

interface ListenerPair {
  address: ListenAddress;
  udp: UdpListener;
  tcp: TcpListener;
}

export class SteerDnsServer {
  runtime!: Runtime;
  readonly role: Role;
  readonly store: HealthStore;
  /** Monitors, events, notifications, state file: in the single process, or in the cluster primary. */
  readonly health: HealthService | null;
  readonly log: Logger;
  readonly hostnames: HostnameResolver;
  readonly queryStats = new QueryStats();
  readonly lbStats = new LbStatsRegistry();
  readonly probeStats = new ProbeStats();
  readonly reloads: ReloadStats = { reloads: 0, reloadFailures: 0, lastReloadSuccess: true, lastReloadAt: 0 };
  private readonly geoCache = new GeoCache();
  private listeners: ListenerPair[] = [];
  private http: StatusHttpServer | null = null;
  private httpPort = 0;
  private reloading: Promise<boolean> | null = null;
  private reloadAgain = false;
  private stopped = false;
  private readonly startedAt = Date.now();
  private readonly events: TransportEvents;

  constructor(private readonly opts: ServerOptions) {
    this.role = opts.role ?? 'single';
    this.log = opts.logger ?? createLogger('info');
    if (this.role === 'single') {
      this.health = new HealthService({
        logger: this.log.child({ component: 'health' }),
        scheduler: { onAttempt: (t, r, ms) => this.probeStats.record(t.users[0]?.monitor ?? '?', t.monitor.type, r.ok, r.ok ? 'No failures' : r.reason, ms / 1000) },
      });
      this.store = this.health.store;
    } else {
      this.health = null;
      this.store = new HealthStore();
    }
    this.hostnames = new HostnameResolver(() => undefined, this.log.child({ component: 'hostnames' }));
    this.events = {
      dropped: (transport, reason) => this.queryStats.drop(transport, reason),
      tcpRejected: (reason) => this.queryStats.reject(reason),
    };
  }

  /** The answer function the listeners call: always the current runtime. */
  private readonly respond = (pkt: Buffer, remote: string, transport: 'udp' | 'tcp'): Uint8Array | null => {
    // Every 8th query is timed for the latency histogram: two clock reads cost ~0.1 µs of a ~10 µs budget.
    const timed = (++this.sampleTick & 7) === 0;
    const t0 = timed ? performance.now() : 0;
    const ctx = this.ctx;
    const out = handleQuery(ctx, this.runtime, pkt, remote, transport);
    if (out === null) return null;
    const outcome = ctx.outcome;
    this.queryStats.record(transport, outcome.rcode, outcome.qtype, outcome.truncated, timed ? (performance.now() - t0) / 1000 : -1);
    return out;
  };
  private sampleTick = 0;
  private readonly ctx = new QueryContext();

  /** DNS ports actually bound, per configured address (port 0 in the config picks a free one). */
  get boundPorts(): { address: string; port: number }[] {
    return this.listeners.map((l) => ({ address: l.address.host, port: l.udp.port }));
  }

  /** The status API's port, 0 when disabled. */
  get statusPort(): number {
    return this.httpPort;
  }

  get tcpConnections(): number {
    return this.listeners.reduce((n, l) => n + l.tcp.connectionCount, 0);
  }

  async start(configText?: string): Promise<void> {
    const loaded = this.load(configText);
    this.report(loaded.problems);
    if (!loaded.config) throw new Error(`${this.opts.configPath}: config has errors`);
    const config = loaded.config;
    const built = buildRuntime(config, { store: this.store, hostnames: this.hostnames, geoCache: this.geoCache, lbStats: this.lbStats });
    this.report(built.problems);
    if (!built.runtime) throw new Error('config has errors');
    this.swap(built.runtime);
    this.reloads.lastReloadAt = Date.now();
    if (this.health) await this.health.start(config);
    for (const a of config.server.listen) this.listeners.push(await this.openListener(a, config));
    if (this.role === 'single' && config.server.http) await this.startHttp(config);
    await this.hostnames.setNames(built.runtime.hostnames);
    this.log.info('steerdns started', {
      role: this.role,
      config: config.file,
      listen: this.listeners.map((l) => `${l.address.family === 6 ? `[${l.address.host}]` : l.address.host}:${l.udp.port}`),
      http: this.httpPort ? `${config.server.http?.host}:${this.httpPort}` : null,
      zones: config.zones.map((z) => z.name),
      load_balancers: config.load_balancers.length,
      pop: built.runtime.pop.code,
    });
    if (this.opts.signals) this.installSignals();
  }

  private load(text?: string): LoadResult {
    return text === undefined ? loadConfigFile(this.opts.configPath) : loadConfigText(text, this.opts.configPath);
  }

  private report(problems: Problem[]): void {
    for (const p of problems) {
      if (p.severity === 'error') this.log.error(formatProblem(p), { kind: 'config' });
      else this.log.warn(formatProblem(p), { kind: 'config' });
    }
  }

  private swap(rt: Runtime): void {
    this.runtime = rt;
    this.hostnames.setInternalLookup((name, family) => internalAddresses(rt, name, family));
  }

  private async openListener(a: ListenAddress, config: Config): Promise<ListenerPair> {
    const limits = { idleTimeout: config.server.tcp.idle_timeout, maxConnections: config.server.tcp.max_connections, maxConnectionsPerClient: config.server.tcp.max_connections_per_client };
    const log = this.log.child({ component: 'dns' });
    // Cluster workers share one socket per address through the primary (exclusive: false).
    const exclusive = this.role !== 'worker';
    // With port 0, UDP picks a free port and TCP takes the same one (retrying if it happens to be busy).
    for (let attempt = 0; ; attempt++) {
      const udp = new UdpListener(a, this.respond, this.events, log);
      await udp.start(exclusive);
      const tcp = new TcpListener({ ...a, port: udp.port }, this.respond, limits, this.events, log);
      try {
        await tcp.start(exclusive);
        return { address: a, udp, tcp };
      } catch (err) {
        await udp.close();
        if (a.port !== 0 || attempt >= 10) throw err;
      }
    }
  }

  private async startHttp(config: Config): Promise<void> {
    const address = config.server.http;
    if (!address) return;
    if (!isLoopback(address.host) && config.server.http_token === null) {
      this.log.warn('the status API listens on a non-loopback address without http_token: anyone who reaches it can read the configuration and health', { address: address.host });
    }
    const registry = createMetrics(this.metricsSource());
    this.http = new StatusHttpServer({
      registry: () => Promise.resolve(registry),
      status: () => this.statusDeps(),
      events: (q) => this.healthEvents(q),
      ready: () => this.readiness(),
      summary: () => this.summary(),
      token: () => this.runtime.config.server.http_token,
      log: this.log.child({ component: 'http' }),
    });
    this.httpPort = await this.http.start(address);
  }

  metricsSource(): MetricsSource {
    return {
      queryStats: () => Promise.resolve(this.queryStats),
      lbStats: () => Promise.resolve(new Map<string, LbCounters>(this.lbStats.entries())),
      probeStats: this.probeStats,
      reloads: this.reloads,
      status: () => this.statusDeps(),
      tcpConnections: () => this.tcpConnections,
    };
  }

  statusDeps(): StatusDeps {
    return { runtime: this.runtime, store: this.store, describeHostname: (n) => this.hostnames.describe(n) };
  }

  healthEvents(q: EventQuery): HealthEvent[] {
    return this.health ? this.health.events.list(q) : [];
  }

  readiness(): { ready: boolean; reason: string } {
    if (this.stopped) return { ready: false, reason: 'shutting down' };
    if (!this.runtime) return { ready: false, reason: 'no config loaded' };
    if (this.health && !this.health.scheduler.isFirstRoundDone) return { ready: false, reason: 'first round of health probes not done' };
    return { ready: true, reason: '' };
  }

  summary(): Record<string, unknown> {
    return {
      ...statusSummary({ role: this.role, runtime: this.runtime, reloads: this.reloads, startedAt: this.startedAt, ready: this.readiness().ready, version: VERSION }),
      listen: this.boundPorts,
      probe_targets: this.health ? this.health.scheduler.stats().targets : 0,
      queries: this.queryStats.total,
    };
  }

  /** Re-reads the config (or takes `text`, as cluster workers do). Resolves true when the new config serves. */
  reload(text?: string): Promise<boolean> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      let ok = false;
      do {
        this.reloadAgain = false;
        ok = await this.reloadOnce(text);
      } while (this.reloadAgain && !this.stopped);
      this.reloading = null;
      return ok;
    })();
    return this.reloading;
  }

  private async reloadOnce(text?: string): Promise<boolean> {
    const started = Date.now();
    const loaded = this.load(text);
    let runtime: Runtime | null = null;
    const all = [...loaded.problems];
    if (loaded.config) {
      const built = buildRuntime(loaded.config, { store: this.store, hostnames: this.hostnames, geoCache: this.geoCache, lbStats: this.lbStats });
      all.push(...built.problems);
      runtime = built.runtime;
    }
    this.report(all);
    const config = loaded.config;
    if (!config || !runtime || hasErrors(all)) {
      this.reloads.reloadFailures++;
      this.reloads.lastReloadSuccess = false;
      this.log.error('reload failed: the previous config keeps serving', { config: this.opts.configPath, errors: all.filter((p) => p.severity === 'error').length });
      return false;
    }
    await this.applyListeners(config);
    this.swap(runtime);
    if (this.health) await this.health.reload(config);
    void this.hostnames.setNames(runtime.hostnames).then(() => this.hostnames.refreshAll());
    this.reloads.reloads++;
    this.reloads.lastReloadSuccess = true;
    this.reloads.lastReloadAt = Date.now();
    this.log.info('config reloaded', { config: config.file, ms: Date.now() - started, load_balancers: config.load_balancers.length });
    return true;
  }

  /** Opens listeners added by a reload and closes removed ones; kept ones update their limits. */
  private async applyListeners(config: Config): Promise<void> {
    const key = (a: ListenAddress) => `${a.host}|${a.port}`;
    const wanted = new Map(config.server.listen.map((a) => [key(a), a]));
    const keep: ListenerPair[] = [];
    const limits = { idleTimeout: config.server.tcp.idle_timeout, maxConnections: config.server.tcp.max_connections, maxConnectionsPerClient: config.server.tcp.max_connections_per_client };
    for (const l of this.listeners) {
      if (wanted.has(key(l.address))) {
        l.tcp.setLimits(limits);
        keep.push(l);
        wanted.delete(key(l.address));
      } else {
        await Promise.all([l.udp.close(), l.tcp.close()]);
        this.log.info('stopped listening', { address: l.address.host, port: l.udp.port });
      }
    }
    for (const a of wanted.values()) {
      try {
        keep.push(await this.openListener(a, config));
        this.log.info('listening on a new address', { address: a.host, port: a.port });
      } catch (err) {
        this.log.error('cannot listen on a new address; continuing without it', { address: a.host, port: a.port, err });
      }
    }
    this.listeners = keep;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.hostnames.stop();
    await Promise.all(this.listeners.flatMap((l) => [l.udp.close(), l.tcp.close()]));
    this.listeners = [];
    if (this.http) await this.http.close();
    if (this.health) await this.health.stop();
    this.log.info('steerdns stopped');
  }

  private installSignals(): void {
    process.on('SIGHUP', () => {
      this.log.info('SIGHUP: reloading');
      void this.reload();
    });
    const shutdown = (sig: string) => {
      this.log.info(`${sig}: shutting down`);
      void this.stop().then(() => process.exit(0));
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  }
}

export const VERSION: string = (require('../package.json') as { version: string }).version;

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}

/** Resolves a hostname endpoint that lives in our own zones, from our own data, as a client of this PoP would. */
function internalAddresses(rt: Runtime, name: string, family: 4 | 6): string[] | undefined {
  const key = name.toLowerCase().replace(/\.$/, '');
  const found = resolveInternally(rt.zones, key, family, new ClientInfo('127.0.0.1', null, 'udp'));
  return found?.map((bytes) => formatIp({ family, bytes }));
}

/** `steerdns serve`: runs until SIGTERM/SIGINT. Returns -1 while running, or an exit code on failure. */
export async function serve(configPath: string): Promise<number> {
  const { config } = loadConfigFile(configPath);
  const logger = createLogger(config?.server.log.level ?? 'info');
  if (cluster.isWorker) {
    const { runWorker } = await import('./cluster');
    return runWorker(configPath, logger);
  }
  if (config && config.server.workers > 1) {
    const { runPrimary } = await import('./cluster');
    return runPrimary(configPath, logger);
  }
  const server = new SteerDnsServer({ configPath, logger, signals: true });
  try {
    await server.start();
  } catch (err) {
    logger.error('cannot start', { err: err instanceof Error ? err.message : String(err) });
    await server.stop();
    return 1;
  }
  return -1;
}

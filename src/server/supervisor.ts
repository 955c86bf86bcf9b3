// The control plane: one per server, whether it answers DNS itself (single process) or through cluster workers.
// It loads the config (parsed off the event loop, built in slices), applies it to the data planes in two steps so
// that a reload applies whole or not at all, runs the monitors, serves the status API and metrics, handles the
// signals and says whether the server is ready. Nothing on the reload path can end the process: whatever fails,
// the running config keeps serving and the failure is logged, counted and shown in /api/status.
import { performance } from 'node:perf_hooks';
import { formatProblem, loadConfigFile } from '../config/load';
import type { LoadResult } from '../config/load';
import type { Config, Problem } from '../config/types';
import { randomSecretHex } from '../dns/cookies';
import type { EventQuery, HealthEvent } from '../health/events';
import { HealthService } from '../health/service';
import type { VantagePoint } from '../health/shared/types';
import type { HealthStore } from '../health/store';
import { HostnameResolver } from '../lb/hostnames';
import { AnalyticsFeed } from '../observe/analytics';
import { StatusHttpServer } from '../observe/http';
import { createLogger, type Logger } from '../observe/log';
import { createMetrics, ProbeStats, type ReloadStats } from '../observe/metrics';
import { registerSharedHealthMetrics } from '../observe/shared-health-metrics';
import { overview } from '../observe/overview';
import { statusSummary, type StatusDeps } from '../observe/status';
import { buildRuntime, buildRuntimeSliced, GeoCache, internalLookup, type Runtime } from '../runtime';
import { resolvesWith } from '../runtime/health-view';
import { runInSlices } from '../util/slices';
import { VERSION } from '../version';
import { ConfigLoader } from './config-loader';
import { ConfigWatcher } from './config-watch';
import { writePidfile } from './pidfile';
import { LocalPlanes, type DataPlanes, type Generation, type PlanesStats } from './planes';

export interface SupervisorOptions {
  configPath: string;
  logger?: Logger;
  /** Install SIGHUP/SIGTERM/SIGINT handlers (the CLI does; in-process tests don't). */
  signals?: boolean;
  /** The data planes to drive; default: one in this process. */
  planes?: (store: HealthStore, log: Logger) => DataPlanes;
  /** Reload when the config file changes (`serve --watch`), whatever server.watch_config says. */
  watch?: boolean;
  /** Debounce of the config watch (tests shorten it). */
  watchDebounceMs?: number;
  /** Write the process id here once serving (serve --pidfile / server.pidfile). */
  pidfile?: string | null;
  /** The config file as already loaded (serve reads it first): start-up uses it instead of reading it again. */
  preloaded?: LoadResult;
}

/** A load or apply that failed, with the reason already logged. */
class ReloadFailure extends Error {}

export class Supervisor {
  readonly log: Logger;
  readonly health: HealthService;
  readonly store: HealthStore;
  readonly hostnames: HostnameResolver;
  readonly planes: DataPlanes;
  readonly probeStats = new ProbeStats();
  readonly reloads: ReloadStats = { reloads: 0, reloadFailures: 0, lastReloadSuccess: true, lastReloadAt: 0, lastReloadError: null };
  private readonly geoCache = new GeoCache();
  private readonly loader = new ConfigLoader();
  private current: Generation | null = null;
  private http: StatusHttpServer | null = null;
  private httpPort = 0;
  private reloading: Promise<boolean> | null = null;
  private reloadAgain = false;
  private stopped = false;
  private readonly startedAt = Date.now();
  private watcher: ConfigWatcher | null = null;
  /** Answers per LB × pool × endpoint × region over time, and pool health (observe/analytics.ts). */
  readonly analytics: AnalyticsFeed<PlanesStats>;
  /** The cookie secret when the config names none: random, but one per process, so all its workers share it. */
  private readonly cookieSecret = randomSecretHex();

  constructor(private readonly opts: SupervisorOptions) {
    this.log = opts.logger ?? createLogger('info');
    this.hostnames = new HostnameResolver(() => undefined, this.log.child({ component: 'hostnames' }));
    let planes: DataPlanes | null = null;
    this.health = new HealthService({
      logger: this.log.child({ component: 'health' }),
      scheduler: {
        onAttempt: (t, r, ms) => {
          this.probeStats.record(t.users[0]?.monitor ?? '?', t.monitor.type, r.ok, r.ok ? 'No failures' : r.reason, ms / 1000);
          planes?.healthChanged(t.key, false); // RTT moved: data planes elsewhere need it for dynamic steering
        },
        // Monitors probe the addresses the answers hand out: hostname endpoints resolve as the answers resolve them.
        probeContext: { resolve: (name) => this.resolvedForProbe(name) },
      },
    });
    this.store = this.health.store;
    this.planes = planes = opts.planes ? opts.planes(this.store, this.log) : new LocalPlanes(this.log);
    this.store.onTransition((t) => this.planes.healthChanged(t.key, true));
    this.analytics = new AnalyticsFeed(() => this.planes.stats(), () => (this.current && !this.stopped ? this.statusDeps() : null), this.log);
  }

  /** Addresses of a hostname endpoint as the answers see them; null for a name the resolver does not keep. */
  private resolvedForProbe(name: string): readonly string[] | null {
    const d = this.hostnames.describe(name);
    if (d === null || d.resolvedAt === null) return null;
    return d.addresses;
  }

  get role(): 'single' | 'primary' {
    return this.planes instanceof LocalPlanes ? 'single' : 'primary';
  }

  /** The running runtime (after start()). */
  get runtime(): Runtime {
    if (!this.current) throw new Error('the server has not started');
    return this.current.runtime;
  }

  get config(): Config {
    return this.runtime.config;
  }

  /** The status API's port, 0 when disabled. */
  get statusPort(): number {
    return this.httpPort;
  }

  async start(): Promise<void> {
    // Signals first: a SIGHUP or SIGTERM that arrives while starting (or right after the start line is read) is
    // acted on, not left to its default action (ending the process).
    if (this.opts.signals) this.installSignals();
    const gen = this.loadFirstGeneration();
    // Hostname endpoints resolved before the first probes: monitors probe what the answers resolve.
    await this.resolveNames(gen);
    await this.health.start(gen.config, vantageOf(gen.runtime));
    try {
      await this.planes.prepare(gen);
    } catch (err) {
      throw new Error(`cannot serve: ${(err as Error).message}`);
    }
    await this.planes.commit();
    this.adopt(gen);
    this.reloads.lastReloadAt = Date.now();
    const config = gen.config;
    this.analytics.start();
    if (config.server.http) await this.startHttp(config);
    const described = this.planes.describe();
    const pidfile = this.opts.pidfile ?? null;
    if (pidfile) {
      try {
        writePidfile(pidfile);
      } catch (err) {
        // Serving matters more than the pidfile: said loudly; `steerdns reload -c` also finds the pid through the status API.
        this.log.error('cannot write the pidfile', { pidfile, err: err instanceof Error ? err.message : String(err) });
      }
    }
    this.log.info('steerdns started', {
      pid: process.pid,
      ...(pidfile ? { pidfile } : {}),
      version: VERSION,
      role: this.role,
      config: config.file,
      listen: described.listen,
      // Which UDP path answers (server.udp_io / STEERDNS_UDP_IO resolved): bench/run.js checks it before measuring.
      udp_io: described.udp_io ?? null,
      ...('workers' in described ? { workers: config.server.workers } : {}),
      http: this.httpPort ? `${config.server.http?.host}:${this.httpPort}` : null,
      zones: config.zones.map((z) => z.name),
      load_balancers: config.load_balancers.length,
      pop: gen.runtime.pop.code,
    });
    await this.updateWatch();
    if (this.hupWhileStarting) void this.reload();
  }

  /** Starts or stops the config watch after a config was applied (`--watch`, or server.watch_config). */
  private async updateWatch(): Promise<void> {
    const want = !this.stopped && (this.opts.watch === true || this.config.server.watch_config);
    if (want && !this.watcher) {
      this.watcher = new ConfigWatcher(this.opts.configPath, () => void this.reload(), this.log.child({ component: 'config-watch' }), { debounceMs: this.opts.watchDebounceMs });
      await this.watcher.start();
    } else if (!want && this.watcher) {
      this.watcher.stop();
      this.watcher = null;
    }
  }

  /** Reads the config file again and applies it. Resolves true when the new config serves. */
  reload(): Promise<boolean> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      let ok = false;
      do {
        this.reloadAgain = false;
        ok = await this.reloadOnce();
      } while (this.reloadAgain && !this.stopped);
      this.reloading = null;
      return ok;
    })();
    return this.reloading;
  }

  private async reloadOnce(): Promise<boolean> {
    const started = performance.now();
    try {
      const gen = await this.loadGeneration();
      try {
        await this.planes.prepare(gen);
      } catch (err) {
        throw new ReloadFailure(`the new config cannot be applied: ${(err as Error).message}`);
      }
      await this.resolveNames(gen);
      await this.health.reload(gen.config, vantageOf(gen.runtime));
      await this.planes.commit();
      this.adopt(gen);
      this.reloads.reloads++;
      this.reloads.lastReloadSuccess = true;
      this.reloads.lastReloadError = null;
      this.reloads.lastReloadAt = Date.now();
      await this.updateWatch();
      this.log.info('config reloaded', {
        config: gen.config.file,
        ms: Math.round(performance.now() - started),
        load_balancers: gen.config.load_balancers.length,
        ...(this.role === 'primary' ? { workers: gen.config.server.workers } : {}),
      });
      return true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Whatever was readied for the new config is dropped; names resolve against the running zones again.
      await this.planes.abort().catch(() => undefined);
      if (this.current) this.hostnames.setInternalLookup(internalLookup(this.current.runtime));
      this.reloads.reloadFailures++;
      this.reloads.lastReloadSuccess = false;
      this.reloads.lastReloadError = message;
      if (!(err instanceof ReloadFailure)) this.log.error('internal error while reloading', { err: err instanceof Error ? err.stack ?? message : message });
      this.log.error('reload failed: the previous config keeps serving', { config: this.opts.configPath, reason: message });
      return false;
    }
  }

  /**
   * The config at start-up: nothing is served yet, so it is read, validated and built right here in one pass (no
   * thread, no second build) — the shortest way to the first answer.
   */
  private loadFirstGeneration(): Generation {
    // serve read the file already (for the settings that apply before a supervisor exists): not twice.
    const loaded = this.opts.preloaded ?? loadConfigFile(this.opts.configPath);
    this.opts.preloaded = undefined;
    const problems = [...loaded.problems];
    let runtime: Runtime | null = null;
    if (loaded.config) {
      const built = buildRuntime(loaded.config, { store: this.store, hostnames: this.hostnames, geoCache: this.geoCache, lbStats: this.planes.lbStats });
      problems.push(...built.problems);
      runtime = built.runtime;
    }
    this.report(problems);
    const errors = problems.filter((p) => p.severity === 'error');
    if (!loaded.config || !runtime || errors.length > 0) {
      throw new ReloadFailure(errors.length > 0 ? `${errors.length} error${errors.length === 1 ? '' : 's'} in the config, first: ${formatProblem(errors[0])}` : 'the config has errors');
    }
    // Positions served their purpose (the problems above); a big config keeps tens of MB of them otherwise.
    loaded.positions?.dropPositions();
    this.shareCookieSecret(loaded.config);
    return { config: loaded.config, runtime };
  }

  /** A config without a cookie secret gets this process's random one: every data plane (worker) must use the same. */
  private shareCookieSecret(config: Config): void {
    if (config.server.cookies.secret === null) config.server.cookies.secret = this.cookieSecret;
  }

  /** Loads, validates and builds the config beside the serving one; throws ReloadFailure (problems logged) when it cannot serve. */
  private async loadGeneration(): Promise<Generation> {
    const loaded = await this.loader.load(this.opts.configPath);
    this.report(loaded.problems);
    const errors = loaded.problems.filter((p) => p.severity === 'error');
    if (!loaded.config || errors.length > 0) {
      throw new ReloadFailure(errors.length > 0 ? `${errors.length} error${errors.length === 1 ? '' : 's'} in the config, first: ${formatProblem(errors[0])}` : 'the config has errors');
    }
    const config = loaded.config;
    this.shareCookieSecret(config);
    // Built in slices: the event loop keeps answering queries meanwhile. The loading thread already reported every
    // problem with its position; an error here (a GeoIP file that changed in between) still stops the reload.
    const built = await runInSlices(buildRuntimeSliced(config, { store: this.store, hostnames: this.hostnames, geoCache: this.geoCache, lbStats: this.planes.lbStats, checked: true }));
    const buildErrors = built.problems.filter((p) => p.severity === 'error');
    if (!built.runtime || buildErrors.length > 0) {
      this.report(buildErrors);
      throw new ReloadFailure(buildErrors.length > 0 ? buildErrors[0].message : 'the runtime could not be built');
    }
    return { config, runtime: built.runtime };
  }

  /**
   * Hostname endpoints of `gen` resolved against its own zones (names new to the resolver get a first result; the
   * others are refreshed in the background, since the zones may have changed).
   */
  private async resolveNames(gen: Generation): Promise<void> {
    const known = this.current !== null;
    this.hostnames.setInternalLookup(internalLookup(gen.runtime));
    await this.hostnames.setNames(gen.runtime.hostnames);
    if (known) void this.hostnames.refreshAll();
  }

  /** The new generation is live. */
  private adopt(gen: Generation): void {
    this.current = gen;
    this.analytics.store.maxSeries = gen.config.server.analytics.max_series;
  }

  private report(problems: readonly Problem[]): void {
    for (const p of problems) {
      if (p.severity === 'error') this.log.error(formatProblem(p), { kind: 'config' });
      else this.log.warn(formatProblem(p), { kind: 'config' });
    }
  }

  private async startHttp(config: Config): Promise<void> {
    const address = config.server.http;
    if (!address) return;
    if (!isLoopback(address.host) && config.server.http_token === null) {
      this.log.warn('the status API listens on a non-loopback address without http_token: anyone who reaches it can read the configuration and health', { address: address.host });
    }
    const registry = createMetrics({
      // Through the analytics feed: a read drains the answer cells, and the analytics keep what it drained.
      queryStats: () => this.analytics.collect().then((s) => s.query),
      lbStats: () => this.analytics.collect().then((s) => s.lbs),
      probeStats: this.probeStats,
      reloads: this.reloads,
      status: () => this.statusDeps(),
      tcpConnections: () => this.planes.tcpConnections(),
      udpIo: () => {
        const path = this.planes.describe().udp_io;
        return typeof path === 'string' ? path : null;
      },
      analytics: () => this.analytics.describe(),
    });
    registerSharedHealthMetrics(registry, () => this.health.shared?.stats() ?? null);
    this.http = new StatusHttpServer({
      registry: () => Promise.resolve(registry),
      status: () => this.statusDeps(),
      events: (q) => this.healthEvents(q),
      ready: () => this.readiness(),
      summary: () => this.summary(),
      token: () => this.config.server.http_token,
      log: this.log.child({ component: 'http' }),
      analytics: (q) => this.analytics.answer(q),
      overview: () => overview(this.statusDeps()),
      stream: (send) => this.health.events.onEvent((e) => send('health', e)),
    });
    this.httpPort = await this.http.start(address);
  }

  statusDeps(): StatusDeps {
    return { runtime: this.runtime, store: this.store, describeHostname: (n) => this.hostnames.describe(n), resolves: resolvesWith(this.hostnames), votes: this.health.shared };
  }

  healthEvents(q: EventQuery): HealthEvent[] {
    return this.health.events.list(q);
  }

  readiness(): { ready: boolean; reason: string; detail?: string } {
    const shared = this.health.shared;
    const r = this.readinessOnly();
    return shared ? { ...r, detail: shared.describe() } : r;
  }

  private readinessOnly(): { ready: boolean; reason: string } {
    if (this.stopped) return { ready: false, reason: 'shutting down' };
    if (!this.current) return { ready: false, reason: 'no config loaded' };
    const planes = this.planes.readiness();
    if (!planes.ready) return planes;
    if (!this.health.scheduler.isFirstRoundDone) return { ready: false, reason: 'first round of health probes not done' };
    return { ready: true, reason: '' };
  }

  summary(): Record<string, unknown> {
    return {
      ...statusSummary({ role: this.role, runtime: this.runtime, reloads: this.reloads, startedAt: this.startedAt, ready: this.readiness().ready, version: VERSION }),
      pid: process.pid,
      ...this.planes.describe(),
      probe_targets: this.health.scheduler.stats().targets,
      shared_health: this.health.shared?.stats() ?? null,
      analytics: this.analytics.describe(),
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.watcher?.stop();
    this.watcher = null;
    this.analytics.stop();
    this.hostnames.stop();
    await this.planes.stop();
    if (this.http) await this.http.close();
    await this.health.stop();
    await this.loader.close();
    this.log.info('steerdns stopped');
  }

  private hupWhileStarting = false;

  private installSignals(): void {
    process.on('SIGHUP', () => {
      if (this.stopped) return;
      if (!this.current) {
        this.log.info('SIGHUP while starting: reloading once started');
        this.hupWhileStarting = true;
        return;
      }
      this.log.info('SIGHUP: reloading');
      void this.reload();
    });
    const shutdown = (sig: string) => {
      this.log.info(`${sig}: shutting down`);
      this.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          this.log.error('error while stopping', { err: String(err) });
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  }
}

/** This instance as a shared-health vantage point: its PoP code and region (null without a region). */
function vantageOf(rt: Runtime): VantagePoint | null {
  return rt.pop.region === null ? null : { pop: rt.pop.code, region: rt.pop.region };
}

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}

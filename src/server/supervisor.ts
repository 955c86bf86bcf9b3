// The control plane: one per server, whether it answers DNS itself (single process) or through cluster workers.
// It loads the config (parsed off the event loop, built in slices), applies it to the data planes in two steps so
// that a reload applies whole or not at all, runs the monitors, serves the status API and metrics, handles the
// signals and says whether the server is ready. Nothing on the reload path can end the process: whatever fails,
// the running config keeps serving and the failure is logged, counted and shown in /api/status.
import { performance } from 'node:perf_hooks';
import { formatProblem } from '../config/load';
import type { Config, Problem } from '../config/types';
import { randomSecretHex } from '../dns/cookies';
import type { EventQuery, HealthEvent } from '../health/events';
import { HealthService } from '../health/service';
import type { HealthStore } from '../health/store';
import { HostnameResolver } from '../lb/hostnames';
import { StatusHttpServer } from '../observe/http';
import { createLogger, type Logger } from '../observe/log';
import { createMetrics, ProbeStats, type ReloadStats } from '../observe/metrics';
import { statusSummary, type StatusDeps } from '../observe/status';
import { buildRuntimeSliced, GeoCache, internalLookup, type Runtime } from '../runtime';
import { runInSlices } from '../util/slices';
import { VERSION } from '../version';
import { ConfigLoader } from './config-loader';
import { LocalPlanes, type DataPlanes, type Generation } from './planes';

export interface SupervisorOptions {
  configPath: string;
  logger?: Logger;
  /** Install SIGHUP/SIGTERM/SIGINT handlers (the CLI does; in-process tests don't). */
  signals?: boolean;
  /** The data planes to drive; default: one in this process. */
  planes?: (store: HealthStore, log: Logger) => DataPlanes;
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
  /** The cookie secret when the config names none: random, but one per process, so all its workers share it. */
  private readonly cookieSecret = randomSecretHex();

  constructor(private readonly opts: SupervisorOptions) {
    this.log = opts.logger ?? createLogger('info');
    let planes: DataPlanes | null = null;
    this.health = new HealthService({
      logger: this.log.child({ component: 'health' }),
      scheduler: {
        onAttempt: (t, r, ms) => {
          this.probeStats.record(t.users[0]?.monitor ?? '?', t.monitor.type, r.ok, r.ok ? 'No failures' : r.reason, ms / 1000);
          planes?.healthChanged(t.key, false); // RTT moved: data planes elsewhere need it for dynamic steering
        },
      },
    });
    this.store = this.health.store;
    this.planes = planes = opts.planes ? opts.planes(this.store, this.log) : new LocalPlanes(this.log);
    this.store.onTransition((t) => this.planes.healthChanged(t.key, true));
    this.hostnames = new HostnameResolver(() => undefined, this.log.child({ component: 'hostnames' }));
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
    const gen = await this.loadGeneration();
    await this.health.start(gen.config);
    try {
      await this.planes.prepare(gen);
    } catch (err) {
      throw new Error(`cannot serve: ${(err as Error).message}`);
    }
    await this.planes.commit();
    this.adopt(gen);
    this.reloads.lastReloadAt = Date.now();
    const config = gen.config;
    if (config.server.http) await this.startHttp(config);
    const described = this.planes.describe();
    this.log.info('steerdns started', {
      pid: process.pid,
      version: VERSION,
      role: this.role,
      config: config.file,
      listen: described.listen,
      ...('workers' in described ? { workers: config.server.workers } : {}),
      http: this.httpPort ? `${config.server.http?.host}:${this.httpPort}` : null,
      zones: config.zones.map((z) => z.name),
      load_balancers: config.load_balancers.length,
      pop: gen.runtime.pop.code,
    });
    if (this.opts.signals) this.installSignals();
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
      await this.health.reload(gen.config);
      await this.planes.commit();
      this.adopt(gen);
      this.reloads.reloads++;
      this.reloads.lastReloadSuccess = true;
      this.reloads.lastReloadError = null;
      this.reloads.lastReloadAt = Date.now();
      this.log.info('config reloaded', {
        config: gen.config.file,
        ms: Math.round(performance.now() - started),
        load_balancers: gen.config.load_balancers.length,
        ...(this.role === 'primary' ? { workers: gen.config.server.workers } : {}),
      });
      return true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.reloads.reloadFailures++;
      this.reloads.lastReloadSuccess = false;
      this.reloads.lastReloadError = message;
      if (!(err instanceof ReloadFailure)) this.log.error('internal error while reloading', { err: err instanceof Error ? err.stack ?? message : message });
      this.log.error('reload failed: the previous config keeps serving', { config: this.opts.configPath, reason: message });
      return false;
    }
  }

  /** Loads, validates and builds the config; throws ReloadFailure (problems logged) when it cannot serve. */
  private async loadGeneration(): Promise<Generation> {
    const loaded = await this.loader.load(this.opts.configPath);
    this.report(loaded.problems);
    const errors = loaded.problems.filter((p) => p.severity === 'error');
    if (!loaded.config || errors.length > 0) {
      throw new ReloadFailure(errors.length > 0 ? `${errors.length} error${errors.length === 1 ? '' : 's'} in the config, first: ${formatProblem(errors[0])}` : 'the config has errors');
    }
    const config = loaded.config;
    if (config.server.cookies.secret === null) config.server.cookies.secret = this.cookieSecret;
    // Built in slices: the event loop keeps answering queries meanwhile. The loading thread already reported every
    // problem with its position; an error here (a GeoIP file that changed in between) still stops the reload.
    const built = await runInSlices(buildRuntimeSliced(config, { store: this.store, hostnames: this.hostnames, geoCache: this.geoCache, lbStats: this.planes.lbStats }));
    const buildErrors = built.problems.filter((p) => p.severity === 'error');
    if (!built.runtime || buildErrors.length > 0) {
      this.report(buildErrors);
      throw new ReloadFailure(buildErrors.length > 0 ? buildErrors[0].message : 'the runtime could not be built');
    }
    return { config, runtime: built.runtime };
  }

  /** The new generation is live: hostname endpoints resolve against its zones. */
  private adopt(gen: Generation): void {
    const first = this.current === null;
    this.current = gen;
    this.hostnames.setInternalLookup(internalLookup(gen.runtime));
    const names = this.hostnames.setNames(gen.runtime.hostnames);
    if (!first) void names.then(() => this.hostnames.refreshAll());
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
      queryStats: () => this.planes.stats().then((s) => s.query),
      lbStats: () => this.planes.stats().then((s) => s.lbs),
      probeStats: this.probeStats,
      reloads: this.reloads,
      status: () => this.statusDeps(),
      tcpConnections: () => this.planes.tcpConnections(),
    });
    this.http = new StatusHttpServer({
      registry: () => Promise.resolve(registry),
      status: () => this.statusDeps(),
      events: (q) => this.healthEvents(q),
      ready: () => this.readiness(),
      summary: () => this.summary(),
      token: () => this.config.server.http_token,
      log: this.log.child({ component: 'http' }),
    });
    this.httpPort = await this.http.start(address);
  }

  statusDeps(): StatusDeps {
    return { runtime: this.runtime, store: this.store, describeHostname: (n) => this.hostnames.describe(n) };
  }

  healthEvents(q: EventQuery): HealthEvent[] {
    return this.health.events.list(q);
  }

  readiness(): { ready: boolean; reason: string } {
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
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.hostnames.stop();
    await this.planes.stop();
    if (this.http) await this.http.close();
    await this.health.stop();
    await this.loader.close();
    this.log.info('steerdns stopped');
  }

  private installSignals(): void {
    process.on('SIGHUP', () => {
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

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}

// The health module assembled: store + scheduler + events + notifications + state file, driven by the config.
// The server calls start(config) once, reload(config) on every accepted SIGHUP and stop() at shutdown; the query
// path reads `store` (and evaluatePool) only.
import type { Config, SharedHealthConfig } from '../config/types';
import { EventLogWriter, eventLogPath, loadEventLog } from './event-log';
import { HealthEvents } from './events';
import { WebhookNotifier } from './notify';
import type { NotifierOptions } from './notify';
import { icmpAvailable } from './probes/icmp';
import { HealthScheduler } from './scheduler';
import type { SchedulerOptions } from './scheduler';
import { SharedHealth } from './shared/coordinator';
import type { SharedHealthStore, VantagePoint } from './shared/types';
import { StateFileWriter, restoreStateFile } from './state-file';
import { HealthStore } from './store';
import { buildTargets, buildTargetsSliced, targetProblems } from './targets';
import { runInSlices } from '../util/slices';
import type { TargetProblem } from './targets';
import { silentLogger } from './types';
import type { HealthLogger, ProbeTarget } from './types';

export interface HealthServiceOptions {
  logger?: HealthLogger;
  scheduler?: Omit<SchedulerOptions, 'logger'>;
  notifier?: Omit<NotifierOptions, 'logger'>;
  /** Ring size of the event log (default 1000). */
  eventCapacity?: number;
  /** Debounce of state-file writes (default 1000 ms). */
  stateFileDebounceMs?: number;
  /** The shared-health store engine for a config (default: Redis); tests pass their own. */
  sharedStore?: (config: SharedHealthConfig, logger: HealthLogger) => Promise<SharedHealthStore>;
}

export class HealthService {
  readonly store = new HealthStore();
  readonly scheduler: HealthScheduler;
  readonly events: HealthEvents;
  readonly notifier: WebhookNotifier;
  private stateWriter: StateFileWriter | null = null;
  /** The event log on disk, beside the state file (event-log.ts). */
  private eventWriter: EventLogWriter | null = null;
  private readonly logger: HealthLogger;
  private started = false;
  private sharedHealth: SharedHealth | null = null;
  /** The settings the running shared-health connection was made with (a change reconnects). */
  private sharedIdentity = '';

  constructor(private readonly opts: HealthServiceOptions = {}) {
    this.logger = opts.logger ?? silentLogger;
    this.store.setErrorHandler((err) => this.logger.error('health transition listener failed', { error: String(err) }));
    this.scheduler = new HealthScheduler(this.store, { ...opts.scheduler, logger: this.logger });
    this.events = new HealthEvents(this.store, { capacity: opts.eventCapacity, logger: this.logger });
    this.notifier = new WebhookNotifier({ ...opts.notifier, logger: this.logger });
    this.events.onEvent((e) => this.notifier.notify(e));
    this.events.onEvent((e) => this.eventWriter?.append(e));
  }

  /** Shared health, when `server.shared_health` is set (status API, metrics). */
  get shared(): SharedHealth | null {
    return this.sharedHealth;
  }

  /**
   * Builds the targets, restores the state file (if configured), starts probing. `vantage` names this instance
   * (server.pop code and region) for shared health.
   */
  async start(config: Config, vantage: VantagePoint | null = null): Promise<void> {
    const targets = buildTargets(config);
    this.logProblems(config);
    await this.warnIfNoIcmp(targets);
    if (config.server.state_file) {
      // Events first: restoring the health below produces none, and the first real one must get the next id.
      const saved = loadEventLog(eventLogPath(config.server.state_file), this.opts.eventCapacity ?? 1000, this.logger);
      this.events.restore(saved.events, saved.lastId);
      if (saved.events.length > 0) this.logger.info('health events restored', { file: eventLogPath(config.server.state_file), events: saved.events.length, last_id: saved.lastId });
      restoreStateFile(config.server.state_file, this.store, new Set(targets.map((t) => t.key)), this.logger);
    }
    await this.connectShared(config, vantage);
    this.apply(config, targets);
    this.started = true;
    this.logger.info('health monitors started', { targets: targets.length });
  }

  /** Applies a reloaded config: unchanged targets keep state and timers, new ones start at once. */
  async reload(config: Config, vantage: VantagePoint | null = null): Promise<void> {
    if (!this.started) return this.start(config, vantage);
    // In slices: a reload runs beside the query path. (Its config problems were reported when it was loaded.)
    const targets = await runInSlices(buildTargetsSliced(config));
    await this.warnIfNoIcmp(targets);
    await this.connectShared(config, vantage);
    await runInSlices(this.events.setConfigSliced(config));
    this.apply(config, targets, false);
    this.logger.info('health monitors reloaded', { targets: targets.length });
  }

  /** Stops probing, writes the state file one last time, gives pending webhooks `drainMs` to go out. */
  async stop(drainMs = 2000): Promise<void> {
    this.scheduler.stop();
    if (this.sharedHealth) await this.sharedHealth.stop();
    this.sharedHealth = null;
    if (this.stateWriter) await this.stateWriter.close();
    this.stateWriter = null;
    if (this.eventWriter) await this.eventWriter.close();
    this.eventWriter = null;
    await this.notifier.drain(drainMs);
    this.notifier.close();
    this.events.close();
  }

  /** `indexEvents` false: the caller re-indexed the events already (in slices). */
  private apply(config: Config, targets: ProbeTarget[], indexEvents = true): void {
    if (indexEvents) this.events.setConfig(config);
    this.notifier.setConfig(config);
    const file = config.server.state_file;
    if (this.stateWriter && this.stateWriter.file !== file) {
      void this.stateWriter.close();
      this.stateWriter = null;
    }
    if (file && !this.stateWriter) {
      this.stateWriter = new StateFileWriter(this.store, file, { logger: this.logger, debounceMs: this.opts.stateFileDebounceMs });
    }
    this.scheduler.setSource(config.server.probe_source);
    const eventFile = file ? eventLogPath(file) : null;
    if (this.eventWriter && this.eventWriter.file !== eventFile) {
      void this.eventWriter.close();
      this.eventWriter = null;
    }
    if (eventFile && !this.eventWriter) {
      // A file named on reload may hold ids of an earlier run: ids continue above them too.
      if (this.started) this.events.restore([], loadEventLog(eventFile, 1, this.logger).lastId);
      this.eventWriter = new EventLogWriter(eventFile, this.logger);
    }
    this.scheduler.setTargets(targets);
    this.sharedHealth?.setTargets(targets);
    this.stateWriter?.markDirty();
  }

  /**
   * Starts, keeps, replaces or stops shared health for this config. Never fails: a store that cannot be reached is
   * the coordinator's business (it decides locally until the store answers).
   */
  private async connectShared(config: Config, vantage: VantagePoint | null): Promise<void> {
    const sc = config.server.shared_health;
    const identity = sc && vantage ? JSON.stringify([sc.url, sc.key_prefix, sc.timeout, sc.tls, vantage]) : '';
    if (identity === this.sharedIdentity && this.sharedHealth) {
      if (sc) this.sharedHealth.setConfig(sc);
      return;
    }
    if (this.sharedHealth) {
      this.scheduler.setResultSink(null);
      await this.sharedHealth.stop();
      this.sharedHealth = null;
      this.logger.info('shared health stopped');
    }
    this.sharedIdentity = '';
    if (!sc) return;
    if (!vantage) {
      this.logger.error('shared health needs this server\'s region (server.pop.region or pop.country): health is decided locally');
      return;
    }
    let engine: SharedHealthStore;
    try {
      engine = this.opts.sharedStore ? await this.opts.sharedStore(sc, this.logger) : await redisStore(sc, this.logger);
    } catch (err) {
      this.logger.error('shared health store cannot be set up: health is decided locally', { error: err instanceof Error ? err.message : String(err) });
      return;
    }
    const shared = new SharedHealth({ store: this.store, engine, vantage, config: sc, logger: this.logger });
    this.sharedHealth = shared;
    this.sharedIdentity = identity;
    this.scheduler.setResultSink((t, r, now) => shared.onResult(t, r, now));
    this.logger.info('shared health started', { store: engine.description, vantage_point: vantage.pop, region: vantage.region });
  }

  private logProblems(config: Config): void {
    for (const p of targetProblems(config)) {
      const fields = { pool: p.pool, origin: p.origin, monitor: p.monitor };
      if (p.severity === 'error') this.logger.error(p.message, fields);
      else this.logger.warn(p.message, fields);
    }
  }

  private async warnIfNoIcmp(targets: ProbeTarget[]): Promise<void> {
    if (!targets.some((t) => t.monitor.type === 'icmp_ping' || t.monitor.type === 'udp_icmp')) return;
    const a = await icmpAvailable(this.opts.scheduler?.probeContext);
    if (!a.ok) this.logger.error(a.detail);
  }
}

/** The Redis engine, loaded only when a config asks for shared health. */
async function redisStore(sc: SharedHealthConfig, logger: HealthLogger): Promise<SharedHealthStore> {
  const { RedisHealthStore } = await import('./shared/redis-store');
  return new RedisHealthStore(sc, logger);
}

/** For `steerdns check`: the health module's config problems, plus ICMP availability when a monitor needs it. */
export async function checkHealthConfig(config: Config): Promise<TargetProblem[]> {
  const problems = targetProblems(config);
  const needsIcmp = [...config.monitors.values()].some((m) => m.type === 'icmp_ping' || m.type === 'udp_icmp');
  if (needsIcmp) {
    const a = await icmpAvailable();
    if (!a.ok) problems.push({ severity: 'warning', pool: '', origin: null, monitor: null, message: a.detail });
  }
  return problems;
}

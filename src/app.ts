// The running server: loads the config, builds the runtime, opens the DNS listeners, runs the monitors, and
// handles SIGHUP (atomic reload; a bad file keeps the old config serving) and SIGTERM/SIGINT (clean stop).
import { formatProblem, hasErrors, loadConfigFile } from './config/load';
import type { Config, ListenAddress, Problem } from './config/types';
import { ClientInfo, newDynamicAnswer } from './dns/dynamic';
import { handleQuery, outcome } from './dns/handler';
import { TcpListener } from './dns/server/tcp';
import type { TransportEvents } from './dns/server/types';
import { UdpListener } from './dns/server/udp';
import { RRType } from './dns/wire/constants';
import { HealthScheduler } from './health/scheduler';
import { HealthStore } from './health/store';
import { buildTargets } from './health/targets';
import { HostnameResolver } from './lb/hostnames';
import { createLogger, type Logger } from './observe/log';
import { buildRuntime, GeoCache, type Runtime } from './runtime';
import { formatIp } from './util/ip';

export interface ServerOptions {
  configPath: string;
  logger?: Logger;
  /** Install SIGHUP/SIGTERM/SIGINT handlers (the CLI does; in-process tests don't). */
  signals?: boolean;
}

export interface Counters {
  queries: number;
  dropped: number;
  reloads: number;
  reloadFailures: number;
}

interface ListenerPair {
  address: ListenAddress;
  udp: UdpListener;
  tcp: TcpListener;
}

export class SteerDnsServer {
  runtime!: Runtime;
  readonly store = new HealthStore();
  readonly counters: Counters = { queries: 0, dropped: 0, reloads: 0, reloadFailures: 0 };
  readonly log: Logger;
  readonly scheduler: HealthScheduler;
  readonly hostnames: HostnameResolver;
  private readonly geoCache = new GeoCache();
  private listeners: ListenerPair[] = [];
  private reloading: Promise<boolean> | null = null;
  private reloadAgain = false;
  private stopped = false;
  private readonly events: TransportEvents;

  constructor(private readonly opts: ServerOptions) {
    this.log = opts.logger ?? createLogger('info');
    this.scheduler = new HealthScheduler(this.store, { logger: this.log.child({ component: 'health' }) });
    this.hostnames = new HostnameResolver(() => undefined, this.log.child({ component: 'hostnames' }));
    this.events = {
      dropped: () => {
        this.counters.dropped++;
      },
      tcpRejected: () => undefined,
    };
  }

  /** The answer function the listeners call: always the current runtime. */
  private readonly respond = (pkt: Buffer, remote: string, transport: 'udp' | 'tcp'): Buffer | null => {
    this.counters.queries++;
    const out = handleQuery(this.runtime, pkt, remote, transport);
    if (outcome.status === 'dropped') return null;
    return out;
  };

  /** Ports actually bound, per configured address (port 0 in the config picks a free one). */
  get boundPorts(): { address: string; port: number }[] {
    return this.listeners.map((l) => ({ address: l.address.host, port: l.udp.port }));
  }

  async start(): Promise<void> {
    const config = this.loadOrThrow();
    const built = buildRuntime(config, { store: this.store, hostnames: this.hostnames, geoCache: this.geoCache });
    this.report(built.problems);
    if (!built.runtime) throw new Error('config has errors');
    this.swap(built.runtime);
    for (const a of config.server.listen) this.listeners.push(await this.openListener(a, config));
    this.scheduler.setTargets(buildTargets(config));
    await this.hostnames.setNames(built.runtime.hostnames);
    this.log.info('steerdns started', {
      config: config.file,
      listen: this.listeners.map((l) => `${l.address.family === 6 ? `[${l.address.host}]` : l.address.host}:${l.udp.port}`),
      zones: config.zones.map((z) => z.name),
      load_balancers: config.load_balancers.length,
      pop: built.runtime.pop.code,
    });
    if (this.opts.signals) this.installSignals();
  }

  private loadOrThrow(): Config {
    const { config, problems } = loadConfigFile(this.opts.configPath);
    this.report(problems);
    if (!config) throw new Error(`${this.opts.configPath}: config has errors`);
    return config;
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
    // With port 0, UDP picks a free port and TCP takes the same one (retrying if it happens to be busy).
    for (let attempt = 0; ; attempt++) {
      const udp = new UdpListener(a, this.respond, this.events, log);
      await udp.start();
      const tcp = new TcpListener({ ...a, port: udp.port }, this.respond, limits, this.events, log);
      try {
        await tcp.start();
        return { address: a, udp, tcp };
      } catch (err) {
        await udp.close();
        if (a.port !== 0 || attempt >= 10) throw err;
      }
    }
  }

  /** Re-reads the config. Returns true when the new config is serving. Concurrent calls coalesce. */
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
    const started = Date.now();
    const { config, problems } = loadConfigFile(this.opts.configPath);
    let runtime: Runtime | null = null;
    const all = [...problems];
    if (config) {
      const built = buildRuntime(config, { store: this.store, hostnames: this.hostnames, geoCache: this.geoCache });
      all.push(...built.problems);
      runtime = built.runtime;
    }
    this.report(all);
    if (!config || !runtime || hasErrors(all)) {
      this.counters.reloadFailures++;
      this.log.error('reload failed: the previous config keeps serving', { config: this.opts.configPath, errors: all.filter((p) => p.severity === 'error').length });
      return false;
    }
    await this.applyListeners(config);
    this.swap(runtime);
    this.scheduler.setTargets(buildTargets(config));
    void this.hostnames.setNames(runtime.hostnames).then(() => this.hostnames.refreshAll());
    this.counters.reloads++;
    this.log.info('config reloaded', { config: config.file, ms: Date.now() - started, load_balancers: config.load_balancers.length });
    return true;
  }

  /** Opens listeners added by a reload and closes removed ones; kept ones update their limits. */
  private async applyListeners(config: Config): Promise<void> {
    const key = (a: ListenAddress) => `${a.host}|${a.port}`;
    const wanted = new Map(config.server.listen.map((a) => [key(a), a]));
    const keep: ListenerPair[] = [];
    for (const l of this.listeners) {
      if (wanted.has(key(l.address))) {
        l.tcp.setLimits({ idleTimeout: config.server.tcp.idle_timeout, maxConnections: config.server.tcp.max_connections, maxConnectionsPerClient: config.server.tcp.max_connections_per_client });
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
      } catch (err) {
        this.log.error('cannot listen on a new address; continuing without it', { address: a.host, port: a.port, err });
      }
    }
    this.listeners = keep;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.scheduler.stop();
    this.hostnames.stop();
    await Promise.all(this.listeners.flatMap((l) => [l.udp.close(), l.tcp.close()]));
    this.listeners = [];
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

/** Resolves a hostname endpoint that lives in our own zones, from our own data. */
function internalAddresses(rt: Runtime, name: string, family: 4 | 6): string[] | undefined {
  const key = name.toLowerCase().replace(/\.$/, '');
  const zone = rt.zones.find(key, key.split('.').length);
  if (!zone) return undefined;
  const node = zone.nodes.get(key);
  if (!node) return [];
  const qtype = family === 4 ? RRType.A : RRType.AAAA;
  if (node.dynamic && node.dynamic.serves(qtype)) {
    const out = newDynamicAnswer();
    node.dynamic.answer(qtype, key, new ClientInfo('127.0.0.1', null, 'udp'), out);
    return out.status === 'answer' ? out.rdata.map((r) => formatIp({ family, bytes: r.head })) : [];
  }
  const set = node.rrsets.get(qtype);
  return set ? set.rdata.map((r) => formatIp({ family, bytes: r.head })) : [];
}

/** `steerdns serve`: runs until SIGTERM/SIGINT. */
export async function serve(configPath: string): Promise<number> {
  const { config } = loadConfigFile(configPath);
  const logger = createLogger(config?.server.log.level ?? 'info');
  const server = new SteerDnsServer({ configPath, logger, signals: true });
  try {
    await server.start();
  } catch (err) {
    logger.error('cannot start', { err: err instanceof Error ? err.message : String(err) });
    await server.stop();
    return 1;
  }
  return -1; // keep running; signals end the process
}

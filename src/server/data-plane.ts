// The data plane: the DNS listeners, the runtime they answer from, the query context, and the per-query counters.
// One per process that answers DNS: the single process, or each cluster worker. It knows nothing of config files,
// monitors or the status API; the control plane hands it runtimes and listen addresses.
//
// A config change arrives in two steps so that it applies whole or not at all: prepare() opens the listeners the
// new config adds (nothing else changes; if one cannot be bound, those opened are closed again and it throws),
// then commit() swaps the runtime in one assignment and closes the listeners the config dropped. abort() undoes a
// prepare. In a cluster the primary commits only when every worker prepared.
import { performance } from 'node:perf_hooks';
import type { ListenAddress, ServerConfig } from '../config/types';
import { clockNow } from '../dns/clock';
import { QueryContext } from '../dns/context';
import { randomSecretHex, secretFromHex, ServerCookies } from '../dns/cookies';
import { handleQuery } from '../dns/handler';
import { RateLimiter, rrlSettings } from '../dns/rrl';
import { TcpListener, type TcpLimits } from '../dns/server/tcp';
import type { TransportEvents } from '../dns/server/types';
import { UdpListener } from '../dns/server/udp';
import { BatchedUdpListener, loadBatchedUdp } from '../dns/server/udp-batched';
import { LbStatsRegistry } from '../lb/stats';
import type { Logger } from '../observe/log';
import { QueryStats } from '../observe/query-stats';
import type { Runtime } from '../runtime';

/** What both UDP listeners (node:dgram, and the native batched module) offer the data plane. */
interface UdpSocketListener {
  readonly port: number;
  close(): Promise<void>;
}

interface ListenerPair {
  address: ListenAddress;
  udp: UdpSocketListener;
  tcp: TcpListener;
}

export type UdpIo = 'batched' | 'dgram';

export interface DataPlaneOptions {
  log: Logger;
  /** Cluster workers share one socket per address through the primary (bind with exclusive: false). */
  shared: boolean;
}

interface Staged {
  runtime: Runtime;
  udpIo: UdpIo;
  server: ServerConfig;
  /** Listeners opened for addresses the running config does not have. */
  opened: ListenerPair[];
}

export function listenKey(a: ListenAddress): string {
  return `${a.host}|${a.port}`;
}

export function formatListen(a: ListenAddress, port = a.port): string {
  return a.family === 6 ? `[${a.host}]:${port}` : `${a.host}:${port}`;
}

function tcpLimits(server: ServerConfig): TcpLimits {
  const t = server.tcp;
  return { idleTimeout: t.idle_timeout, maxConnections: t.max_connections, maxConnectionsPerClient: t.max_connections_per_client };
}

export class DataPlane {
  /** The runtime answering queries; null before the first commit. */
  private current: Runtime | null = null;
  readonly queryStats = new QueryStats();
  /** Steering counters, kept across reloads (runtimes built for this plane increment them). */
  readonly lbStats = new LbStatsRegistry();
  private readonly ctx = new QueryContext(this.queryStats.signing);
  private listeners: ListenerPair[] = [];
  private staged: Staged | null = null;
  /** The runtime of `staged`, kept apart so that respond() reads one field. */
  private stagedRuntime: Runtime | null = null;
  private stopped = false;
  private sampleTick = 0;
  /** The UDP path of the running listeners (the config's choice, resolved; see udpPath()). */
  private udpIo: UdpIo | null = null;
  private readonly events: TransportEvents;
  private readonly log: Logger;
  /** Advances ctx.now (the coarse clock of rate limiting and cookies) and reports rate limiting now and then. */
  private clock: NodeJS.Timeout | null = null;
  private clockTicks = 0;
  /** A cookie secret for a config without one, when no supervisor filled one in (tests, tools). */
  private ownCookieSecret: string | null = null;

  constructor(private readonly opts: DataPlaneOptions) {
    this.log = opts.log.child({ component: 'dns' });
    this.events = {
      // The listener says "not a query" for every null answer; the context knows when rate limiting dropped it.
      dropped: (transport, reason) => this.queryStats.drop(transport, reason === 'not a query' && this.ctx.outcome.status === 'limited' ? 'rate limited' : reason),
      tcpRejected: (reason) => this.queryStats.reject(reason),
    };
    this.lbStats.startRotation(); // answer cells drained at each analytics bucket boundary
  }

  get runtime(): Runtime | null {
    return this.current;
  }

  /** The answer function the listeners call: always the current runtime. */
  private readonly respond = (pkt: Buffer, remote: string, transport: 'udp' | 'tcp'): Uint8Array | null => {
    // Before its first commit a data plane answers from the runtime it prepared: a worker that replaces a dead one
    // binds its own SO_REUSEPORT socket, and the kernel sends it queries as soon as it is bound.
    const rt = this.current ?? this.stagedRuntime;
    if (rt === null) return null;
    // Every 8th query is timed for the latency histogram: two clock reads cost ~0.1 µs of a ~10 µs budget.
    const timed = (++this.sampleTick & 7) === 0;
    const t0 = timed ? performance.now() : 0;
    const ctx = this.ctx;
    const out = handleQuery(ctx, rt, pkt, remote, transport);
    const outcome = ctx.outcome;
    if (outcome.cookie !== 0 || outcome.rrl !== 0) this.queryStats.guard(outcome.cookie, outcome.rrlKind, outcome.rrl, outcome.rcode);
    if (out === null) return null;
    this.queryStats.record(transport, outcome.rcode, outcome.qtype, outcome.truncated, timed ? (performance.now() - t0) / 1000 : -1);
    return out;
  };

  /** DNS ports actually bound, per configured address (port 0 in the config picks a free one). */
  get boundPorts(): { address: string; port: number }[] {
    return this.listeners.map((l) => ({ address: l.address.host, port: l.udp.port }));
  }

  get listening(): string[] {
    return this.listeners.map((l) => formatListen(l.address, l.udp.port));
  }

  /** The UDP path the listeners use (null before the first commit). */
  get udpPath(): UdpIo | null {
    return this.udpIo;
  }

  get tcpConnections(): number {
    return this.listeners.reduce((n, l) => n + l.tcp.connectionCount, 0);
  }

  /**
   * Opens the listeners `server.listen` adds to the running set; nothing answers differently yet. Throws when an
   * address cannot be bound, after closing the listeners this call opened.
   */
  async prepare(runtime: Runtime, server: ServerConfig): Promise<void> {
    if (this.staged) await this.abort();
    if (this.stopped) throw new Error('the data plane is stopped');
    const udpIo = this.udpIo ?? this.resolveUdpIo(server.udp_io);
    if (this.udpIo !== null && server.udp_io !== 'auto' && server.udp_io !== this.udpIo) {
      this.log.warn(`server.udp_io changed to ${server.udp_io}: it applies at the next restart`, { running: this.udpIo });
    }
    const running = new Set(this.listeners.map((l) => listenKey(l.address)));
    const opened: ListenerPair[] = [];
    try {
      for (const a of server.listen) {
        if (running.has(listenKey(a))) continue;
        opened.push(await this.openListener(a, tcpLimits(server), udpIo));
      }
    } catch (err) {
      await closeAll(opened);
      throw err;
    }
    this.staged = { runtime, udpIo, server, opened };
    this.stagedRuntime = runtime;
  }

  /** Swaps in the prepared runtime and listener set; closes the listeners the new config dropped. */
  async commit(): Promise<void> {
    const staged = this.staged;
    if (!staged) throw new Error('nothing prepared');
    this.staged = null;
    this.stagedRuntime = null;
    const previous = this.current;
    this.current = staged.runtime;
    if (previous !== staged.runtime) this.ctx.forget();
    this.udpIo = staged.udpIo;
    this.protect(staged.server);
    // DNSSEC upkeep (clock, key states, signing ahead) runs for the runtime that serves.
    if (previous !== staged.runtime) {
      previous?.dnssec?.deactivate();
      staged.runtime.dnssec?.activate({ log: this.log, stats: this.queryStats.signing });
    }
    const wanted = new Set(staged.server.listen.map(listenKey));
    const limits = tcpLimits(staged.server);
    const kept: ListenerPair[] = [];
    const dropped: ListenerPair[] = [];
    for (const l of this.listeners) {
      if (wanted.has(listenKey(l.address))) {
        l.tcp.setLimits(limits);
        kept.push(l);
      } else {
        dropped.push(l);
      }
    }
    for (const l of staged.opened) {
      kept.push(l);
      if (this.listeners.length > 0) this.log.info('listening on a new address', { listen: formatListen(l.address, l.udp.port) });
    }
    this.listeners = kept;
    await closeAll(dropped);
    for (const l of dropped) this.log.info('stopped listening', { listen: formatListen(l.address, l.udp.port) });
  }

  /** Undoes prepare(): closes the listeners it opened; the running config is untouched. */
  async abort(): Promise<void> {
    const staged = this.staged;
    this.staged = null;
    this.stagedRuntime = null;
    if (staged) await closeAll(staged.opened);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.lbStats.stopRotation();
    if (this.clock) clearInterval(this.clock);
    this.clock = null;
    this.current?.dnssec?.deactivate();
    await this.abort();
    const all = this.listeners;
    this.listeners = [];
    await closeAll(all);
  }

  /** Rate limiting and cookies as the config says; their state (accounts, the previous secret) carries over. */
  private protect(server: ServerConfig): void {
    const ctx = this.ctx;
    const now = clockNow();
    ctx.now = now;
    if (server.rrl === null) {
      ctx.rrl = null;
    } else if (ctx.rrl === null) {
      ctx.rrl = new RateLimiter(rrlSettings(server.rrl), now);
    } else {
      ctx.rrl.configure(rrlSettings(server.rrl));
    }
    const c = server.cookies;
    if (!c.enabled) {
      ctx.cookies = null;
    } else {
      const settings = { secret: secretFromHex(c.secret ?? (this.ownCookieSecret ??= randomSecretHex())), rotation: c.rotation };
      if (ctx.cookies === null) ctx.cookies = new ServerCookies(settings, now);
      else ctx.cookies.configure(settings, now);
    }
    if (this.clock === null && !this.stopped) {
      // Four ticks a second: accounts and cookie timestamps count whole seconds, and no query reads the clock.
      this.clock = setInterval(() => this.tick(), 250);
      this.clock.unref();
    }
  }

  private tick(): void {
    this.ctx.now = clockNow();
    if (++this.clockTicks % 40 !== 0) return;
    // Every 10 s: one log line when rate limiting was at work (nothing is logged per query).
    const report = this.ctx.rrl?.report();
    if (report) {
      const logOnly = this.runtime?.config.server.rrl?.log_only === true;
      this.log.warn(logOnly ? 'rate limiting would have limited responses (log_only)' : 'rate limiting responses', { limited: report.limited, seconds: 10, example: report.example });
    }
  }

  /**
   * The UDP path for `setting` (fixed for the life of the process: sockets stay open across reloads). The
   * environment variable STEERDNS_UDP_IO overrides the config (tests run the suite on both paths with it).
   */
  private resolveUdpIo(setting: ServerConfig['udp_io']): UdpIo {
    const env = process.env.STEERDNS_UDP_IO;
    const wanted = env === 'batched' || env === 'dgram' || env === 'auto' ? env : setting;
    if (wanted === 'dgram') return 'dgram';
    const native = loadBatchedUdp();
    if (native.binding) return 'batched';
    if (wanted === 'batched') throw new Error(`udp_io is "batched" but the native module cannot be used: ${native.reason}`);
    this.log.info(`UDP through node:dgram: ${native.reason}`);
    return 'dgram';
  }

  private async openListener(a: ListenAddress, limits: TcpLimits, udpIo: UdpIo): Promise<ListenerPair> {
    const exclusive = !this.opts.shared;
    // With port 0, UDP picks a free port and TCP takes the same one (retrying if it happens to be busy).
    for (let attempt = 0; ; attempt++) {
      let udp: UdpSocketListener;
      if (udpIo === 'batched') {
        // Each process binds its own socket; in a cluster, SO_REUSEPORT lets the kernel spread datagrams over them.
        const b = new BatchedUdpListener(a, this.respond, this.events, this.log);
        await b.start({ reusePort: this.opts.shared });
        udp = b;
      } else {
        const d = new UdpListener(a, this.respond, this.events, this.log);
        try {
          await d.start(exclusive);
        } catch (err) {
          await d.close();
          throw err;
        }
        udp = d;
      }
      const tcp = new TcpListener({ ...a, port: udp.port }, this.respond, limits, this.events, this.log);
      try {
        await tcp.start(exclusive);
        return { address: a, udp, tcp };
      } catch (err) {
        await udp.close();
        if (a.port !== 0 || attempt >= 10) throw err;
      }
    }
  }
}

async function closeAll(pairs: readonly ListenerPair[]): Promise<void> {
  await Promise.all(pairs.flatMap((l) => [l.udp.close(), l.tcp.close()]));
}

// The data planes of `server.workers: N`: N cluster workers that share the DNS sockets and answer queries, driven
// from the primary over typed IPC (ipc.ts). The primary's supervisor keeps the monitors and the status API; here
// it forks workers, hands them each config in chunks (two-phase: prepare everywhere, then commit), pushes health
// changes to them, gathers their counters, and replaces a worker that dies.
import cluster, { type Worker } from 'node:cluster';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { ListenAddress } from '../config/types';
import { configChunks } from '../config/transfer';
import type { HealthStore } from '../health/store';
import { buildTargets } from '../health/targets';
import { LbStatsRegistry } from '../lb/stats';
import type { Logger } from '../observe/log';
import { parseFromWorker, type FromWorker, type PlaneStats, type ToWorker } from './ipc';
import { sumStats, type DataPlanes, type Generation, type PlanesStats } from './planes';

/** A worker building a 10,000-LB runtime in slices on a busy machine needs seconds; a stuck one gets this long. */
const PREPARE_TIMEOUT_MS = 120000;
const REPLY_TIMEOUT_MS = 10000;

interface WorkerState {
  worker: Worker;
  /** The worker said it is ready to take a config. */
  ready: Promise<void>;
  /** The generation it serves (null: none yet). */
  serving: Generation | null;
  /** Prepared for the round in progress. */
  prepared: boolean;
  listening: string[];
  udpIo: 'batched' | 'dgram' | null;
}

export class ClusterPlanes implements DataPlanes {
  /** The primary's own runtime (status API, hostname lookups) counts nothing clients see. */
  readonly lbStats = new LbStatsRegistry();
  private readonly workers = new Map<number, WorkerState>();
  private readonly pending = new Map<number, (m: FromWorker) => void>();
  private seq = 0;
  private current: Generation | null = null;
  private staged: Generation | null = null;
  private stopping = false;
  private readonly restarts: number[] = [];
  private dirty = new Set<string>();
  private flushTimer: NodeJS.Timeout | null = null;
  private lastTcpConnections = 0;
  /** Ports chosen for listen addresses configured with port 0, by host: every worker must bind the same one. */
  private readonly pinned = new Map<string, number>();
  /** Deliveries to single (replacement) workers and reload rounds run one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly count: number,
    private readonly store: HealthStore,
    private readonly log: Logger,
    /** Added to each worker's environment. */
    private readonly workerEnv: Record<string, string> = {},
  ) {
    cluster.setupPrimary({ serialization: 'advanced' });
    cluster.on('exit', (w, code, signal) => this.onExit(w, code, signal));
  }

  prepare(next: Generation): Promise<void> {
    return this.serialize(async () => {
      if (this.workers.size === 0) for (let i = 0; i < this.count; i++) this.fork();
      if (next.config.server.workers !== this.count) {
        this.log.warn('server.workers changed: the number of workers changes at the next restart', { running: this.count, configured: next.config.server.workers });
      }
      await this.pinPorts(next.config.server.listen);
      const all = [...this.workers.values()];
      await Promise.all(all.map((s) => s.ready));
      const errors = await Promise.all(all.map((s) => this.prepareWorker(s, next)));
      const failed = errors.find((e) => e !== '');
      if (failed !== undefined) {
        await this.abortAll();
        throw new Error(failed);
      }
      this.staged = next;
    });
  }

  commit(): Promise<void> {
    return this.serialize(async () => {
      const next = this.staged;
      if (!next) throw new Error('nothing prepared');
      this.staged = null;
      this.current = next;
      const snapshot = this.store.snapshot();
      const targets = buildTargets(next.config).map((t) => t.key);
      await Promise.all([...this.workers.values()].filter((s) => s.prepared).map((s) => this.commitWorker(s, next, snapshot, targets)));
      // A worker that joined while the round ran serves an older generation: bring it up to date.
      for (const s of this.workers.values()) if (s.serving !== next) void this.deliver(s);
    });
  }

  abort(): Promise<void> {
    return this.serialize(() => this.abortAll());
  }

  async stats(): Promise<PlanesStats> {
    const serving = [...this.workers.values()].filter((s) => s.serving !== null);
    const replies = await Promise.all(serving.map((s) => this.request(s.worker, (seq) => ({ type: 'stats', seq }), 1000)));
    const parts: PlaneStats[] = [];
    for (const r of replies) if (r && r.type === 'stats') parts.push(r.stats);
    const sum = sumStats(parts);
    this.lastTcpConnections = sum.tcpConnections;
    return sum;
  }

  readiness(): { ready: boolean; reason: string } {
    const serving = [...this.workers.values()].filter((s) => s.serving !== null).length;
    if (serving < this.count) return { ready: false, reason: `${serving}/${this.count} workers listening` };
    return { ready: true, reason: '' };
  }

  tcpConnections(): number {
    return this.lastTcpConnections;
  }

  describe(): { listen: string[] } & Record<string, unknown> {
    const workers = [...this.workers.values()];
    return {
      workers: workers.map((s) => ({ id: s.worker.id, pid: s.worker.process.pid, listening: s.serving !== null })),
      listen: workers.find((s) => s.listening.length > 0)?.listening ?? [],
      udp_io: workers.find((s) => s.udpIo !== null)?.udpIo ?? null,
    };
  }

  healthChanged(key: string, urgent: boolean): void {
    this.dirty.add(key);
    if (urgent) {
      this.flush();
      return;
    }
    if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), 250);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await Promise.all(
      [...this.workers.values()].map(
        ({ worker }) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const t = setTimeout(() => {
              worker.kill('SIGKILL');
              resolve();
            }, 5000);
            worker.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            if (worker.isConnected()) this.send(worker, { type: 'shutdown' });
            else worker.kill();
          }),
      ),
    );
  }

  /**
   * Replaces port 0 in listen addresses with one free port per host, the same for every worker and every reload:
   * workers with their own SO_REUSEPORT sockets would otherwise each pick a different one.
   */
  private async pinPorts(listen: ListenAddress[]): Promise<void> {
    for (const a of listen) {
      if (a.port !== 0) continue;
      let port = this.pinned.get(a.host);
      if (port === undefined) {
        port = await freePort(a);
        this.pinned.set(a.host, port);
      }
      a.port = port;
    }
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private fork(): WorkerState {
    const worker = cluster.fork(this.workerEnv);
    let onReady: () => void = () => undefined;
    const state: WorkerState = { worker, ready: new Promise<void>((r) => (onReady = r)), serving: null, prepared: false, listening: [], udpIo: null };
    this.workers.set(worker.id, state);
    worker.on('message', (raw: unknown) => {
      const m = parseFromWorker(raw);
      if (m === null) {
        this.log.warn('ignored a malformed message from a worker', { worker: worker.id });
        return;
      }
      if (m.type === 'ready') {
        onReady();
        return;
      }
      const cb = this.pending.get(m.seq);
      if (cb) {
        this.pending.delete(m.seq);
        cb(m);
      }
    });
    worker.on('error', (err) => this.log.warn('worker channel error', { worker: worker.id, err: err.message }));
    return state;
  }

  /** Hands `next` to one worker and waits until it is ready to switch. Resolves '' or an error message. */
  private async prepareWorker(s: WorkerState, next: Generation): Promise<string> {
    s.prepared = false;
    const seq = ++this.seq;
    for (const chunk of configChunks(next.config)) {
      if (!this.send(s.worker, { type: 'config', seq, chunk })) return `worker ${s.worker.id} is gone`;
    }
    const r = await this.request(s.worker, () => ({ type: 'prepare', seq, snapshot: this.store.snapshot() }), PREPARE_TIMEOUT_MS, seq);
    if (!r) return `worker ${s.worker.id} did not answer`;
    if (r.type !== 'prepared' || !r.ok) return r.type === 'prepared' ? r.error : `worker ${s.worker.id}: unexpected reply`;
    s.prepared = true;
    return '';
  }

  private async commitWorker(s: WorkerState, next: Generation, snapshot: ReturnType<HealthStore['snapshot']>, targets: string[]): Promise<void> {
    s.prepared = false;
    const r = await this.request(s.worker, (seq) => ({ type: 'commit', seq, snapshot, targets }), REPLY_TIMEOUT_MS);
    if (r && r.type === 'committed') {
      s.serving = next;
      s.listening = r.listening;
      s.udpIo = r.udpIo;
    } else {
      this.log.error('a worker did not confirm the switch to the new config; restarting it', { worker: s.worker.id });
      s.worker.kill();
    }
  }

  private async abortAll(): Promise<void> {
    for (const s of this.workers.values()) {
      if (!s.prepared) continue;
      s.prepared = false;
      this.send(s.worker, { type: 'abort', seq: ++this.seq });
    }
  }

  /** Brings one worker (a replacement, or one that missed a round) to the current generation. */
  private deliver(s: WorkerState): Promise<void> {
    return this.serialize(async () => {
      const gen = this.current;
      if (!gen || this.stopping || !this.workers.has(s.worker.id)) return;
      await s.ready;
      const error = await this.prepareWorker(s, gen);
      if (error) {
        this.log.error('a worker could not take the running config; restarting it', { worker: s.worker.id, error });
        s.worker.kill();
        return;
      }
      await this.commitWorker(s, gen, this.store.snapshot(), buildTargets(gen.config).map((t) => t.key));
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
      if (this.stopping) return;
      const s = this.fork();
      void this.deliver(s);
    }, delay).unref();
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.dirty.size === 0) return;
    const snapshot = this.store.snapshot(this.dirty);
    this.dirty = new Set();
    for (const s of this.workers.values()) if (s.serving !== null) this.send(s.worker, { type: 'health', snapshot });
  }

  private send(worker: Worker, m: ToWorker): boolean {
    if (!worker.isConnected()) return false;
    try {
      worker.send(m);
      return true;
    } catch (err) {
      this.log.warn('cannot send to a worker', { worker: worker.id, err: (err as Error).message });
      return false;
    }
  }

  private request(worker: Worker, make: (seq: number) => ToWorker, timeoutMs: number, fixedSeq?: number): Promise<FromWorker | null> {
    return new Promise((resolve) => {
      const seq = fixedSeq ?? ++this.seq;
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        resolve(null);
      }, timeoutMs);
      this.pending.set(seq, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      if (!this.send(worker, make(seq))) {
        clearTimeout(timer);
        this.pending.delete(seq);
        resolve(null);
      }
    });
  }
}

/** A port free for both UDP and TCP on `a.host` right now. */
async function freePort(a: ListenAddress): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket(a.family === 6 ? 'udp6' : 'udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, a.host, () => resolve(udp.address().port));
    });
    const tcp = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, a.host, () => resolve(true));
    });
    await new Promise<void>((resolve) => (ok ? tcp.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (ok || attempt >= 10) return port;
  }
}

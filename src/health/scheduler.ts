// The probe scheduler: one binary heap of due times and a single timer for all targets, a FIFO run queue behind a
// global concurrency limit, and at most one attempt in flight per target.
//
// Timing: a new target's first attempt runs at once, spread at random over ≤ 1 s (start-up and reload). Its second
// attempt comes 0.1 to 1 interval later (random), which spreads the steady-state phases of a large fleet over the
// whole interval; from then on attempts are planned at phase + k·interval, computed from the
// planned time and never from completion, so intervals do not drift. A round that is due while the previous
// attempt is still running or queued is skipped (counted in stats), and the plan moves on to the next slot.
import { performance } from 'node:perf_hooks';
import { probeAttempt, probeOnce } from './probes';
import type { AttemptResult, ProbeFn } from './probes';
import type { HealthStore } from './store';
import { silentLogger } from './types';
import type { HealthLogger, ProbeContext, ProbeResult, ProbeTarget } from './types';

export interface SchedulerOptions {
  /** Attempts in flight at once, over all targets (default 256). */
  concurrency?: number;
  /** Clock for recorded timestamps (ms since epoch). Timers always run on the real clock. */
  now?: () => number;
  logger?: HealthLogger;
  probeContext?: ProbeContext;
  /** One try against a target; default: the real probe for the monitor type. Benchmarks inject their own. */
  probe?: ProbeFn;
  /** First attempts of new targets are spread over [0, startSpreadMs) (default 1000). */
  startSpreadMs?: number;
  /** Floor for intervals (default 1000 ms). Tests lower it; the config loader enforces its own minimum. */
  minIntervalMs?: number;
  /** Interval of a target in ms (default monitor.interval × 1000). */
  intervalMs?: (t: ProbeTarget) => number;
  /** Timeout of one try in ms (default monitor.timeout × 1000). */
  timeoutMs?: (t: ProbeTarget) => number;
  /** Randomness in [0, 1) for spreading (tests can make it deterministic). */
  random?: () => number;
  /** Called after every completed attempt (metrics): the target, its result and the attempt's duration in ms. */
  onAttempt?: (target: ProbeTarget, result: ProbeResult, durationMs: number) => void;
}

/**
 * Where attempt results go instead of the store's own hysteresis (shared health publishes them and lets the quorum
 * of vantage points decide). Must not throw.
 */
export type ResultSink = (target: ProbeTarget, result: AttemptResult, now: number) => void;

export interface SchedulerStats {
  targets: number;
  inFlight: number;
  queued: number;
  attemptsStarted: number;
  attemptsCompleted: number;
  /** Rounds skipped because the previous attempt of the same target was still queued or running. */
  roundsSkipped: number;
  /** Largest delay seen between an attempt's planned time and its start (queueing + timer lateness), ms. */
  maxStartDelayMs: number;
}

interface Entry {
  target: ProbeTarget;
  /** Planned time (performance-clock ms) of the next round. */
  due: number;
  intervalMs: number;
  /** Index in the heap, -1 when not in it. */
  heapIndex: number;
  running: boolean;
  queued: boolean;
  removed: boolean;
  /** Planned time of the attempt waiting in the queue (for the start-delay statistic). */
  plannedAt: number;
  firstDone: boolean;
  rounds: number;
}

function monotonic(): number {
  return performance.now();
}

export class HealthScheduler {
  /** Resolves once every target of the first setTargets() has completed an attempt (for /readyz). */
  readonly firstRoundDone: Promise<void>;
  /** True once firstRoundDone has resolved. */
  isFirstRoundDone = false;

  private readonly entries = new Map<string, Entry>();
  private readonly heap: Entry[] = [];
  private readonly queue: Entry[] = [];
  private queueHead = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerDue = Infinity;
  private stopped = false;
  private firstRoundPending: Set<string> | null = null;
  private resolveFirstRound: () => void = () => {};
  private readonly concurrency: number;
  private readonly now: () => number;
  private readonly logger: HealthLogger;
  private ctx: ProbeContext;
  private sink: ResultSink | null = null;
  private readonly probe: ProbeFn;
  private readonly startSpreadMs: number;
  private readonly minIntervalMs: number;
  private readonly intervalOf: (t: ProbeTarget) => number;
  private readonly timeoutOf: (t: ProbeTarget) => number;
  private readonly random: () => number;
  private readonly onAttempt: SchedulerOptions['onAttempt'];
  private readonly counters = { attemptsStarted: 0, attemptsCompleted: 0, roundsSkipped: 0, maxStartDelayMs: 0 };

  constructor(
    private readonly store: HealthStore,
    opts: SchedulerOptions = {},
  ) {
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 256));
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger ?? silentLogger;
    this.ctx = opts.probeContext ?? {};
    this.probe = opts.probe ?? probeOnce;
    this.startSpreadMs = Math.max(0, opts.startSpreadMs ?? 1000);
    this.minIntervalMs = Math.max(1, opts.minIntervalMs ?? 1000);
    this.intervalOf = opts.intervalMs ?? ((t) => t.monitor.interval * 1000);
    this.timeoutOf = opts.timeoutMs ?? ((t) => t.monitor.timeout * 1000);
    this.random = opts.random ?? Math.random;
    this.onAttempt = opts.onAttempt;
    this.firstRoundDone = new Promise<void>((resolve) => {
      this.resolveFirstRound = () => {
        this.isFirstRoundDone = true;
        resolve();
      };
    });
  }

  /**
   * Replaces the target set (start-up and every reload). New keys start at once (spread ≤ 1 s); removed keys stop
   * and their state is dropped from the store; unchanged keys keep their timers and state (their target object is
   * replaced: users and User-Agent may have changed). A new key whose carryKey matches a removed key inherits
   * that key's state (only scheduling/hysteresis fields of the monitor changed).
   */
  setTargets(targets: readonly ProbeTarget[]): void {
    if (this.stopped) return;
    const next = new Map<string, ProbeTarget>();
    for (const t of targets) if (!next.has(t.key)) next.set(t.key, t);

    const removedByCarry = new Map<string, string>();
    for (const [key, e] of this.entries) {
      if (next.has(key)) continue;
      e.removed = true;
      this.heapRemove(e);
      this.entries.delete(key);
      removedByCarry.set(e.target.carryKey, key);
      this.firstRoundPending?.delete(key);
    }
    const now = monotonic();
    for (const [key, t] of next) {
      const e = this.entries.get(key);
      if (e) {
        e.target = t;
        continue;
      }
      const oldKey = removedByCarry.get(t.carryKey);
      if (oldKey !== undefined && this.store.carry(oldKey, key)) {
        this.logger.debug('health state carried over to a changed monitor definition', { from: oldKey, to: key });
      }
      const entry: Entry = {
        target: t,
        due: now + this.random() * Math.min(this.startSpreadMs, this.intervalFor(t)),
        intervalMs: this.intervalFor(t),
        heapIndex: -1,
        running: false,
        queued: false,
        removed: false,
        plannedAt: 0,
        firstDone: false,
        rounds: 0,
      };
      this.entries.set(key, entry);
      this.heapPush(entry);
    }
    this.store.retain(new Set(next.keys()));
    if (this.firstRoundPending === null && !this.isFirstRoundDone) {
      this.firstRoundPending = new Set(next.keys());
    }
    this.checkFirstRound();
    this.arm();
  }

  /** Sends attempt results to `sink` instead of recording them in the store (null: back to the store). */
  setResultSink(sink: ResultSink | null): void {
    this.sink = sink;
  }

  /** Source addresses for probes from now on (`server.probe_source`). */
  setSource(source: { v4: string | null; v6: string | null }): void {
    this.ctx = { ...this.ctx, source };
  }

  /** Stops all timers; attempts in flight finish but are no longer recorded. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const e of this.entries.values()) e.removed = true;
    this.entries.clear();
    this.heap.length = 0;
    this.queue.length = 0;
    this.queueHead = 0;
  }

  /** The current targets (for the status API). */
  targets(): ProbeTarget[] {
    return [...this.entries.values()].map((e) => e.target);
  }

  target(key: string): ProbeTarget | undefined {
    return this.entries.get(key)?.target;
  }

  stats(): SchedulerStats {
    return {
      targets: this.entries.size,
      inFlight: this.inFlight,
      queued: this.queue.length - this.queueHead,
      ...this.counters,
    };
  }

  private intervalFor(t: ProbeTarget): number {
    const ms = this.intervalOf(t);
    return Number.isFinite(ms) ? Math.max(this.minIntervalMs, ms) : 60_000;
  }

  private checkFirstRound(): void {
    if (this.firstRoundPending !== null && this.firstRoundPending.size === 0 && !this.isFirstRoundDone) {
      this.firstRoundPending = null;
      this.resolveFirstRound();
    }
  }

  // ---- timer -------------------------------------------------------------------------------------------------

  private arm(): void {
    if (this.stopped) return;
    const top = this.heap[0];
    const due = top ? top.due : Infinity;
    if (due === this.timerDue && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerDue = due;
    if (due === Infinity) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, due - monotonic()));
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = null;
    this.timerDue = Infinity;
    if (this.stopped) return;
    const now = monotonic();
    // Everything due within the next millisecond goes now: one wake-up per burst, not per target.
    while (this.heap.length > 0 && this.heap[0].due <= now + 1) {
      const e = this.heapPop();
      const planned = e.due;
      if (e.running || e.queued) {
        this.counters.roundsSkipped++;
      } else {
        e.queued = true;
        e.plannedAt = planned;
        this.queue.push(e);
      }
      e.due = this.nextDue(e, planned, now);
      this.heapPush(e);
    }
    this.pump();
    this.arm();
  }

  private nextDue(e: Entry, planned: number, now: number): number {
    e.rounds++;
    let next: number;
    if (e.rounds === 1) {
      // Second round: 0.1 to 1 interval after the first. This sets the target's phase, so a large fleet started
      // (or reloaded) at once settles into an even load over the interval instead of one burst per interval.
      next = planned + e.intervalMs * (0.1 + 0.9 * this.random());
    } else {
      next = planned + e.intervalMs;
    }
    if (next <= now) {
      // Far behind (event loop blocked, machine suspended): skip the missed slots, keep the phase.
      const missed = Math.ceil((now - next) / e.intervalMs);
      this.counters.roundsSkipped += missed;
      next += missed * e.intervalMs;
      if (next <= now) next += e.intervalMs;
    }
    return next;
  }

  // ---- run queue -----------------------------------------------------------------------------------------------

  private pump(): void {
    while (this.inFlight < this.concurrency && this.queueHead < this.queue.length) {
      const e = this.queue[this.queueHead++];
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      e.queued = false;
      if (e.removed) continue;
      this.start(e);
    }
  }

  private start(e: Entry): void {
    e.running = true;
    this.inFlight++;
    this.counters.attemptsStarted++;
    const delay = monotonic() - e.plannedAt;
    if (delay > this.counters.maxStartDelayMs) this.counters.maxStartDelayMs = delay;
    const target = e.target;
    const timeout = Math.max(1, this.timeoutOf(target));
    const began = monotonic();
    probeAttempt(target, timeout, target.monitor.retries, this.ctx, this.probe).then(
      (r) => this.complete(e, r, began),
      (err: unknown) => this.complete(e, { ok: false, reason: 'Other Failure', rttMs: null, responseCode: null, detail: `probe error: ${String(err)}`, tries: 1 }, began),
    );
  }

  private complete(e: Entry, r: AttemptResult, began: number): void {
    e.running = false;
    this.inFlight--;
    this.counters.attemptsCompleted++;
    if (this.onAttempt && !e.removed && !this.stopped) {
      try {
        this.onAttempt(e.target, r, monotonic() - began);
      } catch (err) {
        this.logger.error('health: attempt listener failed', { error: String(err) });
      }
    }
    if (!e.removed && !this.stopped) {
      const target = e.target;
      try {
        if (this.sink !== null) this.sink(target, r, this.now());
        else {
          const t = this.store.record(target.key, r, target.monitor, this.now());
          // Per-target line at debug: the (pool, endpoint) events are what operators read (events.ts logs them).
          if (t) this.logger.debug(`health target ${t.to}`, { target: target.key, from: t.from, to: t.to, reason: r.reason, detail: r.detail, tries: r.tries });
        }
      } catch (err) {
        this.logger.error('health: recording a probe result failed', { target: target.key, error: String(err) });
      }
      if (!e.firstDone) {
        e.firstDone = true;
        if (this.firstRoundPending?.delete(target.key)) this.checkFirstRound();
      }
    }
    if (!this.stopped) this.pump();
  }

  // ---- binary min-heap on `due` ----------------------------------------------------------------------------------

  private heapPush(e: Entry): void {
    e.heapIndex = this.heap.length;
    this.heap.push(e);
    this.siftUp(e.heapIndex);
  }

  private heapPop(): Entry {
    const top = this.heap[0];
    const last = this.heap.pop() as Entry;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      last.heapIndex = 0;
      this.siftDown(0);
    }
    top.heapIndex = -1;
    return top;
  }

  private heapRemove(e: Entry): void {
    const i = e.heapIndex;
    if (i < 0) return;
    const last = this.heap.pop() as Entry;
    e.heapIndex = -1;
    if (i === this.heap.length) return;
    this.heap[i] = last;
    last.heapIndex = i;
    this.siftDown(i);
    this.siftUp(last.heapIndex);
  }

  private siftUp(i: number): void {
    const h = this.heap;
    const e = h[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].due <= e.due) break;
      h[i] = h[p];
      h[i].heapIndex = i;
      i = p;
    }
    h[i] = e;
    e.heapIndex = i;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    const e = h[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r].due < h[l].due ? r : l;
      if (h[c].due >= e.due) break;
      h[i] = h[c];
      h[i].heapIndex = i;
      i = c;
    }
    h[i] = e;
    e.heapIndex = i;
  }
}

// The health store: one TargetState per probe target, written by the scheduler, read by the DNS query path.
//
// Reads are plain property reads on long-lived objects: `state(key)` returns the same object for a key for the
// store's lifetime (until the key is dropped), so the query path may keep references. `version` moves on every
// status change of any target; derived pool state can be cached on it.
//
// Hysteresis (docs/decisions.md §1.4): the first result decides directly from 'unknown'; after that a healthy target turns
// unhealthy after `consecutive_down` failed attempts in a row, an unhealthy one turns healthy after
// `consecutive_up` passed attempts in a row.
import type { MonitorConfig } from '../config/types';
import type { GlobalCause } from './shared/types';
import { isFailureReason } from './types';
import type { FailureReason, ProbeResult } from './types';

export type TargetStatus = 'unknown' | 'healthy' | 'unhealthy';

/** Weight of the newest RTT sample in the per-target EWMA: new = α·sample + (1 − α)·old. */
export const RTT_EWMA_ALPHA = 0.3;

export interface TargetState {
  readonly key: string;
  status: TargetStatus;
  /** Reason of the latest attempt ("No failures" when it passed), "Not yet probed" before the first. */
  reason: FailureReason | 'Not yet probed';
  /** Detail of the latest attempt (free text for logs and the status API). */
  detail: string;
  responseCode: number | null;
  /** RTT of the latest attempt, null when it did not measure one. */
  rttMs: number | null;
  /** EWMA (α = RTT_EWMA_ALPHA) over passing attempts. */
  rttEwmaMs: number | null;
  lastCheckedAt: number | null;
  /** When `status` last changed (ms since epoch). */
  changedAt: number | null;
  consecutiveUp: number;
  consecutiveDown: number;
}

export interface Transition {
  readonly key: string;
  readonly from: TargetStatus;
  readonly to: TargetStatus;
  readonly at: number;
  readonly state: Readonly<TargetState>;
  readonly result: ProbeResult;
  /** Shared health: the vantage points and regions behind a global change. */
  readonly global?: GlobalCause;
}

/** A target's state as saved (state file) and pushed (cluster workers): only settled states are kept. */
export type SnapshotEntry = Omit<TargetState, 'status' | 'reason'> & {
  status: 'healthy' | 'unhealthy';
  reason: FailureReason;
};

export interface HealthSnapshot {
  format: 'steerdns-health';
  formatVersion: 1;
  savedAt: number;
  /** Targets with a known status ('unknown' ones are not worth saving). */
  targets: SnapshotEntry[];
}

export type TransitionListener = (t: Transition) => void;

function newState(key: string): TargetState {
  return {
    key,
    status: 'unknown',
    reason: 'Not yet probed',
    detail: '',
    responseCode: null,
    rttMs: null,
    rttEwmaMs: null,
    lastCheckedAt: null,
    changedAt: null,
    consecutiveUp: 0,
    consecutiveDown: 0,
  };
}

export class HealthStore {
  /** +1 on every status change of any target (including restore and drop of a known target). */
  version = 0;
  /** +1 on every RTT EWMA update: dynamic_latency ordering can be refreshed on it (it moves on every pass). */
  rttVersion = 0;
  private readonly states = new Map<string, TargetState>();
  private readonly listeners = new Set<TransitionListener>();
  private onError: (err: unknown) => void = () => {};

  /** Get-or-create: the same object for the same key until the key is dropped. */
  state(key: string): TargetState {
    let s = this.states.get(key);
    if (!s) {
      s = newState(key);
      this.states.set(key, s);
    }
    return s;
  }

  /** The state if the key is known, without creating it. */
  peek(key: string): TargetState | undefined {
    return this.states.get(key);
  }

  keys(): IterableIterator<string> {
    return this.states.keys();
  }

  get size(): number {
    return this.states.size;
  }

  /** Applies one attempt's result with the monitor's hysteresis; returns the transition when the status changed. */
  record(key: string, result: ProbeResult, monitor: Pick<MonitorConfig, 'consecutive_up' | 'consecutive_down'>, now: number): Transition | null {
    const s = this.fold(key, result, now);
    s.reason = result.ok ? 'No failures' : result.reason;
    s.responseCode = result.responseCode;
    const from = s.status;
    let to: TargetStatus = from;
    if (from === 'unknown') to = result.ok ? 'healthy' : 'unhealthy';
    else if (from === 'healthy' && !result.ok && s.consecutiveDown >= Math.max(1, monitor.consecutive_down)) to = 'unhealthy';
    else if (from === 'unhealthy' && result.ok && s.consecutiveUp >= Math.max(1, monitor.consecutive_up)) to = 'healthy';
    if (to === from) return null;
    s.status = to;
    s.changedAt = now;
    this.version++;
    const t: Transition = { key, from, to, at: now, state: s, result };
    this.emit(t);
    return t;
  }

  /**
   * Folds one local attempt into the target's latest result, counters and RTT EWMA without deciding its status
   * (shared health: the quorum of vantage points decides, through set()).
   */
  observe(key: string, result: ProbeResult, now: number): void {
    this.fold(key, result, now);
  }

  /** One attempt into a target's latest result, consecutive counters and RTT EWMA (not its status); returns the state. */
  private fold(key: string, result: ProbeResult, now: number): TargetState {
    const s = this.state(key);
    s.detail = result.detail;
    s.rttMs = result.rttMs;
    s.lastCheckedAt = now;
    if (result.ok) {
      s.consecutiveUp++;
      s.consecutiveDown = 0;
      if (result.rttMs !== null && Number.isFinite(result.rttMs)) {
        s.rttEwmaMs = s.rttEwmaMs === null ? result.rttMs : RTT_EWMA_ALPHA * result.rttMs + (1 - RTT_EWMA_ALPHA) * s.rttEwmaMs;
        this.rttVersion++;
      }
    } else {
      s.consecutiveDown++;
      s.consecutiveUp = 0;
    }
    return s;
  }

  /**
   * Sets a status decided elsewhere (shared health: the quorum, with its hysteresis already applied), with the
   * reason and response code that go with it. Emits a transition when the status changed.
   */
  set(key: string, status: 'healthy' | 'unhealthy', result: ProbeResult, now: number, global?: GlobalCause): Transition | null {
    const s = this.state(key);
    s.reason = status === 'healthy' ? 'No failures' : result.reason === 'No failures' ? 'Other Failure' : result.reason;
    s.responseCode = result.responseCode;
    const from = s.status;
    if (from === status) return null;
    s.status = status;
    s.changedAt = now;
    if (s.lastCheckedAt === null) s.lastCheckedAt = now;
    this.version++;
    const t: Transition = global ? { key, from, to: status, at: now, state: s, result, global } : { key, from, to: status, at: now, state: s, result };
    this.emit(t);
    return t;
  }

  /** Drops every target not in `keys` (targets no longer configured). */
  retain(keys: ReadonlySet<string>): void {
    for (const [key, s] of this.states) {
      if (keys.has(key)) continue;
      this.states.delete(key);
      if (s.status !== 'unknown') this.version++;
    }
  }

  /**
   * Moves the state of `from` to `to` (a reload changed only scheduling/hysteresis fields of a monitor): `to`
   * (its existing object if it has one, still unprobed) takes status, reason, RTT and counters; `from` is
   * dropped. No transition is emitted.
   */
  carry(from: string, to: string): boolean {
    const old = this.states.get(from);
    if (!old || from === to) return false;
    const existing = this.states.get(to);
    if (existing && existing.lastCheckedAt !== null) return false; // `to` has results of its own
    const dst = this.state(to);
    const { key: _ignored, ...fields } = old;
    Object.assign(dst, fields);
    this.states.delete(from);
    if (dst.status !== 'unknown') this.version++;
    return true;
  }

  /** Known states, for the state file and for pushing health to cluster workers. `keys` limits it (a delta). */
  snapshot(keys?: Iterable<string>, now = Date.now()): HealthSnapshot {
    const targets: SnapshotEntry[] = [];
    const add = (s: TargetState | undefined): void => {
      if (!s || s.status === 'unknown' || s.reason === 'Not yet probed') return;
      targets.push({
        key: s.key,
        status: s.status,
        reason: s.reason,
        detail: s.detail,
        responseCode: s.responseCode,
        rttMs: s.rttMs,
        rttEwmaMs: s.rttEwmaMs,
        lastCheckedAt: s.lastCheckedAt,
        changedAt: s.changedAt,
        consecutiveUp: s.consecutiveUp,
        consecutiveDown: s.consecutiveDown,
      });
    };
    if (keys) for (const k of keys) add(this.states.get(k));
    else for (const s of this.states.values()) add(s);
    return { format: 'steerdns-health', formatVersion: 1, savedAt: now, targets };
  }

  /**
   * Applies a snapshot to the targets in `validKeys` (others are ignored: their definition changed or they are no
   * longer configured). Emits no transitions (nothing was observed); bumps `version` when a status changed.
   * Malformed entries are skipped. Returns how many entries were applied.
   */
  restore(snap: HealthSnapshot, validKeys: ReadonlySet<string>): number {
    if (!snap || snap.format !== 'steerdns-health' || !Array.isArray(snap.targets)) return 0;
    let applied = 0;
    for (const e of snap.targets) {
      if (!isValidEntry(e) || !validKeys.has(e.key)) continue;
      const s = this.state(e.key);
      if (s.status !== e.status) this.version++;
      s.status = e.status;
      s.reason = e.reason;
      s.detail = e.detail;
      s.responseCode = e.responseCode;
      s.rttMs = e.rttMs;
      if (s.rttEwmaMs !== e.rttEwmaMs) this.rttVersion++;
      s.rttEwmaMs = e.rttEwmaMs;
      s.lastCheckedAt = e.lastCheckedAt;
      s.changedAt = e.changedAt;
      s.consecutiveUp = e.consecutiveUp;
      s.consecutiveDown = e.consecutiveDown;
      applied++;
    }
    return applied;
  }

  /** Calls `fn` synchronously on every status change; returns the unsubscribe function. */
  onTransition(fn: TransitionListener): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  /** Where listener exceptions go (they never reach the prober). */
  setErrorHandler(fn: (err: unknown) => void): void {
    this.onError = fn;
  }

  private emit(t: Transition): void {
    for (const fn of this.listeners) {
      try {
        fn(t);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isNumOrNull(v: unknown): v is number | null {
  return v === null || isNum(v);
}

function isValidEntry(e: unknown): e is SnapshotEntry {
  if (!e || typeof e !== 'object') return false;
  const o = e as Record<string, unknown>;
  return (
    typeof o.key === 'string' &&
    (o.status === 'healthy' || o.status === 'unhealthy') &&
    isFailureReason(o.reason) &&
    typeof o.detail === 'string' &&
    isNumOrNull(o.responseCode) &&
    isNumOrNull(o.rttMs) &&
    isNumOrNull(o.rttEwmaMs) &&
    isNumOrNull(o.lastCheckedAt) &&
    isNumOrNull(o.changedAt) &&
    isNum(o.consecutiveUp) &&
    isNum(o.consecutiveDown)
  );
}

// Shared health on one instance: publishes this vantage point's attempt results, reads every vantage point's
// results back, and writes the global verdict (aggregate.ts) into the HealthStore, where steering, events,
// webhooks, the state file and the cluster push read it as they read local health without shared health.
//
// Rounds run every `poll_interval`: one publish of the results gathered since the last round, one read of what
// the others published since. Nothing here is on the query path, and nothing waits for the store: a round that
// fails is counted and the next one tries again.
//
// Modes:
//   shared  the store answers: the quorum decides (this vantage point's own results count at once, without the
//           round trip);
//   grace   the store stopped answering less than `grace` seconds ago: the last global view stays as it is;
//   local   longer than that (or never reached since start-up): this vantage point's own results decide, with
//           the monitor's hysteresis, exactly as without shared health. When the store answers again, the global
//           view is rebuilt from the window of results it holds and taken over at once.
import type { SharedHealthConfig } from '../../config/types';
import type { AttemptResult } from '../probes';
import type { HealthStore } from '../store';
import type { HealthLogger, ProbeResult, ProbeTarget } from '../types';
import { aggregate, isFresh, pendingDue, quickVerdict, stepGlobal, type GlobalState, type Hysteresis, type Verdict } from './aggregate';
import { decodeBatch, encodeBatch } from './codec';
import type { GlobalCause, Observation, SharedHealthStore, VantagePoint, VantageVote, Vote } from './types';

export type SharedMode = 'shared' | 'grace' | 'local';

type MutableVote = { -readonly [K in keyof Vote]: Vote[K] };

/** Records a vantage point's latest result, reusing its vote object (thousands arrive per second). */
function setVote(votes: Map<string, MutableVote>, pop: string, region: string, o: Observation, at: number): void {
  const v = votes.get(pop);
  if (v === undefined) {
    votes.set(pop, { key: o.key, ok: o.ok, reason: o.reason, responseCode: o.responseCode, rttMs: o.rttMs, checkedAt: o.checkedAt, pop, region, at });
    return;
  }
  v.ok = o.ok;
  v.reason = o.reason;
  v.responseCode = o.responseCode;
  v.rttMs = o.rttMs;
  v.checkedAt = o.checkedAt;
  v.region = region;
  v.at = at;
}

/** Observations per stored batch: keeps one stream entry around 50 KB. */
const BATCH_OBSERVATIONS = 500;
/**
 * Stream entries per read call (≤ 25,000 results: decoding them holds the event loop for a few ms), and read calls
 * per round (a resync after an outage may take several rounds).
 */
const READ_LIMIT = 50;
const READ_PAGES = 80;
/** Distinct vantage points kept: whatever the store holds, memory stays bounded. */
const MAX_VANTAGE_POINTS = 256;
const POP_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const REGION_PATTERN = /^[A-Z]{2,4}$/;

interface Entry {
  target: ProbeTarget;
  ttlMs: number;
  h: Hysteresis;
  /** Latest result per vantage point (PoP code), this one included; updated in place. */
  votes: Map<string, MutableVote>;
  global: GlobalState;
  /** Next time this target must be evaluated even without new results (a vote expires, a pending verdict is due). */
  dueAt: number;
}

export interface SharedHealthStats {
  mode: SharedMode;
  store: string;
  vantage_point: VantagePoint;
  /** Whether the last round reached the store. */
  store_up: boolean;
  last_store_contact: string | null;
  /** Seconds since the store last answered, while it does not. */
  store_down_for_s: number | null;
  grace_s: number;
  /** Vantage points with fresh results (this one included). */
  vantage_points: { pop: string; region: string; last_seen: string }[];
  targets: number;
  published_total: number;
  publish_errors_total: number;
  read_errors_total: number;
  received_total: number;
  malformed_total: number;
  /** Results for targets this instance does not have (another config version). */
  foreign_total: number;
  fallbacks_total: number;
  rounds_total: number;
}

/** One target's view across vantage points, for the status API. */
export interface TargetVotes {
  verdict: Verdict;
  votes: { vote: Vote; fresh: boolean; voting: boolean }[];
  ttlMs: number;
}

export interface SharedHealthOptions {
  store: HealthStore;
  engine: SharedHealthStore;
  vantage: VantagePoint;
  config: SharedHealthConfig;
  logger: HealthLogger;
  /** Clock (ms since epoch); tests drive it. */
  now?: () => number;
  /** Run rounds on a timer (default true; tests call round() themselves). */
  timer?: boolean;
}

export class SharedHealth {
  private readonly entries = new Map<string, Entry>();
  private readonly store: HealthStore;
  private readonly engine: SharedHealthStore;
  private readonly vantage: VantagePoint;
  private readonly log: HealthLogger;
  private readonly now: () => number;
  private config: SharedHealthConfig;
  private modeValue: SharedMode = 'local';
  /** Latest unpublished result per target. Bounded by the number of targets: a newer result replaces an older one. */
  private pending = new Map<string, Observation>();
  private cursor: string | null = null;
  private lastOkAt: number | null = null;
  private storeUp = false;
  private joinedOnce = false;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Entry ids of our own recent batches: a batch under our PoP code that is not ours means a duplicate code. */
  private readonly ownIds = new Set<string>();
  private duplicateWarnedAt = 0;
  private readonly seen = new Map<string, { region: string; at: number }>();
  /** The longest result ttl over the targets (set with them). */
  private maxTtlMs = 180_000;
  private readonly counters = { published: 0, publishErrors: 0, readErrors: 0, received: 0, malformed: 0, foreign: 0, fallbacks: 0, rounds: 0 };

  constructor(opts: SharedHealthOptions) {
    this.store = opts.store;
    this.engine = opts.engine;
    this.vantage = opts.vantage;
    this.config = opts.config;
    this.log = opts.logger;
    this.now = opts.now ?? Date.now;
    if (opts.timer !== false) this.schedule(0);
  }

  get mode(): SharedMode {
    return this.modeValue;
  }

  get description(): string {
    return this.engine.description;
  }

  /** Settings that can change on a reload without reconnecting (ttl, grace, poll interval). */
  setConfig(config: SharedHealthConfig): void {
    this.config = config;
  }

  /** The targets this instance probes (start-up and every reload). */
  setTargets(targets: readonly ProbeTarget[]): void {
    const next = new Map<string, Entry>();
    let added = false;
    for (const t of targets) {
      const old = this.entries.get(t.key);
      const intervalMs = t.monitor.interval * 1000;
      const h: Hysteresis = { consecutiveUp: t.monitor.consecutive_up, consecutiveDown: t.monitor.consecutive_down, intervalMs };
      const ttlMs = this.config.ttl !== null ? this.config.ttl * 1000 : 3 * intervalMs;
      if (old) {
        old.target = t;
        old.h = h;
        old.ttlMs = ttlMs;
        old.dueAt = 0;
        next.set(t.key, old);
      } else {
        added = true;
        const status = this.store.peek(t.key)?.status ?? 'unknown';
        next.set(t.key, { target: t, ttlMs, h, votes: new Map(), global: { status, pendingTo: null, pendingSince: 0 }, dueAt: Infinity });
      }
    }
    this.entries.clear();
    let maxTtl = this.config.ttl !== null ? this.config.ttl * 1000 : 0;
    for (const [k, e] of next) {
      this.entries.set(k, e);
      if (e.ttlMs > maxTtl) maxTtl = e.ttlMs;
    }
    this.maxTtlMs = maxTtl || 180_000;
    for (const k of [...this.pending.keys()]) if (!this.entries.has(k)) this.pending.delete(k);
    // Results published for the new targets before we knew them were dropped: read the window again.
    if (added && this.modeValue !== 'local') this.cursor = null;
  }

  /** The scheduler's result sink: every local attempt. */
  onResult(target: ProbeTarget, result: AttemptResult, now: number): void {
    const e = this.entries.get(target.key);
    const obs: Observation = { key: target.key, ok: result.ok, reason: result.reason, responseCode: result.responseCode, rttMs: result.rttMs, checkedAt: now };
    this.pending.set(target.key, obs);
    if (e) setVote(e.votes, this.vantage.pop, this.vantage.region, obs, now);
    if (this.modeValue === 'local' || !e) {
      this.store.record(target.key, result, target.monitor, now);
      return;
    }
    this.store.observe(target.key, result, now);
    if (this.modeValue === 'shared') this.evaluate(e, now, false);
  }

  /** One round: publish, read, apply, then the timed re-evaluations. Rounds never overlap. */
  round(): Promise<void> {
    if (!this.running) {
      this.running = this.roundOnce().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  stats(): SharedHealthStats {
    const now = this.now();
    const maxTtl = this.maxTtl();
    const vps: SharedHealthStats['vantage_points'] = [];
    for (const [pop, s] of this.seen) if (isFresh(s.at, now, maxTtl)) vps.push({ pop, region: s.region, last_seen: new Date(s.at).toISOString() });
    vps.sort((a, b) => (a.pop < b.pop ? -1 : a.pop > b.pop ? 1 : 0));
    return {
      mode: this.modeValue,
      store: this.engine.description,
      vantage_point: this.vantage,
      store_up: this.storeUp,
      last_store_contact: this.lastOkAt === null ? null : new Date(this.lastOkAt).toISOString(),
      store_down_for_s: this.storeUp ? null : this.lastOkAt === null ? null : Math.round((now - this.lastOkAt) / 1000),
      grace_s: this.config.grace,
      vantage_points: vps,
      targets: this.entries.size,
      published_total: this.counters.published,
      publish_errors_total: this.counters.publishErrors,
      read_errors_total: this.counters.readErrors,
      received_total: this.counters.received,
      malformed_total: this.counters.malformed,
      foreign_total: this.counters.foreign,
      fallbacks_total: this.counters.fallbacks,
      rounds_total: this.counters.rounds,
    };
  }

  /** One line for /readyz and the log. */
  describe(): string {
    const s = this.stats();
    if (s.mode === 'shared') return `shared health: global view from ${s.vantage_points.length} vantage point(s) via ${s.store}`;
    if (s.mode === 'grace') return `shared health: store ${s.store} unreachable for ${s.store_down_for_s ?? 0} s, keeping the last global view (grace ${s.grace_s} s)`;
    return this.joinedOnce || s.store_down_for_s !== null
      ? `shared health: store ${s.store} unreachable, health from this vantage point's own results`
      : `shared health: store ${s.store} not reached yet, health from this vantage point's own results`;
  }

  /** Every vantage point's latest result for a target, and the verdict they give now. */
  targetVotes(key: string): TargetVotes | null {
    const e = this.entries.get(key);
    if (!e) return null;
    const now = this.now();
    const voters = e.target.regions;
    const votes = [...e.votes.values()]
      .sort((a, b) => (a.pop < b.pop ? -1 : a.pop > b.pop ? 1 : 0))
      .map((vote) => ({ vote, fresh: isFresh(vote.at, now, e.ttlMs), voting: voters === null || voters.includes(vote.region) }));
    return { verdict: aggregate(e.votes.values(), voters, now, e.ttlMs), votes, ttlMs: e.ttlMs };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running.catch(() => undefined);
    await this.engine.close().catch(() => undefined);
  }

  // ---- rounds -------------------------------------------------------------------------------------------------

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.round().then(() => this.schedule(this.config.poll_interval * 1000));
    }, ms);
    this.timer.unref();
  }

  private async roundOnce(): Promise<void> {
    this.counters.rounds++;
    await this.publish();
    let ok = false;
    let resync = false;
    try {
      const wasLocal = this.modeValue === 'local';
      if (wasLocal) this.cursor = null; // after an outage (or at start-up): the whole window
      for (let page = 0; page < READ_PAGES; page++) {
        const r = await this.engine.read(this.cursor, this.windowMs(), READ_LIMIT);
        this.cursor = r.cursor;
        this.apply(r.batches, this.now() - r.storeNow);
        if (!r.more) break;
      }
      ok = true;
      resync = wasLocal;
    } catch (err) {
      this.counters.readErrors++;
      this.log.debug('shared health: read failed', { store: this.engine.description, error: err instanceof Error ? err.message : String(err) });
    }
    if (this.stopped) return;
    const now = this.now();
    if (ok) this.storeAnswered(now, resync);
    else this.storeSilent(now);
    this.sweep(now);
    // Vantage points gone for two windows are forgotten (their votes expired long ago).
    for (const [pop, s] of this.seen) if (now - s.at > 2 * this.windowMs()) this.seen.delete(pop);
  }

  private async publish(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    for (let i = 0; i < batch.length; i += BATCH_OBSERVATIONS) {
      const part = batch.slice(i, i + BATCH_OBSERVATIONS);
      try {
        this.rememberOwn(await this.engine.publish(this.vantage, encodeBatch(part), this.windowMs()));
        this.counters.published += part.length;
      } catch (err) {
        this.counters.publishErrors++;
        // Keep what did not go out, unless a newer result for the same target arrived meanwhile.
        for (const o of batch.slice(i)) if (!this.pending.has(o.key)) this.pending.set(o.key, o);
        this.log.debug('shared health: publish failed', { store: this.engine.description, error: err instanceof Error ? err.message : String(err) });
        return;
      }
    }
  }

  private rememberOwn(id: string): void {
    this.ownIds.add(id);
    if (this.ownIds.size > 256) this.ownIds.delete(this.ownIds.values().next().value as string);
  }

  /** Folds read batches into the votes; `offset` converts the store's clock to ours. */
  private apply(batches: readonly { id: string; storedAt: number; pop: string; region: string; payload: string }[], offset: number): void {
    const now = this.now();
    for (const b of batches) {
      if (!POP_PATTERN.test(b.pop) || !REGION_PATTERN.test(b.region)) {
        this.counters.malformed++;
        continue;
      }
      if (b.pop === this.vantage.pop) {
        if (!this.ownIds.has(b.id) && b.storedAt + offset > now - 60_000 && now - this.duplicateWarnedAt > 60_000 && this.ownIds.size > 0) {
          this.duplicateWarnedAt = now;
          this.log.warn('shared health: another instance publishes under this PoP code; give every instance its own server.pop.code', { pop: b.pop });
        }
        continue; // our own results are applied when they happen
      }
      const at = Math.min(b.storedAt + offset, now);
      const seen = this.seen.get(b.pop);
      if (seen === undefined && this.seen.size >= MAX_VANTAGE_POINTS) {
        this.counters.malformed++;
        continue;
      }
      if (!seen || seen.at <= at) this.seen.set(b.pop, { region: b.region, at });
      const { observations, malformed } = decodeBatch(b.payload);
      this.counters.malformed += malformed;
      for (const o of observations) {
        this.counters.received++;
        const e = this.entries.get(o.key);
        if (!e) {
          this.counters.foreign++;
          continue;
        }
        const prev = e.votes.get(b.pop);
        if (prev && prev.at > at) continue;
        setVote(e.votes, b.pop, b.region, o, at);
        if (this.modeValue === 'shared') this.evaluate(e, now, false);
      }
    }
  }

  private storeAnswered(now: number, resync: boolean): void {
    this.lastOkAt = now;
    this.storeUp = true;
    this.seen.set(this.vantage.pop, { region: this.vantage.region, at: now });
    if (this.modeValue === 'shared') return;
    const from = this.modeValue;
    this.modeValue = 'shared';
    if (resync) {
      // The local view (or nothing, at start-up) is replaced by the global one at once.
      for (const e of this.entries.values()) {
        e.global.status = this.store.peek(e.target.key)?.status ?? 'unknown';
        e.global.pendingTo = null;
        this.evaluate(e, now, true);
      }
    } else {
      for (const e of this.entries.values()) this.evaluate(e, now, false);
    }
    if (!this.joinedOnce) this.log.info('shared health: using the global view', { store: this.engine.description, vantage_point: this.vantage.pop, region: this.vantage.region });
    else this.log.warn('shared health: the store answers again, using the global view', { store: this.engine.description, was: from });
    this.joinedOnce = true;
  }

  private storeSilent(now: number): void {
    const wasUp = this.storeUp;
    this.storeUp = false;
    if (this.modeValue === 'shared') {
      this.modeValue = 'grace';
      this.log.warn('shared health: the store does not answer, keeping the last global view', { store: this.engine.description, grace_s: this.config.grace });
    } else if (this.modeValue === 'local' && !this.joinedOnce && wasUp === false && this.counters.readErrors === 1) {
      this.log.warn('shared health: the store cannot be reached; deciding from this vantage point\'s own results until it answers', { store: this.engine.description });
    }
    if (this.modeValue === 'grace' && this.lastOkAt !== null && now - this.lastOkAt >= this.config.grace * 1000) {
      this.modeValue = 'local';
      this.counters.fallbacks++;
      this.log.warn('shared health: the store is still unreachable after the grace period; deciding from this vantage point\'s own results', { store: this.engine.description, grace_s: this.config.grace });
      for (const e of this.entries.values()) {
        const own = e.votes.get(this.vantage.pop);
        if (!own) continue;
        this.write(e, own.ok ? 'healthy' : 'unhealthy', own, now, undefined, "this vantage point's own result (shared health store unreachable)");
        e.global.status = own.ok ? 'healthy' : 'unhealthy';
        e.global.pendingTo = null;
      }
    }
  }

  /** Re-evaluates the targets whose votes expire or whose pending verdict comes due. O(targets) comparisons. */
  private sweep(now: number): void {
    if (this.modeValue !== 'shared') return;
    for (const e of this.entries.values()) if (e.dueAt <= now) this.evaluate(e, now, false);
  }

  private evaluate(e: Entry, now: number, adopt: boolean): void {
    const q = quickVerdict(e.votes, e.target.regions, now, e.ttlMs);
    const changed = stepGlobal(e.global, q.status, now, e.h, adopt);
    e.dueAt = Math.min(pendingDue(e.global, e.h), q.expiresAt + 1);
    const status = e.global.status;
    if (status === 'unknown') return;
    const current = this.store.peek(e.target.key);
    // The common case, without allocating: nothing changed, and no failure reason to refresh.
    if (changed === null && current !== undefined && current.status === status && (status === 'healthy' || q.status !== status)) return;
    const verdict = aggregate(e.votes.values(), e.target.regions, now, e.ttlMs);
    // The reason shown follows the verdict while it agrees with the status (another failure takes over); while a
    // verdict is pending against the status, the status keeps its own reason.
    const basis = verdict.status === status ? verdict : { reason: current?.reason === 'Not yet probed' || current === undefined ? 'Other Failure' as const : current.reason, responseCode: current?.responseCode ?? null };
    const reason = status === 'healthy' ? 'No failures' : basis.reason;
    if (changed === null && current !== undefined && current.status === status && current.reason === reason && current.responseCode === basis.responseCode) return;
    const cause = current?.status !== status ? this.cause(e, verdict, now) : undefined;
    this.write(e, status, basis, now, cause, summary(verdict));
  }

  private write(e: Entry, status: 'healthy' | 'unhealthy', from: { reason: Observation['reason']; responseCode: number | null }, now: number, cause: GlobalCause | undefined, detail: string): void {
    const reason = status === 'healthy' ? 'No failures' : from.reason === 'No failures' ? 'Other Failure' : from.reason;
    const result: ProbeResult = { ok: status === 'healthy', reason, rttMs: null, responseCode: from.responseCode, detail };
    const t = this.store.set(e.target.key, status, result, now, cause);
    if (t) this.log.debug(`health target ${t.to} (global)`, { target: e.target.key, from: t.from, to: t.to, detail });
  }

  private cause(e: Entry, verdict: Verdict, now: number): GlobalCause {
    const voters = e.target.regions;
    const vantage_points: VantageVote[] = [];
    for (const v of e.votes.values()) {
      if (!isFresh(v.at, now, e.ttlMs)) continue;
      vantage_points.push(vantageVote(v, voters === null || voters.includes(v.region)));
    }
    vantage_points.sort((a, b) => (a.pop < b.pop ? -1 : a.pop > b.pop ? 1 : 0));
    return { regions: verdict.regions.map((r) => ({ region: r.region, healthy: r.healthy, passing: r.passing, total: r.total })), vantage_points };
  }

  /** How long results must stay readable in the store: the longest ttl of any target (at least a minute). */
  private windowMs(): number {
    return Math.max(60_000, this.maxTtl());
  }

  private maxTtl(): number {
    return this.maxTtlMs;
  }
}

export function vantageVote(v: Vote, voting: boolean): VantageVote {
  return {
    pop: v.pop,
    region: v.region,
    healthy: v.ok,
    failure_reason: v.reason,
    response_code: v.responseCode,
    rtt_ms: v.rttMs,
    checked_at: new Date(v.checkedAt).toISOString(),
    voting,
  };
}

/** "2 of 3 regions healthy (WEU 1/1, ENAM 0/1, WNAM 1/1)": the detail of a global transition. */
function summary(v: Verdict): string {
  const healthy = v.regions.filter((r) => r.healthy).length;
  const parts = v.regions.map((r) => `${r.region} ${r.passing}/${r.total}`).join(', ');
  return `global: ${healthy} of ${v.regions.length} region(s) healthy (${parts}; passing/fresh vantage points)`;
}

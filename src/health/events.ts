// Health events (https://developers.cloudflare.com/load-balancing/reference/load-balancing-analytics/, the event log): one event per real change of an endpoint, shaped like Cloudflare's event log, kept in
// a bounded ring and handed to subscribers (notifications, logs).
//
// A target transition is evaluated for every (pool, endpoint) that uses the target: endpoint health and pool
// health are computed before (with the target's previous status) and after. An event is recorded when
//   - the endpoint changed healthy ⇄ unhealthy, or went from unknown to unhealthy (a fault found at start-up);
//   - or the pool's usability changed (healthy ⇄ critical) from the one last reported or first settled by known
//     results (see `determined`);
//   - or, for a monitor group, a member's own status changed (a `monitoring_only` member "can trigger
//     notifications" without changing the endpoint).
// unknown → healthy (every endpoint at start-up) is not an event: it would flood the log on every start.
// Nothing is recorded while states stay the same; reloads re-index silently.
import type { Config, OriginConfig, PoolConfig } from '../config/types';
import { evaluateEndpoint, evaluatePool } from './pool-state';
import type { EndpointHealth, PoolHealth, PoolState, StatusOf } from './pool-state';
import type { GlobalCause } from './shared/types';
import type { HealthStore, TargetStatus, Transition } from './store';
import { forEachTargetUse, isMonitored } from './targets';
import { silentLogger } from './types';
import { runToEnd } from '../util/slices';
import type { Sliced } from '../util/slices';
import type { HealthLogger } from './types';

export interface HealthEventMonitor {
  /** Monitor name (Cloudflare shows the monitor id). */
  id: string;
  healthy: boolean;
  failure_reason: string;
  response_code: number | null;
  must_be_healthy: boolean;
  monitoring_only: boolean;
  /** This member's status changed in this event. */
  changed: boolean;
}

export interface HealthEventOrigin {
  name: string;
  /** The endpoint address as configured (IP or hostname). */
  ip: string;
  enabled: boolean;
  healthy: boolean;
  /** null for disabled endpoints. */
  failure_reason: string | null;
  response_code: number | null;
  changed: boolean;
  monitors?: HealthEventMonitor[];
}

export interface HealthEvent {
  id: number;
  /** ISO 8601. */
  timestamp: string;
  pool: { name: string; healthy: boolean; changed: boolean; minimum_origins: number; state: PoolState };
  /** Every endpoint of the pool; `changed` marks the one this event is about. */
  origins: HealthEventOrigin[];
  /** What happened, for filters and logs. */
  cause: { target: string; monitor: string; origin: string; from: TargetStatus; to: TargetStatus; detail: string };
  /**
   * Shared health: the change is global, decided by these regions' vantage points (each one's latest result;
   * `voting` false for regions outside the pool's check_regions). Absent when this server decides alone.
   */
  regions?: GlobalCause['regions'];
  vantage_points?: GlobalCause['vantage_points'];
}

export type HealthEventListener = (e: HealthEvent) => void;

interface Use {
  pool: PoolConfig;
  origin: OriginConfig;
  monitor: string;
}

export interface EventQuery {
  pool?: string;
  origin?: string;
  /** Only events with id > sinceId. */
  sinceId?: number;
  /** The newest `limit` matching events. */
  limit?: number;
}

/** A status change worth reporting: into a known state, except the start-up unknown → healthy. */
function reportable(from: TargetStatus, to: TargetStatus): boolean {
  return from !== to && to !== 'unknown' && !(from === 'unknown' && to === 'healthy');
}

/**
 * Whether a pool's usability is settled by known results: usable (enough healthy endpoints), or critical even if
 * every endpoint still unknown turned out healthy. Before that (start-up), usability changes are not events.
 */
function determined(p: PoolHealth): boolean {
  if (!p.monitored || !p.enabled) return false;
  if (p.usable) return true;
  let knownDown = 0;
  for (const e of p.endpoints) if (e.enabled && e.status === 'unhealthy') knownDown++;
  return p.enabledCount - knownDown < p.minimumOrigins;
}

export class HealthEvents {
  private readonly capacity: number;
  private readonly ring: HealthEvent[] = [];
  private ringStart = 0;
  private nextId = 1;
  private config: Config | null = null;
  private byKey = new Map<string, Use[]>();
  /** Per pool: the usability last shown in an event or first determined (see `determined`). */
  private readonly poolBaseline = new Map<string, boolean>();
  private readonly listeners = new Set<HealthEventListener>();
  private readonly unsubscribe: () => void;
  private readonly logger: HealthLogger;

  constructor(
    private readonly store: HealthStore,
    opts: { capacity?: number; logger?: HealthLogger } = {},
  ) {
    this.capacity = Math.max(1, opts.capacity ?? 1000);
    this.logger = opts.logger ?? silentLogger;
    this.unsubscribe = store.onTransition((t) => this.onTransition(t));
  }

  /** Re-indexes which (pool, endpoint, monitor) use which target. No events are produced by a reload. */
  setConfig(config: Config): void {
    runToEnd(this.setConfigSliced(config));
  }

  /**
   * setConfig in slices (a reload beside the query path: 10,000 monitored pools take about a second to evaluate).
   * The new index and config take effect together at the end; transitions meanwhile are judged by the old ones.
   */
  *setConfigSliced(config: Config): Sliced<void> {
    const byKey = new Map<string, Use[]>();
    forEachTargetUse(config, (u) => {
      const list = byKey.get(u.key);
      const use: Use = { pool: u.pool, origin: u.origin, monitor: u.monitorName };
      if (list) list.push(use);
      else byKey.set(u.key, [use]);
    });
    yield;
    // A reload may change usability (minimum_origins, endpoints): re-base silently, so that the next event
    // reports changes of health, not of configuration. Unmonitored pools never have a baseline (`determined`).
    const baseline = new Map<string, boolean>();
    let n = 0;
    for (const pool of config.pools.values()) {
      if (!isMonitored(pool)) continue;
      const p = evaluatePool(pool, config, this.store);
      if (determined(p)) baseline.set(pool.name, p.usable);
      if ((++n & 63) === 0) yield;
    }
    this.config = config;
    this.byKey = byKey;
    for (const name of [...this.poolBaseline.keys()]) if (!config.pools.has(name)) this.poolBaseline.delete(name);
    for (const [name, usable] of baseline) this.poolBaseline.set(name, usable);
  }

  /**
   * Continues a log saved by an earlier run (event-log.ts): its newest events (oldest first) fill the ring, and ids
   * go on after `lastId`. Ids only ever grow: a `lastId` below the next id changes nothing.
   */
  restore(events: readonly HealthEvent[], lastId: number): void {
    if (this.ring.length === 0) {
      for (const e of events.slice(Math.max(0, events.length - this.capacity))) this.ring.push(e);
      this.ringStart = 0;
    }
    if (lastId >= this.nextId) this.nextId = lastId + 1;
  }

  /** Events, oldest first. */
  list(q: EventQuery = {}): HealthEvent[] {
    const out: HealthEvent[] = [];
    const n = this.ring.length;
    for (let i = 0; i < n; i++) {
      const e = this.ring[(this.ringStart + i) % n];
      if (q.sinceId !== undefined && e.id <= q.sinceId) continue;
      if (q.pool !== undefined && e.pool.name !== q.pool) continue;
      if (q.origin !== undefined && !e.origins.some((o) => o.changed && o.name === q.origin) && e.cause.origin !== q.origin) continue;
      out.push(e);
    }
    return q.limit !== undefined && out.length > q.limit ? out.slice(out.length - q.limit) : out;
  }

  get size(): number {
    return this.ring.length;
  }

  onEvent(fn: HealthEventListener): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  private onTransition(t: Transition): void {
    const config = this.config;
    if (!config) return;
    const uses = this.byKey.get(t.key);
    if (!uses) return;
    const before: StatusOf = (key) => (key === t.key ? t.from : (this.store.peek(key)?.status ?? 'unknown'));
    const seen = new Set<string>();
    for (const use of uses) {
      const id = `${use.pool.name}\u0000${use.origin.name}`;
      if (seen.has(id)) continue; // one event per (pool, endpoint), even if a group lists the target twice
      seen.add(id);
      this.evaluate(config, use, t, before);
    }
  }

  private evaluate(config: Config, use: Use, t: Transition, before: StatusOf): void {
    const { pool, origin } = use;
    const e0 = evaluateEndpoint(pool, config, origin, this.store, before);
    const p1 = evaluatePool(pool, config, this.store);
    const e1 = p1.endpoints.find((e) => e.name === origin.name) ?? evaluateEndpoint(pool, config, origin, this.store);
    const endpointChanged = reportable(e0.status, e1.status);
    const memberChanged = pool.monitor_group !== null && reportable(t.from, t.to);
    let baseline = this.poolBaseline.get(pool.name);
    if (baseline === undefined) {
      const p0 = evaluatePool(pool, config, this.store, before);
      if (determined(p0)) baseline = p0.usable;
    }
    const poolChanged = baseline !== undefined && determined(p1) && baseline !== p1.usable;
    if (!endpointChanged && !poolChanged && !memberChanged) {
      if (determined(p1)) this.poolBaseline.set(pool.name, p1.usable);
      return;
    }
    this.poolBaseline.set(pool.name, p1.usable);

    const event: HealthEvent = {
      id: this.nextId++,
      timestamp: new Date(t.at).toISOString(),
      pool: { name: pool.name, healthy: p1.usable, changed: poolChanged, minimum_origins: pool.minimum_origins, state: p1.state },
      origins: p1.endpoints.map((e) => originView(e, e.name === origin.name && endpointChanged, t.key)),
      cause: { target: t.key, monitor: use.monitor, origin: origin.name, from: t.from, to: t.to, detail: t.result.detail },
    };
    if (t.global) {
      event.regions = t.global.regions;
      event.vantage_points = t.global.vantage_points;
    }
    this.push(event);
    const fields = {
      event: event.id,
      pool: pool.name,
      origin: origin.name,
      healthy: e1.healthy,
      failure_reason: e1.reason,
      detail: t.result.detail,
      pool_healthy: p1.usable,
      pool_changed: poolChanged,
      ...(t.global ? { vantage_points: t.global.vantage_points.map((v) => `${v.pop}/${v.region}:${v.healthy ? 'up' : v.failure_reason}${v.voting ? '' : ' (not voting)'}`) } : {}),
    };
    if (!e1.healthy || (poolChanged && !p1.usable)) this.logger.warn('health event', fields);
    else this.logger.info('health event', fields);
    for (const fn of this.listeners) {
      try {
        fn(event);
      } catch (err) {
        this.logger.error('health event listener failed', { error: String(err) });
      }
    }
  }

  private push(e: HealthEvent): void {
    if (this.ring.length < this.capacity) {
      this.ring.push(e);
      return;
    }
    this.ring[this.ringStart] = e;
    this.ringStart = (this.ringStart + 1) % this.capacity;
  }
}

function originView(e: EndpointHealth, changed: boolean, changedKey: string): HealthEventOrigin {
  const o: HealthEventOrigin = {
    name: e.name,
    ip: e.address,
    enabled: e.enabled,
    healthy: e.healthy,
    failure_reason: e.enabled ? (e.reason ?? 'No failures') : null,
    response_code: e.responseCode,
    changed,
  };
  if (e.monitors) {
    o.monitors = e.monitors.map((m) => ({
      id: m.monitor,
      healthy: m.healthy,
      failure_reason: m.healthy ? 'No failures' : m.reason,
      response_code: m.responseCode,
      must_be_healthy: m.must_be_healthy,
      monitoring_only: m.monitoring_only,
      changed: m.key === changedKey,
    }));
  }
  return o;
}

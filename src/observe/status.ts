// Read-only views of the running state, shaped after the Cloudflare API objects (load balancers, pools with
// origin health and failure reasons, monitors, the health-event log). Used by the HTTP API and the metrics.
// Configuration shown here goes through redact.ts: header values and URL credentials are never echoed.
import type { LoadBalancerConfig, PoolConfig } from '../config/types';
import { evaluatePool, type PoolHealth, type Resolves } from '../health/pool-state';
import type { HealthStore } from '../health/store';
import { buildTargets } from '../health/targets';
import { effectivePolicy } from '../lb/steering';
import type { Runtime } from '../runtime';
import type { VoteSource } from './pop-health';
import { redactHeaders, redactUrl } from './redact';

/** Reloads so far (metrics and /api/status). */
export interface ReloadStats {
  reloads: number;
  reloadFailures: number;
  lastReloadSuccess: boolean;
  lastReloadAt: number;
  /** Why the last reload failed (null after a success). */
  lastReloadError: string | null;
}

export type LbHealth = 'healthy' | 'degraded' | 'critical';

export interface StatusDeps {
  runtime: Runtime;
  store: HealthStore;
  /** Resolved addresses of hostname endpoints, when known. */
  describeHostname?: (name: string) => { addresses: string[]; error: string | null } | null;
  /** Whether a hostname endpoint resolves now, as steering sees it (the same judge decides, see pool-state.ts). */
  resolves?: Resolves;
  /** Shared health: every vantage point's results (pop_health). */
  votes?: VoteSource | null;
}

export function poolHealth(deps: StatusDeps, pool: PoolConfig): PoolHealth {
  return evaluatePool(pool, deps.runtime.config, deps.store, undefined, deps.resolves);
}

function poolsOf(lb: LoadBalancerConfig): string[] {
  const names = new Set<string>(lb.default_pools);
  for (const m of [lb.region_pools, lb.country_pools, lb.pop_pools]) for (const l of Object.values(m)) for (const n of l) names.add(n);
  return [...names];
}

/**
 * Seed L7141-L7143: healthy = every pool healthy; degraded = at least one pool unhealthy but traffic not yet going
 * to the fallback; critical = every pool unhealthy (traffic goes to the fallback pool).
 */
export function loadBalancerHealth(deps: StatusDeps, lb: LoadBalancerConfig): { health: LbHealth; pools: { name: string; state: string; usable: boolean }[] } {
  const pools = poolsOf(lb).map((name) => {
    const pc = deps.runtime.config.pools.get(name);
    if (!pc) return { name, state: 'unknown', usable: false };
    const h = poolHealth(deps, pc);
    return { name, state: pc.enabled ? h.state : 'disabled', usable: h.usable };
  });
  const usable = pools.filter((p) => p.usable).length;
  const health: LbHealth = usable === pools.length ? 'healthy' : usable === 0 ? 'critical' : 'degraded';
  return { health, pools };
}

export function loadBalancerView(deps: StatusDeps, lb: LoadBalancerConfig): Record<string, unknown> {
  const rt = deps.runtime.balancers.get(lb.name);
  const { health, pools } = loadBalancerHealth(deps, lb);
  return {
    id: lb.name,
    name: lb.name,
    description: lb.description,
    enabled: lb.enabled,
    proxied: false,
    ttl: lb.ttl,
    steering_policy: lb.steering_policy,
    effective_steering_policy: rt ? effectivePolicy(rt.base) : lb.steering_policy,
    default_pools: lb.default_pools,
    fallback_pool: lb.fallback_pool ?? lb.default_pools[lb.default_pools.length - 1],
    region_pools: lb.region_pools,
    country_pools: lb.country_pools,
    pop_pools: lb.pop_pools,
    random_steering: lb.random_steering,
    location_strategy: lb.location_strategy,
    rules: lb.rules,
    serves_mx_srv: rt ? rt.servesMxSrv : false,
    health,
    pools,
  };
}

export function poolView(deps: StatusDeps, pool: PoolConfig): Record<string, unknown> {
  const h = poolHealth(deps, pool);
  return {
    id: pool.name,
    name: pool.name,
    description: pool.description,
    enabled: pool.enabled,
    minimum_origins: pool.minimum_origins,
    monitor: pool.monitor,
    monitor_group: pool.monitor_group,
    origin_steering: pool.origin_steering,
    load_shedding: pool.load_shedding,
    latitude: pool.latitude,
    longitude: pool.longitude,
    notification_filter: pool.notification_filter,
    healthy: h.usable,
    state: pool.enabled ? h.state : 'disabled',
    healthy_origins: h.healthyCount,
    enabled_origins: h.enabledCount,
    rtt_ms: h.rttMs,
    origins: pool.origins.map((o, i) => {
      const e = h.endpoints[i];
      const resolved = deps.describeHostname?.(o.address) ?? null;
      return {
        name: o.name,
        address: o.address,
        enabled: o.enabled,
        weight: o.weight,
        port: o.port,
        priority: o.priority,
        header: redactHeaders(o.header),
        healthy: e.healthy && (resolved === null || resolved.addresses.length > 0),
        status: e.status,
        failure_reason: resolved && resolved.addresses.length === 0 && resolved.error ? 'DNS Unknown Host' : e.reason,
        response_code: e.responseCode,
        rtt_ms: e.rttEwmaMs,
        ...(resolved ? { resolved_addresses: resolved.addresses } : {}),
        ...(e.monitors ? { monitors: e.monitors } : {}),
      };
    }),
  };
}

export function monitorView(deps: StatusDeps, name: string): Record<string, unknown> | null {
  const m = deps.runtime.config.monitors.get(name);
  if (!m) return null;
  const targets = buildTargets(deps.runtime.config)
    .filter((t) => t.users.some((u) => u.monitor === name))
    .map((t) => {
      const s = deps.store.peek(t.key);
      return {
        address: t.address,
        port: t.port,
        host: t.host,
        used_by: t.users.filter((u) => u.monitor === name).map((u) => ({ pool: u.pool, origin: u.origin })),
        status: s?.status ?? 'unknown',
        failure_reason: s?.reason ?? 'Not yet probed',
        response_code: s?.responseCode ?? null,
        rtt_ms: s?.rttMs ?? null,
        rtt_ewma_ms: s?.rttEwmaMs ?? null,
        last_checked: isoOrNull(s?.lastCheckedAt),
        changed: isoOrNull(s?.changedAt),
      };
    });
  return { id: name, ...m, path: redactUrl(m.path), header: redactHeaders(m.header), targets };
}

/** ISO time, null when unset or not a time a Date can hold (toISOString() would throw). */
function isoOrNull(ms: number | null | undefined): string | null {
  if (!ms) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The part of /api/status that single-process servers and cluster primaries share. */
export function statusSummary(o: { role: string; runtime: Runtime; reloads: ReloadStats; startedAt: number; ready: boolean; version: string }): Record<string, unknown> {
  const config = o.runtime.config;
  return {
    version: o.version,
    role: o.role,
    config: config.file,
    started_at: new Date(o.startedAt).toISOString(),
    config_loaded_at: new Date(o.reloads.lastReloadAt).toISOString(),
    reloads: o.reloads.reloads,
    reload_failures: o.reloads.reloadFailures,
    last_reload_successful: o.reloads.lastReloadSuccess,
    last_reload_error: o.reloads.lastReloadError,
    pop: o.runtime.pop,
    zones: config.zones.map((z) => z.name),
    load_balancers: config.load_balancers.length,
    pools: config.pools.size,
    monitors: config.monitors.size,
    ready: o.ready,
  };
}

// GET /api/overview: the whole running state at a glance, for the status page and for people (`/api/pools` shows
// every configured field; this shows what is up). Load balancers with their health, policy and pools; pools with
// their state and endpoints (health, failure reason, RTT, last change). Pools shared by several load balancers
// appear once. Configuration secrets never appear here: no headers, no monitor paths.
import type { Config, LoadBalancerConfig } from '../config/types';
import { effectivePolicy } from '../lb/steering';
import { REGION_NAMES } from '../geo/regions';
import { loadBalancerHealth, poolHealth, type StatusDeps } from './status';

export interface OverviewEndpoint {
  name: string;
  address: string;
  enabled: boolean;
  healthy: boolean;
  status: string;
  failure_reason: string | null;
  rtt_ms: number | null;
  /** When the deciding probe target last changed state (ISO), null when unknown. */
  changed: string | null;
}

export interface OverviewPool {
  name: string;
  enabled: boolean;
  monitored: boolean;
  state: string;
  healthy: boolean;
  healthy_origins: number;
  enabled_origins: number;
  minimum_origins: number;
  rtt_ms: number | null;
  origins: OverviewEndpoint[];
}

export interface OverviewLoadBalancer {
  name: string;
  enabled: boolean;
  health: string;
  steering_policy: string;
  default_pools: string[];
  fallback_pool: string;
  /** region code → pools, as configured (geo steering). */
  region_pools: Record<string, string[]>;
  /** Every pool this load balancer can answer from (defaults, geo maps, fallback, rule overrides). */
  pools: string[];
}

export interface Overview {
  load_balancers: OverviewLoadBalancer[];
  pools: OverviewPool[];
  regions: Record<string, string>;
}

function iso(ms: number | null | undefined): string | null {
  if (!ms) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 100) / 100;
}

/** Pools a load balancer may answer from, in the order a reader expects: defaults first. */
function poolsOf(lb: LoadBalancerConfig): string[] {
  const names = new Set<string>(lb.default_pools);
  for (const m of [lb.region_pools, lb.country_pools, lb.pop_pools]) for (const l of Object.values(m)) for (const n of l) names.add(n);
  if (lb.fallback_pool) names.add(lb.fallback_pool);
  for (const r of lb.rules) {
    const o = r.overrides;
    for (const n of o.default_pools ?? []) names.add(n);
    if (o.fallback_pool) names.add(o.fallback_pool);
    for (const m of [o.region_pools, o.country_pools, o.pop_pools]) for (const l of Object.values(m ?? {})) for (const n of l) names.add(n);
  }
  return [...names];
}

export function overview(deps: StatusDeps): Overview {
  const config: Config = deps.runtime.config;
  const lbs = config.load_balancers.map((lb): OverviewLoadBalancer => {
    const rt = deps.runtime.balancers.get(lb.name);
    return {
      name: lb.name,
      enabled: lb.enabled,
      health: loadBalancerHealth(deps, lb).health,
      steering_policy: rt ? effectivePolicy(rt.base) : lb.steering_policy,
      default_pools: lb.default_pools,
      fallback_pool: lb.fallback_pool ?? lb.default_pools[lb.default_pools.length - 1],
      region_pools: lb.region_pools,
      pools: poolsOf(lb),
    };
  });
  const pools = [...config.pools.values()].map((pc): OverviewPool => {
    const h = poolHealth(deps, pc);
    return {
      name: pc.name,
      enabled: pc.enabled,
      monitored: h.monitored,
      state: pc.enabled ? h.state : 'disabled',
      healthy: h.usable,
      healthy_origins: h.healthyCount,
      enabled_origins: h.enabledCount,
      minimum_origins: pc.minimum_origins,
      rtt_ms: round(h.rttMs),
      origins: pc.origins.map((o, i): OverviewEndpoint => {
        const e = h.endpoints[i];
        const resolved = deps.describeHostname?.(o.address) ?? null;
        const unresolved = resolved !== null && resolved.addresses.length === 0 && resolved.error !== null;
        // The last change of the target(s) deciding this endpoint: its monitor's, or the latest of its group's.
        let changed: number | null = e.key !== null ? (deps.store.peek(e.key)?.changedAt ?? null) : null;
        for (const m of e.monitors ?? []) {
          const at = deps.store.peek(m.key)?.changedAt ?? null;
          if (at !== null && (changed === null || at > changed)) changed = at;
        }
        return {
          name: o.name,
          address: o.address,
          enabled: o.enabled,
          healthy: e.healthy && !unresolved,
          status: o.enabled ? (unresolved ? 'unhealthy' : e.status) : 'disabled',
          failure_reason: unresolved ? 'DNS Unknown Host' : e.reason,
          rtt_ms: round(e.rttEwmaMs),
          changed: iso(changed),
        };
      }),
    };
  });
  return { load_balancers: lbs, pools, regions: { ...REGION_NAMES, unknown: 'Not located' } };
}

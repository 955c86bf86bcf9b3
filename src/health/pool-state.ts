// Endpoint and pool health derived from target states (https://developers.cloudflare.com/load-balancing/understand-basics/health-details/; monitor groups: https://developers.cloudflare.com/load-balancing/monitors/monitor-groups/).
//
// - Pool without monitor/group: every enabled endpoint counts as up; the pool state is 'unknown' ("no monitors
//   attached"), but it is usable when it has ≥ minimum_origins enabled endpoints.
// - Monitor: endpoint healthy ⇔ its target is healthy ('unknown' counts as down for steering).
// - Monitor group: a failing `must_be_healthy` member makes the endpoint unhealthy; otherwise the endpoint is
//   unhealthy iff MORE than 50 % of the voting members (enabled, not monitoring_only) are not healthy. A
//   `must_be_healthy` member votes too; a `monitoring_only` member never decides (even if also must_be_healthy).
// - Pool: usable ⇔ enabled and #healthy enabled endpoints ≥ minimum_origins. State: 'unknown' when monitored
//   but no enabled endpoint has a result yet, 'critical' below the threshold, 'healthy' when every enabled
//   endpoint is healthy, else 'degraded'. Disabled endpoints are ignored (they are not "unhealthy").
//
// Called by the load-balancer code when `store.version` changes; cost O(endpoints × members), no allocation
// beyond the result.
import { isIP } from 'node:net';
import type { Config, MonitorConfig, MonitorGroupMember, OriginConfig, PoolConfig } from '../config/types';
import type { HealthStore, TargetStatus } from './store';
import { isMonitored, poolTargetKey } from './targets';
import type { FailureReason } from './types';

export type PoolState = 'healthy' | 'degraded' | 'critical' | 'unknown';

export interface MemberHealth {
  /** Monitor name. */
  monitor: string;
  key: string;
  status: TargetStatus;
  healthy: boolean;
  reason: FailureReason | 'Not yet probed';
  responseCode: number | null;
  rttEwmaMs: number | null;
  must_be_healthy: boolean;
  monitoring_only: boolean;
}

export interface EndpointHealth {
  name: string;
  address: string;
  enabled: boolean;
  /** Whether a monitor or group decides this endpoint's health. */
  monitored: boolean;
  /** Counts as up for steering (unmonitored enabled endpoints always do). */
  healthy: boolean;
  /** healthy/unhealthy as decided; 'unknown' while no deciding monitor has a result, or when not monitored. */
  status: TargetStatus;
  /** "No failures" when healthy; otherwise the deciding failure, "Not yet probed", or null when unmonitored/disabled. */
  reason: FailureReason | 'Not yet probed' | null;
  responseCode: number | null;
  /** RTT EWMA of the endpoint (group: average over voting members with data). */
  rttEwmaMs: number | null;
  /** Target key (single monitor); null for groups, unmonitored or disabled endpoints. */
  key: string | null;
  /** Present when the pool uses a monitor group: the enabled members. */
  monitors?: MemberHealth[];
}

export interface PoolHealth {
  name: string;
  enabled: boolean;
  monitored: boolean;
  state: PoolState;
  /** enabled && healthyCount ≥ minimum_origins. */
  usable: boolean;
  healthyCount: number;
  enabledCount: number;
  minimumOrigins: number;
  /** Average RTT EWMA over healthy endpoints with data (dynamic_latency); null when none. */
  rttMs: number | null;
  endpoints: EndpointHealth[];
}

/** Status lookup; the default reads the store. Events pass an override to evaluate "before" a transition. */
export type StatusOf = (key: string) => TargetStatus;

/**
 * Whether a hostname endpoint currently resolves to at least one address. An endpoint whose name does not resolve
 * is down whatever its monitor says ("DNS Unknown Host"): it cannot be answered.
 * https://developers.cloudflare.com/load-balancing/troubleshooting/common-error-codes/ ("DNS Unknown Host")
 */
export type Resolves = (hostname: string) => boolean;

interface Lookup {
  store: HealthStore;
  statusOf: StatusOf;
  resolves: Resolves | null;
}

function readStatus(l: Lookup, key: string): TargetStatus {
  return l.statusOf(key);
}

function memberHealth(l: Lookup, name: string, monitor: MonitorConfig, origin: OriginConfig, member: MonitorGroupMember | null, pool: PoolConfig, config: Config): MemberHealth {
  const key = poolTargetKey(config, pool, monitor, origin);
  const s = l.store.peek(key);
  const status = readStatus(l, key);
  return {
    monitor: name,
    key,
    status,
    healthy: status === 'healthy',
    reason: s ? s.reason : 'Not yet probed',
    responseCode: s ? s.responseCode : null,
    rttEwmaMs: s ? s.rttEwmaMs : null,
    must_be_healthy: member ? member.must_be_healthy : false,
    monitoring_only: member ? member.monitoring_only : false,
  };
}

function failureOf(m: MemberHealth): FailureReason | 'Not yet probed' {
  if (m.status === 'unknown') return 'Not yet probed';
  return m.reason === 'No failures' ? 'Other Failure' : m.reason;
}

function endpointHealth(pool: PoolConfig, config: Config, origin: OriginConfig, l: Lookup): EndpointHealth {
  const h = monitoredHealth(pool, config, origin, l);
  if (h.enabled && l.resolves !== null && isIP(origin.address) === 0 && !l.resolves(origin.address)) {
    // h is this call's own object.
    h.healthy = false;
    h.status = 'unhealthy';
    h.reason = 'DNS Unknown Host';
  }
  return h;
}

/**
 * One EndpointHealth, as one object literal with every field: evaluated for every endpoint of every pool by the
 * status API, metrics and analytics (50,000 endpoints every few seconds), where spreading a partial object into
 * each result cost ~10 µs an endpoint.
 */
function endpointResult(
  origin: OriginConfig,
  monitored: boolean,
  healthy: boolean,
  status: TargetStatus,
  reason: EndpointHealth['reason'],
  responseCode: number | null,
  rttEwmaMs: number | null,
  key: string | null,
): EndpointHealth {
  return { name: origin.name, address: origin.address, enabled: origin.enabled, monitored, healthy, status, reason, responseCode, rttEwmaMs, key };
}

function monitoredHealth(pool: PoolConfig, config: Config, origin: OriginConfig, l: Lookup): EndpointHealth {
  const monitor = pool.monitor !== null ? config.monitors.get(pool.monitor) : undefined;
  const group = pool.monitor_group !== null ? config.monitor_groups.get(pool.monitor_group) : undefined;
  const monitored = monitor !== undefined || group !== undefined;
  if (!origin.enabled) {
    return endpointResult(origin, monitored, false, 'unknown', null, null, null, null);
  }
  if (monitor !== undefined && pool.monitor !== null) {
    const m = memberHealth(l, pool.monitor, monitor, origin, null, pool, config);
    return endpointResult(origin, true, m.healthy, m.status, m.healthy ? 'No failures' : failureOf(m), m.responseCode, m.rttEwmaMs, m.key);
  }
  if (group !== undefined) {
    const members: MemberHealth[] = [];
    let voting = 0;
    let votingBad = 0;
    let deciding: MemberHealth | null = null;
    let anyKnown = false;
    let rttSum = 0;
    let rttN = 0;
    for (const member of group.members) {
      if (!member.enabled) continue;
      const mc = config.monitors.get(member.monitor);
      if (!mc) continue;
      const m = memberHealth(l, member.monitor, mc, origin, member, pool, config);
      members.push(m);
      if (member.monitoring_only) continue;
      if (m.status !== 'unknown') anyKnown = true;
      voting++;
      if (m.rttEwmaMs !== null) {
        rttSum += m.rttEwmaMs;
        rttN++;
      }
      if (!m.healthy) {
        votingBad++;
        if (member.must_be_healthy && (deciding === null || !deciding.must_be_healthy)) deciding = m;
        else if (deciding === null) deciding = m;
      }
    }
    const mustFailed = deciding !== null && deciding.must_be_healthy;
    const healthy = !mustFailed && !(2 * votingBad > voting);
    let status: TargetStatus = healthy ? 'healthy' : 'unhealthy';
    if (!healthy && !anyKnown) status = 'unknown';
    const e = endpointResult(
      origin,
      true,
      healthy,
      status,
      healthy ? 'No failures' : deciding ? failureOf(deciding) : 'Other Failure',
      deciding ? deciding.responseCode : (members.find((m) => !m.monitoring_only)?.responseCode ?? null),
      rttN > 0 ? rttSum / rttN : null,
      null,
    );
    e.monitors = members;
    return e;
  }
  // No monitor (or a dangling reference, reported by config checks): health is not considered.
  return endpointResult(origin, false, true, 'unknown', null, null, null, null);
}

/** Health of one endpoint of a pool (disabled endpoints: healthy false, status 'unknown'). */
export function evaluateEndpoint(pool: PoolConfig, config: Config, origin: OriginConfig, store: HealthStore, statusOf?: StatusOf, resolves?: Resolves): EndpointHealth {
  return endpointHealth(pool, config, origin, lookupFor(store, statusOf, resolves));
}

function lookupFor(store: HealthStore, statusOf?: StatusOf, resolves?: Resolves): Lookup {
  return { store, statusOf: statusOf ?? ((key) => store.peek(key)?.status ?? 'unknown'), resolves: resolves ?? null };
}

/**
 * Pool health: endpoint health, pool state, usability and RTT — the one judge of whether a pool can take traffic.
 * Steering (through the runtime's health view), the status API, metrics and explain all read it. `resolves`
 * (hostname endpoints) is given wherever names are resolved; without it, only the monitors decide.
 */
export function evaluatePool(pool: PoolConfig, config: Config, store: HealthStore, statusOf?: StatusOf, resolves?: Resolves): PoolHealth {
  const l = lookupFor(store, statusOf, resolves);
  const endpoints: EndpointHealth[] = [];
  let healthyCount = 0;
  let enabledCount = 0;
  let anyKnown = false;
  let rttSum = 0;
  let rttN = 0;
  let monitored = false;
  for (const origin of pool.origins) {
    const e = endpointHealth(pool, config, origin, l);
    endpoints.push(e);
    monitored = e.monitored;
    if (!origin.enabled) continue;
    enabledCount++;
    if (e.status !== 'unknown') anyKnown = true;
    if (e.healthy) {
      healthyCount++;
      if (e.rttEwmaMs !== null) {
        rttSum += e.rttEwmaMs;
        rttN++;
      }
    }
  }
  if (pool.origins.length === 0) monitored = isMonitored(pool);
  const minimumOrigins = pool.minimum_origins;
  const aboveThreshold = healthyCount >= minimumOrigins;
  let state: PoolState;
  if (!monitored) state = 'unknown';
  else if (!anyKnown && enabledCount > 0) state = 'unknown';
  else if (!aboveThreshold) state = 'critical';
  else if (healthyCount === enabledCount) state = 'healthy';
  else state = 'degraded';
  return {
    name: pool.name,
    enabled: pool.enabled,
    monitored,
    state,
    usable: pool.enabled && aboveThreshold,
    healthyCount,
    enabledCount,
    minimumOrigins,
    rttMs: rttN > 0 ? rttSum / rttN : null,
    endpoints,
  };
}

// Pool health per vantage point, in the shape of Cloudflare's Pool Health Details (`pop_health`: per data center,
// whether the pool is healthy there and each origin's health, RTT, failure reason and response code; see
// https://developers.cloudflare.com/api/resources/load_balancers/subresources/pools/subresources/health/methods/get/).
// With shared health every vantage point that published fresh results has an entry; without it, this PoP alone.
import type { PoolConfig } from '../config/types';
import { evaluatePool, type EndpointHealth, type StatusOf } from '../health/pool-state';
import type { TargetVotes } from '../health/shared/coordinator';
import type { Vote } from '../health/shared/types';
import type { HealthStore } from '../health/store';
import type { Resolves } from '../health/pool-state';
import type { Runtime } from '../runtime';

/** What pop_health needs from shared health. */
export interface VoteSource {
  targetVotes(key: string): TargetVotes | null;
}

export interface PopOrigin {
  healthy: boolean;
  rtt: string | null;
  failure_reason: string;
  response_code: number | null;
}

export interface PopHealth {
  healthy: boolean;
  region: string | null;
  /** Whether this PoP's region votes on the pool (check_regions). */
  voting: boolean;
  /** The latest result of this PoP (ISO time). */
  last_checked: string | null;
  origins: Record<string, PopOrigin>[];
}

function keysOf(e: EndpointHealth): string[] {
  if (e.key !== null) return [e.key];
  return e.monitors ? e.monitors.filter((m) => !m.monitoring_only).map((m) => m.key) : [];
}

function rtt(ms: number | null): string | null {
  return ms === null ? null : `${Math.round(ms)}ms`;
}

/** What the breakdown reads (the status API's deps have it). */
export interface PopHealthDeps {
  runtime: Pick<Runtime, 'config' | 'pop'>;
  store: HealthStore;
  resolves?: Resolves;
}

export function popHealth(deps: PopHealthDeps, pool: PoolConfig, shared: VoteSource | null): Record<string, PopHealth> {
  const config = deps.runtime.config;
  const out: Record<string, PopHealth> = {};
  const own = deps.runtime.pop;
  if (shared === null) {
    const h = evaluatePool(pool, config, deps.store, undefined, deps.resolves);
    let last: number | null = null;
    const origins = h.endpoints.filter((e) => e.enabled).map((e) => {
      for (const k of keysOf(e)) {
        const at = deps.store.peek(k)?.lastCheckedAt ?? null;
        if (at !== null && (last === null || at > last)) last = at;
      }
      return { [e.address]: { healthy: e.healthy, rtt: rtt(e.rttEwmaMs), failure_reason: e.reason ?? 'No failures', response_code: e.responseCode } };
    });
    out[own.code] = { healthy: h.usable, region: own.region, voting: true, last_checked: last === null ? null : new Date(last).toISOString(), origins };
    return out;
  }
  // Every (PoP, target) vote of the pool's endpoints.
  const base = evaluatePool(pool, config, deps.store, undefined, deps.resolves);
  const byPop = new Map<string, { region: string; voting: boolean; votes: Map<string, Vote>; last: number }>();
  for (const e of base.endpoints) {
    if (!e.enabled) continue;
    for (const key of keysOf(e)) {
      const tv = shared.targetVotes(key);
      if (!tv) continue;
      for (const { vote, fresh, voting } of tv.votes) {
        if (!fresh) continue;
        let p = byPop.get(vote.pop);
        if (!p) byPop.set(vote.pop, (p = { region: vote.region, voting, votes: new Map(), last: 0 }));
        p.votes.set(key, vote);
        if (vote.checkedAt > p.last) p.last = vote.checkedAt;
      }
    }
  }
  for (const pop of [...byPop.keys()].sort()) {
    const p = byPop.get(pop)!;
    const statusOf: StatusOf = (key) => {
      const v = p.votes.get(key);
      return v === undefined ? 'unknown' : v.ok ? 'healthy' : 'unhealthy';
    };
    const h = evaluatePool(pool, config, deps.store, statusOf, deps.resolves);
    const origins = h.endpoints.filter((e) => e.enabled).map((e) => {
      const votes = keysOf(e).map((k) => p.votes.get(k)).filter((v): v is Vote => v !== undefined);
      const failing = votes.find((v) => !v.ok);
      const shown = failing ?? votes[0];
      return {
        [e.address]: {
          healthy: e.healthy,
          rtt: rtt(shown?.rttMs ?? null),
          failure_reason: votes.length === 0 ? 'Not yet probed' : e.healthy ? 'No failures' : (failing?.reason ?? 'Other Failure'),
          response_code: shown?.responseCode ?? null,
        },
      };
    });
    out[pop] = { healthy: h.usable, region: p.region, voting: p.voting, last_checked: p.last ? new Date(p.last).toISOString() : null, origins };
  }
  return out;
}

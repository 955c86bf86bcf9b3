// The monitors' health store, seen through the small interface steering reads (lb/views.ts). The judgement itself
// is health/pool-state.ts evaluatePool — the same function the status API, metrics and explain read — given the
// hostname resolver, so that a hostname endpoint that does not resolve is down for all of them alike.
import type { Config, PoolConfig } from '../config/types';
import { evaluatePool, type Resolves, type StatusOf } from '../health/pool-state';
import { HealthStore } from '../health/store';
import type { HealthView, HostnameView, PoolJudgement } from '../lb/views';

/** Whether a hostname endpoint has addresses now, in either family. */
export function resolvesWith(hostnames: HostnameView): Resolves {
  return (name) => hostnames.addresses(name, 4) !== null || hostnames.addresses(name, 6) !== null;
}

function judgement(pool: PoolConfig, config: Config, store: HealthStore, statusOf: StatusOf | undefined, resolves: Resolves): PoolJudgement {
  const h = evaluatePool(pool, config, store, statusOf, resolves);
  return { up: h.endpoints.map((e) => e.healthy), usable: h.usable, healthyCount: h.healthyCount };
}

export class StoreHealthView implements HealthView {
  private readonly rtt = new Map<PoolConfig, { version: number; value: number | null }>();
  private readonly resolves: Resolves;

  constructor(
    private readonly store: HealthStore,
    private readonly config: Config,
    hostnames: HostnameView,
  ) {
    this.resolves = resolvesWith(hostnames);
  }

  get version(): number {
    return this.store.version;
  }

  pool(pool: PoolConfig): PoolJudgement {
    return judgement(pool, this.config, this.store, undefined, this.resolves);
  }

  poolRtt(pool: PoolConfig): number | null {
    // RTT moves on every probe; cache per RTT version so a burst of queries evaluates the pool once.
    const v = this.store.rttVersion * 1e6 + this.store.version;
    const hit = this.rtt.get(pool);
    if (hit && hit.version === v) return hit.value;
    const value = evaluatePool(pool, this.config, this.store, undefined, this.resolves).rttMs;
    this.rtt.set(pool, { version: v, value });
    return value;
  }
}

/** Health as if every monitored endpoint were up (check, explain --health assume-up); names must still resolve. */
export class AssumeUpHealthView implements HealthView {
  readonly version = 0;
  private readonly store = new HealthStore();
  private readonly resolves: Resolves;

  constructor(
    private readonly config: Config,
    hostnames: HostnameView,
  ) {
    this.resolves = resolvesWith(hostnames);
  }

  pool(pool: PoolConfig): PoolJudgement {
    return judgement(pool, this.config, this.store, () => 'healthy', this.resolves);
  }

  poolRtt(): number | null {
    return null;
  }
}

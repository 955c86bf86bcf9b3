// The monitors' health store, seen through the small interface steering reads (lb/views.ts).
import type { Config, PoolConfig } from '../config/types';
import { evaluatePool } from '../health/pool-state';
import type { HealthStore } from '../health/store';
import type { HealthView } from '../lb/views';

export class StoreHealthView implements HealthView {
  private readonly rtt = new Map<PoolConfig, { version: number; value: number | null }>();

  constructor(
    private readonly store: HealthStore,
    private readonly config: Config,
  ) {}

  get version(): number {
    return this.store.version;
  }

  originHealth(pool: PoolConfig): readonly boolean[] {
    return evaluatePool(pool, this.config, this.store).endpoints.map((e) => e.healthy);
  }

  poolRtt(pool: PoolConfig): number | null {
    // RTT moves on every probe; cache per RTT version so a burst of queries evaluates the pool once.
    const v = this.store.rttVersion * 1e6 + this.store.version;
    const hit = this.rtt.get(pool);
    if (hit && hit.version === v) return hit.value;
    const value = evaluatePool(pool, this.config, this.store).rttMs;
    this.rtt.set(pool, { version: v, value });
    return value;
  }
}

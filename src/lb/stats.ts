// Counters of steering decisions per load balancer and pool, kept across reloads (Prometheus counters must not
// reset when the config changes). The query path only increments plain numbers.

export class LbCounters {
  /** Queries this load balancer answered (any outcome). */
  queries = 0;
  /** Answers from the fallback pool because no other pool was usable. */
  fallback = 0;
  /** NODATA + SOA: no usable pool and no fallback able to answer. */
  nodata = 0;
  /** Answers per chosen pool. */
  readonly pools = new Map<string, number>();
  // Most queries of a load balancer pick the same pool as the one before: count those without a map lookup.
  private lastPool = '';
  private lastCount = 0;

  selected(pool: string): void {
    if (pool === this.lastPool) {
      this.lastCount++;
      return;
    }
    this.flush();
    this.lastPool = pool;
    this.lastCount = 1;
  }

  /** Moves the run of the last pool into `pools` (read `pools` after calling this). */
  flush(): void {
    if (this.lastCount > 0) this.pools.set(this.lastPool, (this.pools.get(this.lastPool) ?? 0) + this.lastCount);
    this.lastCount = 0;
  }
}

export class LbStatsRegistry {
  private readonly byName = new Map<string, LbCounters>();

  forLb(name: string): LbCounters {
    let c = this.byName.get(name);
    if (!c) {
      c = new LbCounters();
      this.byName.set(name, c);
    }
    return c;
  }

  /** Counters by load balancer, with every pending count settled. */
  entries(): IterableIterator<[string, LbCounters]> {
    for (const c of this.byName.values()) c.flush();
    return this.byName.entries();
  }
}

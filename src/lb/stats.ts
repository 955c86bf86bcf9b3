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

  selected(pool: string): void {
    this.pools.set(pool, (this.pools.get(pool) ?? 0) + 1);
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

  entries(): IterableIterator<[string, LbCounters]> {
    return this.byName.entries();
  }
}

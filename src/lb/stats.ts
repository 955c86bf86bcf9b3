// Counters of steering decisions per load balancer and pool, kept across reloads (Prometheus counters must not
// reset when the config changes). The query path only increments plain numbers.

/** Answers one load balancer gave from one pool: a cell the balancer increments without a lookup. */
export class PoolCount {
  n = 0;
}

export class LbCounters {
  /** Queries this load balancer answered (any outcome). */
  queries = 0;
  /** Answers from the fallback pool because no other pool was usable. */
  fallback = 0;
  /** NODATA + SOA: no usable pool and no fallback able to answer. */
  nodata = 0;
  private readonly byPool = new Map<string, PoolCount>();

  /** The counter of answers from the pool named `name` (the same cell across reloads). */
  pool(name: string): PoolCount {
    let c = this.byPool.get(name);
    if (!c) {
      c = new PoolCount();
      this.byPool.set(name, c);
    }
    return c;
  }

  /** Answers per pool name (pools that never answered are left out). */
  get pools(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [name, c] of this.byPool) if (c.n > 0) out.set(name, c.n);
    return out;
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

  /** Counters by load balancer. */
  entries(): IterableIterator<[string, LbCounters]> {
    return this.byName.entries();
  }

  /** The counters as plain data (cluster workers send them to the primary). */
  snapshot(): LbStatsSnapshot {
    return [...this.byName].map(([name, c]) => [name, { queries: c.queries, fallback: c.fallback, nodata: c.nodata, pools: [...c.pools] }]);
  }

  /** Adds another instance's counters to these. */
  add(s: LbStatsSnapshot): void {
    for (const [name, c] of s) {
      const t = this.forLb(name);
      t.queries += c.queries;
      t.fallback += c.fallback;
      t.nodata += c.nodata;
      for (const [p, n] of c.pools) t.pool(p).n += n;
    }
  }
}

export type LbStatsSnapshot = [string, { queries: number; fallback: number; nodata: number; pools: [string, number][] }][];

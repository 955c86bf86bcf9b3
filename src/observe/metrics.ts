// Prometheus exposition through prom-client. Query-path numbers live in plain counters (QueryStats, LbCounters,
// ProbeStats); the metrics here read them at scrape time, so the hot path never touches a label map.
// Names follow one scheme: steerdns_<area>_<thing>[_total|_seconds].
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricObjectWithValues, MetricType, MetricValueWithName } from 'prom-client';
import { COOKIE_STATUS_LABELS } from '../dns/cookies';
import { SigningCounter } from '../dns/context';
import { RRL_KIND_LABELS } from '../dns/rrl';
import { LATENCY_BUCKETS, QueryStats, RRL_COUNTER_LABELS } from './query-stats';
import type { LbCounters } from '../lb/stats';
import { loadBalancerHealth, poolHealth, type ReloadStats, type StatusDeps } from './status';

export type { ReloadStats } from './status';

/** Probe outcomes per monitor and type, with a duration histogram (seconds). */
export class ProbeStats {
  static readonly BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
  readonly results = new Map<string, number>(); // "monitor|type|result|reason"
  readonly durations = new Map<string, { buckets: number[]; sum: number; count: number }>(); // "monitor|type"

  record(monitor: string, type: string, ok: boolean, reason: string, seconds: number): void {
    const k = `${monitor}|${type}|${ok ? 'up' : 'down'}|${reason}`;
    this.results.set(k, (this.results.get(k) ?? 0) + 1);
    const dk = `${monitor}|${type}`;
    let d = this.durations.get(dk);
    if (!d) {
      d = { buckets: new Array<number>(ProbeStats.BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
      this.durations.set(dk, d);
    }
    let b = 0;
    while (b < ProbeStats.BUCKETS.length && seconds > ProbeStats.BUCKETS[b]) b++;
    d.buckets[b]++;
    d.sum += seconds;
    d.count++;
  }
}


export interface MetricsSource {
  /** Query counters (summed over cluster workers). */
  queryStats(): Promise<QueryStats>;
  /** Steering counters per load balancer (summed over workers). */
  lbStats(): Promise<ReadonlyMap<string, LbCounters>>;
  probeStats: ProbeStats;
  reloads: ReloadStats;
  /** Current runtime and health, for gauges. */
  status(): StatusDeps;
  tcpConnections(): number;
  /** The UDP I/O path of the data planes ('batched' or 'dgram'), null before they serve. */
  udpIo(): string | null;
  /** The analytics store's size and what it could not keep (observe/analytics.ts). */
  analytics?: () => { series: number; bytes: number; dropped_answers: number };
}

type Values = MetricObjectWithValues<MetricValueWithName<string>>;

/** A histogram whose values come from counters kept elsewhere (prom-client reads them through get()). */
class ExternalHistogram extends Histogram<string> {
  constructor(
    private readonly metricName: string,
    private readonly helpText: string,
    labelNames: string[],
    private readonly source: () => Promise<{ labels: Record<string, string>; buckets: ArrayLike<number>; bounds: readonly number[]; sum: number; count: number }[]>,
    registry: Registry,
  ) {
    super({ name: metricName, help: helpText, labelNames, registers: [registry] });
  }

  // The registry renders text through getForPromString() and JSON through get(): both come from the source.
  async getForPromString(): Promise<Values> {
    return this.get();
  }

  override async get(): Promise<Values> {
    const values: MetricValueWithName<string>[] = [];
    for (const s of await this.source()) {
      let cum = 0;
      s.bounds.forEach((le, i) => {
        cum += s.buckets[i];
        values.push({ metricName: `${this.metricName}_bucket`, labels: { ...s.labels, le }, value: cum });
      });
      cum += s.buckets[s.bounds.length];
      values.push({ metricName: `${this.metricName}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: cum });
      values.push({ metricName: `${this.metricName}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.metricName}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.metricName, help: this.helpText, type: 'histogram' as unknown as MetricType, // the d.ts declares an enum the package does not export at run time
      values, aggregator: 'sum', collect: () => undefined };
  }
}

export function createMetrics(src: MetricsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'steerdns_' }); // steerdns_process_cpu_seconds_total, steerdns_nodejs_heap_size_used_bytes, …

  new Counter({
    name: 'steerdns_queries_total',
    help: 'DNS queries answered, by transport, response code and query type.',
    labelNames: ['transport', 'rcode', 'qtype'],
    registers: [registry],
    async collect() {
      this.reset();
      (await src.queryStats()).forEachQuery((transport, rcode, qtype, n) => this.inc({ transport, rcode, qtype }, n));
    },
  });
  new Counter({
    name: 'steerdns_truncated_total',
    help: 'UDP answers sent with TC=1 because they did not fit the negotiated size.',
    labelNames: ['transport'],
    registers: [registry],
    async collect() {
      this.reset();
      const s = await src.queryStats();
      this.inc({ transport: 'udp' }, s.truncated[0]);
    },
  });
  new Counter({
    name: 'steerdns_dropped_packets_total',
    help: 'Packets that got no answer (too short, a response, source port 0, send failures).',
    labelNames: ['transport', 'reason'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [k, n] of (await src.queryStats()).dropped) {
        const [transport, reason] = k.split('|');
        this.inc({ transport, reason }, n);
      }
    },
  });
  new Counter({
    name: 'steerdns_tcp_rejected_total',
    help: 'TCP connections refused or closed by a limit (max_connections, per_client, idle, partial_frame, slow_reader, queue_budget).',
    labelNames: ['reason'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [reason, n] of (await src.queryStats()).tcpRejected) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: 'steerdns_tcp_connections',
    help: 'Open TCP connections.',
    registers: [registry],
    collect() {
      this.set(src.tcpConnections());
    },
  });
  new Gauge({
    name: 'steerdns_udp_io',
    help: 'The UDP I/O path in use: 1 for path="batched" (recvmmsg/sendmmsg, native module) or path="dgram" (node:dgram).',
    labelNames: ['path'],
    registers: [registry],
    collect() {
      this.reset();
      const path = src.udpIo();
      if (path !== null) this.set({ path }, 1);
    },
  });
  // Response rate limiting: one counter per verdict, by response kind (dns/rrl.ts).
  const rrlCounter = (name: string, help: string, column: number, labels: Record<string, string> = {}): void => {
    new Counter({
      name,
      help,
      labelNames: ['kind', ...Object.keys(labels)],
      registers: [registry],
      async collect() {
        this.reset();
        const s = await src.queryStats();
        for (let k = 1; k < RRL_KIND_LABELS.length; k++) {
          const n = s.rrl[k * RRL_COUNTER_LABELS.length + column];
          if (n > 0) this.inc({ kind: RRL_KIND_LABELS[k], ...labels }, n);
        }
      },
    });
  };
  rrlCounter('steerdns_rrl_limited_total', 'UDP responses over the rate limit, by kind (in log_only mode: the ones that would have been limited, and were sent).', 0);
  rrlCounter('steerdns_rrl_dropped_total', 'UDP responses dropped by rate limiting, by kind.', 1);
  new Counter({
    name: 'steerdns_rrl_slipped_total',
    help: 'Rate-limited UDP responses sent in the small form instead of dropped (every slip-th): TC=1 and empty, or BADCOOKIE to a client that sent a cookie.',
    labelNames: ['kind', 'response'],
    registers: [registry],
    async collect() {
      this.reset();
      const s = await src.queryStats();
      for (let k = 1; k < RRL_KIND_LABELS.length; k++) {
        const at = k * RRL_COUNTER_LABELS.length;
        if (s.rrl[at + 2] > 0) this.inc({ kind: RRL_KIND_LABELS[k], response: 'truncated' }, s.rrl[at + 2]);
        if (s.rrl[at + 3] > 0) this.inc({ kind: RRL_KIND_LABELS[k], response: 'badcookie' }, s.rrl[at + 3]);
      }
    },
  });
  new Counter({
    name: 'steerdns_cookies_total',
    help: 'Requests with a DNS COOKIE option, by what it came to: client_only, valid (server cookie verified; exempt from rate limiting), invalid (a fresh server cookie was sent), malformed (FORMERR).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      const s = await src.queryStats();
      for (let i = 1; i < COOKIE_STATUS_LABELS.length; i++) if (s.cookies[i] > 0) this.inc({ status: COOKIE_STATUS_LABELS[i] }, s.cookies[i]);
    },
  });
  new Counter({
    name: 'steerdns_dnssec_cache_lookups_total',
    help: 'RRsets of DO=1 answers in signed zones whose signatures were looked up: result="hit" (cached) or "miss" (signed on the query path).',
    labelNames: ['result'],
    registers: [registry],
    async collect() {
      this.reset();
      const s = (await src.queryStats()).signing;
      this.inc({ result: 'hit' }, s[SigningCounter.Hits]);
      this.inc({ result: 'miss' }, s[SigningCounter.Misses]);
    },
  });
  new Counter({
    name: 'steerdns_dnssec_signatures_total',
    help: 'RRSIG records made: when="query" (a cache miss, synchronously) or "ahead" (static RRsets and likely load-balancer answers, between queries).',
    labelNames: ['when'],
    registers: [registry],
    async collect() {
      this.reset();
      const s = (await src.queryStats()).signing;
      this.inc({ when: 'query' }, s[SigningCounter.Signatures]);
      this.inc({ when: 'ahead' }, s[SigningCounter.Background]);
    },
  });
  new Counter({
    name: 'steerdns_dnssec_cache_evictions_total',
    help: 'Signature cache entries evicted to stay within server.dnssec.cache_size.',
    registers: [registry],
    async collect() {
      this.reset();
      this.inc((await src.queryStats()).signing[SigningCounter.Evictions]);
    },
  });
  new ExternalHistogram('steerdns_answer_duration_seconds', 'Time spent answering a query inside the server (decode to encode), sampled: one query in 8 is timed.', [], async () => {
    const s = await src.queryStats();
    return [{ labels: {}, buckets: s.latencyBuckets, bounds: LATENCY_BUCKETS, sum: s.latencySum, count: s.latencyCount }];
  }, registry);

  new Counter({
    name: 'steerdns_lb_queries_total',
    help: 'Queries answered by a load balancer.',
    labelNames: ['load_balancer'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [lb, c] of await src.lbStats()) this.inc({ load_balancer: lb }, c.queries);
    },
  });
  new Counter({
    name: 'steerdns_pool_selections_total',
    help: 'Answers per load balancer and chosen pool.',
    labelNames: ['load_balancer', 'pool'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [lb, c] of await src.lbStats()) for (const [pool, n] of c.pools) this.inc({ load_balancer: lb, pool }, n);
    },
  });
  new Counter({
    name: 'steerdns_fallback_total',
    help: 'Answers from the fallback pool because no other pool was usable.',
    labelNames: ['load_balancer'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [lb, c] of await src.lbStats()) this.inc({ load_balancer: lb }, c.fallback);
    },
  });
  new Counter({
    name: 'steerdns_lb_nodata_total',
    help: 'Load-balanced queries answered with NODATA + SOA (nothing usable, fallback disabled or without the family).',
    labelNames: ['load_balancer'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [lb, c] of await src.lbStats()) this.inc({ load_balancer: lb }, c.nodata);
    },
  });

  new Counter({
    name: 'steerdns_origin_answers_total',
    help: 'Load-balanced answers that carried an endpoint, per load balancer, pool and endpoint (an equal-weight pool answers with all its eligible endpoints).',
    labelNames: ['load_balancer', 'pool', 'origin'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [lb, c] of await src.lbStats()) for (const [pool, m] of c.endpoints) for (const [origin, n] of m) this.inc({ load_balancer: lb, pool, origin }, n);
    },
  });
  new Gauge({
    name: 'steerdns_origin_rtt_seconds',
    help: 'Health-probe round-trip time of an endpoint, exponentially weighted moving average (α 0.3), per pool and origin.',
    labelNames: ['pool', 'origin'],
    registers: [registry],
    collect() {
      this.reset();
      const deps = src.status();
      for (const pool of deps.runtime.config.pools.values()) {
        for (const e of poolHealth(deps, pool).endpoints) if (e.enabled && e.rttEwmaMs !== null) this.set({ pool: pool.name, origin: e.name }, e.rttEwmaMs / 1000);
      }
    },
  });
  new Gauge({
    name: 'steerdns_pool_rtt_seconds',
    help: 'Mean probe RTT EWMA over the healthy endpoints of a pool (what dynamic_latency steering compares).',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      this.reset();
      const deps = src.status();
      for (const pool of deps.runtime.config.pools.values()) {
        const rtt = poolHealth(deps, pool).rttMs;
        if (rtt !== null) this.set({ pool: pool.name }, rtt / 1000);
      }
    },
  });
  if (src.analytics) {
    const analytics = src.analytics;
    new Gauge({
      name: 'steerdns_analytics_series',
      help: 'Series (load balancer × pool × endpoint × region) the analytics store holds.',
      registers: [registry],
      collect() {
        this.set(analytics().series);
      },
    });
    new Gauge({
      name: 'steerdns_analytics_memory_bytes',
      help: 'Bytes held by the analytics time series.',
      registers: [registry],
      collect() {
        this.set(analytics().bytes);
      },
    });
    new Counter({
      name: 'steerdns_analytics_dropped_answers_total',
      help: 'Answers left out of the analytics time series because the series limit was reached.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(analytics().dropped_answers);
      },
    });
  }

  new Counter({
    name: 'steerdns_probes_total',
    help: 'Health probe attempts by monitor, type, result and failure reason.',
    labelNames: ['monitor', 'type', 'result', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [k, n] of src.probeStats.results) {
        const [monitor, type, result, reason] = k.split('|');
        this.inc({ monitor, type, result, reason }, n);
      }
    },
  });
  new ExternalHistogram('steerdns_probe_duration_seconds', 'Duration of health probe attempts (all tries).', ['monitor', 'type'], async () => {
    const out = [];
    for (const [k, d] of src.probeStats.durations) {
      const [monitor, type] = k.split('|');
      out.push({ labels: { monitor, type }, buckets: d.buckets, bounds: ProbeStats.BUCKETS, sum: d.sum, count: d.count });
    }
    return out;
  }, registry);

  new Gauge({
    name: 'steerdns_origin_healthy',
    help: 'Endpoint health as steering sees it (1 healthy, 0 not), per pool and origin.',
    labelNames: ['pool', 'origin'],
    registers: [registry],
    collect() {
      this.reset();
      const deps = src.status();
      for (const pool of deps.runtime.config.pools.values()) {
        const h = poolHealth(deps, pool);
        for (const e of h.endpoints) if (e.enabled) this.set({ pool: pool.name, origin: e.name }, e.healthy ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'steerdns_pool_healthy',
    help: 'Pool usable (healthy endpoints ≥ minimum_origins and enabled): 1 or 0.',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      this.reset();
      const deps = src.status();
      for (const pool of deps.runtime.config.pools.values()) this.set({ pool: pool.name }, poolHealth(deps, pool).usable ? 1 : 0);
    },
  });
  new Gauge({
    name: 'steerdns_load_balancer_health',
    help: 'Load balancer health: 2 healthy, 1 degraded, 0 critical (traffic goes to the fallback pool).',
    labelNames: ['load_balancer'],
    registers: [registry],
    collect() {
      this.reset();
      const deps = src.status();
      const value = { healthy: 2, degraded: 1, critical: 0 };
      for (const lb of deps.runtime.config.load_balancers) this.set({ load_balancer: lb.name }, value[loadBalancerHealth(deps, lb).health]);
    },
  });

  new Counter({
    name: 'steerdns_config_reloads_total',
    help: 'Config reloads, by result.',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: 'success' }, src.reloads.reloads);
      this.inc({ result: 'failure' }, src.reloads.reloadFailures);
    },
  });
  new Gauge({
    name: 'steerdns_config_last_reload_successful',
    help: 'Whether the last reload attempt succeeded (1) or kept the previous config (0).',
    registers: [registry],
    collect() {
      this.set(src.reloads.lastReloadSuccess ? 1 : 0);
    },
  });
  new Gauge({
    name: 'steerdns_config_last_reload_timestamp_seconds',
    help: 'When the config was last loaded successfully (start-up or reload).',
    registers: [registry],
    collect() {
      this.set(src.reloads.lastReloadAt / 1000);
    },
  });
  return registry;
}

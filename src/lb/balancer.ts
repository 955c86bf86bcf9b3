// One load balancer answering a query: rules → location → pool steering → endpoint steering → answer.
// https://developers.cloudflare.com/load-balancing/understand-basics/traffic-steering/ (global and local steering)
// Synchronous and allocation-light; everything it reads is compiled or cached beforehand, and its per-query working
// memory (SteeringState) belongs to the query context, not to the load balancer.
import type { ClientInfo, DynamicAnswer, DynamicName } from '../dns/dynamic';
import { RRType } from '../dns/wire/constants';
import type { RData } from '../dns/wire/records';
import { fmix32, formatIp, hashIp, type IpAddr } from '../util/ip';
import { appendRData, chooseEndpoints } from './endpoint-steering';
import { emptyLocation, locate, type Location } from './location';
import type { Endpoint, Pool } from './pool';
import { dynamicLatency, failover, geo, proximity, weightedRandom, type SteeringQuery } from './pool-steering';
import type { RuleInput } from './rules/condition';
import { effectivePolicy, type CompiledRule, type Steering, type SteeringEnv } from './steering';
import { newTrace, type PoolVerdict, type Trace } from './trace';
import type { LbCounters, PoolCount } from './stats';

export { effectivePolicy, type CompiledRule, type Steering, type SteeringEnv } from './steering';

/** What rules read about a query; dns.qry.name and the resolver's parsed address only when a condition asks. */
class QueryFields implements RuleInput {
  name = '';
  private fqdn: string | null = null;
  private client: ClientInfo | null = null;
  qtype = 0;
  ecs: IpAddr | null = null;
  lbName = '';
  region: string | null = null;

  get qname(): string {
    if (this.fqdn === null) this.fqdn = `${this.name}.`;
    return this.fqdn;
  }

  get qnameLength(): number {
    return this.name.length + 1;
  }

  get resolver(): IpAddr {
    return (this.client as ClientInfo).resolver;
  }

  reset(name: string, client: ClientInfo): void {
    this.name = name;
    this.fqdn = null;
    this.client = client;
  }
}

/**
 * The load balancers' working memory for one query context (kept in its ClientInfo.scratch): the query being
 * steered and the steering in force. It is the SteeringQuery the pool-steering policies ask.
 */
export class SteeringState implements SteeringQuery {
  /** The balancer answering now (several may answer in one query: ADDITIONAL addresses of MX targets). */
  lb: LoadBalancer | null = null;
  qtype = 0;
  client: ClientInfo = null as unknown as ClientInfo;
  out: DynamicAnswer = null as unknown as DynamicAnswer;
  /** The steering in force after rules. */
  current: Steering = null as unknown as Steering;
  /** The client key is the ECS address (ECS decided the location). */
  keyIsEcs = false;
  clientHash = -1;
  trace: Trace | undefined = undefined;
  readonly location: Location = emptyLocation();
  readonly fields = new QueryFields();
  /** Indices of the rules that matched, in evaluation order. */
  readonly matchedRules: number[] = [];
  readonly drawPools: Pool[] = [];
  readonly drawWeights: number[] = [];

  usable(pool: Pool): PoolVerdict {
    return (this.lb as LoadBalancer).usable(pool, this);
  }

  weight(pool: Pool): number {
    const s = this.current;
    return s.poolWeights.get(pool) ?? s.defaultWeight;
  }

  rtt(pool: Pool): number | null {
    return (this.lb as LoadBalancer).poolRtt(pool);
  }

  /** The client key's hash, computed on first use in a query. */
  hash(): number {
    if (this.clientHash < 0) {
      const ecs = this.client.usableEcs;
      const ip: IpAddr = this.keyIsEcs && ecs ? ecs.address : this.client.resolver;
      this.clientHash = hashIp(ip);
      if (this.keyIsEcs && ecs && this.out.ecsScope < ecs.sourcePrefix) this.out.ecsScope = ecs.sourcePrefix;
      if (this.trace) this.trace.clientKey = `${formatIp(ip)} (${this.keyIsEcs ? 'ECS address' : 'resolver address'})`;
    }
    return this.clientHash;
  }

  /** Bound once per state, so that endpoint steering takes no per-query closure. */
  readonly hashFn = (): number => this.hash();
}

/** The steering state of this query context, made on its first load-balanced answer. */
export function steeringState(client: ClientInfo): SteeringState {
  const s = client.scratch;
  if (s instanceof SteeringState) return s;
  const made = new SteeringState();
  client.scratch = made;
  return made;
}

export class LoadBalancer implements DynamicName {
  private readonly counters: LbCounters;
  /** Answer counters by pool, looked up once per pool (pools are objects of this runtime). */
  private readonly poolCounts = new Map<Pool, PoolCount>();
  // Most answers come from the same pool as the one before: that one is kept at hand.
  private lastPool: Pool | null = null;
  private lastCount: PoolCount | null = null;
  /** Steering after rules, memoized by the set of rules that matched (bit i = rules[i]). */
  private readonly merged = new Map<number, Steering>();

  constructor(
    readonly name: string,
    readonly base: Steering,
    readonly rules: readonly CompiledRule[],
    private readonly servesNames: boolean,
    private readonly env: SteeringEnv,
  ) {
    this.counters = env.stats.forLb(name);
  }

  serves(qtype: number): boolean {
    return qtype === RRType.A || qtype === RRType.AAAA || (this.servesNames && (qtype === RRType.MX || qtype === RRType.SRV));
  }

  get servesMxSrv(): boolean {
    return this.servesNames;
  }

  answer(qtype: number, qname: string, client: ClientInfo, out: DynamicAnswer): void {
    let trace: Trace | undefined;
    if (client.traces !== null) {
      trace = newTrace(this.name);
      client.traces.push(trace);
    }
    if (out.rdata.length !== 0) out.rdata = []; // the authority hands over an empty array; other callers may not
    out.ecsScope = 0;
    const env = this.env;
    this.counters.queries++;
    const ecs = client.usableEcs;
    const q = steeringState(client);
    q.lb = this;
    q.qtype = qtype;
    q.client = client;
    q.out = out;
    q.clientHash = -1;
    q.trace = trace;

    // 1. Custom rules: ordered by priority, later matches win per field, `terminates` stops.
    // https://developers.cloudflare.com/load-balancing/additional-options/load-balancing-rules/
    const s = this.rules.length > 0 ? this.applyRules(q, qname) : this.base;
    q.current = s;
    out.ttl = s.ttl;

    // 2. Location, for the policies that use one.
    const policy = effectivePolicy(s);
    let loc: Location | null = null;
    if (policy === 'geo' || policy === 'proximity') {
      loc = locate(q.location, env.pop, env.geo, s.location, policy, client);
      if (loc.ecsScope > out.ecsScope) out.ecsScope = loc.ecsScope;
    }
    if (trace) {
      trace.policy = policy;
      if (s.policy === '') trace.policyNote = `steering_policy "" runs as ${policy}`;
      if (loc) trace.location = { source: loc.source, country: loc.country, subdivision: loc.subdivision, region: loc.region, latitude: loc.latitude, longitude: loc.longitude, note: loc.note };
    }
    // The client key for hash steering and IP-hash shedding: the ECS address when ECS decided the location, and
    // under `prefer_ecs: always` whatever the policy (ECS *is* the client then).
    q.keyIsEcs = ecs !== null && (loc !== null ? loc.source === 'ecs' : s.location.prefer_ecs === 'always');

    // 3. Pool steering.
    let pool: Pool | null;
    switch (policy) {
      case 'off':
        if (trace) trace.candidateSource = 'default_pools (failover order)';
        pool = failover(s.defaultPools, q);
        break;
      case 'random':
      case 'least_outstanding_requests':
      case 'least_connections':
        if (trace) trace.candidateSource = 'default_pools (weighted random)';
        pool = weightedRandom(s.defaultPools, q);
        break;
      case 'geo':
        pool = geo(s, loc as Location, env.pop.code, q);
        break;
      case 'proximity':
        if (trace) trace.candidateSource = 'default_pools by distance';
        pool = proximity(s.defaultPools, loc as Location, q);
        break;
      case 'dynamic_latency':
        if (trace) trace.candidateSource = 'default_pools by RTT';
        pool = dynamicLatency(s.defaultPools, q);
        break;
    }

    // 4. Fallback pool: health ignored; disabled or empty for this type → NODATA with the SOA.
    // https://developers.cloudflare.com/load-balancing/understand-basics/health-details/ ("fallback pool")
    let ignoreHealth = false;
    if (pool === null) {
      const fb = s.fallback ?? s.defaultPools[s.defaultPools.length - 1] ?? null;
      ignoreHealth = true;
      if (fb === null || !fb.enabled) {
        if (trace) {
          trace.fallback = { pool: fb?.name ?? '(none)', used: false, detail: 'fallback pool is disabled' };
          trace.outcome = 'no usable pool and the fallback pool is disabled: NODATA with the zone SOA';
        }
        this.counters.nodata++;
        out.status = 'nodata';
        return;
      }
      this.counters.fallback++;
      fb.refresh(env.health, env.hostnames);
      pool = fb;
      if (trace) trace.fallback = { pool: fb.name, used: true, detail: 'no usable pool: fallback pool, health ignored' };
    }

    // 5. Endpoints and answer shape, straight into the answer.
    const chosen: Endpoint[] | null = trace ? [] : null;
    const added = chooseEndpoints(pool, qtype, ignoreHealth, q.hashFn, env.hostnames, out.rdata, chosen);
    if (added === 0) {
      if (trace) {
        trace.chosenPool = pool.name;
        trace.outcome = `pool "${pool.name}" has no endpoint for ${qtype === RRType.AAAA ? 'AAAA' : qtype === RRType.A ? 'A' : 'this type'}: NODATA with the zone SOA`;
      }
      this.counters.nodata++;
      out.status = 'nodata';
      return;
    }
    this.countAnswer(pool);
    out.status = 'answer';
    if (trace && chosen) {
      trace.chosenPool = pool.name;
      trace.endpoints = chosen.map((e) => `${e.name} (${e.config.address})`);
      trace.ttl = out.ttl;
      trace.ecsScope = out.ecsScope;
      trace.outcome = `${added} record${added === 1 ? '' : 's'} from pool "${pool.name}"${ignoreHealth ? ' (fallback)' : ''}${pool.equalWeights ? ' (equal weights: all eligible endpoints)' : ` (one endpoint by ${pool.config.origin_steering.policy})`}`;
    }
  }

  /**
   * For signing ahead (DynamicName.likelyAnswers): per type, each pool a steering may pick (default, geo, fallback
   * and rule pools) with its healthy endpoints — all of them when weights are equal (the answer is the whole set,
   * rotated: one RRset whatever the order), each one alone otherwise — at the TTLs the base steering and the rules
   * give. Not on the query path.
   */
  likelyAnswers(visit: (qtype: number, ttl: number, rdata: readonly RData[]) => void): void {
    const pools = new Set<Pool>();
    const ttls = new Set<number>();
    for (const s of [this.base, ...this.rules.map((r) => ({ ...this.base, ...r.overrides }))]) {
      ttls.add(s.ttl);
      for (const p of s.defaultPools) pools.add(p);
      if (s.fallback) pools.add(s.fallback);
      for (const m of [s.regionPools, s.countryPools, s.popPools]) for (const list of m.values()) for (const p of list) pools.add(p);
    }
    const types = this.servesNames ? [RRType.A, RRType.AAAA, RRType.MX, RRType.SRV] : [RRType.A, RRType.AAAA];
    for (const pool of pools) {
      if (!pool.enabled) continue;
      pool.refresh(this.env.health, this.env.hostnames);
      for (const qtype of types) {
        const sets: RData[][] = [];
        const list = pool.eligibleFor(qtype, false);
        if (pool.equalWeights) {
          const rdata: RData[] = [];
          for (const e of list) appendRData(e, qtype, this.env.hostnames, rdata, pool.hasHostnames);
          sets.push(rdata);
        } else {
          for (const e of list) {
            const one: RData[] = [];
            appendRData(e, qtype, this.env.hostnames, one, pool.hasHostnames);
            sets.push(one);
          }
        }
        for (const rdata of sets) if (rdata.length > 0) for (const ttl of ttls) visit(qtype, ttl, rdata);
      }
    }
  }

  private countAnswer(pool: Pool): void {
    let count = this.lastCount;
    if (pool !== this.lastPool || count === null) {
      count = this.poolCounts.get(pool) ?? null;
      if (count === null) {
        count = this.counters.pool(pool.name);
        this.poolCounts.set(pool, count);
      }
      this.lastPool = pool;
      this.lastCount = count;
    }
    count.n++;
  }

  /** Evaluates the rules; the merged steering is computed once per combination of matching rules. */
  private applyRules(q: SteeringState, qname: string): Steering {
    const client = q.client;
    const out = q.out;
    const trace = q.trace;
    const ecs = client.usableEcs;
    const input = q.fields;
    input.reset(qname, client);
    input.qtype = q.qtype;
    input.ecs = ecs ? ecs.address : null;
    input.lbName = this.name;
    input.region = this.env.pop.region;
    const rules = this.rules;
    const matchedRules = q.matchedRules;
    // Up to 31 rules, the set that matched is also a bit mask: the memo key.
    const memo = rules.length <= 31;
    let mask = 0;
    let n = 0;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      const matched = r.condition.test(input);
      if (r.condition.readsClientAddress && ecs) out.ecsScope = ecs.sourcePrefix;
      if (trace) trace.rules.push({ name: r.name, priority: r.priority, matched, terminates: r.terminates, overrides: r.overrideNames });
      if (!matched) continue;
      matchedRules[n++] = i;
      if (memo) mask |= 1 << i;
      if (r.terminates) break;
    }
    if (n === 0) return this.base;
    let s = memo ? this.merged.get(mask) : undefined;
    if (!s) {
      s = { ...this.base };
      for (let j = 0; j < n; j++) Object.assign(s, rules[matchedRules[j]].overrides);
      if (memo) this.merged.set(mask, s);
    }
    return s;
  }

  poolRtt(p: Pool): number | null {
    return this.env.health.poolRtt(p.config);
  }

  /** Whether a candidate pool can take the query `q` is steering (recorded in its trace). */
  usable(p: Pool, q: SteeringState): PoolVerdict {
    const v = this.check(p, q);
    if (q.trace) q.trace.candidates.push({ pool: p.name, verdict: v, detail: verdictDetail(p, v) });
    return v;
  }

  private check(p: Pool, q: SteeringState): PoolVerdict {
    if (!p.enabled) return 'disabled';
    p.refresh(this.env.health, this.env.hostnames);
    if (!p.isHealthy) return 'unhealthy';
    if (p.eligibleFor(q.qtype, false).length === 0) return 'no endpoint of this type';
    const shed = p.config.load_shedding;
    if (shed && shed.default_percent > 0) {
      // Load shedding: random per query, or by the client key's place in the hash space.
      // https://developers.cloudflare.com/load-balancing/additional-options/load-shedding/
      const x = shed.default_policy === 'hash' ? (fmix32(q.hash() ^ p.shedSeed) % 10000) / 100 : Math.random() * 100;
      if (x < shed.default_percent) return 'shed';
    }
    return 'chosen';
  }
}

function verdictDetail(p: Pool, v: PoolVerdict): string {
  switch (v) {
    case 'unhealthy': return `${p.healthyEndpointCount} healthy endpoint(s), minimum_origins ${p.config.minimum_origins}`;
    case 'shed': return `load_shedding ${p.config.load_shedding?.default_percent}% (${p.config.load_shedding?.default_policy})`;
    case 'disabled': return 'pool enabled: false';
    default: return '';
  }
}

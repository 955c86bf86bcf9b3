// One load balancer answering a query (seed §4.0): rules → location → pool steering → endpoint steering →
// answer. Synchronous and allocation-light; everything it reads is compiled or cached beforehand.
import type { LocationStrategyConfig, SteeringPolicy } from '../config/types';
import type { ClientInfo, DynamicAnswer, DynamicName } from '../dns/dynamic';
import { RRType } from '../dns/wire/constants';
import { fmix32, formatIp, hashIp, type IpAddr } from '../util/ip';
import { chooseEndpoints } from './endpoint-steering';
import { locate, PerLocation, type Location, type Pop } from './location';
import type { Endpoint, Pool } from './pool';
import { byDistanceCached, byRtt, firstUsable, weightedPools, type UsableCheck } from './pool-steering';
import type { CompiledCondition, RuleInput } from './rules/condition';
import { newTrace, type PoolVerdict, type Trace } from './trace';
import type { LbCounters, LbStatsRegistry, PoolCount } from './stats';
import type { GeoView, HealthView, HostnameView } from './views';

/** The steering inputs a rule can override (seed §6.2); one object per load balancer, copied when a rule matches. */
export interface Steering {
  defaultPools: Pool[];
  /** null: the last of defaultPools (seed L7996). */
  fallback: Pool | null;
  regionPools: ReadonlyMap<string, Pool[]>;
  countryPools: ReadonlyMap<string, Pool[]>;
  popPools: ReadonlyMap<string, Pool[]>;
  policy: SteeringPolicy;
  poolWeights: ReadonlyMap<Pool, number>;
  defaultWeight: number;
  location: LocationStrategyConfig;
  ttl: number;
}

export interface CompiledRule {
  name: string;
  priority: number;
  terminates: boolean;
  condition: CompiledCondition;
  overrides: Partial<Steering>;
  overrideNames: string[];
}

/** Shared by every load balancer of one runtime. */
export interface SteeringEnv {
  pop: Pop;
  geo: GeoView | null;
  health: HealthView;
  hostnames: HostnameView;
  /** Decision counters, kept across reloads. */
  stats: LbStatsRegistry;
}

/** The policy a steering configuration actually runs ("" → geo when any geo map is set, else off; [003:L449]). */
export function effectivePolicy(s: Steering): Exclude<SteeringPolicy, ''> {
  if (s.policy !== '') return s.policy;
  return s.regionPools.size > 0 || s.countryPools.size > 0 || s.popPools.size > 0 ? 'geo' : 'off';
}

/** Geo candidate lists by location object (a shared GeoIP result or the PoP) and steering object. */
const geoAreas = new PerLocation<Steering, Pool[]>();

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
const ruleInput = new QueryFields();
/** Indices of the rules that matched the current query, in evaluation order (reused). */
const matchedRules: number[] = [];

/** Per-query state shared by the steering steps (reused: the query path is synchronous and never nested). */
interface QueryState {
  qtype: number;
  client: ClientInfo;
  out: DynamicAnswer;
  /** The client key is the ECS address (ECS decided the location). */
  keyIsEcs: boolean;
  clientHash: number;
  trace: Trace | undefined;
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
  private readonly q: QueryState;
  /** Bound once, so that steering helpers take no per-query closure. */
  private readonly usableFn: UsableCheck = (p) => this.usable(p);
  private readonly weightFn = (p: Pool): number => this.current.poolWeights.get(p) ?? this.current.defaultWeight;
  private readonly rttFn = (p: Pool): number | null => this.env.health.poolRtt(p.config);
  private readonly hashFn = (): number => this.clientHash();
  private current: Steering;

  constructor(
    readonly name: string,
    readonly base: Steering,
    readonly rules: readonly CompiledRule[],
    private readonly servesNames: boolean,
    private readonly env: SteeringEnv,
  ) {
    this.counters = env.stats.forLb(name);
    this.current = base;
    this.q = { qtype: 0, client: null as unknown as ClientInfo, out: null as unknown as DynamicAnswer, keyIsEcs: false, clientHash: -1, trace: undefined };
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
    const q = this.q;
    q.qtype = qtype;
    q.client = client;
    q.out = out;
    q.clientHash = -1;
    q.trace = trace;

    // 1. Custom rules (seed §6.4): ordered by priority, later matches win per field, `terminates` stops.
    const s = this.rules.length > 0 ? this.applyRules(qtype, qname, client, out, trace) : this.base;
    this.current = s;
    out.ttl = s.ttl;

    // 2. Location, for the policies that use one.
    const policy = effectivePolicy(s);
    let loc: Location | null = null;
    if (policy === 'geo' || policy === 'proximity') {
      loc = locate(env.pop, env.geo, s.location, policy, client);
      if (loc.ecsScope > out.ecsScope) out.ecsScope = loc.ecsScope;
    }
    if (trace) {
      trace.policy = policy;
      if (s.policy === '') trace.policyNote = `steering_policy "" runs as ${policy}`;
      if (loc) trace.location = { source: loc.source, country: loc.country, subdivision: loc.subdivision, region: loc.region, latitude: loc.latitude, longitude: loc.longitude, note: loc.note };
    }
    // The client key for hash steering and IP-hash shedding: the ECS address when ECS decided the location.
    q.keyIsEcs = loc !== null && loc.source === 'ecs' && ecs !== null;

    // 3. Pool steering.
    let pool: Pool | null;
    switch (policy) {
      case 'off':
        if (trace) trace.candidateSource = 'default_pools (failover order)';
        pool = firstUsable(s.defaultPools, this.usableFn);
        break;
      case 'random':
      case 'least_outstanding_requests':
      case 'least_connections':
        if (trace) trace.candidateSource = 'default_pools (weighted random)';
        pool = weightedPools(s.defaultPools, this.weightFn, this.usableFn, noteZeroWeight, trace);
        break;
      case 'geo': {
        const area = this.geoArea(s, loc as Location, trace);
        pool = firstUsable(area, this.usableFn);
        break;
      }
      case 'proximity':
        if (trace) trace.candidateSource = 'default_pools by distance';
        pool = firstUsable(byDistanceCached(s.defaultPools, loc as Location), this.usableFn);
        break;
      case 'dynamic_latency':
        if (trace) trace.candidateSource = 'default_pools by RTT';
        pool = firstUsable(byRtt(s.defaultPools, this.rttFn), this.usableFn);
        break;
    }

    // 4. Fallback pool: health ignored (seed L7131); disabled or empty for this type → SOA (seed L7148).
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
    const added = chooseEndpoints(pool, qtype, ignoreHealth, this.hashFn, env.hostnames, out.rdata, chosen);
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
  private applyRules(qtype: number, qname: string, client: ClientInfo, out: DynamicAnswer, trace: Trace | undefined): Steering {
    const ecs = client.usableEcs;
    ruleInput.reset(qname, client);
    ruleInput.qtype = qtype;
    ruleInput.ecs = ecs ? ecs.address : null;
    ruleInput.lbName = this.name;
    ruleInput.region = this.env.pop.region;
    const rules = this.rules;
    // Up to 31 rules, the set that matched is also a bit mask: the memo key.
    const memo = rules.length <= 31;
    let mask = 0;
    let n = 0;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      const matched = r.condition.test(ruleInput);
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

  /** The client key's hash, computed on first use in a query. */
  private clientHash(): number {
    const q = this.q;
    if (q.clientHash < 0) {
      const ecs = q.client.usableEcs;
      const ip: IpAddr = q.keyIsEcs && ecs ? ecs.address : q.client.resolver;
      q.clientHash = hashIp(ip);
      if (q.keyIsEcs && ecs && q.out.ecsScope < ecs.sourcePrefix) q.out.ecsScope = ecs.sourcePrefix;
      if (q.trace) q.trace.clientKey = `${formatIp(ip)} (${q.keyIsEcs ? 'ECS address' : 'resolver address'})`;
    }
    return q.clientHash;
  }

  private usable(p: Pool): PoolVerdict {
    const v = this.check(p, this.q.qtype);
    if (this.q.trace) this.q.trace.candidates.push({ pool: p.name, verdict: v, detail: verdictDetail(p, v) });
    return v;
  }

  /** Whether a candidate pool can take this query. */
  private check(p: Pool, qtype: number): PoolVerdict {
    if (!p.enabled) return 'disabled';
    p.refresh(this.env.health, this.env.hostnames);
    if (!p.isHealthy) return 'unhealthy';
    if (p.eligibleFor(qtype, false).length === 0) return 'no endpoint of this type';
    const shed = p.config.load_shedding;
    if (shed && shed.default_percent > 0) {
      // Load shedding (seed §7.1): random per query, or by the client key's place in the hash space.
      const x = shed.default_policy === 'hash' ? (fmix32(this.clientHash() ^ p.shedSeed) % 10000) / 100 : Math.random() * 100;
      if (x < shed.default_percent) return 'shed';
    }
    return 'chosen';
  }

  /** Geo steering's candidate list (seed L7862, L7854, L7747): PoP → subdivision/country → region → default. */
  private geoArea(s: Steering, loc: Location, trace?: Trace): Pool[] {
    if (trace) return this.findGeoArea(s, loc, trace);
    // The list depends only on the location and the steering in force.
    return geoAreas.get(loc, s) ?? geoAreas.set(loc, s, this.findGeoArea(s, loc));
  }

  private findGeoArea(s: Steering, loc: Location, trace?: Trace): Pool[] {
    const pop = this.env.pop.code;
    let list = s.popPools.get(pop);
    if (list) {
      if (trace) trace.candidateSource = `pop_pools.${pop}`;
      return list;
    }
    if (loc.country) {
      if (loc.subdivision) {
        list = s.countryPools.get(`${loc.country}-${loc.subdivision}`);
        if (list) {
          if (trace) trace.candidateSource = `country_pools.${loc.country}-${loc.subdivision}`;
          return list;
        }
      }
      list = s.countryPools.get(loc.country);
      if (list) {
        if (trace) trace.candidateSource = `country_pools.${loc.country}`;
        return list;
      }
    }
    if (loc.region) {
      list = s.regionPools.get(loc.region);
      if (list) {
        if (trace) trace.candidateSource = `region_pools.${loc.region}`;
        return list;
      }
    }
    if (trace) trace.candidateSource = 'default_pools (no geo mapping for this location)';
    // An area list that exists but has no usable pool goes to the fallback pool, not to default_pools (L7870).
    return s.defaultPools;
  }
}

function noteZeroWeight(p: Pool, trace: Trace | undefined): void {
  if (trace) trace.candidates.push({ pool: p.name, verdict: 'weight 0', detail: 'random_steering weight is 0' });
}

function verdictDetail(p: Pool, v: PoolVerdict): string {
  switch (v) {
    case 'unhealthy': return `${p.healthyEndpointCount} healthy endpoint(s), minimum_origins ${p.config.minimum_origins}`;
    case 'shed': return `load_shedding ${p.config.load_shedding?.default_percent}% (${p.config.load_shedding?.default_policy})`;
    case 'disabled': return 'pool enabled: false';
    default: return '';
  }
}


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
import { regionIndexOf, UNKNOWN_REGION, type LbCounters, type LbStatsRegistry } from './stats';

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
  // The last regions seen and their analytics cell indices. Region codes are a dozen strings shared by every
  // location (geo/regions.ts), so these comparisons are pointer comparisons that hit for most queries.
  private region0: string | null = null;
  private region1: string | null = null;
  private region2: string | null = null;
  private region3: string | null = null;
  private regionCell0 = UNKNOWN_REGION;
  private regionCell1 = UNKNOWN_REGION;
  private regionCell2 = UNKNOWN_REGION;
  private regionCell3 = UNKNOWN_REGION;

  /** The analytics region index of a location ("unknown" when it has no region). */
  regionOf(loc: Location): number {
    const r = loc.region;
    if (r === this.region0) return this.regionCell0;
    if (r === this.region1) return this.regionCell1;
    if (r === this.region2) return this.regionCell2;
    if (r === this.region3) return this.regionCell3;
    return this.newRegion(r);
  }

  /** regionOf() for a region not among the last four (kept out of line: the query path inlines only the hits). */
  private newRegion(r: string | null): number {
    const cell = regionIndexOf(r);
    this.region3 = this.region2;
    this.regionCell3 = this.regionCell2;
    this.region2 = this.region1;
    this.regionCell2 = this.regionCell1;
    this.region1 = this.region0;
    this.regionCell1 = this.regionCell0;
    this.region0 = r;
    this.regionCell0 = cell;
    return cell;
  }

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
  private readonly stats: LbStatsRegistry;
  /** Offsets of this LB's answer cells by pool (stats.ts CellBlock), allocated on a pool's first answer. */
  private poolCells: Map<Pool, number> | null = null;
  // The last four pools answered from and their cells, checked before the map: an LB answers from a few pools.
  private pool0: Pool | null = null;
  private pool1: Pool | null = null;
  private pool2: Pool | null = null;
  private pool3: Pool | null = null;
  private cells0 = 0;
  private cells1 = 0;
  private cells2 = 0;
  private cells3 = 0;
  /** Steering after rules, memoized by the set of rules that matched (bit i = rules[i]). */
  private readonly merged: Map<number, Steering> | null;

  constructor(
    readonly name: string,
    readonly base: Steering,
    readonly rules: readonly CompiledRule[],
    private readonly servesNames: boolean,
    private readonly env: SteeringEnv,
  ) {
    this.stats = env.stats;
    this.counters = env.stats.forLb(name);
    // Maps only where they are used (tens of thousands of empty maps in a big config otherwise).
    this.merged = rules.length > 0 ? new Map() : null;
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
    // ADDITIONAL-section addresses and the server's own lookups (hostname endpoints) are not client queries.
    const counted = !client.internal;
    if (counted) this.counters.queries++;
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
        if (counted) this.counters.nodata++;
        out.status = 'nodata';
        return;
      }
      if (counted) this.counters.fallback++;
      fb.refresh(env.health, env.hostnames);
      pool = fb;
      if (trace) trace.fallback = { pool: fb.name, used: true, detail: 'no usable pool: fallback pool, health ignored' };
    }

    // 5. Endpoints and answer shape, straight into the answer.
    // Answer cells: the pool's slot for the client's region; endpoint i's cell is R·(1 + i) further.
    const cell = counted ? this.cellsOf(pool) + (loc !== null ? q.regionOf(loc) : UNKNOWN_REGION) : -1;
    const counts = this.stats.counts; // after cellsOf(), which may have grown it
    const chosen: Endpoint[] | null = trace ? [] : null;
    const added = chooseEndpoints(pool, qtype, ignoreHealth, q.hashFn, env.hostnames, out.rdata, chosen, counts, cell);
    if (added === 0) {
      if (trace) {
        trace.chosenPool = pool.name;
        trace.outcome = `pool "${pool.name}" has no endpoint for ${qtype === RRType.AAAA ? 'AAAA' : qtype === RRType.A ? 'A' : 'this type'}: NODATA with the zone SOA`;
      }
      if (counted) this.counters.nodata++;
      out.status = 'nodata';
      return;
    }
    if (cell >= 0) counts[cell]++;
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

  /** The offset of this LB's answer cells for `pool` (allocated once per pool; then mostly a comparison or two). */
  private cellsOf(pool: Pool): number {
    if (pool === this.pool0) return this.cells0;
    if (pool === this.pool1) return this.cells1;
    if (pool === this.pool2) return this.cells2;
    if (pool === this.pool3) return this.cells3;
    return this.newPoolCells(pool);
  }

  /** cellsOf() for a pool not among the last four (out of line, as SteeringState.newRegion). */
  private newPoolCells(pool: Pool): number {
    const known = (this.poolCells ??= new Map());
    let offset = known.get(pool);
    if (offset === undefined) {
      offset = this.stats.block(this.name, pool.name, pool.config.origins.map((o) => o.name)).offset;
      known.set(pool, offset);
    }
    // Shift the others down, the newest first: a pool that keeps answering stays at the front.
    this.pool3 = this.pool2;
    this.cells3 = this.cells2;
    this.pool2 = this.pool1;
    this.cells2 = this.cells1;
    this.pool1 = this.pool0;
    this.cells1 = this.cells0;
    this.pool0 = pool;
    this.cells0 = offset;
    return offset;
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
    // `merged` exists: there are rules.
    const merged = this.merged as Map<number, Steering>;
    let s = memo ? merged.get(mask) : undefined;
    if (!s) {
      s = { ...this.base };
      for (let j = 0; j < n; j++) Object.assign(s, rules[matchedRules[j]].overrides);
      if (memo) merged.set(mask, s);
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

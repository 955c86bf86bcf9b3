// One load balancer answering a query (seed §4.0): rules → location → pool steering → endpoint steering →
// answer. Synchronous and allocation-light; everything it reads is compiled or cached beforehand.
import type { LocationStrategyConfig, SteeringPolicy } from '../config/types';
import type { ClientInfo, DynamicAnswer, DynamicName } from '../dns/dynamic';
import { RRType } from '../dns/wire/constants';
import { fmix32, formatIp, hashIp, type IpAddr } from '../util/ip';
import { chooseEndpoints, EndpointChoice, newEndpointChoice } from './endpoint-steering';
import { locate, type Location, type Pop } from './location';
import { familyOf, type Pool } from './pool';
import { byDistanceCached, byRtt, firstUsable, weightedPools } from './pool-steering';
import type { CompiledCondition, RuleInput } from './rules/condition';
import { newTrace, type PoolVerdict, type Trace } from './trace';
import type { LbCounters, LbStatsRegistry } from './stats';
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

const choice: EndpointChoice = newEndpointChoice();
const ruleInput: RuleInput = { qname: '', qtype: 0, ecs: null, resolver: { family: 4, bytes: new Uint8Array(4) }, lbName: '', region: null };

export class LoadBalancer implements DynamicName {
  private readonly counters: LbCounters;

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
    out.rdata.length = 0;
    out.ecsScope = 0;
    const env = this.env;
    this.counters.queries++;
    const ecs = client.usableEcs;

    // 1. Custom rules (seed §6.4): ordered by priority, later matches win per field, `terminates` stops.
    let s = this.base;
    if (this.rules.length > 0) {
      ruleInput.qname = `${qname}.`;
      ruleInput.qtype = qtype;
      ruleInput.ecs = ecs ? ecs.address : null;
      ruleInput.resolver = client.resolver;
      ruleInput.lbName = this.name;
      ruleInput.region = env.pop.region;
      for (const r of this.rules) {
        const matched = r.condition.test(ruleInput);
        if (r.condition.readsClientAddress && ecs) out.ecsScope = ecs.sourcePrefix;
        if (trace) trace.rules.push({ name: r.name, priority: r.priority, matched, terminates: r.terminates, overrides: r.overrideNames });
        if (!matched) continue;
        if (s === this.base) s = { ...this.base };
        Object.assign(s, r.overrides);
        if (r.terminates) break;
      }
    }
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
    const keyIsEcs = loc !== null && loc.source === 'ecs' && ecs !== null;
    let clientHash = -1;
    const hashOfClient = (): number => {
      if (clientHash < 0) {
        const ip: IpAddr = keyIsEcs ? (ecs as NonNullable<typeof ecs>).address : client.resolver;
        clientHash = hashIp(ip);
        if (keyIsEcs && out.ecsScope < (ecs as NonNullable<typeof ecs>).sourcePrefix) out.ecsScope = (ecs as NonNullable<typeof ecs>).sourcePrefix;
        if (trace) trace.clientKey = `${formatIp(ip)} (${keyIsEcs ? 'ECS address' : 'resolver address'})`;
      }
      return clientHash;
    };

    // 3. Pool steering.
    const usable = (p: Pool): PoolVerdict => {
      const v = this.check(p, qtype, hashOfClient);
      if (trace) trace.candidates.push({ pool: p.name, verdict: v, detail: verdictDetail(p, v) });
      return v;
    };
    let pool: Pool | null;
    switch (policy) {
      case 'off':
        if (trace) trace.candidateSource = 'default_pools (failover order)';
        pool = firstUsable(s.defaultPools, usable);
        break;
      case 'random':
      case 'least_outstanding_requests':
      case 'least_connections':
        if (trace) trace.candidateSource = 'default_pools (weighted random)';
        pool = weightedPools(s.defaultPools, (p) => s.poolWeights.get(p) ?? s.defaultWeight, usable, (p, v) => {
          if (trace) trace.candidates.push({ pool: p.name, verdict: v, detail: 'random_steering weight is 0' });
        });
        break;
      case 'geo': {
        const area = this.geoArea(s, loc as Location, trace);
        pool = firstUsable(area, usable);
        break;
      }
      case 'proximity':
        if (trace) trace.candidateSource = 'default_pools by distance';
        pool = firstUsable(byDistanceCached(s.defaultPools, loc as Location), usable);
        break;
      case 'dynamic_latency':
        if (trace) trace.candidateSource = 'default_pools by RTT';
        pool = firstUsable(byRtt(s.defaultPools, (p) => env.health.poolRtt(p.config)), usable);
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

    // 5. Endpoints and answer shape.
    if (!chooseEndpoints(pool, qtype, ignoreHealth, hashOfClient, env.hostnames, choice)) {
      if (trace) {
        trace.chosenPool = pool.name;
        trace.outcome = `pool "${pool.name}" has no endpoint for ${qtype === RRType.AAAA ? 'AAAA' : qtype === RRType.A ? 'A' : 'this type'}: NODATA with the zone SOA`;
      }
      this.counters.nodata++;
      out.status = 'nodata';
      return;
    }
    this.counters.selected(pool.name);
    for (const r of choice.rdata) out.rdata.push(r);
    out.status = 'answer';
    if (trace) {
      trace.chosenPool = pool.name;
      trace.endpoints = choice.endpoints.map((e) => `${e.name} (${e.config.address})`);
      trace.ttl = out.ttl;
      trace.ecsScope = out.ecsScope;
      trace.outcome = `${choice.rdata.length} record${choice.rdata.length === 1 ? '' : 's'} from pool "${pool.name}"${ignoreHealth ? ' (fallback)' : ''}${pool.equalWeights ? ' (equal weights: all eligible endpoints)' : ` (one endpoint by ${pool.config.origin_steering.policy})`}`;
    }
  }

  /** Whether a candidate pool can take this query. */
  private check(p: Pool, qtype: number, clientHash: () => number): PoolVerdict {
    if (!p.enabled) return 'disabled';
    p.refresh(this.env.health, this.env.hostnames);
    if (!p.isHealthy) return 'unhealthy';
    if (p.eligibleFor(qtype, false).length === 0) return 'no endpoint of this type';
    const shed = p.config.load_shedding;
    if (shed && shed.default_percent > 0) {
      // Load shedding (seed §7.1): random per query, or by the client key's place in the hash space.
      const x = shed.default_policy === 'hash' ? (fmix32(clientHash() ^ p.shedSeed) % 10000) / 100 : Math.random() * 100;
      if (x < shed.default_percent) return 'shed';
    }
    return 'chosen';
  }

  /** Geo steering's candidate list (seed L7862, L7854, L7747): PoP → subdivision/country → region → default. */
  private geoArea(s: Steering, loc: Location, trace?: Trace): Pool[] {
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

function verdictDetail(p: Pool, v: PoolVerdict): string {
  switch (v) {
    case 'unhealthy': return `${p.healthyEndpointCount} healthy endpoint(s), minimum_origins ${p.config.minimum_origins}`;
    case 'shed': return `load_shedding ${p.config.load_shedding?.default_percent}% (${p.config.load_shedding?.default_policy})`;
    case 'disabled': return 'pool enabled: false';
    default: return '';
  }
}

/** The family word for explain output. */
export function familyWord(qtype: number): string {
  const f = familyOf(qtype);
  return f === 4 ? 'IPv4' : f === 6 ? 'IPv6' : f === 'name' ? 'hostname' : 'none';
}

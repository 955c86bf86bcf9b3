// Turning load_balancers and pools from the config into steering tables: pool references resolved to Pool
// objects, region/country keys checked, rule conditions compiled, and one zone binding per enabled LB.
import { posOf } from '../config/kit';
import type { Config, LoadBalancerConfig, Pos, Problem, RandomSteeringConfig, RuleOverrides } from '../config/types';
import type { Binding } from '../dns/zone';
import { RRType } from '../dns/wire/constants';
import { isValidRegion, parseCountryKey, REGION_CODES } from '../geo/regions';
import { LoadBalancer } from './balancer';
import type { CompiledRule, Steering, SteeringEnv } from './steering';
import { Pool } from './pool';
import { compileCondition, ConditionError } from './rules/condition';
import { runToEnd, type Sliced } from '../util/slices';

export interface LbCompileResult {
  balancers: Map<string, LoadBalancer>;
  pools: Map<string, Pool>;
  bindings: Binding[];
  problems: Problem[];
}

export function compileLoadBalancers(config: Config, env: SteeringEnv): LbCompileResult {
  return runToEnd(compileLoadBalancersSliced(config, env));
}

/** compileLoadBalancers, pausable (see util/slices). */
export function* compileLoadBalancersSliced(config: Config, env: SteeringEnv): Sliced<LbCompileResult> {
  const problems: Problem[] = [];
  const err = (pos: Pos, message: string) => problems.push({ pos, message, severity: 'error' });
  const warn = (pos: Pos, message: string) => problems.push({ pos, message, severity: 'warning' });

  const pools = new Map<string, Pool>();
  for (const [name, pc] of config.pools) {
    pools.set(name, new Pool(pc));
    yield;
  }

  const poolList = (names: string[]): Pool[] => names.map((n) => pools.get(n)).filter((p): p is Pool => p !== undefined);
  const poolMap = (m: Record<string, string[]>, what: 'region' | 'country' | 'pop', owner: object): Map<string, Pool[]> => {
    const out = new Map<string, Pool[]>();
    for (const key of Object.keys(m)) {
      const at = posOf(owner, key);
      if (what === 'region' && !isValidRegion(key)) {
        err(at, `unknown region "${key}" (regions: ${REGION_CODES.join(', ')})`);
        continue;
      }
      if (what === 'country' && parseCountryKey(key) === null) {
        err(at, `"${key}" is not an ISO 3166-1 country code or an ISO 3166-2 subdivision (like "US" or "US-CA")`);
        continue;
      }
      out.set(key, poolList(m[key]));
    }
    return out;
  };
  const weights = (rs: RandomSteeringConfig): Map<Pool, number> => {
    const out = new Map<Pool, number>();
    for (const [name, w] of Object.entries(rs.pool_weights)) {
      const p = pools.get(name);
      if (p) out.set(p, w);
    }
    return out;
  };

  const balancers = new Map<string, LoadBalancer>();
  const bindings: Binding[] = [];
  for (const lb of config.load_balancers) {
    yield;
    const base: Steering = {
      defaultPools: poolList(lb.default_pools),
      fallback: lb.fallback_pool === null ? null : pools.get(lb.fallback_pool) ?? null,
      regionPools: poolMap(lb.region_pools, 'region', lb.region_pools),
      countryPools: poolMap(lb.country_pools, 'country', lb.country_pools),
      popPools: poolMap(lb.pop_pools, 'pop', lb.pop_pools),
      policy: lb.steering_policy,
      poolWeights: weights(lb.random_steering),
      defaultWeight: lb.random_steering.default_weight,
      location: lb.location_strategy,
      ttl: lb.ttl,
    };
    const rules = compileRules(lb, { err, warn, poolList, poolMap, weights, pools });
    checkProximity(lb, base, rules, warn);

    const referenced = referencedPools(lb, pools);
    const servesNames = [...referenced].some((p) => p.hasHostnames);
    const balancer = new LoadBalancer(lb.name, base, rules, servesNames, env);
    balancers.set(lb.name, balancer);
    if (!lb.enabled) continue; // a disabled LB leaves the name to its static records, if any (docs/decisions.md §1.3)
    const hides = servesNames ? [RRType.A, RRType.AAAA, RRType.MX, RRType.SRV] : [RRType.A, RRType.AAAA];
    bindings.push({ name: lb.name, handler: balancer, hides, pos: posOf(lb, 'name') });
  }
  return { balancers, pools, bindings, problems };
}

interface RuleCompileHelpers {
  err: (pos: Pos, message: string) => void;
  warn: (pos: Pos, message: string) => void;
  poolList: (names: string[]) => Pool[];
  poolMap: (m: Record<string, string[]>, what: 'region' | 'country' | 'pop', owner: object) => Map<string, Pool[]>;
  weights: (rs: RandomSteeringConfig) => Map<Pool, number>;
  pools: Map<string, Pool>;
}

function compileRules(lb: LoadBalancerConfig, h: RuleCompileHelpers): CompiledRule[] {
  const out: (CompiledRule & { order: number })[] = [];
  lb.rules.forEach((rule, order) => {
    if (rule.disabled) return;
    let condition;
    try {
      condition = compileCondition(rule.condition);
    } catch (e) {
      if (e instanceof ConditionError) {
        const at = posOf(rule, 'condition');
        h.err({ ...at, col: at.col + e.offset }, `rule${rule.name ? ` "${rule.name}"` : ''}: ${e.message}`);
        return;
      }
      throw e;
    }
    const o: RuleOverrides = rule.overrides;
    const overrides: Partial<Steering> = {};
    if (o.default_pools) overrides.defaultPools = h.poolList(o.default_pools);
    if (o.fallback_pool !== undefined) overrides.fallback = h.pools.get(o.fallback_pool) ?? null;
    if (o.region_pools) overrides.regionPools = h.poolMap(o.region_pools, 'region', o.region_pools);
    if (o.country_pools) overrides.countryPools = h.poolMap(o.country_pools, 'country', o.country_pools);
    if (o.pop_pools) overrides.popPools = h.poolMap(o.pop_pools, 'pop', o.pop_pools);
    if (o.steering_policy !== undefined) overrides.policy = o.steering_policy;
    if (o.random_steering) {
      overrides.poolWeights = h.weights(o.random_steering);
      overrides.defaultWeight = o.random_steering.default_weight;
    }
    if (o.location_strategy) overrides.location = o.location_strategy;
    if (o.ttl !== undefined) overrides.ttl = o.ttl;
    out.push({
      name: rule.name || `rules[${order}]`,
      priority: rule.priority,
      terminates: rule.terminates,
      condition,
      overrides,
      overrideNames: Object.keys(o),
      order,
    });
  });
  // Lower priority first; equal priorities keep file order (https://developers.cloudflare.com/api/resources/load_balancers/methods/create/, rules[].priority).
  out.sort((a, b) => a.priority - b.priority || a.order - b.order);
  return out;
}

function checkProximity(lb: LoadBalancerConfig, base: Steering, rules: CompiledRule[], warn: (pos: Pos, m: string) => void): void {
  const usesProximity = base.policy === 'proximity' || rules.some((r) => r.overrides.policy === 'proximity');
  if (!usesProximity) return;
  // The pools proximity orders (default_pools), not every pool of the config: this runs once per load balancer.
  const missing = [...new Set(base.defaultPools)].filter((p) => p.config.latitude === null || p.config.longitude === null);
  if (missing.length > 0) {
    warn(posOf(lb, 'steering_policy'), `proximity steering: pool${missing.length > 1 ? 's' : ''} ${missing.map((p) => `"${p.name}"`).join(', ')} ha${missing.length > 1 ? 've' : 's'} no latitude/longitude and will be tried last`);
  }
}

function referencedPools(lb: LoadBalancerConfig, pools: Map<string, Pool>): Set<Pool> {
  const names = new Set<string>([...lb.default_pools]);
  if (lb.fallback_pool) names.add(lb.fallback_pool);
  const addMap = (m: Record<string, string[]> | undefined) => {
    if (m) for (const l of Object.values(m)) for (const n of l) names.add(n);
  };
  addMap(lb.region_pools);
  addMap(lb.country_pools);
  addMap(lb.pop_pools);
  for (const r of lb.rules) {
    for (const n of r.overrides.default_pools ?? []) names.add(n);
    if (r.overrides.fallback_pool) names.add(r.overrides.fallback_pool);
    addMap(r.overrides.region_pools);
    addMap(r.overrides.country_pools);
    addMap(r.overrides.pop_pools);
  }
  const out = new Set<Pool>();
  for (const n of names) {
    const p = pools.get(n);
    if (p) out.add(p);
  }
  return out;
}
